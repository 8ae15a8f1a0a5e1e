import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileDocumentStore } from '../../lambdas/adapters/documents/file-store.js';
import type { SqlExecutor } from '../../lambdas/adapters/sql/executor.js';
import { migrate } from '../../lambdas/adapters/sql/migrate.js';
import { createPgliteExecutor } from '../../lambdas/adapters/sql/pglite.js';
import { FhirError } from '../../lambdas/fhir/errors.js';
import { FhirRepository } from '../../lambdas/fhir/repository/repository.js';
import { FhirService } from '../../lambdas/fhir/service.js';
import { INGEST_AUTH } from '../../lambdas/hl7/apply/context.js';
import { createCommitLock, type InboundHl7, ingestBatch, PoisonMessageError } from '../../lambdas/hl7/ingest.js';
import { databaseArchive, type RawMessageArchive } from '../../lambdas/hl7/raw-archive.js';
import { IPP_SYSTEM, nir, pam } from '../support/pam.js';

let db: SqlExecutor;
let service: FhirService;
let documents: FileDocumentStore;
let archive: RawMessageArchive;
let docDir: string;
let n = 0;

beforeAll(async () => {
  db = await createPgliteExecutor();
  await migrate(db);
  docDir = await mkdtemp(join(tmpdir(), 'pfi-batch-'));
  documents = new FileDocumentStore(docDir);
  service = new FhirService(new FhirRepository(db), documents);
  archive = databaseArchive(db);
});

afterAll(async () => {
  await db.close();
  await rm(docDir, { recursive: true, force: true });
});

const fresh = (prefix: string) => `${prefix}${++n}-${Date.now() % 100000}`;
const inbound = (message: string): InboundHl7 => ({ message, receivedAt: '2026-03-05T09:30:00.000Z' });
const admission = (ipp: string, visit: string, extra: Partial<Parameters<typeof pam>[0]> = {}) =>
  inbound(
    pam({
      event: 'A01',
      controlId: fresh('B'),
      ipp,
      visit,
      attending: { rpps: '10001234567', family: 'MARTIN', given: 'Claire' },
      zbe: { id: fresh('MVT'), at: '20260305093000', uf: '2310', ufName: 'CARDIOLOGIE' },
      ...extra,
    }),
  );

async function count(type: string, system: string, value: string): Promise<number> {
  const { result } = await service.search(INGEST_AUTH, type, [['identifier', `${system}|${value}`]]);
  return result.matches.length;
}

describe('ingestBatch', () => {
  it('applies a batch of admissions with a handful of statements in all, each with its Provenance and raw message', async () => {
    const ipps = Array.from({ length: 20 }, () => fresh('IPP'));
    const messages = ipps.map((ipp) => admission(ipp, `V${ipp}`));
    const before = db.stats.roundTrips;
    const outcomes = await ingestBatch({ service, documents, archive }, messages);
    const statements = db.stats.roundTrips - before;
    expect(outcomes.every((o) => o.ok)).toBe(true);
    // Lookups, BEGIN, stale unique identifiers, the write, the raw messages, COMMIT: not per message.
    expect(statements).toBeLessThanOrEqual(8);
    for (const ipp of ipps) {
      expect(await count('Patient', IPP_SYSTEM, ipp)).toBe(1);
      expect(await count('Encounter', IPP_SYSTEM, `V${ipp}`)).toBe(1);
    }
    for (const o of outcomes) {
      if (!o.ok) continue;
      const types = o.value.written.map((w) => w.reference.split('/')[0]);
      expect(types.filter((x) => x !== 'Practitioner')).toEqual(['Patient', 'Encounter']);
      expect(o.value.written.every((w) => w.versionId === 1 && w.status === 201)).toBe(true);
      expect(await archive.get(o.value.rawKey)).toContain('ADT^A01');
      const prov = await service.read(INGEST_AUTH, 'Provenance', o.value.provenance.split('/')[1]!);
      const body = JSON.parse(prov.resource!.json);
      expect(body.entity[0].what.identifier).toEqual({ system: 'urn:pfi:hl7-raw-archive', value: o.value.rawKey });
      expect(body.target.map((x: { reference: string }) => x.reference)).toEqual(
        o.value.written.map((w) => w.reference),
      );
    }
    // The same doctor, first seen by this batch, exists once.
    const { result } = await service.search(INGEST_AUTH, 'Practitioner', [
      ['identifier', 'urn:oid:1.2.250.1.71.4.2.1|10001234567'],
    ]);
    expect(result.matches).toHaveLength(1);
  });

  it('a redelivered batch changes nothing', async () => {
    const messages = [admission(fresh('IPP'), fresh('V')), admission(fresh('IPP'), fresh('V'))];
    await ingestBatch({ service, documents, archive }, messages);
    const again = await ingestBatch({ service, documents, archive }, messages);
    for (const o of again) {
      expect(o.ok).toBe(true);
      if (o.ok) expect(o.value.written.every((w) => w.versionId === 1 && w.status === 200)).toBe(true);
    }
  });

  it('one message breaking a rule fails alone: the others of its batch are applied', async () => {
    const good = [admission(fresh('IPP'), fresh('V')), admission(fresh('IPP'), fresh('V'))];
    // A visit number already held by another patient's stay is fine (moved); an IPP change onto an IPP another
    // patient holds is not: the message can never be applied.
    const holder = fresh('IPP');
    const moving = fresh('IPP');
    await ingestBatch({ service, documents, archive }, [admission(holder, fresh('V')), admission(moving, fresh('V'))]);
    const a47 = inbound(
      pam({ event: 'A47', structure: 'ADT_A30', controlId: fresh('B'), ipp: holder, mrgIpp: moving }),
    );
    const unparseable = inbound('not an HL7 message');
    const outcomes = await ingestBatch({ service, documents, archive }, [good[0]!, a47, unparseable, good[1]!]);
    expect(outcomes.map((o) => o.ok)).toEqual([true, false, false, true]);
    // An IPP held by someone else may be freed later (an A40): retried, not poison.
    expect(outcomes[1]!.ok ? undefined : outcomes[1]!.error).toMatchObject({ code: 'identifier-conflict' });
    expect(outcomes[2]!.ok ? undefined : outcomes[2]!.error).toBeInstanceOf(PoisonMessageError);
  });

  it('a store refusal of one message rolls the batch back, then only that message fails', async () => {
    const okIpp = fresh('IPP');
    const ok = admission(okIpp, fresh('V'));
    // A Patient larger than a stored resource may be (the Data API's 64 KB row): 413 when the batch is written.
    const hugeIpp = fresh('IPP');
    const huge = inbound(pam({ event: 'A28', controlId: fresh('B'), ipp: hugeIpp, family: 'A'.repeat(70_000) }));
    const outcomes = await ingestBatch({ service, documents, archive }, [ok, huge]);
    expect(outcomes[0]!.ok).toBe(true);
    expect(outcomes[1]!.ok).toBe(false);
    const error = outcomes[1]!.ok ? undefined : outcomes[1]!.error;
    expect(error).toBeInstanceOf(FhirError);
    expect((error as FhirError).status).toBe(413);
    expect(await count('Patient', IPP_SYSTEM, okIpp)).toBe(1);
    expect(await count('Patient', IPP_SYSTEM, hugeIpp)).toBe(0);
  });

  it('two messages of one batch designating one person by the same INS from two feeds end up on one Patient', async () => {
    const ins = nir(`279${String(Date.now() % 10_000_000_000).padStart(10, '0')}`);
    const fromGam = admission(fresh('IPP'), fresh('V'), { ins });
    const oru = inbound(
      [
        `MSH|^~\\&|LIS|LABO|PFI|PFI|20260305103000||ORU^R01^ORU_R01|${fresh('R')}|P|2.5|||||FRA|UNICODE UTF-8`,
        pam({ event: 'A28', controlId: 'unused', ins })
          .split('\r')
          .find((seg) => seg.startsWith('PID|'))!,
        `OBR|1||${fresh('LAB')}^LABO|24323-8^Bilan^LN|||20260305080000|||||||||||||||20260305090000||CH|F`,
        'OBX|1|NM|2345-7^Glucose^LN||5.4|mmol/L^mmol/L^UCUM|3.9-6.1|N|||F',
      ].join('\r'),
    );
    const before = db.stats.roundTrips;
    const outcomes = await ingestBatch({ service, documents, archive }, [fromGam, oru]);
    expect(outcomes.map((o) => (o.ok ? 'ok' : String(o.error)))).toEqual(['ok', 'ok']);
    // Found in memory (the admission's pending Patient), not by a failed batch retried message by message.
    expect(db.stats.roundTrips - before).toBeLessThanOrEqual(8);
    const patientOf = (i: number) => {
      const o = outcomes[i]!;
      return o.ok ? o.value.written.find((w) => w.reference.startsWith('Patient/'))?.reference : undefined;
    };
    expect(patientOf(1)).toBe(patientOf(0));
    expect(await count('Patient', 'urn:oid:1.2.250.1.213.1.4.10', ins)).toBe(1);
  });

  it('two batches run at once by one process, racing on a new doctor and one person, both apply in full', async () => {
    const lock = createCommitLock();
    const rpps = String(10_000_000_000 + (Date.now() % 1_000_000_000));
    const doctor = { attending: { rpps, family: 'BERNARD', given: 'Luc' } };
    const ins = nir(`180${String(Date.now() % 10_000_000_000).padStart(10, '0')}`);
    const first = [admission(fresh('IPP'), fresh('V'), doctor), admission(fresh('IPP'), fresh('V'), { ins })];
    const second = [admission(fresh('IPP'), fresh('V'), doctor), admission(fresh('IPP'), fresh('V'))];
    const [a, b] = await Promise.all([
      ingestBatch({ service, documents, archive }, first, lock),
      ingestBatch({ service, documents, archive }, second, lock),
    ]);
    expect([...a, ...b].map((o) => (o.ok ? 'ok' : String(o.error)))).toEqual(['ok', 'ok', 'ok', 'ok']);
    expect(await count('Practitioner', 'urn:oid:1.2.250.1.71.4.2.1', rpps)).toBe(1);
  });
});
