/**
 * `gatehouse` CLI: argv parsing and exit codes only (0 ok, 1 runtime failure, 2 invalid input).
 */
import { runStart } from './commands/start.js';
import { runValidate } from './commands/validate.js';
import { checkPolicies } from './commands/policy-check.js';
import { runPolicyTest } from './commands/policy-test.js';
import { runSubscriptions } from './commands/subscriptions.js';
import { runOpenApiTools } from './commands/openapi-tools.js';
import { runKeys } from './commands/keys.js';
import { runCredentials } from './commands/credentials.js';
import { VERSION } from '../version.js';

const HELP = `gatehouse ${VERSION} — a self-hosted MCP gateway with the APIM policy language

Usage:
  gatehouse start [-c FILE] [--port N] [--host H]   run the gateway (no config: built-in quickstart)
  gatehouse validate [-c FILE]                      check the configuration and every policy; problems as FILE:LINE:COL: message
  gatehouse policy test -c FILE --server NAME [--tool NAME] [--product NAME] --request REQ.json [--json]
                                                    run one request through the effective pipeline offline and print the trace
  gatehouse subscriptions create -c FILE --name N (--product P | --server S | --all)
                          [--starts ISO-DATE] [--expires ISO-DATE] [--user ID] [--json]
                                                    create a subscription; prints its primary and secondary keys once
  gatehouse subscriptions list -c FILE [--json]     list subscriptions (name, id, scope, state, dates; never keys)
  gatehouse subscriptions regenerate -c FILE --name N [--key primary|secondary|both]
                                                    new key(s), printed once; the old ones stop working at once
  gatehouse subscriptions suspend|activate|cancel -c FILE --name N
                                                    change a subscription's state
  gatehouse openapi tools SPEC [--operations a,b]   print the MCP tools (JSON) an OpenAPI document (file or URL) yields
  gatehouse keys generate                           print a new data-encryption key for GATEHOUSE_SECRET_KEY
  gatehouse keys rotate -c FILE                     re-seal stored secrets with GATEHOUSE_SECRET_KEY (old key in GATEHOUSE_SECRET_KEY_PREVIOUS)
  gatehouse keys rotate-signing -c FILE             add a new authorization-server signing key (old one kept until its tokens expire)
  gatehouse credentials list -c FILE [--json]       credential connections and their status (ready, connected, pending, error; never tokens)
  gatehouse credentials login-link -c FILE --provider P --connection C [--redirect URL]
                                                    print a login link that connects an authorization-code connection (needs GATEHOUSE_SECRET_KEY)
  gatehouse credentials revoke -c FILE --provider P --connection C
                                                    forget a connection's stored tokens (every user's, for a per-user connection)
  gatehouse --version | --help
`;

export interface CliIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  cwd: string;
  env: NodeJS.ProcessEnv;
}

export const processIo = (): CliIo => ({
  stdout: (s) => process.stdout.write(s.endsWith('\n') ? s : s + '\n'),
  stderr: (s) => process.stderr.write(s.endsWith('\n') ? s : s + '\n'),
  cwd: process.cwd(),
  env: process.env,
});

export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'start':
      return runStart(rest, io);
    case 'validate':
      return runValidate(rest, io, [checkPolicies]);
    case 'policy':
      if (rest[0] === 'test') return runPolicyTest(rest.slice(1), io);
      io.stderr(`unknown command "policy ${rest[0] ?? ''}" (did you mean "policy test"?)`);
      return 2;
    case 'subscriptions':
      return runSubscriptions(rest, io);
    case 'keys':
      return runKeys(rest, io);
    case 'credentials':
      return runCredentials(rest, io);
    case 'openapi':
      if (rest[0] === 'tools') return runOpenApiTools(rest.slice(1), io);
      io.stderr(`unknown command "openapi ${rest[0] ?? ''}" (did you mean "openapi tools"?)`);
      return 2;
    case '--version':
    case '-v':
      io.stdout(VERSION);
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      io.stdout(HELP);
      return command === undefined ? 2 : 0;
    default:
      io.stderr(`unknown command "${command}"\n\n${HELP}`);
      return 2;
  }
}
