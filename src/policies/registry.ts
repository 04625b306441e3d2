/** The built-in policies, one module each (explicit list, no globbing). */
import type { PolicyDefinition } from '../pipeline/types.js';
import { setHeader } from './set-header.js';
import { setVariable } from './set-variable.js';
import { choose } from './choose.js';
import { setStatus } from './set-status.js';
import { setBody } from './set-body.js';
import { returnResponse } from './return-response.js';
import { forwardRequest } from './forward-request.js';
import { setQueryParameter } from './set-query-parameter.js';
import { rewriteUri } from './rewrite-uri.js';
import { setBackendService } from './set-backend-service.js';
import { setMethod } from './set-method.js';
import { checkHeader } from './check-header.js';
import { mockResponse } from './mock-response.js';
import { trace } from './trace.js';
import { crossDomain } from './cross-domain.js';
import { validateJwt } from './validate-jwt.js';
import { validateAzureAdToken } from './validate-azure-ad-token.js';
import { getAuthorizationContext } from './get-authorization-context.js';
import { authenticationManagedIdentity } from './authentication-managed-identity.js';
// -- traffic policies (rate limits, quotas, concurrency, ip-filter, cors): imports below
import { rateLimit } from './rate-limit.js';
import { rateLimitByKey } from './rate-limit-by-key.js';
import { quota } from './quota.js';
import { quotaByKey } from './quota-by-key.js';
import { limitConcurrency } from './limit-concurrency.js';
import { ipFilter } from './ip-filter.js';
import { cors } from './cors.js';
// -- end traffic imports
// -- integration policies (send-request, retry, wait, cache, find-and-replace, authentication-*): imports below
import { sendRequest } from './send-request.js';
import { sendOneWayRequest } from './send-one-way-request.js';
import { retry } from './retry.js';
import { wait } from './wait.js';
import { findAndReplace } from './find-and-replace.js';
import { cacheLookupValue } from './cache-lookup-value.js';
import { cacheStoreValue } from './cache-store-value.js';
import { cacheRemoveValue } from './cache-remove-value.js';
import { cacheLookup } from './cache-lookup.js';
import { cacheStore } from './cache-store.js';
import { authenticationBasic } from './authentication-basic.js';
import { authenticationCertificate } from './authentication-certificate.js';
// -- end integration imports

export const BUILTIN_POLICIES: readonly PolicyDefinition[] = [
  setHeader,
  setVariable,
  choose,
  setStatus,
  setBody,
  returnResponse,
  forwardRequest,
  setQueryParameter,
  rewriteUri,
  setBackendService,
  setMethod,
  checkHeader,
  mockResponse,
  trace,
  crossDomain,
  validateJwt,
  validateAzureAdToken,
  getAuthorizationContext,
  authenticationManagedIdentity,
  // -- traffic policies: entries below
  rateLimit,
  rateLimitByKey,
  quota,
  quotaByKey,
  limitConcurrency,
  ipFilter,
  cors,
  // -- end traffic entries
  // -- integration policies: entries below
  sendRequest,
  sendOneWayRequest,
  retry,
  wait,
  findAndReplace,
  cacheLookupValue,
  cacheStoreValue,
  cacheRemoveValue,
  cacheLookup,
  cacheStore,
  authenticationBasic,
  authenticationCertificate,
  // -- end integration entries
];

export function createRegistry(extra: readonly PolicyDefinition[] = []): Map<string, PolicyDefinition> {
  const m = new Map<string, PolicyDefinition>();
  for (const d of [...BUILTIN_POLICIES, ...extra]) {
    if (m.has(d.name)) throw new Error(`policy "${d.name}" registered twice`);
    m.set(d.name, d);
  }
  return m;
}
