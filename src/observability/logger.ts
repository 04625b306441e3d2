/**
 * pino JSON-lines logger. Credentials never reach a log line: the gateway never logs header maps,
 * and these redaction paths are a second line of defence for anything that slips through.
 */
import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

export const REDACT_PATHS = [
  'authorization', 'cookie', 'token', 'accessToken', 'refreshToken', 'secret', 'clientSecret', 'password', 'key',
  '*.authorization', '*.cookie', '*.token', '*.accessToken', '*.refreshToken', '*.secret', '*.clientSecret', '*.password',
  'headers.authorization', 'headers.cookie', 'headers["set-cookie"]', 'headers["ocp-apim-subscription-key"]', 'headers["proxy-authorization"]',
  'req.headers.authorization', 'req.headers.cookie',
];

export function createLogger(opts: { level?: string; destination?: DestinationStream } = {}): Logger {
  const level = opts.level ?? process.env.GATEHOUSE_LOG_LEVEL ?? 'info';
  return pino(
    {
      level,
      base: { service: 'gatehouse' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    opts.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
