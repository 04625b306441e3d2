/**
 * APIM subscriptions: a named grant with a primary and a secondary key, scoped to a product, a
 * single server, or all servers, in one of the states active / suspended / cancelled, optionally
 * bounded by a start and an end date.
 *
 * Keys are 256 random bits (64 hex characters), shown once (at creation and regeneration) and
 * stored only as keyed hashes: HMAC-SHA256 with a secret kept in the store (created on first use),
 * so the store never holds a key in clear and a stolen hash cannot be replayed as a key. A request's
 * key is found through its hash (an index record), and the stored hash is compared in constant time.
 * Everything is read from the store on every request: a change (suspend, regenerate, cancel) takes
 * effect at once, on every replica that shares the store.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Store } from '../store/types.js';

export type SubscriptionState = 'active' | 'suspended' | 'cancelled';

export type SubscriptionScope = { readonly type: 'product'; readonly name: string } | { readonly type: 'server'; readonly name: string } | { readonly type: 'all' };

export interface Subscription {
  readonly id: string;
  readonly name: string;
  readonly scope: SubscriptionScope;
  readonly state: SubscriptionState;
  /** keyed hashes (hex) of the keys */
  readonly primaryHash: string;
  readonly secondaryHash: string;
  /** ISO timestamps */
  readonly createdTime: string;
  readonly startDate: string | null;
  readonly endDate: string | null;
  /** the owning user, when known (context.User) */
  readonly userId: string | null;
}

export interface IssuedKeys {
  readonly subscription: Subscription;
  readonly primaryKey: string;
  readonly secondaryKey: string;
}

/** why a key was refused (APIM: SubscriptionKeyInvalid for all of them) */
export type KeyRefusal = 'unknown' | 'suspended' | 'cancelled' | 'expired' | 'not-started' | 'out-of-scope';

export type KeyCheck =
  | { readonly ok: true; readonly subscription: Subscription; readonly which: 'primary' | 'secondary' }
  | { readonly ok: false; readonly why: KeyRefusal; readonly subscription?: Subscription };

const SUBS = 'subscription';
const INDEX = 'subscription-key';
const META = 'meta';
const HASH_SECRET = 'subscription-key-hash-secret';
const KEY_RE = /^[0-9a-f]{64}$/;

export const newKey = (): string => randomBytes(32).toString('hex');
const newId = (): string => `sub_${randomBytes(12).toString('hex')}`;

export class SubscriptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SubscriptionError';
  }
}

export class Subscriptions {
  #secret: Buffer | undefined;

  constructor(private readonly store: Store, private readonly now: () => number = Date.now) {}

  async #hash(key: string): Promise<string> {
    if (!this.#secret) {
      let rec = await this.store.get<{ secret: string }>(META, HASH_SECRET);
      if (!rec) {
        // first use: two processes may race; the one that loses reads the winner's secret
        await this.store.compareAndPut(META, HASH_SECRET, { secret: randomBytes(32).toString('base64') }, 0);
        rec = await this.store.get<{ secret: string }>(META, HASH_SECRET);
      }
      this.#secret = Buffer.from(rec!.value.secret, 'base64');
    }
    return createHmac('sha256', this.#secret).update(key).digest('hex');
  }

  async create(init: { name: string; scope: SubscriptionScope; startDate?: string | null; endDate?: string | null; userId?: string | null }): Promise<IssuedKeys> {
    if (/^sub_[0-9a-f]{24}$/.test(init.name)) throw new SubscriptionError('a subscription name cannot look like a subscription id');
    for (const d of [init.startDate, init.endDate]) if (d && Number.isNaN(Date.parse(d))) throw new SubscriptionError(`"${d}" is not a date`);
    if ((await this.find(init.name)) !== undefined) throw new SubscriptionError(`a subscription named "${init.name}" exists already`);
    const primaryKey = newKey();
    const secondaryKey = newKey();
    const sub: Subscription = {
      id: newId(),
      name: init.name,
      scope: init.scope,
      state: 'active',
      primaryHash: await this.#hash(primaryKey),
      secondaryHash: await this.#hash(secondaryKey),
      createdTime: new Date(this.now()).toISOString(),
      startDate: init.startDate ?? null,
      endDate: init.endDate ?? null,
      userId: init.userId ?? null,
    };
    await this.store.put(INDEX, sub.primaryHash, { id: sub.id });
    await this.store.put(INDEX, sub.secondaryHash, { id: sub.id });
    await this.store.put(SUBS, sub.id, sub);
    return { subscription: sub, primaryKey, secondaryKey };
  }

  async list(): Promise<Subscription[]> {
    return (await this.store.list<Subscription>(SUBS)).map((r) => r.value);
  }

  /** by id or by name */
  async find(idOrName: string): Promise<Subscription | undefined> {
    const byId = await this.store.get<Subscription>(SUBS, idOrName);
    if (byId) return byId.value;
    return (await this.list()).find((s) => s.name === idOrName);
  }

  async #require(idOrName: string): Promise<Subscription> {
    const s = await this.find(idOrName);
    if (!s) throw new SubscriptionError(`no subscription "${idOrName}"`);
    return s;
  }

  /** read-modify-write with the store's optimistic versioning: a concurrent change is never overwritten */
  async #update(idOrName: string, change: (s: Subscription) => Promise<Subscription>): Promise<{ before: Subscription; after: Subscription }> {
    const id = (await this.#require(idOrName)).id;
    for (let attempt = 0; attempt < 10; attempt++) {
      const rec = await this.store.get<Subscription>(SUBS, id);
      if (!rec) throw new SubscriptionError(`no subscription "${idOrName}"`);
      const after = await change(rec.value);
      if (await this.store.compareAndPut(SUBS, id, after, rec.version)) return { before: rec.value, after };
    }
    throw new SubscriptionError(`subscription "${idOrName}" keeps changing concurrently; try again`);
  }

  /** new key(s); the old ones stop working at once */
  async regenerate(idOrName: string, which: 'primary' | 'secondary' | 'both' = 'both'): Promise<{ subscription: Subscription; primaryKey?: string; secondaryKey?: string }> {
    const out: { primaryKey?: string; secondaryKey?: string } = {};
    const { before: s, after: next } = await this.#update(idOrName, async (cur) => {
      if (cur.state === 'cancelled') throw new SubscriptionError(`subscription "${cur.name}" is cancelled`);
      let n: Subscription = cur;
      if (which !== 'secondary') {
        out.primaryKey = newKey();
        n = { ...n, primaryHash: await this.#hash(out.primaryKey) };
      }
      if (which !== 'primary') {
        out.secondaryKey = newKey();
        n = { ...n, secondaryHash: await this.#hash(out.secondaryKey) };
      }
      return n;
    });
    if (next.primaryHash !== s.primaryHash) {
      await this.store.delete(INDEX, s.primaryHash);
      await this.store.put(INDEX, next.primaryHash, { id: s.id });
    }
    if (next.secondaryHash !== s.secondaryHash) {
      await this.store.delete(INDEX, s.secondaryHash);
      await this.store.put(INDEX, next.secondaryHash, { id: s.id });
    }
    return { subscription: next, ...out };
  }

  async setState(idOrName: string, state: SubscriptionState): Promise<Subscription> {
    const { after } = await this.#update(idOrName, async (s) => {
      if (s.state === 'cancelled' && state !== 'cancelled') throw new SubscriptionError(`subscription "${s.name}" is cancelled and cannot be ${state === 'active' ? 'activated' : 'suspended'}`);
      return { ...s, state };
    });
    return after;
  }

  /** which subscription a presented key belongs to, and whether it admits a request now */
  async check(key: string, admits: (scope: SubscriptionScope) => boolean): Promise<KeyCheck> {
    if (!KEY_RE.test(key)) {
      // still hash, so a malformed key costs what a well-formed one does
      await this.#hash(key.slice(0, 256));
      return { ok: false, why: 'unknown' };
    }
    const hash = await this.#hash(key);
    const idx = await this.store.get<{ id: string }>(INDEX, hash);
    const sub = idx ? (await this.store.get<Subscription>(SUBS, idx.value.id))?.value : undefined;
    if (!sub) return { ok: false, why: 'unknown' };
    const h = Buffer.from(hash, 'hex');
    const which = timingSafeEqual(h, Buffer.from(sub.primaryHash, 'hex')) ? 'primary' : timingSafeEqual(h, Buffer.from(sub.secondaryHash, 'hex')) ? 'secondary' : undefined;
    if (!which) return { ok: false, why: 'unknown' };
    if (sub.state !== 'active') return { ok: false, why: sub.state, subscription: sub };
    const now = this.now();
    if (sub.startDate && Date.parse(sub.startDate) > now) return { ok: false, why: 'not-started', subscription: sub };
    if (sub.endDate && Date.parse(sub.endDate) <= now) return { ok: false, why: 'expired', subscription: sub };
    if (!admits(sub.scope)) return { ok: false, why: 'out-of-scope', subscription: sub };
    return { ok: true, subscription: sub, which };
  }
}
