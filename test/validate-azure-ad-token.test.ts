/**
 * validate-azure-ad-token end to end: a running gateway (publicUrl https://mcp.test) in front of the
 * real MCP fixture backend, with a local Entra-shaped authority (`gateway.entraAuthority`, or the
 * policy's `authentication-endpoint`). What a caller sees: the status, the `WWW-Authenticate`
 * Bearer challenge, the `{"statusCode","message"}` body, `context.LastError` as read by on-error —
 * and that a refused request never reaches the backend, which never sees the token either.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startEverythingServer, type EverythingServer, type RecordedRequest } from './fixtures/everything-server.js';
import { startEntraAuthority, type EntraAuthority } from './fixtures/entra-authority.js';
import { freePort, startGateway, type RunningGateway } from './helpers/gateway.js';
import { INIT, post, send, session, toolText, type Reply } from './helpers/mcp-http.js';

const TENANT = '3c8d2f9a-5b1e-4f7a-8d6c-1e2f3a4b5c6d';
const OTHER_TENANT = '9a0b1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d';
const DOMAIN = 'contoso.onmicrosoft.com';
/** the calling app (a client of the API) */
const CLIENT = '04b07795-8ddb-461a-bbee-02f9e1bf7b46';
const OTHER_CLIENT = '1950a258-227b-4e31-a9cf-717495945fc2';
/** the API's app registration: tokens for it carry aud GUID (v2) or api://GUID (v1 / custom App ID URI) */
const API = '6e2a1f4c-0d1b-4e7a-9c3f-8b5d2a7e1f90';
const PUBLIC = 'https://mcp.test';

const ON_ERROR = `<on-error>
    <base />
    <set-header name="x-reason" exists-action="override"><value>@(context.LastError.Reason)</value></set-header>
    <set-header name="x-source" exists-action="override"><value>@(context.LastError.Source)</value></set-header>
    <set-header name="x-last-message" exists-action="override"><value>@(context.LastError.Message)</value></set-header>
  </on-error>`;

const doc = (validate: string, outbound = '') =>
  `<policies>\n  <inbound>\n    <base />\n    ${validate}\n  </inbound>\n  <backend><base /></backend>\n  <outbound><base />${outbound}</outbound>\n  ${ON_ERROR}\n</policies>`;

const AUDIENCES = `<audiences><audience>${API}</audience><audience>api://${API}</audience></audiences>`;
const CLIENTS = `<client-application-ids><application-id>${CLIENT}</application-id></client-application-ids>`;

const POLICIES: Record<string, string> = {
  // tenant by GUID, client app + audiences, the validated token in a variable read in outbound
  guid: doc(
    `<validate-azure-ad-token tenant-id="${TENANT}" output-token-variable-name="jwt">${CLIENTS}${AUDIENCES}</validate-azure-ad-token>`,
    `<set-header name="x-tid" exists-action="override"><value>@(((Jwt)context.Variables["jwt"]).Claims.GetValueOrDefault("tid",""))</value></set-header>` +
      `<set-header name="x-ver" exists-action="override"><value>@(((Jwt)context.Variables["jwt"]).Claims.GetValueOrDefault("ver",""))</value></set-header>`,
  ),
  // tenant by domain name, the API named by backend-application-ids
  domain: doc(`<validate-azure-ad-token tenant-id="${DOMAIN}">${CLIENTS}<backend-application-ids><application-id>${API}</application-id></backend-application-ids></validate-azure-ad-token>`),
  // nothing about the audience: the token must be issued for this MCP server
  mcpaud: doc(`<validate-azure-ad-token tenant-id="${TENANT}" />`),
  claims: doc(
    `<validate-azure-ad-token tenant-id="${TENANT}">${AUDIENCES}<required-claims>` +
      `<claim name="roles" match="any"><value>Tools.Read</value><value>Tools.Admin</value></claim>` +
      `<claim name="scp" match="all" separator=" "><value>mcp.read</value><value>mcp.call</value></claim>` +
      `</required-claims></validate-azure-ad-token>`,
  ),
  xtoken: doc(`<validate-azure-ad-token tenant-id="${TENANT}" header-name="X-Token">${AUDIENCES}</validate-azure-ad-token>`),
  custom403: doc(`<validate-azure-ad-token tenant-id="${TENANT}" failed-validation-httpcode="403" failed-validation-error-message="Access to this MCP server is restricted">${AUDIENCES}</validate-azure-ad-token>`),
  custommsg: doc(`<validate-azure-ad-token tenant-id="${TENANT}" failed-validation-error-message="Sign in with your Contoso account">${AUDIENCES}</validate-azure-ad-token>`),
  // the token from a query parameter, or from an expression
  query: doc(`<validate-azure-ad-token tenant-id="${TENANT}" query-parameter-name="access_token">${AUDIENCES}</validate-azure-ad-token>`),
  tokval: doc(`<validate-azure-ad-token tenant-id="${TENANT}" token-value="@(context.Request.Headers.GetValueOrDefault(&quot;X-Alt&quot;,&quot;&quot;))">${AUDIENCES}</validate-azure-ad-token>`),
  // multi-tenant: the issuer is the metadata's template with the token's own tid
  orgs: doc(`<validate-azure-ad-token tenant-id="organizations">${AUDIENCES}</validate-azure-ad-token>`),
  placeholder: doc(`<validate-azure-ad-token tenant-id="{tenant-id}">${AUDIENCES}</validate-azure-ad-token>`),
};

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
const metadataOf = (server: string) => `${PUBLIC}/.well-known/oauth-protected-resource/${server}/mcp`;

describe('validate-azure-ad-token', () => {
  let entra: EntraAuthority;
  let backend: EverythingServer;
  /** entraAuthority = the fixture */
  let gw: RunningGateway;
  /** entraAuthority = a closed port; one server names the fixture with authentication-endpoint */
  let gwDown: RunningGateway;

  before(async () => {
    [entra, backend] = await Promise.all([startEntraAuthority({ tenantId: TENANT, tenantDomain: DOMAIN }), startEverythingServer({ transport: 'streamable-http' })]);
    const closed = await freePort();
    [gw, gwDown] = await Promise.all([
      startGateway({
        gateway: { publicUrl: PUBLIC, entraAuthority: entra.authority },
        servers: Object.entries(POLICIES).map(([name, policies]) => ({ name, type: 'passthrough', backend: { url: backend.url }, policies })),
      }),
      startGateway({
        gateway: { publicUrl: PUBLIC, entraAuthority: `http://127.0.0.1:${closed}` },
        servers: [
          { name: 'down', type: 'passthrough', backend: { url: backend.url }, policies: doc(`<validate-azure-ad-token tenant-id="${TENANT}">${AUDIENCES}</validate-azure-ad-token>`) },
          {
            name: 'endpoint',
            type: 'passthrough',
            backend: { url: backend.url },
            policies: doc(`<validate-azure-ad-token tenant-id="${TENANT}" authentication-endpoint="${entra.authority}">${CLIENTS}${AUDIENCES}</validate-azure-ad-token>`),
          },
        ],
      }),
    ]);
  });
  after(async () => {
    await gw?.close();
    await gwDown?.close();
    await backend?.close();
    await entra?.close();
  });

  let seq = 0;
  /** an initialize through `server`, marked so that its backend request (if any) can be found */
  async function init(server: string, headers: Record<string, string>, g: RunningGateway = gw, query = ''): Promise<{ r: Reply; seen: RecordedRequest[]; server: string }> {
    const marker = `azad-${++seq}`;
    const before = backend.requests.length;
    const r = await post(`${g.url}/${server}/mcp${query}`, { ...INIT, params: { ...INIT.params, clientInfo: { name: marker, version: '1' } } }, headers);
    if (r.status !== 200) assert.equal(backend.requests.length, before, `a refused request reached the backend (${server} ${r.status})`);
    return { r, seen: backend.requests.slice(before).filter((x) => x.body?.includes(marker)), server };
  }

  function accepted(x: { r: Reply; seen: RecordedRequest[] }): void {
    assert.equal(x.r.status, 200, `${x.r.status} ${x.r.headers.get('x-reason')} ${x.r.headers.get('x-last-message')} ${x.r.text}`);
    assert.equal(x.r.headers.get('x-reason'), null);
    assert.equal(x.seen.length, 1, 'the backend got the initialize');
    assert.equal(x.seen[0]!.headers.authorization, undefined, 'the token is not forwarded');
    assert.equal(x.seen[0]!.headers['x-token'], undefined, 'the token is not forwarded');
  }

  interface Refusal {
    reason: string;
    status?: number;
    /** the body message; default LastError.Message */
    message?: string;
    /** the error_description (or part of LastError.Message) */
    describes?: RegExp;
    /** no token at all: a challenge without error= */
    noToken?: boolean;
  }

  function refused(x: { r: Reply; seen: RecordedRequest[]; server: string }, want: Refusal): void {
    const { r } = x;
    const status = want.status ?? 401;
    assert.equal(r.status, status, `${r.status} ${r.headers.get('x-reason')} ${r.text}`);
    assert.equal(x.seen.length, 0, 'never reaches the backend');
    assert.equal(r.headers.get('x-reason'), want.reason);
    assert.equal(r.headers.get('x-source'), 'validate-azure-ad-token');
    const last = r.headers.get('x-last-message') ?? '';
    assert.ok(last.length > 0, 'LastError.Message is set');
    if (want.describes) assert.match(last, want.describes);
    assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
    assert.deepEqual(r.json, { statusCode: status, message: want.message ?? last });
    const challenge = r.headers.get('www-authenticate');
    if (status !== 401) return;
    assert.ok(challenge, 'a 401 carries WWW-Authenticate');
    if (want.noToken) {
      assert.equal(challenge, `Bearer resource_metadata="${metadataOf(x.server)}"`);
      return;
    }
    if (want.message !== undefined) {
      // a policy's own message hides the detail in the challenge too
      assert.equal(challenge, `Bearer error="invalid_token", resource_metadata="${metadataOf(x.server)}"`);
      return;
    }
    const m = /^Bearer error="invalid_token", error_description="([^"]+)", resource_metadata="([^"]+)"$/.exec(challenge);
    assert.ok(m, `challenge: ${challenge}`);
    assert.equal(m[2], metadataOf(x.server));
    assert.doesNotMatch(m[1]!, /Access denied/);
    if (want.describes) assert.match(m[1]!, want.describes);
  }

  // ---------------------------------------------------------------------------------------------

  it('v2 and v1 tokens are accepted, tenant by GUID or by domain, aud GUID or api://GUID', async () => {
    for (const server of ['guid', 'domain']) {
      for (const version of [2, 1] as const) {
        for (const aud of [API, `api://${API}`]) {
          const token = await entra.token({ version, aud, clientAppId: CLIENT });
          const x = await init(server, bearer(token));
          accepted(x);
        }
      }
    }
  });

  it('a session works end to end with the token on every request', async () => {
    const token = await entra.token({ version: 2, aud: API, clientAppId: CLIENT });
    const url = `${gw.url}/guid/mcp`;
    const sid = await session(url, bearer(token));
    const calls = backend.toolCalls.length;
    const r = await post(url, { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'echo', arguments: { text: 'through entra' } } }, { ...bearer(token), 'mcp-session-id': sid });
    assert.equal(r.status, 200, r.text);
    assert.equal(toolText(r), 'through entra');
    assert.equal(backend.toolCalls.length, calls + 1);
    // the same session without the token is refused before the backend
    const before = backend.requests.length;
    const bare = await post(url, { jsonrpc: '2.0', id: 8, method: 'tools/call', params: { name: 'echo', arguments: { text: 'no token' } } }, { 'mcp-session-id': sid });
    assert.equal(bare.status, 401);
    assert.equal(bare.headers.get('x-reason'), 'TokenNotFound');
    assert.equal(backend.requests.length, before);
  });

  it('output-token-variable-name: the Jwt is usable in a later (outbound) expression', async () => {
    const v2 = await init('guid', bearer(await entra.token({ version: 2, aud: API, clientAppId: CLIENT })));
    accepted(v2);
    assert.equal(v2.r.headers.get('x-tid'), TENANT);
    assert.equal(v2.r.headers.get('x-ver'), '2.0');
    const v1 = await init('guid', bearer(await entra.token({ version: 1, aud: `api://${API}`, clientAppId: CLIENT })));
    accepted(v1);
    assert.equal(v1.r.headers.get('x-tid'), TENANT);
    assert.equal(v1.r.headers.get('x-ver'), '1.0');
  });

  it('client-application-ids: matched against azp (v2) and appid (v1); another client app is refused', async () => {
    for (const server of ['guid', 'domain']) {
      for (const version of [2, 1] as const) {
        const token = await entra.token({ version, aud: API, clientAppId: OTHER_CLIENT });
        refused(await init(server, bearer(token)), { reason: 'TokenClaimValueNotAllowed', describes: new RegExp(OTHER_CLIENT) });
      }
    }
    // the claim the version carries decides: a v2 token whose azp is wrong is refused even with a good appid
    const mixed = await entra.token({ version: 2, aud: API, clientAppId: OTHER_CLIENT, claims: { appid: CLIENT } });
    refused(await init('guid', bearer(mixed)), { reason: 'TokenClaimValueNotAllowed' });
    // neither azp nor appid
    const none = await entra.token({ version: 2, aud: API, clientAppId: CLIENT, claims: { azp: undefined } });
    refused(await init('guid', bearer(none)), { reason: 'TokenClaimNotFound', describes: /azp/ });
  });

  it('audiences / backend-application-ids: any of them; another audience is refused', async () => {
    for (const server of ['guid', 'domain']) {
      for (const aud of ['api://some-other-api', `${API}-x`, `${PUBLIC}/${server}/mcp`]) {
        const token = await entra.token({ version: 2, aud, clientAppId: CLIENT });
        refused(await init(server, bearer(token)), { reason: 'TokenAudienceNotAllowed', describes: /[Aa]udience/ });
      }
    }
    // an aud array with one allowed member
    accepted(await init('domain', bearer(await entra.token({ version: 2, aud: 'x', clientAppId: CLIENT, claims: { aud: ['api://other', `api://${API}`] } }))));
  });

  it('no audiences configured: the token must be issued for this MCP server (https://mcp.test/NAME/mcp)', async () => {
    for (const version of [2, 1] as const) {
      accepted(await init('mcpaud', bearer(await entra.token({ version, aud: `${PUBLIC}/mcpaud/mcp`, clientAppId: OTHER_CLIENT }))));
    }
    for (const aud of [API, `api://${API}`, `${PUBLIC}/guid/mcp`, PUBLIC, `${PUBLIC}/mcpaud`]) {
      const token = await entra.token({ version: 2, aud, clientAppId: CLIENT });
      refused(await init('mcpaud', bearer(token)), { reason: 'TokenAudienceNotAllowed' });
    }
  });

  it('required-claims: roles any-of, scp all-of with separator " "', async () => {
    const ok = { roles: ['Tools.Read'], scp: 'openid mcp.call mcp.read' };
    accepted(await init('claims', bearer(await entra.token({ version: 2, aud: API, clientAppId: CLIENT, claims: ok }))));
    accepted(await init('claims', bearer(await entra.token({ version: 1, aud: API, clientAppId: CLIENT, claims: { ...ok, roles: ['Other', 'Tools.Admin'] } }))));
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ ...ok, roles: ['Other'] }, 'TokenClaimValueNotAllowed', /roles/],
      [{ ...ok, scp: 'mcp.read' }, 'TokenClaimValueNotAllowed', /scp/],
      [{ ...ok, scp: 'mcp.read,mcp.call' }, 'TokenClaimValueNotAllowed', /scp/],
      [{ ...ok, roles: undefined }, 'TokenClaimNotFound', /roles/],
      // app-only: roles without scp
      [{ roles: ['Tools.Read'] }, 'TokenClaimNotFound', /scp/],
    ];
    for (const [claims, reason, describes] of cases) {
      refused(await init('claims', bearer(await entra.token({ version: 2, aud: API, clientAppId: CLIENT, claims }))), { reason, describes });
    }
  });

  it('a token of another tenant is refused: TokenIssuerNotAllowed', async () => {
    const v2 = await entra.token({ version: 2, aud: API, clientAppId: CLIENT, claims: { iss: `${entra.authority}/${OTHER_TENANT}/v2.0`, tid: OTHER_TENANT } });
    refused(await init('guid', bearer(v2)), { reason: 'TokenIssuerNotAllowed', describes: new RegExp(OTHER_TENANT) });
    const v1 = await entra.token({ version: 1, aud: API, clientAppId: CLIENT, claims: { iss: `https://sts.windows.net/${OTHER_TENANT}/`, tid: OTHER_TENANT } });
    refused(await init('domain', bearer(v1)), { reason: 'TokenIssuerNotAllowed' });
    // the issuer of the public cloud for this tenant is not this authority's
    const cloud = await entra.token({ version: 2, aud: API, clientAppId: CLIENT, claims: { iss: `https://login.microsoftonline.com/${TENANT}/v2.0` } });
    refused(await init('guid', bearer(cloud)), { reason: 'TokenIssuerNotAllowed' });
  });

  it('expired → TokenExpired; unpublished key → TokenSignatureKeyNotFound; altered → TokenSignatureInvalid; garbage → JwtInvalid', async () => {
    const expired = await entra.token({ version: 2, aud: API, clientAppId: CLIENT, expiresIn: -60 });
    refused(await init('guid', bearer(expired)), { reason: 'TokenExpired', describes: /expired/ });
    const foreign = await entra.token({ version: 2, aud: API, clientAppId: CLIENT, foreignKey: true });
    refused(await init('guid', bearer(foreign)), { reason: 'TokenSignatureKeyNotFound' });
    const good = await entra.token({ version: 2, aud: API, clientAppId: CLIENT });
    const [h, p, s] = good.split('.');
    const payload = JSON.parse(Buffer.from(p!, 'base64url').toString('utf8')) as Record<string, unknown>;
    const altered = `${h}.${Buffer.from(JSON.stringify({ ...payload, azp: CLIENT, roles: ['Tools.Admin'] })).toString('base64url')}.${s}`;
    refused(await init('guid', bearer(altered)), { reason: 'TokenSignatureInvalid' });
    refused(await init('guid', bearer('not-a-jwt')), { reason: 'JwtInvalid' });
  });

  it('no token, or a bare token in Authorization (no "Bearer ") → TokenNotFound, challenge without error=', async () => {
    const token = await entra.token({ version: 2, aud: API, clientAppId: CLIENT });
    refused(await init('guid', {}), { reason: 'TokenNotFound', noToken: true, message: 'JWT not present.' });
    refused(await init('guid', { authorization: token }), { reason: 'TokenNotFound', noToken: true });
    refused(await init('guid', { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }), { reason: 'TokenNotFound', noToken: true });
    // a token meant for X-Token in the wrong header
    refused(await init('xtoken', bearer(token)), { reason: 'TokenNotFound', noToken: true });
    // the scheme is case-insensitive
    accepted(await init('guid', { authorization: `bearer ${token}` }));
  });

  it('header-name="X-Token" holds the bare token (a "Bearer " prefix there is refused)', async () => {
    const token = await entra.token({ version: 1, aud: `api://${API}`, clientAppId: CLIENT });
    accepted(await init('xtoken', { 'x-token': token }));
    refused(await init('xtoken', { 'x-token': `Bearer ${token}` }), { reason: 'JwtInvalid' });
  });

  it('query-parameter-name and token-value: the bare token from there; it never reaches the backend', async () => {
    const token = await entra.token({ version: 2, aud: API, clientAppId: CLIENT });
    const q = await init('query', {}, gw, `?access_token=${token}`);
    accepted(q);
    assert.ok(!q.seen[0]!.url.includes(token), `backend url: ${q.seen[0]!.url.slice(0, 80)}`);
    refused(await init('query', bearer(token)), { reason: 'TokenNotFound', noToken: true });
    refused(await init('query', {}, gw, '?access_token=garbage'), { reason: 'JwtInvalid' });
    accepted(await init('tokval', { 'x-alt': token }));
    refused(await init('tokval', {}), { reason: 'TokenNotFound', noToken: true });
    refused(await init('tokval', { 'x-alt': await entra.token({ version: 2, aud: API, clientAppId: CLIENT, expiresIn: -5 }) }), { reason: 'TokenExpired' });
  });

  it('tenant-id="organizations": any tenant, but the issuer must carry the token\'s own tid', async () => {
    accepted(await init('orgs', bearer(await entra.token({ version: 2, aud: API, clientAppId: CLIENT }))));
    accepted(await init('orgs', bearer(await entra.token({ version: 1, aud: API, clientAppId: CLIENT }))));
    const other = await entra.token({ version: 2, aud: API, clientAppId: CLIENT, claims: { iss: `${entra.authority}/${OTHER_TENANT}/v2.0`, tid: OTHER_TENANT } });
    accepted(await init('orgs', bearer(other)));
    const spoofed = await entra.token({ version: 2, aud: API, clientAppId: CLIENT, claims: { iss: `${entra.authority}/${OTHER_TENANT}/v2.0` } });
    refused(await init('orgs', bearer(spoofed)), { reason: 'TokenIssuerNotAllowed' });
    const noTid = await entra.token({ version: 2, aud: API, clientAppId: CLIENT, claims: { tid: undefined } });
    refused(await init('orgs', bearer(noTid)), { reason: 'TokenIssuerNotAllowed' });
  });

  it('failed-validation-httpcode / failed-validation-error-message', async () => {
    const expired = await entra.token({ version: 2, aud: API, clientAppId: CLIENT, expiresIn: -60 });
    const r403 = await init('custom403', bearer(expired));
    refused(r403, { reason: 'TokenExpired', status: 403, message: 'Access to this MCP server is restricted', describes: /expired/ });
    // LastError.Message keeps the real reason; the body shows the configured one
    assert.notEqual(r403.r.headers.get('x-last-message'), 'Access to this MCP server is restricted');
    const r401 = await init('custommsg', bearer(expired));
    refused(r401, { reason: 'TokenExpired', message: 'Sign in with your Contoso account' });
    assert.match(r401.r.headers.get('x-last-message') ?? '', /expired/);
    refused(await init('custommsg', {}), { reason: 'TokenNotFound', noToken: true, message: 'Sign in with your Contoso account' });
    // a good token passes both
    const good = await entra.token({ version: 2, aud: API, clientAppId: CLIENT });
    accepted(await init('custom403', bearer(good)));
    accepted(await init('custommsg', bearer(good)));
  });

  it('a tenant-id placeholder ("{tenant-id}") loads, and every request gets 401 JwtInvalid (never 500)', async () => {
    const token = await entra.token({ version: 2, aud: API, clientAppId: CLIENT });
    refused(await init('placeholder', bearer(token)), { reason: 'JwtInvalid', describes: /tenant/ });
    // no tenant was ever looked up with the placeholder
    for (const path of entra.hits.keys()) assert.doesNotMatch(decodeURIComponent(path), /tenant-id/);
  });

  it('the server is a protected resource: its metadata names the tenant as authorization server', async () => {
    for (const [server, tenant] of [['guid', TENANT], ['domain', DOMAIN]] as const) {
      const r = await send(`${gw.url}/.well-known/oauth-protected-resource/${server}/mcp`, { method: 'GET' });
      assert.equal(r.status, 200, r.text);
      const body = r.json as Record<string, unknown>;
      assert.equal(body.resource, `${PUBLIC}/${server}/mcp`);
      assert.deepEqual(body.authorization_servers, [`${entra.authority}/${tenant}/v2.0`]);
    }
  });

  it('authority unreachable (entraAuthority on a closed port) → 401 quickly, never 500; authentication-endpoint overrides it', async () => {
    const token = await entra.token({ version: 2, aud: API, clientAppId: CLIENT });
    for (let i = 0; i < 2; i++) {
      const x = await init('down', bearer(token), gwDown);
      refused(x, { reason: 'TokenSignatureKeyNotFound' });
      assert.ok(x.r.ms < 2000, `answered in ${Math.round(x.r.ms)} ms`);
    }
    // the same gateway, the authority named by the policy
    accepted(await init('endpoint', bearer(token), gwDown));
    accepted(await init('endpoint', bearer(await entra.token({ version: 1, aud: `api://${API}`, clientAppId: CLIENT })), gwDown));
    refused(await init('endpoint', bearer(await entra.token({ version: 2, aud: API, clientAppId: OTHER_CLIENT })), gwDown), { reason: 'TokenClaimValueNotAllowed' });
  });

  it('the backend never saw an authorization or X-Token header', () => {
    assert.ok(backend.requests.length > 10);
    for (const r of backend.requests) {
      assert.equal(r.headers.authorization, undefined);
      assert.equal(r.headers['x-token'], undefined);
    }
  });
});
