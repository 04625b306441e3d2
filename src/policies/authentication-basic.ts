/**
 * authentication-basic (APIM): authenticate to the backend with HTTP Basic — sets the backend
 * request's `Authorization: Basic base64(username:password)`, replacing any Authorization header
 * (the client's own never reaches the backend anyway). The password appears in no log line, error
 * message or trace: errors name the problem, never the values.
 */
import type { PolicyDefinition } from '../pipeline/types.js';

const CTL = /[\u0000-\u001f\u007f]/;

export const authenticationBasic: PolicyDefinition = {
  name: 'authentication-basic',
  sections: ['inbound'],
  attributes: { username: { required: true }, password: { required: true } },
  compile(el, cc) {
    const u = el.attributes.get('username');
    if (u && !u.expression) {
      if (u.raw.includes(':')) cc.problem({ line: u.line, col: u.col }, 'the username of <authentication-basic> must not contain ":" (RFC 7617)');
      if (CTL.test(u.raw)) cc.problem({ line: u.line, col: u.col }, 'the username of <authentication-basic> must not contain control characters');
    }
    const p = el.attributes.get('password');
    if (p && !p.expression && CTL.test(p.raw)) cc.problem({ line: p.line, col: p.col }, 'the password of <authentication-basic> must not contain control characters');
    const username = cc.string(el, 'username');
    const password = cc.string(el, 'password');
    return {
      run(ctx) {
        const user = username ? username(ctx) : '';
        const pass = password ? password(ctx) : '';
        if (user.includes(':')) throw new Error('authentication-basic: the username must not contain ":"');
        if (CTL.test(user) || CTL.test(pass)) throw new Error('authentication-basic: the username and password must not contain control characters');
        ctx.request.headers.set('Authorization', `Basic ${Buffer.from(`${user}:${pass}`, 'utf8').toString('base64')}`);
        ctx.touchedRequestHeaders.add('authorization');
      },
    };
  },
};
