/**
 * THE configuration schema of gatehouse.yaml (PRODUCT §3). Every object is strict: unknown keys
 * are errors. `schema/gatehouse.schema.json` is generated from this file (scripts/generate-schema.ts)
 * and a test checks that the checked-in copy matches.
 */
import { z } from 'zod';

const nonEmpty = z.string().min(1, 'must not be empty');

/** http(s) URL with a host; no credentials in it. */
export const httpUrl = z.string().superRefine((value, ctx) => {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    ctx.addIssue({ code: 'custom', message: `invalid URL "${value}"` });
    return;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    ctx.addIssue({ code: 'custom', message: `URL must use http or https, got "${url.protocol}"` });
  }
  if (url.username || url.password) {
    ctx.addIssue({ code: 'custom', message: 'URL must not contain credentials' });
  }
});

/** host:port, e.g. 127.0.0.1:8080, [::1]:8080, 0.0.0.0:80 */
export const listenAddress = z.string().regex(
  /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})$/,
  // abort: a value that is not host:port at all gets one message, not also the port check's
  { error: 'must be host:port, e.g. 127.0.0.1:8080', abort: true },
).refine((s) => {
  const port = Number(s.slice(s.lastIndexOf(':') + 1));
  return port >= 0 && port <= 65535;
}, 'port must be between 0 and 65535');

/** A named value: a plain string, or taken from the environment, or an explicit value; optionally secret. */
export const namedValue = z.union([
  z.string(),
  z.number().transform(String),
  z.boolean().transform(String),
  z.strictObject({ env: nonEmpty, secret: z.boolean().optional(), default: z.string().optional() }),
  z.strictObject({ value: z.string(), secret: z.boolean().optional() }),
]);

/** A secret-bearing string field: literal, `{{named-value}}`, or `{ env: VAR }`. */
export const secretString = z.union([
  z.string(),
  z.strictObject({ env: nonEmpty, secret: z.boolean().optional() }),
]);

/** A tool-name glob: letters, digits, `_ - . /` and `*`, `?`. */
const toolGlob = z.string().regex(/^[A-Za-z0-9_\-./*?]+$/, 'must be a tool name or glob (letters, digits, _-./ and * ?)');

export const policyRef = nonEmpty.describe('policy document: a file path (relative to the config file) or inline XML');

export const backendRef = z.strictObject({
  url: httpUrl,
  transport: z.enum(['streamable-http', 'sse']).optional().describe('default streamable-http'),
  timeout: z.number().positive().max(3600).optional().describe('seconds; default 30'),
});

export const resourceMetadata = z.strictObject({
  authorizationServers: z.array(httpUrl).min(1).optional(),
  scopes: z.array(nonEmpty).optional(),
  resourceName: z.string().optional(),
  resourceDocumentation: httpUrl.optional(),
});

const passthroughTool = z.strictObject({
  name: nonEmpty,
  policies: policyRef.optional(),
  scopes: z.array(nonEmpty).optional(),
  description: z.string().optional(),
});

const openapiTool = z.strictObject({
  operation: nonEmpty,
  name: z.string().regex(/^[A-Za-z0-9_\-.]{1,128}$/, 'must be 1-128 characters of A-Z a-z 0-9 _ - .').optional(),
  description: z.string().optional(),
  policies: policyRef.optional(),
  scopes: z.array(nonEmpty).optional(),
});

const toolAccessRule = z.strictObject({
  tools: z.array(toolGlob).min(1).describe('tool names or globs the rule governs'),
  claim: nonEmpty.describe('a claim of the validated token, e.g. roles, groups, scp'),
  values: z.array(nonEmpty).min(1).describe('the caller qualifies when the claim holds any of these'),
});

const serverName = z.string().regex(/^[a-z0-9][a-z0-9-_]{0,62}$/, 'must be lowercase letters, digits, - and _ (URL segment), starting with a letter or digit');

const serverCommon = {
  name: serverName,
  description: z.string().optional(),
  policies: policyRef.optional(),
  forwardHeaders: z.array(z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'must be an HTTP header name')).optional(),
  resourceMetadata: resourceMetadata.optional(),
  allowTools: z.array(toolGlob).optional(),
  denyTools: z.array(toolGlob).optional(),
  toolAccess: z.array(toolAccessRule).optional().describe('per-caller tool access by token claim: a governed tool is listed and callable only for callers whose claim holds one of the values'),
};

export const passthroughServer = z.strictObject({
  ...serverCommon,
  type: z.literal('passthrough'),
  backend: backendRef,
  tools: z.array(passthroughTool).optional(),
});

export const openapiServer = z.strictObject({
  ...serverCommon,
  type: z.literal('openapi'),
  openapi: nonEmpty.describe('OpenAPI/Swagger document: file path or URL'),
  backend: backendRef.omit({ transport: true }).optional(),
  tools: z.array(openapiTool).optional(),
});

export const server = z.discriminatedUnion('type', [passthroughServer, openapiServer]);

export const product = z.strictObject({
  name: nonEmpty,
  description: z.string().optional(),
  servers: z.array(nonEmpty),
  subscriptionRequired: z.boolean().optional(),
  policies: policyRef.optional(),
});

const accessPolicy = z.union([
  z.strictObject({ identity: z.literal('managed') }),
  z.strictObject({ claim: nonEmpty, value: nonEmpty }),
]);

const connection = z.strictObject({
  name: nonEmpty,
  grant: z.enum(['authorization-code', 'client-credentials']),
  accessPolicies: z.array(accessPolicy).optional(),
  perUser: z.boolean().optional(),
});

const credentialProvider = z.strictObject({
  name: nonEmpty,
  type: z.enum(['github', 'oauth2', 'entra']),
  clientId: nonEmpty,
  clientSecret: secretString.optional(),
  tenantId: z.string().optional(),
  authority: httpUrl.optional(),
  authorizationUrl: httpUrl.optional(),
  tokenUrl: httpUrl.optional(),
  refreshUrl: httpUrl.optional(),
  clientAuth: z.enum(['basic', 'post']).optional(),
  pkce: z.boolean().optional(),
  scopes: z.array(nonEmpty).optional(),
  resource: z.string().optional(),
  connections: z.array(connection).optional(),
});

export const config = z.strictObject({
  gateway: z.strictObject({
    listen: listenAddress.optional().describe('host:port; default 127.0.0.1:8080'),
    publicUrl: httpUrl.optional().describe('canonical base URL; default http://{listen}'),
    allowedOrigins: z.array(z.string()).optional(),
    allowedHosts: z.array(z.string()).optional(),
    trustProxy: z.boolean().optional(),
    maxBodyBytes: z.number().int().positive().optional().describe('default 4194304 (4 MiB)'),
    drainTimeout: z.number().positive().optional().describe('seconds to drain in-flight requests on SIGTERM; default 10'),
    sessionTtl: z.number().positive().optional().describe('idle seconds before an MCP session ends; default 3600'),
    admin: z.strictObject({ token: secretString }).optional(),
    entraAuthority: httpUrl.optional().describe('Entra ID authority of validate-azure-ad-token; default https://login.microsoftonline.com'),
    workers: z.union([z.number().int().min(1).max(64), z.literal('auto')], { error: 'must be an integer from 1 to 64 or "auto"' }).optional().describe('worker processes sharing the listener (1-64, or "auto" = one per CPU); default 1'),
  }).optional(),
  store: z.string().regex(/^(sqlite:|postgres:\/\/|postgresql:\/\/)/, 'must be sqlite:PATH or postgres://...').optional(),
  cache: z.string().regex(/^(memory$|redis:\/\/|rediss:\/\/)/, 'must be "memory" or redis://...').optional(),
  namedValues: z.record(z.string().regex(/^[A-Za-z0-9._-]+$/, 'named value names are letters, digits, . _ -'), namedValue).optional(),
  policies: policyRef.optional(),
  fragments: z.record(nonEmpty, policyRef).optional(),
  backends: z.record(nonEmpty, backendRef).optional(),
  certificates: z.record(z.string().regex(/^[A-Za-z0-9._-]+$/, 'certificate ids are letters, digits, . _ -'), z.strictObject({
    cert: nonEmpty.describe('X.509 certificate: PEM text or a PEM file path'),
    key: secretString.optional().describe('its private key: PEM text or a PEM file path (needed to decrypt tokens)'),
    passphrase: secretString.optional(),
  })).optional().describe('certificates for certificate-id (validate-jwt keys)'),
  identity: z.strictObject({ provider: nonEmpty, connection: nonEmpty }).optional(),
  servers: z.array(server).optional(),
  products: z.array(product).optional(),
  subscriptionKey: z.strictObject({ header: z.string().optional(), query: z.string().optional() }).optional(),
  authorization: z.strictObject({
    issuer: httpUrl.optional(),
    upstream: z.strictObject({
      issuer: httpUrl,
      clientId: nonEmpty,
      clientSecret: secretString.optional(),
      scopes: z.array(nonEmpty).optional(),
    }),
    registration: z.strictObject({ dynamic: z.boolean().optional(), clientIdMetadataDocuments: z.boolean().optional() }).optional(),
    tokens: z.strictObject({ accessTokenTtl: z.number().int().positive().optional(), refreshTokenTtl: z.number().int().positive().optional() }).optional(),
  }).optional(),
  credentials: z.strictObject({ providers: z.array(credentialProvider).optional() }).optional(),
});

export type RawConfig = z.infer<typeof config>;
export type RawServer = z.infer<typeof server>;
export type RawPassthroughServer = z.infer<typeof passthroughServer>;
