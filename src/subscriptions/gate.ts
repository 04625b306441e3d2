/**
 * APIM's key-based door in front of every MCP request (apim.md §5.1, §12): before any policy runs,
 * the subscription key is read from the configured header (default `Ocp-Apim-Subscription-Key`) or
 * query parameter (default `subscription-key`), checked against the store, and removed from the
 * request, so neither policies' copies nor a backend ever carry it (context.Subscription.Key holds it).
 *
 * - A server in at least one product, all of which require a subscription, needs a key: none →
 *   401 SubscriptionKeyNotFound. A server in no product (or in an open product) needs none.
 * - A presented key must be valid wherever it is presented: unknown, suspended, cancelled, expired,
 *   not yet started, or scoped to a product (or server) that does not hold this server → 401
 *   SubscriptionKeyInvalid.
 * - The product of the request is the one the subscription grants (APIM's rule when a server is in
 *   several products); a server- or all-scoped subscription has no product.
 */
import type { IncomingMessage } from 'node:http';
import { GatewayError } from '../errors/gateway-error.js';
import type { GatewayConfig, ProductConfig } from '../config/types.js';
import type { Subscription, SubscriptionScope, Subscriptions } from './subscriptions.js';

export const KEY_NOT_FOUND = 'Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API.';
export const KEY_INVALID = 'Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription.';

export interface Admission {
  readonly subscription: Subscription;
  /** the key the caller presented */
  readonly key: string;
  readonly which: 'primary' | 'secondary';
  /** the product the subscription grants (undefined for server- or all-scoped subscriptions) */
  readonly product: ProductConfig | undefined;
}

export class SubscriptionGate {
  readonly #header: string;
  readonly #query: string;
  readonly #products: ReadonlyMap<string, ProductConfig>;
  /** server → does it need a key */
  readonly #required = new Map<string, boolean>();

  constructor(config: GatewayConfig, private readonly subscriptions: Subscriptions) {
    this.#header = (config.raw.subscriptionKey?.header ?? 'Ocp-Apim-Subscription-Key').toLowerCase();
    this.#query = config.raw.subscriptionKey?.query ?? 'subscription-key';
    const products = config.products ?? [];
    this.#products = new Map(products.map((p) => [p.name, p]));
    for (const s of config.servers) {
      const mine = products.filter((p) => p.servers.includes(s.name));
      this.#required.set(s.name, mine.length > 0 && mine.every((p) => p.subscriptionRequired));
    }
  }

  /** the header name keys are read from (lower case) */
  get header(): string {
    return this.#header;
  }

  /** does anything need checking for this server (a key is required, or products exist at all) */
  active(server: string): boolean {
    return this.#required.get(server) === true || this.#products.size > 0;
  }

  /**
   * Check the request's key for `server`; strips the key from the request. Undefined when no key
   * was presented and none is needed. Throws 401 GatewayErrors with APIM's messages.
   */
  async admit(req: IncomingMessage, server: string): Promise<Admission | undefined> {
    const key = this.#take(req);
    if (key === undefined) {
      if (this.#required.get(server)) throw new GatewayError('GW_ERR_SUBSCRIPTION_KEY_NOT_FOUND', KEY_NOT_FOUND, { apimBody: true });
      return undefined;
    }
    const admits = (scope: SubscriptionScope): boolean =>
      scope.type === 'all' || (scope.type === 'server' ? scope.name === server : this.#products.get(scope.name)?.servers.includes(server) === true);
    const r = await this.subscriptions.check(key, admits);
    if (!r.ok) throw new GatewayError('GW_ERR_SUBSCRIPTION_KEY_INVALID', KEY_INVALID, { detail: { why: r.why }, apimBody: true });
    const scope = r.subscription.scope;
    return { subscription: r.subscription, key, which: r.which, product: scope.type === 'product' ? this.#products.get(scope.name) : undefined };
  }

  /** the key from the header (first) or the query, removed from the request either way */
  #take(req: IncomingMessage): string | undefined {
    let key: string | undefined;
    const h = req.headers[this.#header];
    if (h !== undefined) {
      key = Array.isArray(h) ? h[0] : h;
      delete req.headers[this.#header];
    }
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    if (q !== -1 && url.includes(this.#query, q)) {
      const params = new URLSearchParams(url.slice(q + 1));
      const v = params.get(this.#query);
      if (v !== null) {
        key ??= v;
        params.delete(this.#query);
        const rest = params.toString();
        req.url = url.slice(0, q) + (rest ? `?${rest}` : '');
      }
    }
    return key === undefined || key.trim() === '' ? undefined : key.trim();
  }
}
