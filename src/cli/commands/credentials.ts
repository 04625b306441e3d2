/**
 * `gatehouse credentials <list|login-link|revoke> -c FILE ...` — the credential manager's
 * connections (src/credentials/manager.ts) in the configured store.
 *
 * - `list`: every provider's connections with their status (ready: client credentials, connected,
 *   pending: not logged in yet, error: log in again) and, for per-user connections, how many users
 *   have logged in. Never a token.
 * - `login-link --provider P --connection C [--redirect URL]`: a login link for an
 *   authorization-code connection (`{publicUrl}/credentials/P/C/login?grant=…`, valid one hour),
 *   sealed with GATEHOUSE_SECRET_KEY like the gateway's own. Opening it in a browser runs the
 *   provider's consent and stores the tokens; the browser then goes to URL (`?status=connected` or
 *   `?error=…`).
 * - `revoke --provider P --connection C`: forgets the connection's stored tokens (every user's, for
 *   a per-user connection); prints how many token sets were removed.
 *
 * Exit status: 0 ok, 1 runtime failure (the store cannot be opened or fails), 2 invalid input (bad
 * options, config problems as FILE:LINE:COL, an unknown provider or connection, a missing or
 * malformed key).
 */
import { openStore } from '../../store/open.js';
import type { Store } from '../../store/types.js';
import { CredentialError, CredentialManager } from '../../credentials/manager.js';
import { providerOf, type ProviderConfig } from '../../credentials/providers.js';
import { SECRET_KEY_ENV, SecretKeyError, secretBoxFromEnv, type SecretBox } from '../../secrets/secret-box.js';
import type { CliIo } from '../main.js';
import { loadConfigForCli, parseSubcommand } from '../subcommands.js';

export const CREDENTIALS_USAGE = `usage:
  gatehouse credentials list -c FILE [--json]
  gatehouse credentials login-link -c FILE --provider P --connection C [--redirect URL]
  gatehouse credentials revoke -c FILE --provider P --connection C [--json]
`;

type OptionSpec = Record<string, { type: 'string' | 'boolean'; short?: string }>;

const COMMON: OptionSpec = { config: { type: 'string', short: 'c' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } };
const TARGET: OptionSpec = { provider: { type: 'string', short: 'p' }, connection: { type: 'string' } };
const OPTIONS: Record<string, OptionSpec> = {
  list: COMMON,
  'login-link': { ...COMMON, ...TARGET, redirect: { type: 'string' } },
  revoke: { ...COMMON, ...TARGET },
};

const str = (v: string | boolean | undefined): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

export async function runCredentials(argv: string[], io: CliIo): Promise<number> {
  const parsed = parseSubcommand('credentials', argv, io, CREDENTIALS_USAGE, OPTIONS);
  if (typeof parsed === 'number') return parsed;
  const { sub, values } = parsed;
  const fail = (message: string, code: number): number => {
    io.stderr(`gatehouse credentials ${sub}: ${message}`);
    return code;
  };
  const file = str(values.config);
  if (file === undefined) return fail(`-c FILE is required\n${CREDENTIALS_USAGE}`, 2);
  const json = values.json === true;

  // options that need no config: checked first so a bad invocation fails fast
  const provider = str(values.provider);
  const connection = str(values.connection);
  const redirect = str(values.redirect);
  if (sub !== 'list' && (provider === undefined || connection === undefined)) return fail(`--provider P and --connection C are required\n${CREDENTIALS_USAGE}`, 2);
  if (redirect !== undefined) {
    let ok = false;
    try {
      const u = new URL(redirect);
      ok = (u.protocol === 'http:' || u.protocol === 'https:') && !u.username && !u.password;
    } catch {
      ok = false;
    }
    if (!ok) return fail(`--redirect must be an absolute http(s) URL without credentials (got "${redirect}")`, 2);
  }

  // the key: only minting a login link needs it
  let box: SecretBox | undefined;
  if (sub === 'login-link') {
    try {
      box = (await secretBoxFromEnv(io.env, {}))?.box;
    } catch (err) {
      return fail((err as Error).message, err instanceof SecretKeyError ? 2 : 1);
    }
    if (box === undefined) return fail(`${SECRET_KEY_ENV} is not set: login links are sealed with the gateway's key (the same ${SECRET_KEY_ENV} as the gateway's)`, 2);
  }

  const config = await loadConfigForCli(file, io, `gatehouse credentials ${sub}`);
  if (typeof config === 'number') return config;
  let providers: ProviderConfig[];
  try {
    providers = (config.raw.credentials?.providers ?? []).map(providerOf);
  } catch (err) {
    return fail((err as Error).message, 2);
  }
  if (sub !== 'list') {
    // unknown names are input errors, reported before the store is touched
    const p = providers.find((x) => x.name === provider);
    if (!p) return fail(`no credential provider "${provider}" in ${file} (providers: ${providers.map((x) => x.name).join(', ') || 'none'})`, 2);
    if (!p.connections.has(connection!)) return fail(`provider "${provider}" has no connection "${connection}" (connections: ${[...p.connections.keys()].join(', ') || 'none'})`, 2);
  }

  let store: Store;
  try {
    store = await openStore(config.store);
  } catch (err) {
    return fail(`cannot open the store: ${(err as Error).message}`, 1);
  }
  const manager = new CredentialManager(providers, store, box, { publicUrl: config.gateway.publicUrl });
  try {
    switch (sub) {
      case 'list': {
        const all = await manager.list();
        if (json) {
          io.stdout(JSON.stringify(all));
        } else if (all.length === 0) {
          io.stderr(`no credential providers in ${file}`);
        } else {
          const rows = all.map((c) => [
            `${c.provider}/${c.connection}`,
            c.grant + (c.perUser ? ' (per user)' : ''),
            c.status,
            [c.users !== undefined ? `${c.users} user${c.users === 1 ? '' : 's'}` : '', c.expiresAt !== undefined ? `expires ${new Date(c.expiresAt).toISOString()}` : '', c.error ? `error: ${c.error}` : ''].filter(Boolean).join('  '),
          ]);
          const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
          io.stdout(rows.map((r) => r.map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c)).join('  ').trimEnd()).join('\n'));
        }
        return 0;
      }
      case 'login-link': {
        io.stdout(await manager.loginUrl(provider!, connection!, redirect));
        io.stderr('Open this link in a browser within the hour to connect the connection (the gateway must be reachable at its publicUrl).');
        return 0;
      }
      default: {
        const n = await manager.revoke(provider!, connection!);
        if (json) io.stdout(JSON.stringify({ provider, connection, revoked: n }));
        else io.stdout(`${provider}/${connection}: forgot ${n} stored token set${n === 1 ? '' : 's'}`);
        return 0;
      }
    }
  } catch (err) {
    if (err instanceof CredentialError) return fail(err.message, 2);
    return fail((err as Error).message, 1);
  } finally {
    await store.close();
  }
}
