import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatScopes } from '../../lambdas/auth/scopes.js';
import { createTokenVerifier } from '../../lambdas/auth/verify.js';

const execFileAsync = promisify(execFile);

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

let dataDir: string;

/** Runs scripts/token.ts as `npm run token` does, with a clean PFI_* environment. */
async function token(args: string[], env: Record<string, string> = {}): Promise<Result> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PFI_')));
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, ['--import', 'tsx', 'scripts/token.ts', ...args], {
      env: { ...base, PFI_DATA_DIR: dataDir, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

async function verify(stdout: string) {
  const verifier = await createTokenVerifier({ mode: 'local', keyDir: join(dataDir, 'keys') });
  return verifier.verify(`Bearer ${stdout.trim()}`);
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'pfi-token-'));
});
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describe('npm run token', () => {
  it('prints exactly one line: a token with system/*.cruds by default, valid for the local verifier', async () => {
    const result = await token([]);

    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    const auth = await verify(result.stdout);
    expect(formatScopes(auth.scopes)).toBe('system/*.cruds');
    const claims = decodeJwt(result.stdout.trim());
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(3600);
  });

  it('takes scopes, --ttl and --sub', async () => {
    const result = await token(['system/Patient.rs system/Observation.read', '--ttl', '120', '--sub', 'e2e-runner']);

    expect(result.code).toBe(0);
    const auth = await verify(result.stdout);
    expect(auth.subject).toBe('e2e-runner');
    expect(formatScopes(auth.scopes)).toBe('system/Observation.rs system/Patient.rs');
    const claims = decodeJwt(result.stdout.trim());
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(120);
  });

  it('warns on stderr, not stdout, when the scopes grant nothing', async () => {
    const result = await token(['patient/Patient.read']);

    expect(result.code).toBe(0);
    expect(result.stdout.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/warning/);
  });

  it.each([
    ['an unknown option', ['--bogus']],
    ['--ttl without a value', ['--ttl']],
    ['a non-numeric --ttl', ['--ttl', 'soon']],
    ['a zero --ttl', ['--ttl', '0']],
    ['an empty --sub', ['--sub', ' ']],
  ])('exits 2 with usage on stderr for %s', async (_name, args) => {
    const result = await token(args);

    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/usage: npm run --silent token/);
  });

  it('exits 2 in jwks mode, where tokens come from the issuer', async () => {
    const result = await token([], {
      PFI_AUTH_MODE: 'jwks',
      PFI_AUTH_ISSUER: 'https://issuer.example',
      PFI_AUTH_JWKS_URL: 'https://issuer.example/jwks',
    });

    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/jwks/);
  });

  it('exits 2 on an invalid configuration', async () => {
    const result = await token([], { PFI_AUTH_MODE: 'kerberos' });

    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/PFI_AUTH_MODE/);
  });
});
