/**
 * The documents path end to end on the local platform, driven from outside: an ORU over MLLP → the CR-BIO document
 * (ANS XSD- and schematron-valid) in the document store and FHIR → a Communication over the FHIR API → the embedded
 * SMTP sink (STARTTLS) receives the MSSanté message with its IHE XDM archive.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { unzipSync } from 'fflate';
import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreateLocalKeys, signLocalToken } from '../../lambdas/auth/local-keys.js';
import { DOCUMENTS_AUTH } from '../../lambdas/documents/jobs.js';
import { readCdaHeader } from '../../lambdas/mssante/cda-header.js';
import { EMAIL_TYPE_EXTENSION } from '../../lambdas/mssante/telecom.js';
import { loadSchematron, validateWithSchematron } from '../support/cda-schematron.js';
import { cdaXsdValidator } from '../support/cda-xsd.js';
import { labReportOru } from '../support/documents.js';
import { startTestLocalPlatform } from '../support/local-platform.js';
import { eventually, sendMllp } from '../support/mllp-client.js';

const CORPUS = resolve(import.meta.dirname, '../../../shared/corpus/cda');
const HAS_CORPUS = existsSync(join(CORPUS, 'xsd/ans-cda-extended/CDA_extended.xsd'));
if (!HAS_CORPUS)
  console.warn('../shared/corpus/cda is absent: the ANS XSD and schematron checks of this e2e test are skipped');

let local: Awaited<ReturnType<typeof startTestLocalPlatform>>;
let token: string;

beforeAll(async () => {
  local = await startTestLocalPlatform();
  token = await signLocalToken(await loadOrCreateLocalKeys(join(local.dataDir, 'keys')), { scopes: 'system/*.cruds' });
});
afterAll(async () => {
  await local?.dispose();
});

const api = (path: string, init: RequestInit = {}) =>
  fetch(`${local.fhirBaseUrl}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json', ...(init.headers ?? {}) },
  });

describe('ORU over MLLP → CR-BIO → MSSanté', () => {
  it('ends as an ANS-valid CR-BIO in FHIR and mails it to the practitioner over STARTTLS with an XDM archive', async () => {
    const ack = await sendMllp(
      local.mllpPort,
      labReportOru({ ipp: 'E2E-DOC-1', filler: 'E2E-F-1', control: 'E2E-ORU-1' }),
    );
    expect(ack).toContain('MSA|AA|E2E-ORU-1');

    const document = await eventually('the CR-BIO DocumentReference', async () => {
      const res = await api('/DocumentReference?type=http://loinc.org|11502-2');
      const bundle = (await res.json()) as { entry?: { resource: any }[] };
      return bundle.entry?.[0]?.resource;
    });
    const reportRef = document.context.related[0].reference as string;
    expect(reportRef).toMatch(/^DiagnosticReport\//);

    // The Binary, raw, as the CDA document.
    const raw = await api(`/${document.content[0].attachment.url}`, { headers: { accept: 'text/xml' } });
    expect(raw.status).toBe(200);
    expect(raw.headers.get('content-type')).toBe('text/xml');
    const xml = await raw.text();
    expect(Buffer.byteLength(xml)).toBe(document.content[0].attachment.size);
    const header = readCdaHeader(xml);
    expect(header).toMatchObject({ code: { code: '11502-2' }, patient: { insQualified: true } });
    expect(xml).toContain('1.2.250.1.213.1.1.2.243'); // the PDF copy section (PFI_CDA_PDF defaults to true)
    if (HAS_CORPUS) {
      const xsd = await cdaXsdValidator(join(CORPUS, 'xsd/ans-cda-extended'))(xml);
      expect(xsd.errors).toEqual([]);
      for (const sch of [
        'schematron/schematrons/profils/structurationMinimale/ASIP-STRUCT-MIN-StrucMin.sch',
        'schematron/schematrons/CI-SIS_BIO-CR-BIO_2024.01.sch',
      ]) {
        const report = validateWithSchematron(loadSchematron(join(CORPUS, sch)), xml);
        expect(report.errors.map((e) => e.message)).toEqual([]);
      }
    }

    // $generate-cda on the same report finds the same document.
    const op = await api(`/${reportRef}/$generate-cda`, { method: 'POST' });
    expect(op.status).toBe(200);
    expect(((await op.json()) as { id: string }).id).toBe(document.id);

    // A Communication to a practitioner with an MSSanté mailbox.
    const practitioner = await api('/Practitioner', {
      method: 'POST',
      body: JSON.stringify({
        resourceType: 'Practitioner',
        name: [{ family: 'Martin', given: ['Paul'] }],
        telecom: [
          {
            system: 'email',
            value: 'paul.martin@test-ci-sis.mssante.fr',
            extension: [{ url: EMAIL_TYPE_EXTENSION, valueCoding: { code: 'MSSANTE' } }],
          },
        ],
      }),
    });
    const practitionerId = ((await practitioner.json()) as { id: string }).id;
    const created = await api('/Communication', {
      method: 'POST',
      body: JSON.stringify({
        resourceType: 'Communication',
        status: 'preparation',
        subject: document.subject,
        recipient: [{ reference: `Practitioner/${practitionerId}` }],
        payload: [{ contentReference: { reference: `DocumentReference/${document.id}` } }],
      }),
    });
    expect(created.status).toBe(201);
    const communicationId = ((await created.json()) as { id: string }).id;

    const emlFile = await eventually('the .eml in the SMTP sink', async () => {
      const files = await readdir(local.smtpSink!.dir).catch(() => [] as string[]);
      return files.find((f) => f.endsWith('.eml'));
    });
    const mail = await simpleParser(await readFile(join(local.smtpSink!.dir, emlFile)));
    expect(mail.subject).toBe("XDM/1.0/DDM+Compte rendu d'examens biologiques");
    expect(mail.headers.get('x-mss-codecda')).toBe('11502-2');
    expect(mail.headers.get('x-mss-ins')).toBe('O');
    const to = mail.to && !Array.isArray(mail.to) ? mail.to.value.map((a) => a.address) : [];
    expect(to).toEqual(['paul.martin@test-ci-sis.mssante.fr']);
    const zip = mail.attachments.find((a) => a.filename === 'IHE_XDM.ZIP')!;
    const files = unzipSync(new Uint8Array(zip.content));
    expect(Buffer.from(files['IHE_XDM/SUBSET01/DOC0001.XML']!).toString('utf8')).toBe(xml);
    expect(Buffer.from(files['IHE_XDM/SUBSET01/METADATA.XML']!).toString('utf8')).toContain('urn:ihe:lab:xd-lab:2008');

    const comm = await eventually('the completed Communication', async () => {
      const r = await local.platform.service.read(DOCUMENTS_AUTH, 'Communication', communicationId);
      const c = JSON.parse(r.resource!.json);
      return c.status === 'completed' ? c : undefined;
    });
    expect(comm.sent).toBeTruthy();
  });
});
