import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors,
  type JWTPayload,
  type JWTVerifyGetKey,
  type JWTVerifyOptions,
  jwtVerify,
} from 'jose';
import type { Config } from '../config.js';
import { unavailable } from '../fhir/errors.js';
import { LOCAL_AUDIENCE, LOCAL_ISSUER, loadOrCreateLocalKeys } from './local-keys.js';
import { parseScopes, type ScopeSet } from './scopes.js';

/**
 * Bearer-token authentication for the FHIR API: checks the JWT and turns its claims into an {@link AuthContext}.
 * Authorization (which scope allows what) is in `scopes.ts`.
 */

/** Who is calling and what they may do. Never holds the token itself. */
export interface AuthContext {
  /** `sub` claim, or the client id when the token has no subject (client-credentials tokens). */
  subject: string;
  clientId: string | undefined;
  scopes: ScopeSet;
  /** `jti` claim, for audit. */
  tokenId?: string;
  /** When the verified token stops being accepted (epoch ms); undefined for claims verified upstream. */
  expiresAtMs?: number;
  /** The client's network address (AuditEvent agent). */
  address?: string;
  /**
   * A PFI component acting on its own (HL7 ingest, document workers): its FHIR calls are not audited one by one, its
   * own events are (an HL7 message processed, a document generated, a send).
   */
  internal?: boolean;
}

export interface TokenVerifier {
  /** Verifies an `Authorization` header value; throws {@link AuthError} (401) or a 503 FhirError (issuer keys unreachable). */
  verify(authorizationHeader: string | undefined): Promise<AuthContext>;
}

export type AuthErrorReason = 'missing' | 'malformed' | 'expired' | 'invalid';

/** A rejected request credential. `message` is safe to send to the client (no claim values, no token). */
export class AuthError extends Error {
  override readonly name = 'AuthError';
  constructor(
    readonly reason: AuthErrorReason,
    message: string,
  ) {
    super(message);
  }
}

/** Asymmetric algorithms only: `none` and HS* (a shared secret) are never accepted. */
const ALGORITHMS: JWTVerifyOptions['algorithms'] = ['RS256', 'ES256'];
/** Allowed clock skew between the issuer and us. */
const CLOCK_TOLERANCE_SECONDS = 30;
/** Bounds the work done on a hostile header; real access tokens are a few KB. */
const MAX_TOKEN_LENGTH = 16 * 1024;
const JWS_COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** The remote key set could not be fetched: a server-side problem, not the client's. */
class KeySetUnavailable extends Error {
  override readonly name = 'KeySetUnavailable';
}

function bearerToken(header: string | undefined): string {
  const value = header?.trim() ?? '';
  if (value === '') throw new AuthError('missing', 'a Bearer access token is required');
  const space = value.search(/\s/);
  const scheme = space === -1 ? value : value.slice(0, space);
  // RFC 6750 §3.1: a request using another scheme (Basic…) lacks a token; it is not a malformed one.
  if (scheme.toLowerCase() !== 'bearer') throw new AuthError('missing', 'a Bearer access token is required');
  const token = space === -1 ? '' : value.slice(space).trim();
  if (token === '' || /\s/.test(token)) {
    throw new AuthError('malformed', 'the Authorization header must be: Bearer <token>');
  }
  if (token.length > MAX_TOKEN_LENGTH || !JWS_COMPACT.test(token)) {
    throw new AuthError('malformed', 'the access token is not a well-formed JWT');
  }
  return token;
}

/** Maps a jose failure to a client-safe reason; rethrows anything that is not about the token. */
function toAuthError(err: unknown): never {
  if (err instanceof KeySetUnavailable) {
    throw unavailable('the access token cannot be checked now: issuer keys are unavailable');
  }
  if (err instanceof errors.JWTExpired) throw new AuthError('expired', 'the access token has expired');
  if (err instanceof errors.JWTClaimValidationFailed) {
    const messages: Record<string, string> = {
      nbf: 'the access token is not yet valid',
      iat: 'the access token is not yet valid',
      iss: 'the access token issuer is not accepted',
      aud: 'the access token audience is not accepted',
      exp: 'the access token has no valid expiry',
    };
    throw new AuthError('invalid', messages[err.claim] ?? 'the access token claims are invalid');
  }
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) {
    throw new AuthError('malformed', 'the access token is not a well-formed JWT');
  }
  if (err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported) {
    throw new AuthError('invalid', 'the access token algorithm is not accepted');
  }
  if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) {
    throw new AuthError('invalid', 'the access token signing key is not recognised');
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) {
    throw new AuthError('invalid', 'the access token signature is invalid');
  }
  throw err;
}

function stringClaim(claims: Record<string, unknown>, name: string): string | undefined {
  const v = claims[name];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** `scope` (RFC 8693/9068, Cognito) or `scp` (Okta, Entra ID), each either a space-separated string or an array. */
function scopeString(claims: Record<string, unknown>): string {
  for (const name of ['scope', 'scp']) {
    const v = claims[name];
    if (typeof v === 'string') return v;
    if (Array.isArray(v)) return v.filter((s): s is string => typeof s === 'string').join(' ');
  }
  return '';
}

/**
 * Builds an {@link AuthContext} from claims that were already verified: by {@link TokenVerifier}, or by an API
 * Gateway REST Cognito authorizer (`event.requestContext.authorizer.claims`).
 * Throws an `invalid` {@link AuthError} when the claims name neither a subject nor a client.
 *
 * @example
 * const auth = authContextFromClaims(event.requestContext.authorizer?.claims ?? {});
 */
export function authContextFromClaims(claims: Record<string, unknown>): AuthContext {
  // `azp` is the OpenID Connect name of the client (Keycloak, Entra ID); Cognito says `client_id`.
  const clientId = stringClaim(claims, 'client_id') ?? stringClaim(claims, 'azp');
  const subject = stringClaim(claims, 'sub') ?? clientId;
  if (subject === undefined) throw new AuthError('invalid', 'the access token names no subject or client');
  const tokenId = stringClaim(claims, 'jti');
  const context: AuthContext = { subject, clientId, scopes: parseScopes(scopeString(claims)) };
  if (tokenId !== undefined) context.tokenId = tokenId;
  return context;
}

/**
 * Audience rule for an external issuer: `aud` contains the expected value, or, for a Cognito access token
 * (which has no `aud`), `token_use` is `access` and `client_id` is the expected value.
 */
function audienceAccepted(payload: JWTPayload, audience: string): boolean {
  const aud = payload.aud;
  if (aud !== undefined) return Array.isArray(aud) ? aud.includes(audience) : aud === audience;
  return payload['token_use'] === 'access' && payload['client_id'] === audience;
}

/** Lets jose's "unknown key" errors through and turns fetch failures into {@link KeySetUnavailable}. */
function guardRemote(getKey: JWTVerifyGetKey): JWTVerifyGetKey {
  return async (header, token) => {
    try {
      return await getKey(header, token);
    } catch (err) {
      if (
        err instanceof errors.JWKSNoMatchingKey ||
        err instanceof errors.JWKSMultipleMatchingKeys ||
        err instanceof errors.JOSENotSupported
      ) {
        throw err;
      }
      throw new KeySetUnavailable('JWKS fetch failed', { cause: err });
    }
  };
}

/** Verified tokens kept (by token text) until they expire: a client reuses one token for many requests. */
const CACHE_SIZE = 1000;

function verifier(getKey: JWTVerifyGetKey, options: JWTVerifyOptions, audience: string | undefined): TokenVerifier {
  const cache = new Map<string, { context: AuthContext; expiresAtMs: number }>();
  return {
    async verify(header) {
      const token = bearerToken(header);
      const hit = cache.get(token);
      if (hit) {
        if (Date.now() < hit.expiresAtMs) return hit.context;
        cache.delete(token);
      }
      const context = await verifyUncached(token);
      if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value as string);
      cache.set(token, { context, expiresAtMs: context.expiresAtMs ?? 0 });
      return context;
    },
  };

  async function verifyUncached(token: string): Promise<AuthContext> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, getKey, options));
    } catch (err) {
      toAuthError(err);
    }
    if (audience !== undefined && !audienceAccepted(payload, audience)) {
      throw new AuthError('invalid', 'the access token audience is not accepted');
    }
    const context = authContextFromClaims(payload);
    // Same clock tolerance as jwtVerify, so a cached token expires when a fresh check would refuse it.
    if (typeof payload.exp === 'number') context.expiresAtMs = (payload.exp + CLOCK_TOLERANCE_SECONDS) * 1000;
    return context;
  }
}

/**
 * Creates the verifier for the configured mode. `local`: tokens from `npm run token` (issuer `urn:pfi:local`,
 * audience `pfi-fhir`), checked with the local key pair (created if absent). `jwks`: tokens from an external
 * issuer (Cognito…), keys fetched from `jwksUrl` and cached.
 *
 * @example
 * const verifier = await createTokenVerifier(config.auth);
 * const auth = await verifier.verify(request.headers.authorization);
 */
export async function createTokenVerifier(auth: Config['auth']): Promise<TokenVerifier> {
  const base: JWTVerifyOptions = {
    algorithms: ALGORITHMS,
    clockTolerance: CLOCK_TOLERANCE_SECONDS,
    requiredClaims: ['exp'],
  };
  if (auth.mode === 'local') {
    const keys = await loadOrCreateLocalKeys(auth.keyDir);
    const getKey = createLocalJWKSet({ keys: [keys.publicJwk] });
    return verifier(getKey, { ...base, issuer: LOCAL_ISSUER, audience: LOCAL_AUDIENCE }, undefined);
  }
  const getKey = guardRemote(createRemoteJWKSet(new URL(auth.jwksUrl)));
  return verifier(getKey, { ...base, issuer: auth.issuer }, auth.audience);
}

/** RFC 6750 `quoted-string` content for error_description: printable ASCII without `"` and `\`. */
function quotable(s: string): string {
  return s.replace(/[^\x20\x21\x23-\x5b\x5d-\x7e]/g, ' ');
}

/**
 * The `WWW-Authenticate` header value for a 401 (RFC 6750 §3): no error code when no token was sent,
 * `invalid_token` otherwise.
 *
 * @example
 * wwwAuthenticate(new AuthError('expired', 'the access token has expired'));
 * // 'Bearer realm="pfi", error="invalid_token", error_description="the access token has expired"'
 */
export function wwwAuthenticate(err: AuthError): string {
  if (err.reason === 'missing') return 'Bearer realm="pfi"';
  return `Bearer realm="pfi", error="invalid_token", error_description="${quotable(err.message)}"`;
}
