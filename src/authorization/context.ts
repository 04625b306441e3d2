/** What every endpoint of the authorization-server facade shares (built once by AuthorizationFacade). */
import type { Store } from '../store/types.js';
import type { Logger } from '../observability/logger.js';
import type { SecretBox } from '../secrets/secret-box.js';
import type { ClientRegistry } from './clients.js';
import type { SigningKeys } from './signing-keys.js';
import type { Upstream } from './upstream.js';
import type { CookieJarPolicy, RateLimiter } from './http.js';

export interface FacadeContext {
  readonly issuer: string;
  readonly publicUrl: string;
  readonly basePath: string;
  readonly store: Store;
  readonly box: SecretBox;
  readonly logger: Logger | undefined;
  readonly now: () => number;
  readonly keys: SigningKeys;
  readonly clients: ClientRegistry;
  readonly upstream: Upstream;
  /** canonical form → configured resource identifier */
  readonly resources: ReadonlyMap<string, string>;
  readonly scopes: readonly string[];
  readonly accessTtl: number;
  readonly refreshTtl: number;
  readonly cookies: CookieJarPolicy;
  readonly trustProxy: boolean;
  readonly registerLimit: RateLimiter;
  readonly authorizeLimit: RateLimiter;
}
