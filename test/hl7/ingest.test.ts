import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileDocumentStore } from '../../lambdas/adapters/documents/file-store.js';
import type { SqlExecutor } from '../../lambdas/adapters/sql/executor.js';
import { migrate } from '../../lambdas/adapters/sql/migrate.js';
import { createPgliteExecutor } from '../../lambdas/adapters/sql/pglite.js';
import { FhirRepository } from '../../lambdas/fhir/repository/repository.js';
import { FhirService } from '../../lambdas/fhir/service.js';
import { INGEST_AUTH } from '../../lambdas/hl7/apply/context.js';
import { VIGILANCE_TAG } from '../../lambdas/hl7/apply/patient.js';
import { CDA_LAB_REPORT_TOPIC } from '../../lambdas/hl7/apply/results.js';
import { type IngestResult, ingestHl7, PoisonMessageError } from '../../lambdas/hl7/ingest.js';
import { CHU, INS_TEST_SYSTEM, IPP_SYSTEM, nir, type PamOptions, pam } from '../support/pam.js';

let db: SqlExecutor;
let service: FhirService;
let documents: FileDocumentStore;
let docDir: string;
let n = 0;

beforeAll(async () => {
  db = await createPgliteExecutor();
  await migrate(db);
  docDir = await mkdtemp(join(tmpdir(), 'pfi-ingest-'));
  documents = new FileDocumentStore(docDir);
  service = new FhirService(new FhirRepository(db), documents);
});

afterAll(async () => {
  await db.close();
  await rm(docDir, { recursive: true, force: true });
});

/** A fresh IPP / visit number per test, so tests share the database without seeing each other. */
const fresh = (prefix: string) => `${prefix}${++n}-${Date.now() % 100000}`;

const ingest = (message: string, receivedAt = '2026-03-05T09:30:00.000Z'): Promise<IngestResult> =>
  ingestHl7({ service, documents }, { message, receivedAt });

const send = (o: Partial<PamOptions> & { event: string }) => ingest(pam({ controlId: fresh('C'), ...o }));

async function one(type: string, system: string, value: string): Promise<any> {
  const { result } = await service.search(INGEST_AUTH, type, [['identifier', `${system}|${value}`]]);
  expect(result.matches).toHaveLength(1);
  return JSON.parse(result.matches[0]!.json);
}

async function read(reference: string): Promise<any> {
  const [type, id] = reference.split('/') as [string, string];
  return JSON.parse((await service.read(INGEST_AUTH, type, id)).resource!.json);
}

const encounterOf = (visit: string) => one('Encounter', IPP_SYSTEM, visit);
const patientOf = (ipp: string) => one('Patient', IPP_SYSTEM, ipp);

describe('identity (A28, A31, A08) and INS rules', () => {
  it('A28 creates the Patient with IPP, qualified INS, official and used names, birth place, identity status', async () => {
    const ipp = fresh('IPP');
    const ins = nir('2790345234001');
    const r = await send({ event: 'A28', ipp, ins, usedFamily: 'Martin' });
    expect(r.kind).toBe('identity');
    const p = await patientOf(ipp);
    expect(p.identifier).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          system: IPP_SYSTEM,
          value: ipp,
          type: { coding: [expect.objectContaining({ code: 'PI' })] },
        }),
        expect.objectContaining({ system: INS_TEST_SYSTEM, value: ins, use: 'official' }),
      ]),
    );
    expect(p.name[0]).toMatchObject({ use: 'official', family: 'Lefèvre', given: ['Hélène'] });
    expect(p.name[0].extension[0].valueString).toBe('Hélène Marie');
    expect(p.name[1]).toMatchObject({ use: 'usual', family: 'Martin' });
    expect(p).toMatchObject({ gender: 'female', birthDate: '1979-03-05', active: true });
    expect(p.address[0]).toMatchObject({ city: 'Orléans', postalCode: '45000', use: 'home' });
    const birthPlace = p.extension.find((e: any) => e.url.endsWith('patient-birthPlace'));
    expect(birthPlace.valueAddress.extension[0].valueCoding.code).toBe('45234');
    const reliability = p.extension.find((e: any) => e.url.endsWith('fr-core-identity-reliability'));
    expect(reliability.extension[0].valueCoding.code).toBe('VALI');
    // The Provenance links the raw message kept in the document store.
    const prov = await read(r.provenance);
    expect(prov.target).toContainEqual({ reference: `Patient/${p.id}` });
    expect(prov.entity[0].what.identifier.value).toBe(r.rawKey);
    expect((await documents.get(r.rawKey)).body.toString('utf8')).toContain('ADT^A28');
  });

  it('a redelivered message changes nothing (same versions, same Provenance)', async () => {
    const ipp = fresh('IPP');
    const message = pam({ event: 'A28', controlId: fresh('C'), ipp });
    const first = await ingest(message);
    const again = await ingest(message);
    expect(again.written.map((w) => [w.reference, w.versionId])).toEqual(
      first.written.map((w) => [w.reference, w.versionId]),
    );
    expect((await patientOf(ipp)).meta.versionId).toBe('1');
  });

  it('A31 updates the demographics; a later PID-32 PROV drops the INS (downgrade)', async () => {
    const ipp = fresh('IPP');
    const ins = nir('1850775123002');
    await send({ event: 'A28', ipp, ins, sex: 'M', given: 'Jérôme', family: 'Dupont' });
    await send({ event: 'A31', ipp, ins, sex: 'M', given: 'Jérôme', family: 'Dupond' });
    expect((await patientOf(ipp)).name[0].family).toBe('Dupond');
    const r = await send({ event: 'A31', ipp, ins, sex: 'M', given: 'Jérôme', family: 'Dupond', status: 'PROV' });
    expect(r.warnings.map((w) => w.code)).toContain('ins-not-qualified');
    const p = await patientOf(ipp);
    expect(p.identifier.some((i: any) => i.system === INS_TEST_SYSTEM)).toBe(false);
  });

  it('A08 (still sent by many feeds) updates the identity', async () => {
    const ipp = fresh('IPP');
    await send({ event: 'A28', ipp });
    await send({ event: 'A08', ipp, family: 'Lefebvre' });
    expect((await patientOf(ipp)).name[0].family).toBe('Lefebvre');
  });

  it('an INS with a wrong key is not recorded, with a warning (no crash, no silent loss: the raw message is kept)', async () => {
    const ipp = fresh('IPP');
    const bad = `${nir('2790345234001').slice(0, 13)}00`;
    const r = await send({ event: 'A28', ipp, ins: bad });
    expect(r.warnings.map((w) => w.code)).toContain('ins-invalid-key');
    expect((await patientOf(ipp)).identifier).toHaveLength(1);
  });

  it('identity vigilance: an INS already carried by another IPP is not moved; both records are flagged', async () => {
    const ins = nir('2790345234777');
    const first = fresh('IPP');
    const second = fresh('IPP');
    await send({ event: 'A28', ipp: first, ins });
    const r = await send({ event: 'A28', ipp: second, ins, family: 'Autre' });
    expect(r.warnings.map((w) => w.code)).toContain('ins-conflict');
    const a = await patientOf(first);
    const b = await patientOf(second);
    expect(a.identifier.some((i: any) => i.value === ins)).toBe(true);
    expect(b.identifier.some((i: any) => i.value === ins)).toBe(false);
    for (const p of [a, b]) expect(p.meta.tag).toContainEqual(VIGILANCE_TAG);
    // The identity-vigilance cell's work list.
    const { result } = await service.search(INGEST_AUTH, 'Patient', [
      ['_tag', `${VIGILANCE_TAG.system}|${VIGILANCE_TAG.code}`],
      ['_count', '1000'],
    ]);
    expect(result.matches.map((m) => m.id)).toEqual(expect.arrayContaining([a.id, b.id]));
  });

  it('a result keyed by the INS alone, then the admission with IPP + INS, make one Patient', async () => {
    const ins = nir('1850775123456');
    const oru = [
      `MSH|^~\\&|SIL|LABO|PFI|PFI|20260305103000||ORU^R01^ORU_R01|${fresh('C')}|P|2.5|||||FRA|UNICODE UTF-8`,
      `PID|||${ins}^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.10&ISO^INS||Durand^Paul^Paul^^^^L||19850701|M${'|'.repeat(24)}VALI`,
      `OBR|1||${fresh('LAB')}^LABO|2345-7^Glucose^LN|||20260305080000`,
      'OBX|1|NM|2345-7^Glucose^LN||5.4|mmol/L^mmol/L^UCUM|3.9-5.8|N|||F',
    ].join('\r');
    await ingest(oru);
    const byIns = await one('Patient', INS_TEST_SYSTEM, ins);
    const ipp = fresh('IPP');
    await send({
      event: 'A01',
      ipp,
      ins,
      family: 'Durand',
      given: 'Paul',
      sex: 'M',
      visit: fresh('V'),
      zbe: { id: fresh('M'), at: '20260305090000' },
    });
    const byIpp = await patientOf(ipp);
    expect(byIpp.id).toBe(byIns.id);
  });

  it('refuses, as poison, messages it can never apply', async () => {
    await expect(ingest('not an HL7 message')).rejects.toMatchObject({
      name: 'PoisonMessageError',
      code: 'unparseable',
    });
    await expect(ingest('MSH|^~\\&|A|B|C|D|20260305||ORM^O01^ORM_O01|X1|P|2.5\rPID|||1^^^A^PI')).rejects.toMatchObject({
      code: 'unsupported-message',
    });
    await expect(ingest(pam({ event: 'A28', controlId: 'X2' }))).rejects.toBeInstanceOf(PoisonMessageError);
    await expect(ingest(pam({ event: 'A28', controlId: 'X3', ipp: 'P1' }), 'yesterday')).rejects.toMatchObject({
      code: 'bad-received-at',
    });
  });
});

describe('stays and movements (ITI-31 with ZBE)', () => {
  const admit = async (visit: string, ipp: string, at = '20260110083000', extra: Partial<PamOptions> = {}) =>
    send({
      event: 'A01',
      ipp,
      visit,
      location: 'CARDIO^101^1',
      zbe: { id: `${visit}-1`, at, uf: '1001', ufName: 'Cardiologie' },
      ...extra,
    });

  it('A01 opens the stay: VN identifier, class, Paris local time (winter +01:00), location, attending Practitioner', async () => {
    const visit = fresh('V');
    const ipp = fresh('IPP');
    await admit(visit, ipp, '20260110083000', { attending: { rpps: '810000000015', family: 'Martin', given: 'Luc' } });
    const e = await encounterOf(visit);
    expect(e).toMatchObject({
      status: 'in-progress',
      class: { code: 'IMP' },
      period: { start: '2026-01-10T08:30:00+01:00' },
      subject: { reference: `Patient/${(await patientOf(ipp)).id}` },
    });
    expect(e.location).toEqual([
      expect.objectContaining({
        status: 'active',
        location: expect.objectContaining({ display: 'Cardiologie — CARDIO / 101 / 1' }),
      }),
    ]);
    const doctor = await read(e.participant[0].individual.reference);
    expect(doctor.identifier[0]).toEqual({ system: 'urn:oid:1.2.250.1.71.4.2.1', value: '810000000015' });
  });

  it('summer time: a July movement gets +02:00', async () => {
    const visit = fresh('V');
    await admit(visit, fresh('IPP'), '20260706120000');
    expect((await encounterOf(visit)).period.start).toBe('2026-07-06T12:00:00+02:00');
  });

  it('A02 transfers (location history), A03 discharges, and a late A02 dated before the discharge does not reopen it', async () => {
    const visit = fresh('V');
    const ipp = fresh('IPP');
    await admit(visit, ipp);
    await send({
      event: 'A02',
      ipp,
      visit,
      zbe: { id: `${visit}-2`, at: '20260111090000', uf: '2002', ufName: 'Pneumologie' },
    });
    let e = await encounterOf(visit);
    expect(e.location.map((l: any) => l.status)).toEqual(['completed', 'active']);
    expect(e.location[0].period.end).toBe('2026-01-11T09:00:00+01:00');
    await send({ event: 'A03', ipp, visit, zbe: { id: `${visit}-3`, at: '20260115100000' } });
    e = await encounterOf(visit);
    expect(e).toMatchObject({ status: 'finished', period: { end: '2026-01-15T10:00:00+01:00' } });
    await send({
      event: 'A02',
      ipp,
      visit,
      zbe: { id: `${visit}-late`, at: '20260113090000', uf: '3003', ufName: 'Soins de suite' },
    });
    e = await encounterOf(visit);
    expect(e.status).toBe('finished');
    expect(e.location.map((l: any) => l.location.display.split(' — ')[0])).toEqual([
      'Cardiologie',
      'Pneumologie',
      'Soins de suite',
    ]);
  });

  it('a repeated A01 (same ZBE-1, new MSH-10) changes nothing', async () => {
    const visit = fresh('V');
    const ipp = fresh('IPP');
    await admit(visit, ipp);
    const r = await admit(visit, ipp);
    expect(r.warnings.map((w) => w.code)).toContain('movement-repeated');
    expect((await encounterOf(visit)).meta.versionId).toBe('1');
  });

  it('A11 cancels the admission (ZBE CANCEL naming the movement): the stay is cancelled', async () => {
    const visit = fresh('V');
    const ipp = fresh('IPP');
    await admit(visit, ipp);
    await send({
      event: 'A11',
      ipp,
      visit,
      zbe: { id: `${visit}-1`, at: '20260110083000', action: 'CANCEL', original: 'A01' },
    });
    expect((await encounterOf(visit)).status).toBe('cancelled');
  });

  it('A12 cancels a transfer, A13 cancels a discharge', async () => {
    const visit = fresh('V');
    const ipp = fresh('IPP');
    await admit(visit, ipp);
    await send({ event: 'A02', ipp, visit, zbe: { id: `${visit}-2`, at: '20260111090000', uf: '2002' } });
    await send({
      event: 'A12',
      ipp,
      visit,
      zbe: { id: `${visit}-2`, at: '20260111090000', action: 'CANCEL', original: 'A02' },
    });
    expect((await encounterOf(visit)).location).toHaveLength(1);
    await send({ event: 'A03', ipp, visit, zbe: { id: `${visit}-3`, at: '20260112090000' } });
    await send({
      event: 'A13',
      ipp,
      visit,
      zbe: { id: `${visit}-3`, at: '20260112090000', action: 'CANCEL', original: 'A03' },
    });
    const e = await encounterOf(visit);
    expect(e.status).toBe('in-progress');
    expect(e.period.end).toBeUndefined();
  });

  it('a CANCEL that arrives before its INSERT wins: the late INSERT is ignored', async () => {
    const visit = fresh('V');
    const ipp = fresh('IPP');
    await admit(visit, ipp);
    await send({
      event: 'A12',
      ipp,
      visit,
      zbe: { id: `${visit}-2`, at: '20260111090000', action: 'CANCEL', original: 'A02' },
    });
    const r = await send({ event: 'A02', ipp, visit, zbe: { id: `${visit}-2`, at: '20260111090000', uf: '2002' } });
    expect(r.warnings.map((w) => w.code)).toContain('movement-cancelled-before-insert');
    expect((await encounterOf(visit)).location).toHaveLength(1);
  });

  it('A21/A22 leave of absence and return; A52/A53 cancel them', async () => {
    const visit = fresh('V');
    const ipp = fresh('IPP');
    await admit(visit, ipp);
    await send({ event: 'A21', ipp, visit, zbe: { id: `${visit}-L`, at: '20260111090000' } });
    expect((await encounterOf(visit)).status).toBe('onleave');
    await send({ event: 'A22', ipp, visit, zbe: { id: `${visit}-R`, at: '20260111180000' } });
    expect((await encounterOf(visit)).status).toBe('in-progress');
    await send({
      event: 'A53',
      ipp,
      visit,
      zbe: { id: `${visit}-R`, at: '20260111180000', action: 'CANCEL', original: 'A22' },
    });
    expect((await encounterOf(visit)).status).toBe('onleave');
    await send({
      event: 'A52',
      ipp,
      visit,
      zbe: { id: `${visit}-L`, at: '20260111090000', action: 'CANCEL', original: 'A21' },
    });
    expect((await encounterOf(visit)).status).toBe('in-progress');
  });

  it('A54 changes the attending doctor, A55 cancels the change', async () => {
    const visit = fresh('V');
    const ipp = fresh('IPP');
    await admit(visit, ipp, '20260110083000', { attending: { rpps: '810000000015', family: 'Martin', given: 'Luc' } });
    const other = { rpps: '810000000023', family: 'Bernard', given: 'Zoé' };
    await send({ event: 'A54', ipp, visit, attending: other, zbe: { id: `${visit}-D`, at: '20260111090000' } });
    const doctor = async () =>
      (await read((await encounterOf(visit)).participant[0].individual.reference)).identifier[0].value;
    expect(await doctor()).toBe('810000000023');
    await send({
      event: 'A55',
      ipp,
      visit,
      attending: other,
      zbe: { id: `${visit}-D`, at: '20260111090000', action: 'CANCEL', original: 'A54' },
    });
    expect(await doctor()).toBe('810000000015');
  });

  it('Z99 updates a movement (its unit) without adding one', async () => {
    const visit = fresh('V');
    const ipp = fresh('IPP');
    await admit(visit, ipp);
    await send({
      event: 'Z99',
      ipp,
      visit,
      zbe: {
        id: `${visit}-1`,
        at: '20260110083000',
        action: 'UPDATE',
        original: 'A01',
        uf: '1009',
        ufName: 'Cardio USIC',
      },
    });
    const e = await encounterOf(visit);
    expect(e.location).toHaveLength(1);
    expect(e.location[0].location.display).toMatch(/^Cardio USIC/);
  });

  it('A05 pre-admission is planned, then A01 starts the stay', async () => {
    const visit = fresh('V');
    const ipp = fresh('IPP');
    await send({ event: 'A05', ipp, visit, zbe: { id: `${visit}-P`, at: '20260120080000' } });
    expect((await encounterOf(visit)).status).toBe('planned');
    await admit(visit, ipp, '20260120081500');
    expect((await encounterOf(visit)).status).toBe('in-progress');
  });
});

describe('A40 merge and A47 identifier change', () => {
  it('A40: the merged Patient becomes inactive, replaced-by the survivor; its stays move to the survivor', async () => {
    const survivor = fresh('IPP');
    const merged = fresh('IPP');
    const visit = fresh('V');
    await send({ event: 'A28', ipp: survivor });
    await send({ event: 'A01', ipp: merged, visit, zbe: { id: `${visit}-1`, at: '20260110083000' } });
    const r = await send({ event: 'A40', structure: 'ADT_A39', ipp: survivor, mrgIpp: merged });
    expect(r.kind).toBe('merge');
    const s = await patientOf(survivor);
    const m = await patientOf(merged);
    expect(m).toMatchObject({
      active: false,
      link: [{ other: { reference: `Patient/${s.id}` }, type: 'replaced-by' }],
    });
    expect(s.link).toEqual([{ other: { reference: `Patient/${m.id}` }, type: 'replaces' }]);
    expect((await encounterOf(visit)).subject.reference).toBe(`Patient/${s.id}`);
  });

  it('A47 changes the IPP (the old one kept as use=old); a new IPP owned by someone else is refused as poison', async () => {
    const oldIpp = fresh('IPP');
    const newIpp = fresh('IPP');
    await send({ event: 'A28', ipp: oldIpp });
    const before = await patientOf(oldIpp);
    await send({ event: 'A47', structure: 'ADT_A30', ipp: newIpp, mrgIpp: oldIpp });
    const after = await patientOf(newIpp);
    expect(after.id).toBe(before.id);
    expect(after.identifier).toContainEqual({ use: 'old', system: IPP_SYSTEM, value: oldIpp });
    const taken = fresh('IPP');
    await send({ event: 'A28', ipp: taken });
    await expect(send({ event: 'A47', structure: 'ADT_A30', ipp: taken, mrgIpp: newIpp })).rejects.toMatchObject({
      code: 'identifier-conflict',
    });
  });
});

describe('results (ORU^R01) and documents (MDM)', () => {
  const oru = (o: { ipp: string; filler: string; control?: string; obx: string[]; orc?: string }) =>
    [
      `MSH|^~\\&|SIL|LABO|PFI|PFI|20260305103000||ORU^R01^ORU_R01|${o.control ?? fresh('C')}|P|2.5|||||FRA|UNICODE UTF-8`,
      `PID|||${o.ipp}^^^${CHU}^PI||Roux^Inès^^^^^L||19900412|F`,
      ...(o.orc ? [o.orc] : []),
      `OBR|1||${o.filler}^LABO|24331-1^Bilan lipidique^LN|||20260305080000|||||||||||||||20260305101500|||F`,
      ...o.obx,
    ].join('\r');

  it('numeric results with UCUM units, ranges and flags; the report lists them and queues its CDA lab report', async () => {
    const ipp = fresh('IPP');
    const filler = fresh('F');
    const r = await ingest(
      oru({
        ipp,
        filler,
        obx: [
          'OBX|1|NM|2093-3^Cholestérol total^LN||6,2|mmol/L^mmol/L^UCUM|3.5-5.2|H|||F',
          'OBX|2|SN|2571-8^Triglycérides^LN||<^0.5|mmol/L|<1.7|N|||F',
          'OBX|3|ST|8251-1^Aspect^LN||Sérum clair||||||F',
        ],
      }),
    );
    const report = await read(r.written.find((w) => w.reference.startsWith('DiagnosticReport/'))!.reference);
    expect(report).toMatchObject({
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '24331-1' }] },
    });
    expect(report.result).toHaveLength(3);
    const [chol, tg, aspect] = await Promise.all(report.result.map((x: any) => read(x.reference)));
    expect(chol.valueQuantity).toEqual({
      value: 6.2,
      unit: 'mmol/L',
      system: 'http://unitsofmeasure.org',
      code: 'mmol/L',
    });
    expect(chol.referenceRange[0]).toMatchObject({ low: { value: 3.5 }, high: { value: 5.2 } });
    expect(chol.interpretation[0].coding[0].code).toBe('H');
    expect(chol.effectiveDateTime).toBe('2026-03-05T08:00:00+01:00');
    expect(tg.valueQuantity).toMatchObject({ value: 0.5, comparator: '<' });
    expect(aspect.valueString).toBe('Sérum clair');
    const outbox = await db.query<{ topic: string; payload: string }>(
      'SELECT topic, payload FROM outbox WHERE topic = $1',
      [CDA_LAB_REPORT_TOPIC],
    );
    expect(outbox.rows.map((row) => JSON.parse(row.payload).diagnosticReport)).toContain(
      `DiagnosticReport/${report.id}`,
    );
  });

  it("a result whose visit number is another patient's stay is recorded without linking that stay", async () => {
    const visit = fresh('V');
    await send({ event: 'A01', ipp: fresh('IPP'), visit, zbe: { id: `${visit}-1`, at: '20260110083000' } });
    const message = oru({
      ipp: fresh('IPP'),
      filler: fresh('F'),
      obx: ['OBX|1|NM|2093-3^Cholestérol^LN||5.1|mmol/L|||||F'],
    }).replace(/(PID\|[^\r]*)/, `$1\rPV1|1|I|||||||||||||||||${visit}^^^${CHU}^VN`);
    const r = await ingest(message);
    expect(r.warnings.map((w) => w.code)).toContain('encounter-other-patient');
    const report = await read(r.written.find((w) => w.reference.startsWith('DiagnosticReport/'))!.reference);
    expect(report.encounter).toBeUndefined();
  });

  it('OBX-11 C corrects the same Observation; D marks it entered-in-error', async () => {
    const ipp = fresh('IPP');
    const filler = fresh('F');
    await ingest(oru({ ipp, filler, obx: ['OBX|1|NM|2093-3^Cholestérol^LN||6.2|mmol/L|||||F'] }));
    await ingest(oru({ ipp, filler, obx: ['OBX|1|NM|2093-3^Cholestérol^LN||5.9|mmol/L|||||C'] }));
    const { result } = await service.search(INGEST_AUTH, 'Observation', [
      ['identifier', `urn:pfi:hl7-authority:LABO|${filler}/2093-3`],
    ]);
    expect(result.matches).toHaveLength(1);
    const obs = JSON.parse(result.matches[0]!.json);
    expect(obs).toMatchObject({ status: 'corrected', valueQuantity: { value: 5.9 } });
    await ingest(oru({ ipp, filler, obx: ['OBX|1|NM|2093-3^Cholestérol^LN||5.9|mmol/L|||||D'] }));
    expect((await read(`Observation/${obs.id}`)).status).toBe('entered-in-error');
  });

  it('an ORU carrying a CDA (OBX ED) gives a DocumentReference + Binary; a large CDA is served back from the document store', async () => {
    const ipp = fresh('IPP');
    const cda = `<?xml version="1.0" encoding="UTF-8"?><ClinicalDocument xmlns="urn:hl7-org:v3"><id root="1.2.250.1.999.1" extension="${fresh('DOC')}"/><title>CR de biologie</title><component>${'<p>résultat</p>'.repeat(4000)}</component></ClinicalDocument>`;
    const r = await ingest(
      oru({
        ipp,
        filler: fresh('F'),
        obx: [
          `OBX|1|ED|11502-2^CR d'examens biologiques^LN||^TEXT^XML^Base64^${Buffer.from(cda).toString('base64')}||||||F`,
          'OBX|2|CE|DESTDMP^Destinataire DMP^MetaDMPMSS||Y^^expandedYes-NoIndicator||||||F',
        ],
      }),
    );
    const docRef = await read(r.written.find((w) => w.reference.startsWith('DocumentReference/'))!.reference);
    expect(docRef).toMatchObject({ status: 'current', type: { coding: [{ code: '11502-2' }] } });
    expect(docRef.masterIdentifier.system).toBe('urn:oid:1.2.250.1.999.1');
    expect(docRef.extension).toContainEqual({
      url: 'urn:pfi:fhir:StructureDefinition:dmp-mss-instruction',
      extension: [
        { url: 'code', valueCode: 'DESTDMP' },
        { url: 'value', valueString: 'Y' },
      ],
    });
    const binary = await read(docRef.content[0].attachment.url);
    expect(Buffer.from(binary.data, 'base64').toString('utf8')).toBe(cda);
    expect(binary.meta.extension).toBeUndefined();
    expect(docRef.content[0].attachment.size).toBe(Buffer.byteLength(cda));
  });

  const mdm = (o: { event: string; ipp: string; id: string; replaces?: string; text?: string }) =>
    [
      `MSH|^~\\&|RIS|IMAGERIE|PFI|PFI|20260305103000||MDM^${o.event}^MDM_T02|${fresh('C')}|P|2.6|||||FRA|UNICODE UTF-8`,
      'EVN||20260305103000',
      `PID|||${o.ipp}^^^${CHU}^PI||Roux^Inès^^^^^L||19900412|F`,
      'PV1|1|O',
      `TXA|1|18748-4|TEXT|20260305100000||||||||${o.id}^IMAGERIE|${o.replaces ? `${o.replaces}^IMAGERIE` : ''}||||AU`,
      `OBX|1|ED|18748-4^CR d'imagerie médicale^LN||^text^XML^Base64^${Buffer.from(o.text ?? 'Compte rendu').toString('base64')}||||||F`,
    ].join('\r');

  it('MDM T02 creates the document, T10 supersedes it, T04 marks the replacement entered-in-error', async () => {
    const ipp = fresh('IPP');
    const first = `1.2.250.1.999.2.${++n}`;
    const second = `1.2.250.1.999.2.${++n}`;
    await ingest(mdm({ event: 'T02', ipp, id: first }));
    const doc1 = await one('DocumentReference', 'urn:ietf:rfc:3986', `urn:oid:${first}`);
    expect(doc1).toMatchObject({ status: 'current', docStatus: 'final', date: '2026-03-05T10:00:00+01:00' });
    await ingest(mdm({ event: 'T10', ipp, id: second, replaces: first, text: 'Compte rendu corrigé' }));
    const doc2 = await one('DocumentReference', 'urn:ietf:rfc:3986', `urn:oid:${second}`);
    expect(doc2.relatesTo).toEqual([{ code: 'replaces', target: { reference: `DocumentReference/${doc1.id}` } }]);
    expect((await read(`DocumentReference/${doc1.id}`)).status).toBe('superseded');
    await ingest(mdm({ event: 'T04', ipp, id: second }));
    expect((await read(`DocumentReference/${doc2.id}`)).status).toBe('entered-in-error');
  });
});
