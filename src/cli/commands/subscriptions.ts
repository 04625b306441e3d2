/**
 * `gatehouse subscriptions <create|list|regenerate|suspend|activate|cancel> -c FILE ...` — manages
 * APIM subscriptions in the configured store (src/subscriptions/subscriptions.ts).
 *
 * Keys are printed once, by `create` and `regenerate`; `list` never prints a key nor a hash.
 * Exit status: 0 ok, 1 runtime failure (the store cannot be opened or fails), 2 invalid input (bad
 * options, config problems as FILE:LINE:COL, an unknown product/server/subscription, a duplicate
 * name, an operation the subscription's state forbids).
 */
import { openStore } from '../../store/open.js';
import type { Store } from '../../store/types.js';
import { Subscriptions, SubscriptionError, type Subscription, type SubscriptionScope } from '../../subscriptions/subscriptions.js';
import type { CliIo } from '../main.js';
import { loadConfigForCli, parseSubcommand, type CliValues as Values } from '../subcommands.js';
import type { GatewayConfig } from '../../config/types.js';

export const SUBSCRIPTIONS_USAGE = `usage:
  gatehouse subscriptions create -c FILE --name N (--product P | --server S | --all)
                                 [--starts ISO-DATE] [--expires ISO-DATE] [--user ID] [--json]
  gatehouse subscriptions list -c FILE [--json]
  gatehouse subscriptions regenerate -c FILE --name N [--key primary|secondary|both] [--json]
  gatehouse subscriptions suspend|activate|cancel -c FILE --name N [--json]
`;

type OptionSpec = Record<string, { type: 'string' | 'boolean'; short?: string }>;

const COMMON: OptionSpec = { config: { type: 'string', short: 'c' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } };
const OPTIONS: Record<string, OptionSpec> = {
  create: { ...COMMON, name: { type: 'string' }, product: { type: 'string' }, server: { type: 'string' }, all: { type: 'boolean' }, starts: { type: 'string' }, expires: { type: 'string' }, user: { type: 'string' } },
  list: COMMON,
  regenerate: { ...COMMON, name: { type: 'string' }, key: { type: 'string' } },
  suspend: { ...COMMON, name: { type: 'string' } },
  activate: { ...COMMON, name: { type: 'string' } },
  cancel: { ...COMMON, name: { type: 'string' } },
};

/** invalid input: message printed to stderr, exit 2 */
class InputError extends Error {}

const str = (v: string | boolean | undefined): string | undefined => (typeof v === 'string' ? v : undefined);

const scopeText = (s: SubscriptionScope): string => (s.type === 'all' ? 'all' : `${s.type}:${s.name}`);

/** the stored state, qualified by the dates when they keep an active subscription from working */
function effectiveState(s: Subscription, now: number): { state: string; expired: boolean; notStarted: boolean } {
  const expired = s.endDate !== null && Date.parse(s.endDate) <= now;
  const notStarted = s.startDate !== null && Date.parse(s.startDate) > now;
  const quals = [expired ? 'expired' : '', notStarted ? 'not started' : ''].filter(Boolean);
  return { state: quals.length > 0 ? `${s.state} (${quals.join(', ')})` : s.state, expired, notStarted };
}

/** public view of a subscription: never its key hashes */
const publicView = (s: Subscription, now: number) => {
  const e = effectiveState(s, now);
  return { id: s.id, name: s.name, scope: s.scope, state: s.state, expired: e.expired, notStarted: e.notStarted, startDate: s.startDate, endDate: s.endDate, createdTime: s.createdTime, userId: s.userId };
};

function parseDate(option: string, v: string | undefined): string | null {
  if (v === undefined) return null;
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new InputError(`--${option}: "${v}" is not a date (use ISO 8601, e.g. 2030-01-31 or 2030-01-31T12:00:00Z)`);
  return new Date(t).toISOString();
}

function requireName(values: Values, sub: string): string {
  const name = str(values.name);
  if (name === undefined || name.trim() === '') throw new InputError(`gatehouse subscriptions ${sub}: --name is required\n${SUBSCRIPTIONS_USAGE}`);
  return name;
}

function scopeOf(values: Values, config: GatewayConfig, file: string): SubscriptionScope {
  const product = str(values.product);
  const server = str(values.server);
  const all = values.all === true;
  const given = [product !== undefined, server !== undefined, all].filter(Boolean).length;
  if (given !== 1) throw new InputError(`gatehouse subscriptions create: give exactly one of --product P, --server S, --all\n${SUBSCRIPTIONS_USAGE}`);
  if (product !== undefined) {
    const known = (config.products ?? []).map((p) => p.name);
    if (!known.includes(product)) throw new InputError(`no product "${product}" in ${file} (products: ${known.join(', ') || 'none'})`);
    return { type: 'product', name: product };
  }
  if (server !== undefined) {
    // every configured server, also those of types the runtime does not serve yet
    const known = [...new Set([...(config.raw.servers ?? []).map((s) => s.name), ...config.servers.map((s) => s.name)])];
    if (!known.includes(server)) throw new InputError(`no server "${server}" in ${file} (servers: ${known.join(', ') || 'none'})`);
    return { type: 'server', name: server };
  }
  return { type: 'all' };
}

function datesText(s: Subscription): string {
  return `starts ${s.startDate ?? '-'}  expires ${s.endDate ?? '-'}`;
}

export async function runSubscriptions(argv: string[], io: CliIo): Promise<number> {
  const parsed = parseSubcommand('subscriptions', argv, io, SUBSCRIPTIONS_USAGE, OPTIONS);
  if (typeof parsed === 'number') return parsed;
  const { sub, values } = parsed;
  const file = str(values.config);
  if (file === undefined || file === '') {
    io.stderr(`gatehouse subscriptions ${sub}: -c FILE is required\n${SUBSCRIPTIONS_USAGE}`);
    return 2;
  }
  const json = values.json === true;

  // options that need no config: checked first so a bad invocation fails fast
  let name: string | undefined;
  let which: 'primary' | 'secondary' | 'both' = 'both';
  let startDate: string | null = null;
  let endDate: string | null = null;
  try {
    if (sub !== 'list') name = requireName(values, sub);
    if (sub === 'regenerate') {
      const k = str(values.key) ?? 'both';
      if (k !== 'primary' && k !== 'secondary' && k !== 'both') throw new InputError(`--key must be primary, secondary or both (got "${k}")`);
      which = k;
    }
    if (sub === 'create') {
      startDate = parseDate('starts', str(values.starts));
      endDate = parseDate('expires', str(values.expires));
      if (startDate !== null && endDate !== null && Date.parse(endDate) <= Date.parse(startDate)) throw new InputError('--expires must be later than --starts');
    }
  } catch (err) {
    if (err instanceof InputError) {
      io.stderr(err.message);
      return 2;
    }
    throw err;
  }

  const config = await loadConfigForCli(file, io, `gatehouse subscriptions ${sub}`);
  if (typeof config === 'number') return config;

  let scope: SubscriptionScope | undefined;
  if (sub === 'create') {
    try {
      scope = scopeOf(values, config, file);
    } catch (err) {
      if (err instanceof InputError) {
        io.stderr(err.message);
        return 2;
      }
      throw err;
    }
  }

  let store: Store;
  try {
    store = await openStore(config.store);
  } catch (err) {
    io.stderr(`gatehouse subscriptions ${sub}: cannot open the store: ${(err as Error).message}`);
    return 1;
  }
  const subs = new Subscriptions(store);
  const now = Date.now();
  try {
    switch (sub) {
      case 'create': {
        const userId = str(values.user);
        const issued = await subs.create({ name: name!, scope: scope!, startDate, endDate, userId: userId ?? null });
        const s = issued.subscription;
        if (json) {
          io.stdout(JSON.stringify({ id: s.id, name: s.name, scope: s.scope, state: s.state, startDate: s.startDate, endDate: s.endDate, userId: s.userId, primaryKey: issued.primaryKey, secondaryKey: issued.secondaryKey }));
        } else {
          io.stdout(
            [
              `subscription "${s.name}" created`,
              `  id:            ${s.id}`,
              `  scope:         ${scopeText(s.scope)}`,
              `  state:         ${effectiveState(s, now).state}`,
              `  starts:        ${s.startDate ?? '-'}`,
              `  expires:       ${s.endDate ?? '-'}`,
              ...(s.userId !== null ? [`  user:          ${s.userId}`] : []),
              `  primary key:   ${issued.primaryKey}`,
              `  secondary key: ${issued.secondaryKey}`,
              'The keys are shown only this once: store them now.',
            ].join('\n'),
          );
        }
        return 0;
      }
      case 'list': {
        const all = (await subs.list()).sort((a, b) => a.name.localeCompare(b.name));
        if (json) {
          io.stdout(JSON.stringify(all.map((s) => publicView(s, now))));
        } else if (all.length === 0) {
          io.stderr('no subscriptions');
        } else {
          const rows = all.map((s) => [s.name, s.id, scopeText(s.scope), effectiveState(s, now).state, datesText(s)]);
          const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
          io.stdout(rows.map((r) => r.map((c, i) => (i < 4 ? c.padEnd(widths[i]!) : c)).join('  ')).join('\n'));
        }
        return 0;
      }
      case 'regenerate': {
        const r = await subs.regenerate(name!, which);
        const s = r.subscription;
        if (json) {
          io.stdout(JSON.stringify({ id: s.id, name: s.name, ...(r.primaryKey !== undefined ? { primaryKey: r.primaryKey } : {}), ...(r.secondaryKey !== undefined ? { secondaryKey: r.secondaryKey } : {}) }));
        } else {
          io.stdout(
            [
              `subscription "${s.name}" (${s.id}): ${which === 'both' ? 'both keys' : `${which} key`} regenerated; the old ${which === 'both' ? 'keys no longer work' : 'key no longer works'}`,
              ...(r.primaryKey !== undefined ? [`  primary key:   ${r.primaryKey}`] : []),
              ...(r.secondaryKey !== undefined ? [`  secondary key: ${r.secondaryKey}`] : []),
              `The new ${which === 'both' ? 'keys are' : 'key is'} shown only this once: store ${which === 'both' ? 'them' : 'it'} now.`,
            ].join('\n'),
          );
        }
        return 0;
      }
      default: {
        // suspend | activate | cancel
        const state = sub === 'suspend' ? 'suspended' : sub === 'activate' ? 'active' : 'cancelled';
        const s = await subs.setState(name!, state);
        const e = effectiveState(s, now);
        if (json) io.stdout(JSON.stringify(publicView(s, now)));
        else io.stdout(`subscription "${s.name}" (${s.id}): ${e.state}`);
        return 0;
      }
    }
  } catch (err) {
    if (err instanceof SubscriptionError) {
      io.stderr(`gatehouse subscriptions ${sub}: ${err.message}`);
      return 2;
    }
    io.stderr(`gatehouse subscriptions ${sub}: ${(err as Error).message}`);
    return 1;
  } finally {
    await store.close();
  }
}
