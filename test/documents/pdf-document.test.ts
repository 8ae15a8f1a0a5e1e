import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outboxBacklog, relayOutbox } from '../../lambdas/adapters/queue/outbox-relay.js';
import { SqlQueue } from '../../lambdas/adapters/queue/sql-queue.js';
import { CdaInputError } from '../../lambdas/cda/errors.js';
import { EXAMPLE_CDA_ORGANISATION } from '../../lambdas/cda/organisation.js';
import { documentOperations } from '../../lambdas/documents/compose.js';
import { DOCUMENTS_AUTH, isDocumentPoison, runCdaJob } from '../../lambdas/documents/jobs.js';
import { CDA_PDF_DOCUMENT_TOPIC, CDA_QUEUE, DOCUMENT_ROUTES } from '../../lambdas/documents/queues.js';
import { ingestHl7 } from '../../lambdas/hl7/ingest.js';
import { readCdaHeader } from '../../lambdas/mssante/cda-header.js';
import { loadSchematron, validateWithSchematron } from '../support/cda-schematron.js';
import { cdaXsdValidator } from '../support/cda-xsd.js';
import { type DocumentsTestBed, documentsTestBed, readJson, testPid } from '../support/documents.js';

const CORPUS = resolve(import.meta.dirname, '../../../shared/corpus/cda');
const HAS_CORPUS = existsSync(join(CORPUS, 'xsd/ans-cda-extended/CDA_extended.xsd'));
const PDF = Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n', 'latin1');
const AUTHOR_IDNAT = '899700000015';

let bed: DocumentsTestBed;
let n = 0;
const deps = () => ({ service: bed.service, documents: bed.documents, organisation: EXAMPLE_CDA_ORGANISATION });

beforeAll(async () => {
  bed = await documentsTestBed();
});
afterAll(async () => {
  await bed?.close();
});

/** Our own MDM^T02 (CI-SIS "transmission de documents"): a PDF in OBX ED, the author in PRT SB. */
function mdmPdf(o: { ipp: string; docId: string; author?: boolean }): string {
  return [
    `MSH|^~\\&|DPI|CHU-TEST|PFI|PFI|20261202100000||MDM^T02^MDM_T02|MDM${++n}-${Date.now()}|P|2.6|||||FRA|UNICODE UTF-8|||2.1^CISIS_CDA_HL7_V2`,
    'EVN||20261202100000',
    testPid(o.ipp),
    'PV1|1|O',
    `TXA|1|11490-0|TEXT|20261202095500||||||||${o.docId}^CHU-TEST||||||AU`,
    ...(o.author
      ? [`PRT||UC||SB^^participation|${AUTHOR_IDNAT}^Martin^Paul^^^^^^ASIP-SANTE-PS&1.2.250.1.71.4.2.1&ISO^D^^^IDNPS`]
      : []),
    `OBX|1|ED|11490-0^Lettre de sortie^LN||^application^PDF^Base64^${PDF.toString('base64')}||||||F`,
  ].join('\r');
}

async function ingestMdm(message: string): Promise<string> {
  const r = await ingestHl7(
    { service: bed.service, documents: bed.documents },
    { message, receivedAt: new Date().toISOString() },
  );
  return r.written.find((w) => w.reference.startsWith('DocumentReference/'))!.reference;
}

describe('PDF documents become CI-SIS level-1 documents', () => {
  it('an MDM PDF with its author (PRT SB) queues its wrapping; the job makes an XSD- and schematron-valid level-1 CDA', async () => {
    await bed.db.query('DELETE FROM outbox');
    const source = await ingestMdm(
      mdmPdf({ ipp: `IPP-PDF-${Date.now()}`, docId: `1.2.250.1.999.3.${++n}`, author: true }),
    );
    const sourceDoc = await readJson(bed, source);
    expect(sourceDoc.author).toHaveLength(1);
    const author = await readJson(bed, sourceDoc.author[0].reference);
    expect(author.identifier).toEqual([{ system: 'urn:oid:1.2.250.1.71.4.2.1', value: AUTHOR_IDNAT }]);
    expect((await outboxBacklog(bed.db))[CDA_PDF_DOCUMENT_TOPIC]).toBe(1);
    // The message's AuditEvent was committed with it.
    expect((await outboxBacklog(bed.db))['audit-event']).toBe(1);

    await relayOutbox(bed.db, DOCUMENT_ROUTES, { sender: 'same-database' });
    const [job] = await new SqlQueue(bed.db).receive(CDA_QUEUE, {
      max: 1,
      visibilityTimeoutSeconds: 30,
      maxReceives: 3,
    });
    expect(JSON.parse(job!.body)).toEqual({ documentReference: source });
    const result = await runCdaJob(deps(), job!.body);
    if (!('documentReference' in result)) throw new Error(`skipped: ${result.skipped}`);
    const doc = JSON.parse(result.documentReference.json);
    expect(doc).toMatchObject({
      status: 'current',
      type: { coding: [{ system: 'http://loinc.org', code: '11490-0' }] },
      relatesTo: [{ code: 'transforms', target: { reference: source } }],
      author: [{ reference: sourceDoc.author[0].reference }],
      content: [{ format: { code: 'urn:ihe:iti:xds-sd:pdf:2008' }, attachment: { contentType: 'text/xml' } }],
    });
    const xml = Buffer.from((await readJson(bed, doc.content[0].attachment.url)).data, 'base64').toString('utf8');
    const header = readCdaHeader(xml);
    expect(header.templateIds).toContain('1.3.6.1.4.1.19376.1.2.20');
    expect(header.authors[0]?.id).toEqual({ root: '1.2.250.1.71.4.2.1', extension: AUTHOR_IDNAT });
    expect(xml).toContain(PDF.toString('base64'));
    // The generated document is XML: it triggers nothing more (only its own AuditEvent).
    expect((await outboxBacklog(bed.db))[CDA_PDF_DOCUMENT_TOPIC]).toBeUndefined();
    expect((await outboxBacklog(bed.db))['audit-event']).toBe(2);
    if (HAS_CORPUS) {
      expect((await cdaXsdValidator(join(CORPUS, 'xsd/ans-cda-extended'))(xml)).errors).toEqual([]);
      const sch = loadSchematron(
        join(CORPUS, 'schematron/schematrons/profils/structurationMinimale/ASIP-STRUCT-MIN-StrucMin.sch'),
      );
      expect(validateWithSchematron(sch, xml).errors.map((e) => e.message)).toEqual([]);
    }

    // Asked again (job redelivered, or $generate-cda): the same document.
    const again = await runCdaJob(deps(), job!.body);
    expect('documentReference' in again && again.documentReference.id).toBe(doc.id);
    const op = await documentOperations(deps())(bed.service)['DocumentReference/$generate-cda']!({
      auth: DOCUMENTS_AUTH,
      type: 'DocumentReference',
      id: source.split('/')[1]!,
      req: { method: 'POST', path: '', query: [], headers: {}, requestId: 'r1' },
    });
    expect(op.status).toBe(200);
    expect(op.resource?.id).toBe(doc.id);
  });

  it('a PDF posted by a FHIR client is wrapped too; without an author the job is refused for good (no RPPS invented)', async () => {
    const mdmSource = await ingestMdm(mdmPdf({ ipp: `IPP-PDF2-${Date.now()}`, docId: `1.2.250.1.999.3.${++n}` }));
    const patient = (await readJson(bed, mdmSource)).subject;
    const binary = await bed.service.create(DOCUMENTS_AUTH, 'Binary', {
      resourceType: 'Binary',
      contentType: 'application/pdf',
      data: PDF.toString('base64'),
    });
    const created = await bed.service.create(DOCUMENTS_AUTH, 'DocumentReference', {
      resourceType: 'DocumentReference',
      status: 'current',
      type: { coding: [{ system: 'http://loinc.org', code: '11490-0', display: 'Lettre de sortie' }] },
      subject: patient,
      content: [{ attachment: { contentType: 'application/pdf', url: `Binary/${binary.resource!.id}` } }],
    });
    const backlog = await outboxBacklog(bed.db);
    expect(backlog[CDA_PDF_DOCUMENT_TOPIC]).toBeGreaterThanOrEqual(1);
    const error = await runCdaJob(
      deps(),
      JSON.stringify({ documentReference: `DocumentReference/${created.resource!.id}` }),
    ).catch((e) => e);
    expect(error).toBeInstanceOf(CdaInputError);
    expect(isDocumentPoison(error)).toBe(true);
  });

  it('a document that is already a CDA, or gone, is skipped', async () => {
    expect(await runCdaJob(deps(), JSON.stringify({ documentReference: 'DocumentReference/nope' }))).toEqual({
      skipped: 'source gone',
    });
  });
});
