import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { base64url, type CryptoKey, exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type LocalKeys, loadOrCreateLocalKeys, signLocalToken } from '../../lambdas/auth/local-keys.js';
import { allows, formatScopes } from '../../lambdas/auth/scopes.js';
import {
  AuthError,
  type AuthErrorReason,
  authContextFromClaims,
  createTokenVerifier,
  type TokenVerifier,
  wwwAuthenticate,
} from '../../lambdas/auth/verify.js';
import { FhirError } from '../../lambdas/fhir/errors.js';

const now = () => Math.floor(Date.now() / 1000);

interface SignOptions {
  alg?: string;
  kid?: string;
  iss?: string;
  aud?: string | string[];
  exp?: number | null;
  nbf?: number;
}

/** Signs `claims` with `key`; `exp: null` leaves the expiry out. */
function sign(key: CryptoKey | Uint8Array, claims: JWTPayload, o: SignOptions = {}): Promise<string> {
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: o.alg ?? 'ES256', ...(o.kid === undefined ? {} : { kid: o.kid }) })
    .setIssuedAt();
  if (o.iss !== undefined) jwt.setIssuer(o.iss);
  if (o.aud !== undefined) jwt.setAudience(o.aud);
  if (o.exp !== null) jwt.setExpirationTime(o.exp ?? now() + 600);
  if (o.nbf !== undefined) jwt.setNotBefore(o.nbf);
  return jwt.sign(key);
}

async function rejection(verifier: TokenVerifier, header: string | undefined): Promise<AuthError> {
  const error = await verifier.verify(header).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof AuthError)) throw new Error(`expected an AuthError, got ${String(error)}`);
  return error;
}

async function expectRejected(
  verifier: TokenVerifier,
  header: string | undefined,
  reason: AuthErrorReason,
  message?: RegExp,
): Promise<void> {
  const error = await rejection(verifier, header);
  expect(error.reason).toBe(reason);
  if (message) expect(error.message).toMatch(message);
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pfi-verify-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('local mode', () => {
  let keys: LocalKeys;
  let verifier: TokenVerifier;
  const local = { iss: 'urn:pfi:local', aud: 'pfi-fhir' };

  beforeAll(async () => {
    const keyDir = join(dir, 'local-keys');
    verifier = await createTokenVerifier({ mode: 'local', keyDir });
    keys = await loadOrCreateLocalKeys(keyDir);
  });

  it('accepts a token from signLocalToken and maps its claims', async () => {
    const token = await signLocalToken(keys, { scopes: 'openid system/Patient.rs', subject: 'job', clientId: 'sih' });
    const auth = await verifier.verify(`Bearer ${token}`);

    expect(auth.subject).toBe('job');
    expect(auth.clientId).toBe('sih');
    expect(auth.tokenId).toMatch(/^[0-9a-f-]{36}$/);
    expect(formatScopes(auth.scopes)).toBe('system/Patient.rs');
    expect(auth.scopes.ignored).toEqual(['openid']);
  });

  it('answers again from its cache, and stops accepting a cached token once it expires', async () => {
    const token = await signLocalToken(keys, { scopes: 'system/*.rs', ttlSeconds: 60 });
    const first = await verifier.verify(`Bearer ${token}`);
    expect(await verifier.verify(`Bearer ${token}`)).toBe(first);
    vi.useFakeTimers({ now: Date.now() + 120_000 });
    try {
      await expect(verifier.verify(`Bearer ${token}`)).rejects.toMatchObject({ reason: 'expired' });
    } finally {
      vi.useRealTimers();
    }
  });

  it('accepts the scheme in any case and surrounding spaces', async () => {
    const token = await signLocalToken(keys, { scopes: 'system/*.r' });
    const auth = await verifier.verify(`  bEaReR   ${token}  `);
    expect(allows(auth.scopes, 'Observation', 'r')).toBe(true);
  });

  it('uses the client id as subject when there is no sub, and rejects a token naming neither', async () => {
    const noSub = await sign(keys.privateKey, { client_id: 'sih', scope: '' }, { ...local, kid: keys.kid });
    expect((await verifier.verify(`Bearer ${noSub}`)).subject).toBe('sih');

    const anonymous = await sign(keys.privateKey, { scope: 'system/*.cruds' }, { ...local, kid: keys.kid });
    await expectRejected(verifier, `Bearer ${anonymous}`, 'invalid', /no subject/);
  });

  it.each([
    ['no header', undefined],
    ['an empty header', ''],
    ['a blank header', '   '],
    ['another scheme', 'Basic dXNlcjpwYXNz'],
  ])('reports %s as missing', async (_name, header) => {
    const error = await rejection(verifier, header);
    expect(error.reason).toBe('missing');
    expect(wwwAuthenticate(error)).toBe('Bearer realm="pfi"');
  });

  it.each([
    ['Bearer without a token', 'Bearer'],
    ['Bearer with two tokens', 'Bearer a.b.c d.e.f'],
    ['a token that is not a JWT', 'Bearer opaque-token-value'],
    ['a JWE-shaped token', 'Bearer a.b.c.d.e'],
    ['invalid characters', 'Bearer ab+c.de/f.ghi'],
    ['a header that is not JSON', 'Bearer bm90LWpzb24.eyJzdWIiOiJ4In0.c2ln'],
    ['an oversized token', `Bearer ${'a'.repeat(20_000)}.b.c`],
  ])('reports %s as malformed', async (_name, header) => {
    const error = await rejection(verifier, header);
    expect(error.reason).toBe('malformed');
    expect(wwwAuthenticate(error)).toMatch(/^Bearer realm="pfi", error="invalid_token", error_description="[^"]+"$/);
  });

  it('reports an expired token as expired', async () => {
    const token = await sign(keys.privateKey, { sub: 'x' }, { ...local, kid: keys.kid, exp: now() - 3600 });
    await expectRejected(verifier, `Bearer ${token}`, 'expired', /expired/);
  });

  it('rejects a token that is not yet valid', async () => {
    const token = await sign(keys.privateKey, { sub: 'x' }, { ...local, kid: keys.kid, nbf: now() + 3600 });
    await expectRejected(verifier, `Bearer ${token}`, 'invalid', /not yet valid/);
  });

  it('rejects a token without an expiry', async () => {
    const token = await sign(keys.privateKey, { sub: 'x' }, { ...local, kid: keys.kid, exp: null });
    await expectRejected(verifier, `Bearer ${token}`, 'invalid', /expiry/);
  });

  it('rejects a token whose payload was altered', async () => {
    const token = await signLocalToken(keys, { scopes: 'system/Patient.r' });
    const [header, , signature] = token.split('.');
    const forged = base64url.encode(
      JSON.stringify({ iss: local.iss, aud: local.aud, sub: 'x', exp: now() + 600, scope: 'system/*.cruds' }),
    );
    await expectRejected(verifier, `Bearer ${header}.${forged}.${signature}`, 'invalid', /signature/);
  });

  it('rejects a token signed by an unknown key', async () => {
    const other = await generateKeyPair('ES256');
    const token = await sign(other.privateKey, { sub: 'x' }, { ...local, kid: 'someone-else' });
    await expectRejected(verifier, `Bearer ${token}`, 'invalid', /key is not recognised/);
  });

  it('rejects a token signed by another key that claims the local kid', async () => {
    const other = await generateKeyPair('ES256');
    const token = await sign(other.privateKey, { sub: 'x' }, { ...local, kid: keys.kid });
    await expectRejected(verifier, `Bearer ${token}`, 'invalid', /signature/);
  });

  it.each([
    ['issuer', { iss: 'https://evil.example', aud: 'pfi-fhir' }, /issuer/],
    ['audience', { iss: 'urn:pfi:local', aud: 'another-api' }, /audience/],
  ])('rejects the wrong %s', async (_name, claims, message) => {
    const token = await sign(keys.privateKey, { sub: 'x' }, { ...claims, kid: keys.kid });
    await expectRejected(verifier, `Bearer ${token}`, 'invalid', message);
  });

  it('rejects an HS256 token, even keyed with the public key material', async () => {
    const secret = new TextEncoder().encode(JSON.stringify(keys.publicJwk));
    const token = await sign(secret, { sub: 'x' }, { ...local, alg: 'HS256', kid: keys.kid });
    await expectRejected(verifier, `Bearer ${token}`, 'invalid', /algorithm/);
  });

  it("rejects an unsigned token (alg 'none')", async () => {
    const header = base64url.encode(JSON.stringify({ alg: 'none', kid: keys.kid }));
    const payload = base64url.encode(JSON.stringify({ ...local, sub: 'x', exp: now() + 600 }));
    await expectRejected(verifier, `Bearer ${header}.${payload}.`, 'invalid', /algorithm/);
  });

  it('rejects an ES256 token whose payload is not a JSON object', async () => {
    const { CompactSign } = await import('jose');
    const token = await new CompactSign(new TextEncoder().encode('"just a string"'))
      .setProtectedHeader({ alg: 'ES256', kid: keys.kid })
      .sign(keys.privateKey);
    await expectRejected(verifier, `Bearer ${token}`, 'malformed');
  });
});

describe('jwks mode', () => {
  const issuer = 'https://cognito-idp.eu-west-3.amazonaws.com/eu-west-3_TEST';
  const audience = 'api-client-id';
  let server: Server;
  let baseUrl: string;
  let es: { privateKey: CryptoKey; publicJwk: JWK };
  let rs: { privateKey: CryptoKey; publicJwk: JWK };
  let verifier: TokenVerifier;

  async function keyPair(alg: 'ES256' | 'RS256', kid: string) {
    const { privateKey, publicKey } = await generateKeyPair(alg);
    return { privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
  }

  beforeAll(async () => {
    es = await keyPair('ES256', 'es-1');
    rs = await keyPair('RS256', 'rs-1');
    server = createServer((req, res) => {
      if (req.url === '/jwks') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ keys: [es.publicJwk, rs.publicJwk] }));
      } else {
        res.writeHead(500).end();
      }
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    verifier = await createTokenVerifier({ mode: 'jwks', issuer, audience, jwksUrl: `${baseUrl}/jwks` });
  });

  afterAll(async () => {
    await new Promise((done) => server.close(done));
  });

  const esToken = (claims: JWTPayload, o: SignOptions = {}) =>
    sign(es.privateKey, claims, { kid: 'es-1', iss: issuer, ...o });

  it('accepts an ES256 token whose aud is the configured audience', async () => {
    const token = await esToken({ sub: 'user-1', scope: 'system/Patient.rs', jti: 't-1' }, { aud: audience });
    const auth = await verifier.verify(`Bearer ${token}`);
    expect(auth).toMatchObject({ subject: 'user-1', clientId: undefined, tokenId: 't-1' });
    expect(formatScopes(auth.scopes)).toBe('system/Patient.rs');
  });

  it('accepts an RS256 token whose aud list contains the audience, with scp as an array', async () => {
    const token = await sign(
      rs.privateKey,
      { sub: 'svc', scp: ['system/Observation.cruds', 'openid'] },
      { alg: 'RS256', kid: 'rs-1', iss: issuer, aud: ['other', audience] },
    );
    const auth = await verifier.verify(`Bearer ${token}`);
    expect(formatScopes(auth.scopes)).toBe('system/Observation.cruds');
  });

  it('accepts a Cognito access token (no aud) whose client_id is the audience', async () => {
    const claims = { sub: audience, client_id: audience, token_use: 'access', scope: 'system/*.rs' };
    const auth = await verifier.verify(`Bearer ${await esToken(claims)}`);
    expect(auth.clientId).toBe(audience);
    expect(allows(auth.scopes, 'Encounter', 's')).toBe(true);
  });

  it.each([
    ['a Cognito access token for another client', { client_id: 'other', token_use: 'access' }, {}],
    ['an ID token without aud', { client_id: audience, token_use: 'id' }, {}],
    ['a token without aud nor token_use', { client_id: audience }, {}],
    ['a token for another audience', { client_id: audience, token_use: 'access' }, { aud: 'other' }],
  ])('rejects %s', async (_name, claims, o) => {
    const token = await esToken({ sub: 's', ...claims }, o);
    await expectRejected(verifier, `Bearer ${token}`, 'invalid', /audience/);
  });

  it('rejects the wrong issuer', async () => {
    const token = await esToken({ sub: 's' }, { aud: audience, iss: 'https://evil.example' });
    await expectRejected(verifier, `Bearer ${token}`, 'invalid', /issuer/);
  });

  it('reports an expired token as expired', async () => {
    const token = await esToken({ sub: 's' }, { aud: audience, exp: now() - 3600 });
    await expectRejected(verifier, `Bearer ${token}`, 'expired');
  });

  it('rejects a kid that is not in the key set', async () => {
    const token = await esToken({ sub: 's' }, { aud: audience, kid: 'unknown' });
    await expectRejected(verifier, `Bearer ${token}`, 'invalid', /key is not recognised/);
  });

  it('rejects a token from another key with the same kid', async () => {
    const other = await generateKeyPair('ES256');
    const token = await sign(other.privateKey, { sub: 's' }, { kid: 'es-1', iss: issuer, aud: audience });
    await expectRejected(verifier, `Bearer ${token}`, 'invalid', /signature/);
  });

  it('rejects an HS256 token', async () => {
    const token = await sign(new Uint8Array(32).fill(7), { sub: 's' }, { alg: 'HS256', iss: issuer, aud: audience });
    await expectRejected(verifier, `Bearer ${token}`, 'invalid', /algorithm/);
  });

  it('accepts any audience when none is configured', async () => {
    const open = await createTokenVerifier({ mode: 'jwks', issuer, audience: undefined, jwksUrl: `${baseUrl}/jwks` });
    const token = await esToken({ sub: 's' }, { aud: 'whatever' });
    expect((await open.verify(`Bearer ${token}`)).subject).toBe('s');
  });

  it.each([
    ['answers 500', '/broken'],
    ['is unreachable', null],
  ])('answers 503, not 401, when the JWKS endpoint %s', async (_name, path) => {
    let jwksUrl = `${baseUrl}${path}`;
    if (path === null) {
      const closed = createServer();
      await new Promise<void>((ok) => closed.listen(0, '127.0.0.1', ok));
      jwksUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/jwks`;
      await new Promise((done) => closed.close(done));
    }
    const broken = await createTokenVerifier({ mode: 'jwks', issuer, audience, jwksUrl });
    const error = await broken.verify(`Bearer ${await esToken({ sub: 's' }, { aud: audience })}`).catch((e) => e);
    expect(error).toBeInstanceOf(FhirError);
    expect((error as FhirError).status).toBe(503);
  });
});

describe('authContextFromClaims', () => {
  it('maps API Gateway Cognito authorizer claims', () => {
    const auth = authContextFromClaims({
      sub: 'abc-123',
      client_id: 'sih-feed',
      token_use: 'access',
      scope: 'system/Patient.cruds system/Patient.expunge',
      jti: 'token-1',
      exp: '1900000000',
    });
    expect(auth.subject).toBe('abc-123');
    expect(auth.clientId).toBe('sih-feed');
    expect(auth.tokenId).toBe('token-1');
    expect(formatScopes(auth.scopes)).toBe('system/Patient.cruds system/Patient.expunge');
  });

  it('falls back to azp for the client and to the client for the subject', () => {
    const auth = authContextFromClaims({ azp: 'keycloak-client', sub: '', scp: 'system/*.rs' });
    expect(auth).toMatchObject({ subject: 'keycloak-client', clientId: 'keycloak-client' });
    expect(auth.tokenId).toBeUndefined();
    expect(formatScopes(auth.scopes)).toBe('system/*.rs');
  });

  it('grants nothing when there is no scope claim', () => {
    expect(formatScopes(authContextFromClaims({ sub: 's', scope: 42 }).scopes)).toBe('');
  });

  it('rejects claims naming neither a subject nor a client', () => {
    expect(() => authContextFromClaims({ scope: 'system/*.cruds' })).toThrow(AuthError);
  });
});

describe('wwwAuthenticate', () => {
  it('carries invalid_token and the description for a rejected token', () => {
    expect(wwwAuthenticate(new AuthError('expired', 'the access token has expired'))).toBe(
      'Bearer realm="pfi", error="invalid_token", error_description="the access token has expired"',
    );
  });

  it('keeps the header value well formed whatever the message', () => {
    const value = wwwAuthenticate(new AuthError('invalid', 'bad "quoted" \\ value\né'));
    expect(value).toBe('Bearer realm="pfi", error="invalid_token", error_description="bad  quoted    value  "');
  });
});
