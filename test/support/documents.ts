/**
 * Test support for the document features: a FHIR service on PGlite with a file document store and the MSSanté write
 * trigger, and a lab report (ORU^R01, our own fictitious patient) ingested through the real HL7 pipeline.
 */

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileDocumentStore } from '../../lambdas/adapters/documents/file-store.js';
import type { SqlExecutor } from '../../lambdas/adapters/sql/executor.js';
import { migrate } from '../../lambdas/adapters/sql/migrate.js';
import { createPgliteExecutor } from '../../lambdas/adapters/sql/pglite.js';
import { documentTriggers } from '../../lambdas/documents/queues.js';
import { FhirRepository } from '../../lambdas/fhir/repository/repository.js';
import { FhirService } from '../../lambdas/fhir/service.js';
import { INGEST_AUTH } from '../../lambdas/hl7/apply/context.js';
import { ingestHl7 } from '../../lambdas/hl7/ingest.js';
import { CHU, nir } from './pam.js';

export interface DocumentsTestBed {
  db: SqlExecutor;
  service: FhirService;
  documents: FileDocumentStore;
  close(): Promise<void>;
}

export async function documentsTestBed(): Promise<DocumentsTestBed> {
  const db = await createPgliteExecutor();
  await migrate(db);
  const dir = await mkdtemp(join(tmpdir(), 'pfi-documents-'));
  const documents = new FileDocumentStore(dir);
  const service = new FhirService(new FhirRepository(db), documents, documentTriggers);
  return {
    db,
    service,
    documents,
    async close() {
      await db.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

let n = 0;

/** A PAM FR PID for a fictitious patient with a qualified INS (test OID, VALI, strict traits and birth place). */
export function testPid(ipp: string): string {
  return [
    'PID',
    '1',
    '',
    `${ipp}^^^${CHU}^PI~${nir('2900412345001')}^^^ASIP-SANTE-INS-NIR-TEST&1.2.250.1.213.1.4.10&ISO^INS`,
    '',
    'Roux^Inès^Inès Marie^^^^L',
    '',
    '19900412',
    'F',
    '',
    '',
    '12 rue des Lilas^^Orléans^^45000^FRA^H~^^^^^^BDL^^45234',
    ...Array(20).fill(''),
    'VALI',
  ].join('|');
}

/** An ORU^R01 lab report for a fictitious patient with a qualified INS (test OID), three results. */
export function labReportOru(o: { ipp: string; filler: string; cholesterol?: string; control?: string }): string {
  return [
    `MSH|^~\\&|SIL|LABO|PFI|PFI|20261202093000||ORU^R01^ORU_R01|${o.control ?? `ORU${++n}-${Date.now()}`}|P|2.5|||||FRA|UNICODE UTF-8`,
    testPid(o.ipp),
    `OBR|1||${o.filler}^LABO|24331-1^Bilan lipidique^LN|||20261202080000|||||||||||||||20261202091500|||F`,
    `OBX|1|NM|2093-3^Cholestérol total^LN||${o.cholesterol ?? '6,2'}|mmol/L^mmol/L^UCUM|3.5-5.2|H|||F|||20261202080000`,
    'OBX|2|NM|2571-8^Triglycérides^LN||1,1|mmol/L^mmol/L^UCUM|0.5-1.7|N|||F|||20261202080000',
    'OBX|3|ST|8251-1^Aspect du sérum^LN||Clair||||||F|||20261202080000',
  ].join('\r');
}

/** Ingests the ORU and returns its DiagnosticReport id. */
export async function ingestLabReport(bed: DocumentsTestBed, message: string): Promise<string> {
  const result = await ingestHl7(
    { service: bed.service, documents: bed.documents },
    { message, receivedAt: '2026-12-02T08:30:00.000Z' },
  );
  const ref = result.written.find((w) => w.reference.startsWith('DiagnosticReport/'))?.reference;
  if (!ref) throw new Error('the ORU wrote no DiagnosticReport');
  return ref.slice('DiagnosticReport/'.length);
}

export async function readJson(bed: DocumentsTestBed, reference: string): Promise<any> {
  const [type, id] = reference.split('/') as [string, string];
  return JSON.parse((await bed.service.read(INGEST_AUTH, type, id)).resource!.json);
}
