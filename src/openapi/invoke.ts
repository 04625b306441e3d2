/**
 * The call path of an imported OpenAPI operation: validate a tool call's arguments against the
 * tool's input schema (`compileArguments`), turn them into an HTTP request (`buildRequest`), send
 * it to the backend (`sendRest`) and turn the HTTP response into an MCP tool result (`toToolResult`).
 *
 * Security notes:
 *  - every value substituted into the path is percent-encoded with encodeURIComponent, and a path
 *    segment that would end up as `.` or `..` is refused: an argument can never change the target path
 *    (URL parsers resolve dot segments, even `%2e%2e`);
 *  - query values never carry a raw `&`, `=`, `#` or `%` (not even with allowReserved);
 *  - header/cookie values with CR, LF or other control characters are refused (no header injection);
 *  - redirects are never followed; responses are read up to a byte bound; one deadline covers headers
 *    and body; network error messages name the backend host only (never the path or query).
 *
 * The parts: arguments.ts, request-builder.ts (with parameter-serialization.ts, request-body.ts),
 * send.ts, results.ts.
 */
export { compileArguments } from './arguments.js';
export { buildRequest } from './request-builder.js';
export {
  DEFAULT_MAX_RESPONSE_BYTES,
  RestCallError,
  sendRest,
  type RestErrorCode,
  type RestResponse,
  type SendRestOptions,
} from './send.js';
export { errorResult, toToolResult } from './results.js';
