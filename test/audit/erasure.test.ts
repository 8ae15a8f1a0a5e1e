import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileDocumentStore } from '../../lambdas/adapters/documents/file-store.js';
import type { SqlExecutor } from '../../lambdas/adapters/sql/executor.js';
import { migrate } from '../../lambdas/adapters/sql/migrate.js';
import { createPgliteExecutor } from '../../lambdas/adapters/sql/pglite.js';
import { expungePatient, journaledErasures } from '../../lambdas/audit/erasure.js';
import { FhirRepository } from '../../lambdas/fhir/repository/repository.js';
import { FhirService } from '../../lambdas/fhir/service.js';
import { databaseArchive } from '../../lambdas/hl7/raw-archive.js';
import { runErasureReapply } from '../../scripts/erasure-reapply.js';
import { authWith } from '../support/fixtures.js';

let dir: string;
let db: SqlExecutor;
let documents: FileDocumentStore;
let service: FhirService;
const auth = authWith('system/*.cruds system/Patient.expunge');

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pfi-erasure-'));
  db = await createPgliteExecutor();
  await migrate(db);
  documents = new FileDocumentStore(join(dir, 'documents'));
  service = new FhirService(new FhirRepository(db), documents);
});
afterAll(async () => {
  await db.close();
  await rm(dir, { recursive: true, force: true });
});

async function patientWithData(family: string): Promise<string> {
  const p = await service.create(auth, 'Patient', { resourceType: 'Patient', name: [{ family }], gender: 'male' });
  const id = p.resource!.id;
  const obs = {
    resourceType: 'Observation',
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '2093-3' }] },
    subject: { reference: `Patient/${id}` },
  };
  const o = await service.create(auth, 'Observation', obs);
  await service.update(auth, 'Observation', o.resource!.id, { ...obs, id: o.resource!.id, status: 'amended' });
  return id;
}

const deps = () => ({ db, documents, archive: databaseArchive(db), audit: undefined });

describe('expungePatient', () => {
  it('removes every version and index row of the compartment and journals it in the database and the store', async () => {
    const id = await patientWithData('Vasseur');
    const other = await patientWithData('Autre');
    const r = await expungePatient(deps(), auth, id, 'demande du patient');
    expect(r.already).toBe(false);
    expect(r.counts).toMatchObject({ resources: 2, versions: 3 });
    expect(r.counts.indexRows).toBeGreaterThan(0);
    const left = await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM resource_history WHERE position('Vasseur' IN content) > 0 OR position($1 IN content) > 0",
      [id],
    );
    expect(left.rows[0]!.n).toBe(0);
    expect((await service.read(auth, 'Patient', other)).status).toBe(200);
    expect((await journaledErasures(documents)).map((e) => e.patientId)).toContain(id);
    expect((await expungePatient(deps(), auth, id, 'again')).already).toBe(true);
  });
});

describe('npm run erasure:reapply', () => {
  it('erases again a patient a database restore brought back, and restores the lost journal rows', async () => {
    const id = await patientWithData('Restauré');
    await expungePatient(deps(), auth, id, 'demande RGPD');
    // A restore from a backup older than the erasure: the patient is back, the journal row is gone.
    await service.update(auth, 'Patient', id, { resourceType: 'Patient', id, name: [{ family: 'Restauré' }] });
    await db.query('DELETE FROM erasure_journal');
    const out: string[] = [];
    const code = await runErasureReapply([], {
      env: { PFI_DATA_DIR: dir, PFI_HL7_RAW_ARCHIVE: 'database' },
      out: (l) => out.push(l),
      err: (l) => out.push(l),
      database: db,
    });
    expect(code).toBe(0);
    expect(out.join('\n')).toContain(`Patient/${id}`);
    const back = await db.query("SELECT 1 FROM resource WHERE resource_type = 'Patient' AND id = $1", [id]);
    expect(back.rows).toEqual([]);
    const journal = await db.query('SELECT patient_id FROM erasure_journal');
    expect(journal.rows.length).toBeGreaterThanOrEqual(2);
  });
});
