/**
 * `gatehouse keys generate` — prints a new data-encryption key for GATEHOUSE_SECRET_KEY (one line on
 * stdout, nothing else there; usage hints on stderr).
 * `gatehouse keys rotate -c FILE` — re-seals every stored secret (src/secrets/secret-box.ts,
 * SEALED_COLLECTIONS) with GATEHOUSE_SECRET_KEY, opening them with it or GATEHOUSE_SECRET_KEY_PREVIOUS.
 * `gatehouse keys rotate-signing -c FILE [--activate-in SECONDS]` — adds a new token-signing key to
 * the authorization server facade (src/authorization/signing-keys.ts): published at once, signing
 * after SECONDS (default 600), the replaced key published until its tokens expire. Running
 * gateways pick it up without a restart.
 *
 * Exit status: 0 ok, 1 runtime failure (the store cannot be opened or fails, a stored secret does
 * not open — named by record, never by value), 2 invalid input (bad options, config problems as
 * FILE:LINE:COL, a missing or malformed key).
 */
import { openStore } from '../../store/open.js';
import type { Store } from '../../store/types.js';
import { DEFAULT_ACCESS_TTL_S } from '../../authorization/facade.js';
import { DEFAULT_ACTIVATION_DELAY_MS, SigningKeyRotationError, rotateSigningKey } from '../../authorization/signing-keys.js';
import { PREVIOUS_KEY_ENV, SEALED_COLLECTIONS, SECRET_KEY_ENV, SecretKeyError, generateKey, rotateSecrets, secretBoxFromEnv, type SecretBox } from '../../secrets/secret-box.js';
import type { CliIo } from '../main.js';
import { loadConfigForCli, parseSubcommand, type OptionSpec } from '../subcommands.js';

export const KEYS_USAGE = `usage:
  gatehouse keys generate             print a new data-encryption key for ${SECRET_KEY_ENV}
  gatehouse keys rotate -c FILE       re-seal every stored secret with ${SECRET_KEY_ENV}
                                      (the old key(s) in ${PREVIOUS_KEY_ENV}, comma-separated)
  gatehouse keys rotate-signing -c FILE [--activate-in SECONDS]
                                      add a new token-signing key to the authorization server:
                                      published now, signing after SECONDS (default 600), the old
                                      key published until the tokens it signed expire
`;

const HELP_OPTION: OptionSpec = { help: { type: 'boolean', short: 'h' } };
const KEYS_OPTIONS: Record<string, OptionSpec> = {
  generate: HELP_OPTION,
  rotate: { config: { type: 'string', short: 'c' }, ...HELP_OPTION },
  'rotate-signing': { config: { type: 'string', short: 'c' }, 'activate-in': { type: 'string' }, ...HELP_OPTION },
};

export async function runKeys(argv: string[], io: CliIo): Promise<number> {
  const parsed = parseSubcommand('keys', argv, io, KEYS_USAGE, KEYS_OPTIONS);
  if (typeof parsed === 'number') return parsed;
  const { sub, values } = parsed;
  const file = typeof values.config === 'string' ? values.config : undefined;
  if (sub === 'rotate-signing') return rotateSigning(file, typeof values['activate-in'] === 'string' ? values['activate-in'] : undefined, io);
  return sub === 'generate' ? generate(io) : rotate(file, io);
}

function generate(io: CliIo): number {
  io.stdout(generateKey());
  io.stderr(
    [
      `Set it as ${SECRET_KEY_ENV} in the gateway's environment, e.g.`,
      `  export ${SECRET_KEY_ENV}=ghk1_...`,
      'Keep it secret and backed up: stored tokens and client secrets cannot be read without it.',
      `To rotate: move the current key to ${PREVIOUS_KEY_ENV}, set the new one as ${SECRET_KEY_ENV},`,
      `run \`gatehouse keys rotate -c FILE\`, then remove ${PREVIOUS_KEY_ENV}.`,
    ].join('\n'),
  );
  return 0;
}

async function rotate(file: string | undefined, io: CliIo): Promise<number> {
  if (file === undefined || file === '') {
    io.stderr(`gatehouse keys rotate: -c FILE is required\n${KEYS_USAGE}`);
    return 2;
  }
  let box: SecretBox | undefined;
  try {
    box = (await secretBoxFromEnv(io.env, {}))?.box;
  } catch (err) {
    io.stderr(`gatehouse keys rotate: ${(err as Error).message}`);
    return err instanceof SecretKeyError ? 2 : 1;
  }
  if (box === undefined) {
    io.stderr(
      `gatehouse keys rotate: ${SECRET_KEY_ENV} is not set. Set it to the new key (\`gatehouse keys generate\`) and ${PREVIOUS_KEY_ENV} to the old one(s), comma-separated.`,
    );
    return 2;
  }

  const config = await loadConfigForCli(file, io, `gatehouse keys rotate`);
  if (typeof config === 'number') return config;

  let store: Store;
  try {
    store = await openStore(config.store);
  } catch (err) {
    io.stderr(`gatehouse keys rotate: cannot open the store: ${(err as Error).message}`);
    return 1;
  }
  try {
    const r = await rotateSecrets(store, box, SEALED_COLLECTIONS);
    io.stdout(`re-sealed ${r.resealed} secret${r.resealed === 1 ? '' : 's'} with key ${box.keyId} (${r.records} record${r.records === 1 ? '' : 's'} checked in ${SEALED_COLLECTIONS.join(', ')})`);
    if (box.previousKeyIds.length > 0) io.stderr(`Every stored secret now opens with ${SECRET_KEY_ENV}; ${PREVIOUS_KEY_ENV} can be removed.`);
    return 0;
  } catch (err) {
    if (err instanceof SecretKeyError) {
      const hint = err.code === 'GW_SECRET_KEY_MISMATCH' ? `\nSet ${PREVIOUS_KEY_ENV} to the key it was sealed with and run the rotation again (records before it are already re-sealed).` : '';
      io.stderr(`gatehouse keys rotate: ${err.message}${hint}`);
      return 1;
    }
    io.stderr(`gatehouse keys rotate: ${(err as Error).message}`);
    return 1;
  } finally {
    await store.close();
  }
}

async function rotateSigning(file: string | undefined, activateIn: string | undefined, io: CliIo): Promise<number> {
  const cmd = 'gatehouse keys rotate-signing';
  if (file === undefined || file === '') {
    io.stderr(`${cmd}: -c FILE is required\n${KEYS_USAGE}`);
    return 2;
  }
  let activateAfterMs = DEFAULT_ACTIVATION_DELAY_MS;
  if (activateIn !== undefined) {
    if (!/^\d{1,7}$/.test(activateIn)) {
      io.stderr(`${cmd}: --activate-in must be a whole number of seconds`);
      return 2;
    }
    activateAfterMs = Number(activateIn) * 1000;
  }
  let box: SecretBox | undefined;
  try {
    box = (await secretBoxFromEnv(io.env, {}))?.box;
  } catch (err) {
    io.stderr(`${cmd}: ${(err as Error).message}`);
    return err instanceof SecretKeyError ? 2 : 1;
  }
  if (box === undefined) {
    io.stderr(`${cmd}: ${SECRET_KEY_ENV} is not set: it must be the key the gateway runs with (the signing keys are sealed with it).`);
    return 2;
  }
  const config = await loadConfigForCli(file, io, `${cmd}`);
  if (typeof config === 'number') return config;
  const authorization = config.raw.authorization;
  if (!authorization) {
    io.stderr(`${cmd}: ${file} has no \`authorization\` section: the gateway is not an authorization server, it has no signing key`);
    return 2;
  }
  let store: Store;
  try {
    store = await openStore(config.store);
  } catch (err) {
    io.stderr(`${cmd}: cannot open the store: ${(err as Error).message}`);
    return 1;
  }
  try {
    const r = await rotateSigningKey(store, box, { activateAfterMs, accessTokenTtlSeconds: authorization.tokens?.accessTokenTtl ?? DEFAULT_ACCESS_TTL_S });
    io.stdout(`new signing key ${r.kid}: published now, signs from ${new Date(r.activatesAt).toISOString()}`);
    if (r.replacedKid !== r.kid) io.stderr(`The key it replaces (${r.replacedKid}) stays published until ${new Date(r.previousRetireAt).toISOString()}. Running gateways pick the change up without a restart.`);
    return 0;
  } catch (err) {
    if (err instanceof SigningKeyRotationError) {
      io.stderr(`${cmd}: ${err.message}`);
      return 1;
    }
    if (err instanceof SecretKeyError) {
      io.stderr(`${cmd}: ${err.message}\nSet ${SECRET_KEY_ENV} to the key the gateway runs with.`);
      return 1;
    }
    io.stderr(`${cmd}: ${(err as Error).message}`);
    return 1;
  } finally {
    await store.close();
  }
}
