/** Tests share the machine's Redis: what a test file wrote under its own prefixes is removed after it. */
import { Redis } from 'ioredis';

export async function dropKeys(prefixes: readonly string[]): Promise<void> {
  const redis = new Redis(6379, '127.0.0.1');
  try {
    for (const prefix of prefixes) {
      if (!prefix) continue;
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`, 'COUNT', 500);
        cursor = next;
        if (keys.length > 0) await redis.del(...keys);
      } while (cursor !== '0');
    }
  } finally {
    await redis.quit();
  }
}
