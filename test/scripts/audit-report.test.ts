import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localSealKey } from '../../lambdas/audit/seal-key.js';
import { runAuditTrail } from '../../lambdas/audit/trail.js';
import { EXIT_OK, EXIT_USAGE, runAuditReport } from '../../scripts/audit-report.js';
import { createTestPlatform, type TestPlatform } from '../support/platform.js';

describe('npm run audit:report', () => {
  let t: TestPlatform;
  let dir: string;
  let patientId: string;
  beforeAll(async () => {
    t = await createTestPlatform();
    dir = await mkdtemp(join(tmpdir(), 'pfi-report-'));
    const created = await t.call('POST', '/Patient', {
      body: { resourceType: 'Patient', name: [{ family: 'Quintal' }], gender: 'male' },
    });
    patientId = created.json().id;
    await t.call('POST', '/Observation', {
      body: {
        resourceType: 'Observation',
        status: 'final',
        code: { coding: [{ system: 'http://loinc.org', code: '2093-3' }] },
        subject: { reference: `Patient/${patientId}` },
      },
    });
    await t.call('GET', `/Patient/${patientId}`, { token: await t.token('system/Patient.r') });
    await t.call('GET', `/Observation?subject=Patient/${patientId}`);
    await runAuditTrail(t.platform.db, t.platform.service.repo, localSealKey(join(dir, 'keys')), {
      now: new Date(Date.now() + 5000),
    });
  });
  afterAll(async () => {
    await t?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const run = async (argv: string[]) => {
    const out: string[] = [];
    const code = await runAuditReport(argv, {
      env: { PFI_DATA_DIR: dir },
      out: (l) => out.push(l),
      err: (l) => out.push(l),
      database: t.platform.db,
    });
    return { code, out };
  };

  it('lists who accessed the patient’s data, oldest first, as CSV (default) or JSON, with no personal value', async () => {
    const csv = await run(['--patient', patientId]);
    expect(csv.code).toBe(EXIT_OK);
    expect(csv.out[0]).toBe('recorded,agent,address,event,action,outcome,resources');
    const events = csv.out.slice(1).map((l) => l.split(',')[3]);
    expect(events).toEqual(['create', 'create', 'read', 'search-type']);
    expect(csv.out.join('\n')).not.toContain('Quintal');
    const json = await run(['--patient', patientId, '--format', 'json', '--from', '2000-01-01']);
    const rows = JSON.parse(json.out.join('\n'));
    expect(rows).toHaveLength(4);
    expect(rows[2]).toMatchObject({
      event: 'read',
      action: 'R',
      outcome: '0',
      resources: `Patient/${patientId} Patient/${patientId}`,
    });
    expect((await run(['--patient', patientId, '--to', '2000-01-01'])).out).toHaveLength(1);
  });

  it('refuses a missing patient, a bad date or format', async () => {
    expect((await run([])).code).toBe(EXIT_USAGE);
    expect((await run(['--patient', patientId, '--from', 'yesterday'])).code).toBe(EXIT_USAGE);
    expect((await run(['--patient', patientId, '--format', 'xml'])).code).toBe(EXIT_USAGE);
  });
});
