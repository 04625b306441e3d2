/**
 * ip-filter (APIM): let through (`allow`) or refuse (`forbid`) callers by IP address, IPv4 and IPv6.
 *
 * <ip-filter action="allow | forbid">
 *   <address>13.66.201.169</address>
 *   <address-range from="13.66.140.128" to="13.66.140.143" />
 *   <address-range from="2001:db8::" to="2001:db8::ffff" />
 * </ip-filter>
 *
 * Failures are 403 as APIM: CallerIpNotAllowed "Caller IP address {ip} is not allowed. Access
 * denied.", CallerIpBlocked "Caller IP address is blocked. Access denied.", FailedToParseCallerIP
 * "Failed to establish IP address for the caller. Access denied." (LastError Source ip-filter).
 *
 * The caller is context.Request.IpAddress: the address of the client's TCP connection, as the
 * gateway's policy bridge fills it. `gateway.trustProxy` (X-Forwarded-For) is not applied there
 * yet, so behind a reverse proxy every caller is the proxy. An IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d from a dual-stack listener) is the IPv4 address. A range needs both ends in the
 * same family; CIDR notation is not APIM's and is refused at load.
 */
import type { PolicyDefinition, ValueGetter } from '../pipeline/types.js';
import { PolicyFailure } from '../pipeline/errors.js';
import { parseIp, type IpAddress } from './traffic/ip.js';

const NAME = 'ip-filter';
const ACTIONS = ['allow', 'forbid'] as const;

type Matcher = { readonly from: IpAddress; readonly to: IpAddress } | { readonly address: ValueGetter<string> };

const inRange = (ip: IpAddress, from: IpAddress, to: IpAddress): boolean => ip.v6 === from.v6 && ip.n >= from.n && ip.n <= to.n;

export const ipFilter: PolicyDefinition = {
  name: NAME,
  sections: ['inbound'],
  attributes: { action: { required: true } },
  children: ['address', 'address-range'],
  compile(el, cc) {
    const actionAttr = el.attributes.get('action');
    let action: ValueGetter<string> | undefined;
    if (actionAttr?.expression) action = cc.string(el, 'action');
    else if (actionAttr) {
      const a = cc.choice(el, 'action', ACTIONS, 'allow');
      action = () => a;
    }
    const matchers: Matcher[] = [];
    const literal = (text: string, at: { line: number; col: number }, what: string): IpAddress | undefined => {
      const ip = parseIp(text);
      if (!ip) cc.problem(at, `${what} "${text}" is not an IPv4 or IPv6 address${text.includes('/') ? ' (CIDR notation is not supported: use <address-range from to>)' : ''}`);
      return ip;
    };
    for (const c of el.children) {
      if (c.type !== 'element') continue;
      if (c.name === 'address') {
        for (const [name, a] of c.attributes) cc.problem({ line: a.nameLine, col: a.nameCol }, `unknown attribute "${name}" on <address>`);
        if (c.children.some((x) => x.type === 'element')) cc.problem(c, '<address> cannot contain elements');
        if (!c.text || c.text.raw.trim() === '') {
          cc.problem(c, '<address> needs an IP address');
          continue;
        }
        if (c.text.expression) {
          const g = cc.text(c);
          if (g) matchers.push({ address: g });
          continue;
        }
        const ip = literal(c.text.raw.trim(), c.text, 'address');
        if (ip) matchers.push({ from: ip, to: ip });
      } else {
        // address-range
        for (const [name, a] of c.attributes) {
          if (name !== 'from' && name !== 'to') cc.problem({ line: a.nameLine, col: a.nameCol }, `unknown attribute "${name}" on <address-range>`);
          else if (a.expression) cc.problem({ line: a.line, col: a.col }, `attribute "${name}" of <address-range> does not accept policy expressions`);
        }
        if (c.children.length > 0) cc.problem(c, '<address-range> cannot contain anything');
        const f = c.attributes.get('from');
        const t = c.attributes.get('to');
        if (!f || !t) {
          cc.problem(c, `<address-range> requires the attributes "from" and "to"`);
          continue;
        }
        if (f.expression || t.expression) continue;
        const from = literal(f.raw.trim(), f, 'from');
        const to = literal(t.raw.trim(), t, 'to');
        if (!from || !to) continue;
        if (from.v6 !== to.v6) cc.problem(c, `<address-range> from "${f.raw}" and to "${t.raw}" must both be IPv4 or both IPv6`);
        else if (from.n > to.n) cc.problem(c, `<address-range> from "${f.raw}" is after to "${t.raw}"`);
        else matchers.push({ from, to });
      }
    }
    if (!el.children.some((c) => c.type === 'element')) cc.problem(el, '<ip-filter> needs at least one <address> or <address-range>');

    const fail = (reason: string, message: string) => new PolicyFailure({ source: NAME, reason, message, status: 403 });
    return {
      run(ctx) {
        const act = action!(ctx).trim().toLowerCase();
        if (act !== 'allow' && act !== 'forbid') throw new Error(`attribute "action" of <ip-filter> evaluated to "${act}", expected allow or forbid`);
        const raw = ctx.request.ipAddress;
        const ip = parseIp(raw ?? '');
        if (!ip) throw fail('FailedToParseCallerIP', 'Failed to establish IP address for the caller. Access denied.');
        const hit = matchers.some((m) => {
          if ('from' in m) return inRange(ip, m.from, m.to);
          const other = parseIp(m.address(ctx));
          return other !== undefined && inRange(ip, other, other);
        });
        if (act === 'allow' && !hit) throw fail('CallerIpNotAllowed', `Caller IP address ${raw} is not allowed. Access denied.`);
        if (act === 'forbid' && hit) throw fail('CallerIpBlocked', 'Caller IP address is blocked. Access denied.');
      },
    };
  },
};
