/** What the authorization-server facade keeps in the Store: its records and their collections. */

export interface AuthRequest {
  readonly clientId: string;
  readonly redirectUri: string;
  readonly codeChallenge: string;
  readonly resource: string;
  readonly scope: readonly string[];
  /** the client's state, returned as given */
  readonly state: string | undefined;
}

export interface PendingRequest extends AuthRequest {
  readonly csrf: string;
  readonly expiresAt: number;
}

export interface UpstreamState {
  readonly request: AuthRequest;
  readonly codeVerifier: string;
  readonly nonce: string;
  readonly expiresAt: number;
}

export interface ConsentRecord {
  readonly sub: string;
  readonly clientId: string;
  readonly scope: readonly string[];
  readonly updatedAt: number;
}

export interface CodeRecord extends AuthRequest {
  readonly sub: string;
  readonly grantId: string;
  readonly expiresAt: number;
  readonly used: boolean;
  /** the refresh family issued from this code (revoked when the code is replayed) */
  readonly familyId?: string;
}

export interface RefreshFamily {
  readonly clientId: string;
  readonly sub: string;
  readonly scope: readonly string[];
  readonly resource: string;
  readonly grantId: string;
  /** hash of the live refresh token */
  readonly current: string;
  /** hashes of rotated-out tokens: presenting one again revokes the family */
  readonly previous: readonly string[];
  readonly expiresAt: number;
  readonly revoked: boolean;
  readonly revokedReason?: string;
}

export const C = {
  request: 'as-request',
  state: 'as-state',
  consent: 'as-consent',
  code: 'as-code',
  refresh: 'as-refresh',
  upstream: 'as-upstream',
} as const;
