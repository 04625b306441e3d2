/**
 * Why a token was refused, with APIM's LastError reasons (apim.md §6.1). Messages are written for
 * the caller: they name the failed check, never the token or key material.
 */
export type TokenReason =
  | 'TokenNotFound'
  | 'TokenExpired'
  | 'TokenSignatureInvalid'
  | 'TokenSignatureKeyNotFound'
  | 'TokenAudienceNotAllowed'
  | 'TokenIssuerNotAllowed'
  | 'TokenClaimNotFound'
  | 'TokenClaimValueNotAllowed'
  | 'JwtInvalid';

export class TokenError extends Error {
  constructor(
    readonly reason: TokenReason,
    message: string,
  ) {
    super(message);
    this.name = 'TokenError';
  }
}

/** APIM's wording: "<what failed>. Access denied." */
export const denied = (reason: TokenReason, what: string): TokenError => new TokenError(reason, `${what}. Access denied.`);
