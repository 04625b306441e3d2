// Loads every member table (order matters: later tables extend earlier ones).
import './lib-core.js';
import './lib-collections.js';
import './lib-json.js';
import './lib-time.js';
import './lib-context.js';
import './lib-crypto.js';
import './lib-xml.js';
import './lib-x509.js';
import { define } from './registry.js';
import { m } from './lib-core.js';
import { T, enumOf, checkColl } from '../types.js';
import { CsException } from '../errors.js';

define('Enumerable', {
  smethods: {
    Range: m(enumOf(T.int), (_s, a, c) => {
      const start = a[0] as number;
      const n = a[1] as number;
      if (n < 0) throw new CsException('ArgumentOutOfRangeException', "Specified argument was out of the range of valid values. (Parameter 'count')");
      checkColl(c.rt, n);
      return Array.from({ length: n }, (_x, i) => start + i);
    }, { min: 2, max: 2 }),
    Repeat: m((_s, a) => enumOf(a[0] ?? T.dynamic), (_s, a, c) => {
      const n = a[1] as number;
      if (n < 0) throw new CsException('ArgumentOutOfRangeException', "Specified argument was out of the range of valid values. (Parameter 'count')");
      checkColl(c.rt, n);
      return Array.from({ length: n }, () => a[0]);
    }, { min: 2, max: 2 }),
    Empty: m((_s, _a, gen) => enumOf(gen[0] ?? T.dynamic), () => [], { max: 0, gen: [1, 1] }),
  },
});

export * from './registry.js';
export { UNSUPPORTED_TYPES } from './lib-crypto.js';
export { EXCEPTION_TYPE_SET, exceptionMatches, enumFromValue, stringFormat } from './lib-core.js';
export { parseJwt } from './lib-context.js';
export { tokenIndex } from './lib-json.js';
