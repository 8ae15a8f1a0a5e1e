import { rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreateLocalKeys, signLocalToken } from '../../lambdas/auth/local-keys.js';
import { EXIT_OK, EXIT_USAGE, runAuditVerify } from '../../scripts/audit-verify.js';
import { startTestLocalPlatform } from '../support/local-platform.js';

describe('npm run audit:verify', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pfi-audit-cli-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('opens a free embedded database directory, verifies and exits 0; refuses unknown arguments', async () => {
    const out: string[] = [];
    const deps = { env: { PFI_DATA_DIR: dir }, out: (l: string) => out.push(l), err: (l: string) => out.push(l) };
    expect(await runAuditVerify([], deps)).toBe(EXIT_OK);
    expect(out).toContain('chain and seals intact');
    expect(await runAuditVerify(['--nope'], deps)).toBe(EXIT_USAGE);
  });

  it('asks the running platform, which verifies its own database (GET /audit/verify with an AuditEvent scope)', async () => {
    const local = await startTestLocalPlatform();
    try {
      const keys = await loadOrCreateLocalKeys(join(local.dataDir, 'keys'));
      const url = `http://127.0.0.1:${local.httpPort}/audit/verify`;
      const token = await signLocalToken(keys, { scopes: 'system/AuditEvent.rs' });
      await fetch(`${local.fhirBaseUrl}/Patient?gender=male`, { headers: { authorization: `Bearer ${token}` } });
      const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ ok: true, unchained: expect.any(Number) });
      const denied = await fetch(url, {
        headers: { authorization: `Bearer ${await signLocalToken(keys, { scopes: 'system/Patient.rs' })}` },
      });
      expect(denied.status).toBe(403);
      expect((await fetch(url)).status).toBe(401);

      // The CLI finds the directory held by another live process (as `npm start` holds it: here the lock names our
      // parent process) and asks the platform on its HTTP port rather than open the directory a second time.
      writeFileSync(join(local.dataDir, 'pfi.lock'), String(process.ppid));
      try {
        const out: string[] = [];
        const env = { PFI_DATA_DIR: local.dataDir, PFI_HTTP_PORT: String(local.httpPort) };
        expect(await runAuditVerify([], { env, out: (l) => out.push(l), err: (l) => out.push(l) })).toBe(EXIT_OK);
        expect(out[0]).toMatch(/^\(asked the running platform/);
        expect(out.at(-1)).toBe('chain and seals intact');
      } finally {
        rmSync(join(local.dataDir, 'pfi.lock'), { force: true });
      }
    } finally {
      await local.dispose();
    }
  });
});
