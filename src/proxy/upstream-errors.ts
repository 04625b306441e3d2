/** Map undici failures to the gateway's typed errors: connect problems → 502, timeouts → 504. */
import { GatewayError } from '../errors/gateway-error.js';

export function upstreamError(err: unknown, server: string): GatewayError {
  if (err instanceof GatewayError) return err;
  const code = (err as { code?: string } | undefined)?.code ?? '';
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT' || (err as Error)?.name === 'TimeoutError') {
    return new GatewayError('GW_ERR_UPSTREAM_TIMEOUT', `backend of server "${server}" did not answer in time`, { detail: { code } });
  }
  return new GatewayError('GW_ERR_UPSTREAM_CONNECT', `backend of server "${server}" is unreachable`, { detail: { code, reason: (err as Error)?.message } });
}
