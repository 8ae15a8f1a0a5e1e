import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { calculateJwkThumbprint, decodeJwt, decodeProtectedHeader, type JWK, jwtVerify } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalKeyError, loadOrCreateLocalKeys, signLocalToken } from '../../lambdas/auth/local-keys.js';

const run = promisify(execFile);
let dir: string;
let keyDir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pfi-keys-'));
  keyDir = join(dir, 'keys');
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function readJson(file: string): Promise<JWK> {
  return JSON.parse(await readFile(file, 'utf8')) as JWK;
}

describe('loadOrCreateLocalKeys', () => {
  it('creates an ES256 key pair with owner-only permissions and an RFC 7638 kid', async () => {
    const keys = await loadOrCreateLocalKeys(keyDir);

    expect((await stat(keyDir)).mode & 0o777).toBe(0o700);
    expect((await stat(join(keyDir, 'private.jwk.json'))).mode & 0o777).toBe(0o600);
    const priv = await readJson(join(keyDir, 'private.jwk.json'));
    const pub = await readJson(join(keyDir, 'public.jwk.json'));
    expect(priv).toMatchObject({ kty: 'EC', crv: 'P-256' });
    expect(typeof priv.d).toBe('string');
    expect(pub).toEqual(keys.publicJwk);
    expect(pub.d).toBeUndefined();
    expect(pub).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig', kid: keys.kid });
    const { kty, crv, x, y } = pub;
    expect(keys.kid).toBe(await calculateJwkThumbprint({ kty, crv, x, y }, 'sha256'));
    expect(keys.privateKey.type).toBe('private');
    expect(keys.publicKey.type).toBe('public');
    expect(await readdir(keyDir)).toEqual(['private.jwk.json', 'public.jwk.json']);
  });

  it('loads the same key on later calls', async () => {
    const first = await loadOrCreateLocalKeys(keyDir);
    const token = await signLocalToken(first, { scopes: 'system/*.rs' });
    const second = await loadOrCreateLocalKeys(keyDir);

    expect(second.kid).toBe(first.kid);
    await expect(jwtVerify(token, second.publicKey)).resolves.toBeDefined();
  });

  it('gives every concurrent caller the key that ended up on disk', async () => {
    const all = await Promise.all(Array.from({ length: 8 }, () => loadOrCreateLocalKeys(keyDir)));
    const onDisk = await readJson(join(keyDir, 'public.jwk.json'));

    expect(new Set(all.map((k) => k.kid))).toEqual(new Set([onDisk.kid]));
    expect(await readdir(keyDir)).toEqual(['private.jwk.json', 'public.jwk.json']);
  });

  it('gives concurrent processes the same key', async () => {
    const module = resolve('lambdas/auth/local-keys.ts');
    const code = `const m = await import(${JSON.stringify(module)});
      process.stdout.write((await m.loadOrCreateLocalKeys(process.argv[1])).kid);`;
    const outputs = await Promise.all(
      Array.from({ length: 3 }, () =>
        run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code, keyDir]),
      ),
    );
    const kids = new Set(outputs.map((o) => o.stdout));
    expect(kids.size).toBe(1);
    expect((await loadOrCreateLocalKeys(keyDir)).kid).toBe([...kids][0]);
  });

  it('recreates a missing public file from the private key', async () => {
    const keys = await loadOrCreateLocalKeys(keyDir);
    await unlink(join(keyDir, 'public.jwk.json'));

    const again = await loadOrCreateLocalKeys(keyDir);
    expect(again.kid).toBe(keys.kid);
    expect(await readJson(join(keyDir, 'public.jwk.json'))).toEqual(keys.publicJwk);
  });

  it.each([
    ['not JSON', '{ nope'],
    ['a JSON array', '[]'],
    ['not an EC private key', JSON.stringify({ kty: 'oct', k: 'c2VjcmV0' })],
    ['a public key only', JSON.stringify({ kty: 'EC', crv: 'P-256', x: 'AA', y: 'AA' })],
    ['an EC key with bad coordinates', JSON.stringify({ kty: 'EC', crv: 'P-256', x: 'AA', y: 'AA', d: 'AA' })],
  ])('refuses a private key file that is %s and leaves it untouched', async (_name, content) => {
    await loadOrCreateLocalKeys(keyDir);
    const file = join(keyDir, 'private.jwk.json');
    await writeFile(file, content);

    const error = await loadOrCreateLocalKeys(keyDir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LocalKeyError);
    expect((error as Error).message).toContain('private.jwk.json');
    expect(await readFile(file, 'utf8')).toBe(content);
  });
});

describe('signLocalToken', () => {
  it('signs an ES256 token for the local issuer and audience with default claims', async () => {
    const keys = await loadOrCreateLocalKeys(keyDir);
    const before = Math.floor(Date.now() / 1000);
    const token = await signLocalToken(keys, { scopes: 'system/Patient.rs openid' });

    const { payload, protectedHeader } = await jwtVerify(token, keys.publicKey, {
      issuer: 'urn:pfi:local',
      audience: 'pfi-fhir',
      algorithms: ['ES256'],
    });
    expect(protectedHeader).toMatchObject({ alg: 'ES256', kid: keys.kid });
    expect(payload).toMatchObject({ scope: 'system/Patient.rs openid', client_id: 'pfi-local', sub: 'pfi-local' });
    expect(payload.iat).toBeGreaterThanOrEqual(before);
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(3600);
    expect(payload.jti).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('uses the given subject, client id and lifetime, and a new jti each time', async () => {
    const keys = await loadOrCreateLocalKeys(keyDir);
    const options = { scopes: 'system/*.cruds', subject: 'batch-job', clientId: 'sih-feed', ttlSeconds: 60 };
    const a = decodeJwt(await signLocalToken(keys, options));
    const b = decodeJwt(await signLocalToken(keys, options));

    expect(a).toMatchObject({ sub: 'batch-job', client_id: 'sih-feed' });
    expect((a.exp ?? 0) - (a.iat ?? 0)).toBe(60);
    expect(a.jti).not.toBe(b.jti);
  });

  it.each([0, -5, 1.5, Number.NaN])('rejects ttlSeconds %s', async (ttlSeconds) => {
    const keys = await loadOrCreateLocalKeys(keyDir);
    await expect(signLocalToken(keys, { scopes: 'system/*.rs', ttlSeconds })).rejects.toThrow(RangeError);
  });

  it('puts the kid in the header so a JWKS lookup can find the key', async () => {
    const keys = await loadOrCreateLocalKeys(keyDir);
    expect(decodeProtectedHeader(await signLocalToken(keys, { scopes: '' })).kid).toBe(keys.kid);
  });
});
