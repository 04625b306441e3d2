/**
 * What the `gatehouse COMMAND SUBCOMMAND [options]` commands (subscriptions, credentials, keys)
 * share: picking the subcommand and parsing its options strictly, and loading `-c FILE` with its
 * problems printed as FILE:LINE:COL. Exit codes: 0 help, 2 invalid input, 1 runtime failure.
 */
import { resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { loadConfig } from '../config/load.js';
import { ConfigError, formatProblem } from '../config/errors.js';
import type { GatewayConfig } from '../config/types.js';
import type { CliIo } from './main.js';

export type CliValues = Record<string, string | boolean | undefined>;
export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

/** the subcommand and its options; a number is the exit code (usage or help already printed) */
export function parseSubcommand(command: string, argv: readonly string[], io: CliIo, usage: string, options: Readonly<Record<string, OptionSpec>>): { sub: string; values: CliValues } | number {
  const [sub, ...rest] = argv;
  if (sub === undefined) {
    io.stderr(`gatehouse ${command}: a subcommand is required\n${usage}`);
    return 2;
  }
  if (sub === '--help' || sub === '-h' || sub === 'help') {
    io.stdout(usage);
    return 0;
  }
  const spec = Object.hasOwn(options, sub) ? options[sub] : undefined;
  if (!spec) {
    io.stderr(`gatehouse ${command}: unknown subcommand "${sub}"\n${usage}`);
    return 2;
  }
  let values: CliValues;
  try {
    values = parseArgs({ args: [...rest], options: spec, strict: true, allowPositionals: false }).values as CliValues;
  } catch (err) {
    io.stderr(`gatehouse ${command} ${sub}: ${(err as Error).message}\n${usage}`);
    return 2;
  }
  if (values.help === true) {
    io.stdout(usage);
    return 0;
  }
  return { sub, values };
}

/** the config of `-c FILE`; a number is the exit code (2: its problems printed; 1: it could not be read) */
export async function loadConfigForCli(file: string, io: CliIo, prefix: string): Promise<GatewayConfig | number> {
  try {
    return await loadConfig({ file: resolve(io.cwd, file), env: io.env, cwd: io.cwd });
  } catch (err) {
    if (err instanceof ConfigError) {
      io.stderr(err.problems.map((p) => formatProblem(p, { cwd: io.cwd })).join('\n'));
      return 2;
    }
    io.stderr(`${prefix}: ${(err as Error).message}`);
    return 1;
  }
}
