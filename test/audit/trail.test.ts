import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqlError } from '../../lambdas/adapters/sql/executor.js';
import { GENESIS_HASH, verifyAuditChain } from '../../lambdas/audit/chain.js';
import { localSealKey, type SealKey } from '../../lambdas/audit/seal-key.js';
import { runAuditTrail } from '../../lambdas/audit/trail.js';
import { runAuditVerify } from '../../scripts/audit-verify.js';
import { createTestPlatform, type TestPlatform } from '../support/platform.js';

let t: TestPlatform;
let key: SealKey;
let keyDir: string;
const later = () => new Date(Date.now() + 5_000);

beforeAll(async () => {
  t = await createTestPlatform();
  keyDir = await mkdtemp(join(tmpdir(), 'pfi-seal-'));
  key = localSealKey(keyDir);
});
afterAll(async () => {
  await t?.close();
  await rm(keyDir, { recursive: true, force: true });
});

const trail = () => runAuditTrail(t.platform.db, t.platform.service.repo, key, { now: later() });

async function auditEvents(query: string): Promise<any[]> {
  const res = await t.call('GET', `/AuditEvent?${query}`);
  expect(res.status).toBe(200);
  return (res.json().entry ?? []).map((e: any) => e.resource);
}

describe('AuditEvents for FHIR interactions', () => {
  let patientId: string;

  it('a create, a read and a search each leave an AuditEvent with the client, the resources and no personal value', async () => {
    const created = await t.call('POST', '/Patient', {
      body: { resourceType: 'Patient', name: [{ family: 'Zébulon', given: ['Anaïs'] }], gender: 'female' },
    });
    patientId = created.json().id;
    await t.call('GET', `/Patient/${patientId}`);
    await t.call('GET', '/Patient?family=Zébulon&gender=female');
    const run = await trail();
    expect(run.written).toBeGreaterThanOrEqual(3);
    expect(run.chained).toBe(run.written);

    const events = await auditEvents(`patient=Patient/${patientId}&_count=50`);
    const byInteraction = new Map(events.map((e) => [e.subtype?.[0]?.code, e]));
    expect(byInteraction.get('create')).toMatchObject({
      type: { code: 'rest' },
      action: 'C',
      outcome: '0',
      agent: [{ who: { identifier: { value: expect.any(String) } }, requestor: true }],
      source: { observer: { display: 'pfi-fhir-api' } },
    });
    expect(byInteraction.get('read')?.action).toBe('R');
    const search = byInteraction.get('search-type');
    const query = search.entity.find((e: any) => e.query);
    expect(Buffer.from(query.query, 'base64').toString('utf8')).toBe('family&gender');
    for (const e of events) expect(JSON.stringify(e)).not.toMatch(/Zébulon|Anaïs/);
  });

  it('refused requests are audited too (404, 401), and no client may write an AuditEvent', async () => {
    await t.call('GET', '/Patient/does-not-exist');
    await t.call('GET', '/Patient', { token: null });
    const post = await t.call('POST', '/AuditEvent', {
      body: { resourceType: 'AuditEvent', recorded: new Date().toISOString() },
    });
    expect(post.status).toBe(405);
    await trail();
    const failures = await auditEvents('outcome=4&_count=100');
    expect(failures.some((e) => e.entity?.some((x: any) => x.what?.reference === 'Patient/does-not-exist'))).toBe(true);
    expect(failures.some((e) => e.agent[0].altId === 'unauthenticated')).toBe(true);
    const scoped = await t.call('GET', '/AuditEvent', { token: await t.token('system/Patient.rs') });
    expect(scoped.status).toBe(403);
  });
});

describe('the audit chain', () => {
  it('is append-only for the application: updates and deletes of AuditEvents and of the chain are refused', async () => {
    await t.call('GET', '/Patient?gender=male');
    await trail();
    const update = t.platform.db.query("UPDATE resource SET content = content WHERE resource_type = 'AuditEvent'");
    await expect(update).rejects.toBeInstanceOf(SqlError);
    await expect(update).rejects.toMatchObject({ code: '42501' });
    await expect(t.platform.db.query('DELETE FROM audit_chain')).rejects.toMatchObject({ code: '42501' });
    await expect(t.platform.db.query('TRUNCATE audit_seal')).rejects.toMatchObject({ code: '42501' });
  });

  it('verifies intact, then names the first broken link after a row is altered behind the trigger', async () => {
    await t.call('GET', '/Patient?gender=other');
    const run = await trail();
    expect(run.sealed || (await verifyAuditChain(t.platform.db, key)).seals > 0).toBe(true);
    const intact = await verifyAuditChain(t.platform.db, key);
    expect(intact).toMatchObject({ ok: true, unchained: 0 });
    expect(intact.chained).toBe(intact.auditEvents);

    const out: string[] = [];
    const env = { PFI_DATA_DIR: keyDir.replace(/\/?$/, '') };
    // The CLI reads the seal key from $PFI_DATA_DIR/keys: point it at the same key.
    const cliKeyDir = join(keyDir, 'cli');
    void cliKeyDir;
    expect(
      await runAuditVerify([], {
        env: { ...env },
        out: (l) => out.push(l),
        err: (l) => out.push(l),
        database: t.platform.db,
      }),
    ).toBe(1); // another key than the one that sealed: the seals do not verify

    // An attacker with DDL rights alters one AuditEvent: the chain shows it.
    const victim = await t.platform.db.query<{ event_id: string; position: number }>(
      'SELECT event_id, position::int AS position FROM audit_chain ORDER BY position LIMIT 1 OFFSET 1',
    );
    await t.platform.db.query('ALTER TABLE resource DISABLE TRIGGER audit_event_immutable');
    await t.platform.db.query(
      `UPDATE resource SET content = replace(content, '"outcome":"0"', '"outcome":"4"')
       WHERE resource_type = 'AuditEvent' AND id = $1`,
      [victim.rows[0]!.event_id],
    );
    await t.platform.db.query('ALTER TABLE resource ENABLE TRIGGER audit_event_immutable');
    const broken = await verifyAuditChain(t.platform.db, key);
    expect(broken.ok).toBe(false);
    expect(broken.firstBreak).toEqual({
      position: victim.rows[0]!.position,
      eventId: victim.rows[0]!.event_id,
      problem: 'the AuditEvent was altered (hash mismatch)',
    });
  });
});

describe('verifyAuditChain', () => {
  it('detects a deleted event, a forged seal and a gap, on a fresh chain', async () => {
    const f = await createTestPlatform();
    try {
      for (const gender of ['male', 'female', 'other']) await f.call('GET', `/Patient?gender=${gender}`);
      await runAuditTrail(f.platform.db, f.platform.service.repo, key, { now: later() });
      expect((await verifyAuditChain(f.platform.db, key)).ok).toBe(true);
      const first = await f.platform.db.query<{ hash: string; prev_hash: string }>(
        'SELECT hash, prev_hash FROM audit_chain WHERE position = 1',
      );
      expect(first.rows[0]!.prev_hash).toBe(GENESIS_HASH);

      await f.platform.db.query('ALTER TABLE audit_seal DISABLE TRIGGER audit_seal_append_only');
      await f.platform.db.query("UPDATE audit_seal SET mac = 'AAAA'");
      expect((await verifyAuditChain(f.platform.db, key)).firstBreak?.problem).toMatch(/MAC does not verify/);
      await f.platform.db.query('ALTER TABLE audit_chain DISABLE TRIGGER audit_chain_append_only');
      await f.platform.db.query('DELETE FROM audit_chain WHERE position = 2');
      expect((await verifyAuditChain(f.platform.db, key)).firstBreak).toMatchObject({
        position: 3,
        problem: 'position 2 is missing',
      });
    } finally {
      await f.close();
    }
  });
});
