import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXAMPLE_CDA_ORGANISATION } from '../../lambdas/cda/organisation.js';
import {
  DOCUMENT_VERSION_EXTENSION,
  SOURCE_FINGERPRINT_EXTENSION,
} from '../../lambdas/documents/document-reference.js';
import { DOCUMENTS_AUTH, runCdaJob } from '../../lambdas/documents/jobs.js';
import { generateLabReport, type LabReportDeps } from '../../lambdas/documents/lab-report.js';
import { binaryContentKey } from '../../lambdas/fhir/binary-content.js';
import { FhirError } from '../../lambdas/fhir/errors.js';
import { readCdaHeader } from '../../lambdas/mssante/cda-header.js';
import {
  type DocumentsTestBed,
  documentsTestBed,
  ingestLabReport,
  labReportOru,
  readJson,
} from '../support/documents.js';
import { authWith } from '../support/fixtures.js';

let bed: DocumentsTestBed;
let deps: LabReportDeps;
let n = 0;
const fresh = (p: string) => `${p}${++n}${Date.now() % 100000}`;

beforeAll(async () => {
  bed = await documentsTestBed();
  deps = { service: bed.service, documents: bed.documents, organisation: EXAMPLE_CDA_ORGANISATION, pdf: false };
});
afterAll(async () => {
  await bed?.close();
});

async function binaryXml(documentReference: any): Promise<string> {
  const url: string = documentReference.content[0].attachment.url;
  const binary = await readJson(bed, url);
  return Buffer.from(binary.data, 'base64').toString('utf8');
}

describe('generateLabReport', () => {
  it('stores a CR-BIO document, its Binary and a DocumentReference with the CI-SIS metadata', async () => {
    const reportId = await ingestLabReport(bed, labReportOru({ ipp: fresh('IPP'), filler: fresh('F') }));
    const r = await generateLabReport(deps, DOCUMENTS_AUTH, reportId);
    expect(r.created).toBe(true);
    const doc = JSON.parse(r.documentReference.json);
    const report = await readJson(bed, `DiagnosticReport/${reportId}`);
    expect(doc).toMatchObject({
      resourceType: 'DocumentReference',
      status: 'current',
      docStatus: 'final',
      type: { coding: [{ system: 'http://loinc.org', code: '11502-2' }] },
      subject: report.subject,
      securityLabel: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', code: 'N' }] }],
      content: [
        {
          attachment: { contentType: 'text/xml', url: `Binary/${doc.id}`, title: "Compte rendu d'examens biologiques" },
          format: { system: 'urn:oid:1.3.6.1.4.1.19376.1.2.3', code: 'urn:ihe:lab:xd-lab:2008' },
        },
      ],
      context: {
        related: [{ reference: `DiagnosticReport/${reportId}` }],
        facilityType: { coding: [{ code: EXAMPLE_CDA_ORGANISATION.facilityType.code }] },
        practiceSetting: { coding: [{ code: EXAMPLE_CDA_ORGANISATION.practiceSetting.code }] },
      },
    });
    expect(doc.category?.[0]?.coding?.[0]?.code).toBeTruthy();
    expect(doc.masterIdentifier).toEqual({
      system: `urn:oid:${EXAMPLE_CDA_ORGANISATION.documentIdRoot}`,
      value: doc.id,
    });

    // The Binary's bytes are the CDA, stored in the document store (not in the row), with the announced size and hash.
    const xml = await binaryXml(doc);
    expect(Buffer.byteLength(xml)).toBe(doc.content[0].attachment.size);
    const { createHash } = await import('node:crypto');
    expect(createHash('sha1').update(xml).digest('base64')).toBe(doc.content[0].attachment.hash);
    const header = readCdaHeader(xml);
    expect(header).toMatchObject({ code: { code: '11502-2' }, versionNumber: 1, patient: { insQualified: true } });
    expect(header.setId?.extension).toBe(`set-${reportId}`);
    const stored = await bed.documents.get(binaryContentKey(doc.id));
    expect(stored.body.toString('utf8')).toBe(xml);
    const row = await bed.db.query<{ json: string }>(
      "SELECT content AS json FROM resource WHERE resource_type = 'Binary' AND id = $1",
      [doc.id],
    );
    expect(row.rows[0]?.json).not.toContain('"data"');
  });

  it('is idempotent: the same report content gives the same document', async () => {
    const reportId = await ingestLabReport(bed, labReportOru({ ipp: fresh('IPP'), filler: fresh('F') }));
    const first = await generateLabReport(deps, DOCUMENTS_AUTH, reportId);
    const again = await generateLabReport(deps, DOCUMENTS_AUTH, reportId);
    const job = await runCdaJob(deps, JSON.stringify({ diagnosticReport: `DiagnosticReport/${reportId}` }));
    expect(again.created).toBe(false);
    expect(again.documentReference.id).toBe(first.documentReference.id);
    expect('documentReference' in job && job.documentReference.id).toBe(first.documentReference.id);
    const { result } = await bed.service.search(DOCUMENTS_AUTH, 'DocumentReference', [
      ['related', `DiagnosticReport/${reportId}`],
    ]);
    expect(result.matches).toHaveLength(1);
  });

  it('a corrected result makes version 2 of the document, which replaces and supersedes version 1', async () => {
    const ipp = fresh('IPP');
    const filler = fresh('F');
    const reportId = await ingestLabReport(bed, labReportOru({ ipp, filler }));
    const v1 = await generateLabReport(deps, DOCUMENTS_AUTH, reportId);
    expect(await ingestLabReport(bed, labReportOru({ ipp, filler, cholesterol: '5,9' }))).toBe(reportId);
    const v2 = await generateLabReport(deps, DOCUMENTS_AUTH, reportId);
    expect(v2.created).toBe(true);
    expect(v2.documentReference.id).not.toBe(v1.documentReference.id);
    const doc2 = JSON.parse(v2.documentReference.json);
    expect(doc2.relatesTo).toEqual([
      { code: 'replaces', target: { reference: `DocumentReference/${v1.documentReference.id}` } },
    ]);
    expect(doc2.extension).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ url: SOURCE_FINGERPRINT_EXTENSION }),
        { url: DOCUMENT_VERSION_EXTENSION, valuePositiveInt: 2 },
      ]),
    );
    const doc1 = await readJson(bed, `DocumentReference/${v1.documentReference.id}`);
    expect(doc1.status).toBe('superseded');
    const h1 = readCdaHeader(await binaryXml(doc1));
    const h2 = readCdaHeader(await binaryXml(doc2));
    expect(h2.setId).toEqual(h1.setId);
    expect([h1.versionNumber, h2.versionNumber]).toEqual([1, 2]);
    expect(h2.id).not.toEqual(h1.id);
  });

  it('answers 404 for an unknown report and 403 without the scopes; a job for a gone report is skipped', async () => {
    await expect(generateLabReport(deps, DOCUMENTS_AUTH, 'nope')).rejects.toMatchObject({ status: 404 });
    const reportId = await ingestLabReport(bed, labReportOru({ ipp: fresh('IPP'), filler: fresh('F') }));
    const err = await generateLabReport(deps, authWith('system/DiagnosticReport.rs'), reportId).catch((e) => e);
    expect(err).toBeInstanceOf(FhirError);
    expect(err.status).toBe(403);
    expect(await runCdaJob(deps, JSON.stringify({ diagnosticReport: 'DiagnosticReport/nope' }))).toEqual({
      skipped: 'source gone',
    });
    await expect(runCdaJob(deps, '{"x":1}')).rejects.toThrow('no diagnosticReport reference');
  });
});
