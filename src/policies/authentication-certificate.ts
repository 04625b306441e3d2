/**
 * authentication-certificate (APIM): present a TLS client certificate to the backend.
 * Gatehouse has no certificate store: `thumbprint` and `certificate-id` are load-time errors
 * ("no certificate store configured"); give the certificate in `body` — byte[] (e.g.
 * `@(Convert.FromBase64String(...))`), base64 of a PFX/PKCS#12, or PEM text with certificate and
 * private key — and `password` when it is protected. A literal body is checked at load, an expression
 * body when the policy runs (failure: LastError.Reason "CertificateInvalid"); messages never carry
 * the password or key material.
 *
 * The certificate is kept for this run's backend request: `getBackendClientCertificate(ctx)` in
 * ./http/certificate.ts, which the forward path passes to its TLS connection (`tlsOptions(cert)`).
 * Inside send-request / send-one-way-request the element configures that request instead.
 */
import type { PolicyDefinition } from '../pipeline/types.js';
import { PolicyFailure } from '../pipeline/errors.js';
import { CertificateError, compileCertificate, setBackendClientCertificate } from './http/certificate.js';

export const authenticationCertificate: PolicyDefinition = {
  name: 'authentication-certificate',
  sections: ['inbound'],
  attributes: { thumbprint: {}, 'certificate-id': {}, body: {}, password: {} },
  compile(el, cc) {
    const cert = compileCertificate(el, cc);
    return {
      run(ctx) {
        if (!cert) return;
        try {
          setBackendClientCertificate(ctx, cert(ctx));
        } catch (err) {
          if (!(err instanceof CertificateError)) throw err;
          throw new PolicyFailure({ source: 'authentication-certificate', reason: 'CertificateInvalid', message: `authentication-certificate: ${err.message}`, status: 500 }, { cause: err });
        }
      },
    };
  },
};
