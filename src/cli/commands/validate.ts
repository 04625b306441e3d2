/**
 * `gatehouse validate [-c FILE]` — checks the config (and, through `extraChecks`, every policy
 * document) and prints each problem as `FILE:LINE:COL: message` to stdout (FILE relative to the
 * working folder when inside it). Exit status: 0 ok, 2 invalid input (problems, bad options, no
 * config file), 1 unexpected failure.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, displayFile, formatProblem } from '../../config/errors.js';
import { loadConfig } from '../../config/load.js';
import type { GatewayConfig, Problem } from '../../config/types.js';

/**
 * Hook for checks beyond the config file itself (the policy engine adds the parsing of every policy
 * document here). Runs only when the config loaded; returned problems are printed like config ones.
 */
export type ExtraCheck = (config: GatewayConfig) => Promise<Problem[]>;

export interface CommandIO {
  /** receives complete chunks, each ending with '\n' (wire to process.stdout.write) */
  stdout: (s: string) => void;
  /** receives complete chunks, each ending with '\n' (wire to process.stderr.write) */
  stderr: (s: string) => void;
  cwd: string;
  env: NodeJS.ProcessEnv;
}

export const VALIDATE_USAGE = 'usage: gatehouse validate [-c FILE | --config FILE]\n';
export const DEFAULT_CONFIG_FILE = 'gatehouse.yaml';

export async function runValidate(argv: string[], io: CommandIO, extraChecks: readonly ExtraCheck[] = []): Promise<number> {
  let configArg: string | undefined;
  try {
    const { values } = parseArgs({
      args: argv,
      options: {
        config: { type: 'string', short: 'c' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    });
    if (values.help) {
      io.stdout(VALIDATE_USAGE);
      return 0;
    }
    configArg = values.config;
  } catch (e) {
    io.stderr(`gatehouse validate: ${e instanceof Error ? e.message : String(e)}\n${VALIDATE_USAGE}`);
    return 2;
  }

  let file = configArg;
  if (file === undefined) {
    if (!existsSync(path.resolve(io.cwd, DEFAULT_CONFIG_FILE))) {
      io.stderr(`no config file: ./${DEFAULT_CONFIG_FILE} not found\n`);
      return 2;
    }
    file = DEFAULT_CONFIG_FILE;
  }
  const absolute = path.resolve(io.cwd, file);

  let problems: Problem[];
  let config: GatewayConfig | undefined;
  try {
    config = await loadConfig({ file: absolute, env: io.env, cwd: io.cwd });
    problems = [];
    for (const check of extraChecks) problems.push(...(await check(config)));
  } catch (e) {
    if (!(e instanceof ConfigError)) {
      io.stderr(`gatehouse validate: ${e instanceof Error ? e.message : String(e)}\n`);
      return 1;
    }
    problems = e.problems;
  }

  if (problems.length > 0) {
    io.stdout(problems.map((p) => `${formatProblem(p, { cwd: io.cwd })}\n`).join(''));
    return 2;
  }
  const n = config?.raw.servers?.length ?? 0;
  io.stdout(`${displayFile(absolute, io.cwd)}: ok (${n} ${n === 1 ? 'server' : 'servers'})\n`);
  return 0;
}
