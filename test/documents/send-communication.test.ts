import { unzipSync } from 'fflate';
import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXAMPLE_CDA_ORGANISATION } from '../../lambdas/cda/organisation.js';
import { DOCUMENTS_AUTH, runMssanteJob } from '../../lambdas/documents/jobs.js';
import { generateLabReport } from '../../lambdas/documents/lab-report.js';
import {
  MESSAGE_ID_SYSTEM,
  type SendCommunicationDeps,
  sendCommunication,
  TemporarySendError,
} from '../../lambdas/documents/send-communication.js';
import { sqlSendJournal } from '../../lambdas/documents/send-journal.js';
import { createMssanteTransport, sendMail } from '../../lambdas/mssante/smtp.js';
import { EMAIL_TYPE_EXTENSION } from '../../lambdas/mssante/telecom.js';
import {
  type DocumentsTestBed,
  documentsTestBed,
  ingestLabReport,
  labReportOru,
  readJson,
} from '../support/documents.js';
import { createTestPki, type TestPki } from '../support/pki.js';
import { startTestSmtpServer, type TestServer } from '../support/smtp-server.js';

const REFUSED = 'parti@test-ci-sis.mssante.fr';
const DEFERRED = 'plus-tard@test-ci-sis.mssante.fr';
let bed: DocumentsTestBed;
let pki: TestPki;
let relay: TestServer;
let deps: SendCommunicationDeps;
let documentReference: string;
let patient: string;
let n = 0;

const mssante = (address: string) => ({
  system: 'email',
  value: address,
  extension: [{ url: EMAIL_TYPE_EXTENSION, valueCoding: { code: 'MSSANTE' } }],
});

async function practitioner(telecom: unknown[]): Promise<string> {
  const r = await bed.service.create(DOCUMENTS_AUTH, 'Practitioner', {
    resourceType: 'Practitioner',
    name: [{ family: 'Martin', given: ['Paul'] }],
    telecom,
  });
  return `Practitioner/${r.resource!.id}`;
}

async function communication(recipients: unknown[], text?: string): Promise<string> {
  const r = await bed.service.create(DOCUMENTS_AUTH, 'Communication', {
    resourceType: 'Communication',
    status: 'preparation',
    subject: { reference: patient },
    recipient: recipients,
    payload: [{ contentReference: { reference: documentReference } }, ...(text ? [{ contentString: text }] : [])],
  });
  return r.resource!.id;
}

beforeAll(async () => {
  bed = await documentsTestBed();
  pki = await createTestPki();
  let deferredOnce = true;
  relay = await startTestSmtpServer(pki, {
    rcpt: (address) => {
      if (address === REFUSED) return { code: 550, message: `5.1.1 <${address}>: Recipient address rejected` };
      if (address === DEFERRED && deferredOnce) {
        deferredOnce = false;
        return { code: 451, message: '4.3.0 Try again later' };
      }
      return undefined;
    },
  });
  const transport = createMssanteTransport({
    url: `smtp://127.0.0.1:${relay.port}`,
    ca: pki.ca,
    servername: 'localhost',
  });
  deps = {
    service: bed.service,
    journal: sqlSendJournal(bed.db),
    send: (mail) => sendMail(transport, mail),
    settings: {
      from: 'pfi@hopital-test.mssante.fr',
      nil: 'NIL-TEST-0001',
      receiptsTo: 'accuses@hopital-test.mssante.fr',
      sourceId: EXAMPLE_CDA_ORGANISATION.documentIdRoot,
      messageIdDomain: 'hopital-test.mssante.fr',
    },
  };
  const reportId = await ingestLabReport(bed, labReportOru({ ipp: `IPP-MSS-${Date.now()}`, filler: 'F-MSS' }));
  const generated = await generateLabReport(
    { service: bed.service, documents: bed.documents, organisation: EXAMPLE_CDA_ORGANISATION, pdf: false },
    DOCUMENTS_AUTH,
    reportId,
  );
  documentReference = `DocumentReference/${generated.documentReference.id}`;
  patient = (await readJson(bed, `DiagnosticReport/${reportId}`)).subject.reference;
});
afterAll(async () => {
  await relay?.close();
  await bed?.close();
});

describe('sendCommunication', () => {
  it('mails the CDA with its IHE XDM archive over STARTTLS and completes the Communication', async () => {
    const to = `dr.a${++n}@test-ci-sis.mssante.fr`;
    const id = await communication([{ reference: await practitioner([mssante(to)]) }], 'Résultats de Mme Roux');
    const before = relay.received.length;
    const r = await runMssanteJob(deps, JSON.stringify({ communication: `Communication/${id}` }));
    if (r.status !== 'completed') throw new Error(`expected completed, got ${r.status}`);
    expect(relay.received).toHaveLength(before + 1);
    const got = relay.received.at(-1)!;
    expect(got.rcpt).toEqual([to]);
    expect(got.tlsProtocol).toMatch(/^TLSv1\.[23]$/);
    const mail = await simpleParser(got.raw);
    expect(mail.subject).toBe("XDM/1.0/DDM+Compte rendu d'examens biologiques");
    expect(mail.headers.get('x-mss-codecda')).toBe('11502-2');
    expect(mail.headers.get('x-mss-ins')).toBe('O');
    expect(mail.headers.get('x-mss-nil')).toBe('NIL-TEST-0001');
    expect(JSON.stringify(mail.headers.get('disposition-notification-to'))).toContain(
      'accuses@hopital-test.mssante.fr',
    );
    expect(mail.text).toContain('Résultats de Mme Roux');
    const zip = mail.attachments.find((a) => a.filename === 'IHE_XDM.ZIP');
    expect(zip).toBeDefined();
    const files = unzipSync(new Uint8Array(zip!.content));
    expect(Object.keys(files)).toEqual(
      expect.arrayContaining([
        'INDEX.HTM',
        'README.TXT',
        'IHE_XDM/SUBSET01/METADATA.XML',
        'IHE_XDM/SUBSET01/DOC0001.XML',
      ]),
    );
    const doc = await readJson(bed, documentReference);
    const cda = await readJson(bed, doc.content[0].attachment.url);
    expect(Buffer.from(files['IHE_XDM/SUBSET01/DOC0001.XML']!).toString('base64')).toBe(cda.data);

    const comm = await readJson(bed, `Communication/${id}`);
    expect(comm.status).toBe('completed');
    expect(comm.sent).toBeTruthy();
    expect(comm.identifier).toEqual([{ system: MESSAGE_ID_SYSTEM, value: r.messageId }]);
    expect(mail.messageId).toBe(r.messageId);

    // The job delivered again: nothing is sent twice.
    const again = await runMssanteJob(deps, JSON.stringify({ communication: `Communication/${id}` }));
    expect(again).toEqual({ status: 'skipped', reason: 'status completed' });
    expect(relay.received).toHaveLength(before + 1);
  });

  it('a job redelivered after the send but before the Communication was completed completes it without sending', async () => {
    const to = `dr.b${++n}@test-ci-sis.mssante.fr`;
    const id = await communication([{ reference: await practitioner([mssante(to)]) }]);
    const version = (await readJson(bed, `Communication/${id}`)).meta.versionId;
    await deps.journal.put({
      communicationId: id,
      communicationVersion: Number(version),
      messageId: '<earlier@hopital-test.mssante.fr>',
      state: 'sent',
      accepted: 1,
      rejected: 0,
    });
    const before = relay.received.length;
    const r = await sendCommunication(deps, DOCUMENTS_AUTH, id);
    expect(r).toEqual({ status: 'completed', messageId: '<earlier@hopital-test.mssante.fr>' });
    expect(relay.received).toHaveLength(before);
    expect((await readJson(bed, `Communication/${id}`)).status).toBe('completed');
  });

  it('a send interrupted in the middle is not repeated: the Communication becomes unknown with the Message-ID', async () => {
    const id = await communication([{ reference: await practitioner([mssante(`dr.c${++n}@test-ci-sis.mssante.fr`)]) }]);
    const version = Number((await readJson(bed, `Communication/${id}`)).meta.versionId);
    await deps.journal.put({
      communicationId: id,
      communicationVersion: version,
      messageId: '<m1@x.fr>',
      state: 'sending',
    });
    const before = relay.received.length;
    expect(await sendCommunication(deps, DOCUMENTS_AUTH, id)).toEqual({ status: 'unknown', messageId: '<m1@x.fr>' });
    expect(relay.received).toHaveLength(before);
    const comm = await readJson(bed, `Communication/${id}`);
    expect(comm.status).toBe('unknown');
    expect(comm.statusReason.text).toContain('<m1@x.fr>');
  });

  it('a 550 for the only recipient → not-done with the SMTP reply, the address redacted', async () => {
    const id = await communication([{ reference: await practitioner([mssante(REFUSED)]) }]);
    expect((await sendCommunication(deps, DOCUMENTS_AUTH, id)).status).toBe('not-done');
    const comm = await readJson(bed, `Communication/${id}`);
    expect(comm.status).toBe('not-done');
    expect(comm.statusReason.text).toContain('550');
    expect(comm.statusReason.text).not.toContain(REFUSED);
    expect(comm.sent).toBeUndefined();
  });

  it('one recipient refused, another accepted → stopped, sent, with the reason', async () => {
    const ok = `dr.d${++n}@test-ci-sis.mssante.fr`;
    const id = await communication([
      { reference: await practitioner([mssante(ok)]) },
      { identifier: { value: `mailto:${REFUSED}` } },
    ]);
    expect((await sendCommunication(deps, DOCUMENTS_AUTH, id)).status).toBe('stopped');
    expect(relay.received.at(-1)!.rcpt).toEqual([ok]);
    const comm = await readJson(bed, `Communication/${id}`);
    expect(comm).toMatchObject({ status: 'stopped', sent: expect.any(String) });
    expect(comm.statusReason.text).toContain('550');
  });

  it('a 451 is temporary: the job fails to be retried, and the retry sends it once', async () => {
    const id = await communication([{ identifier: { value: `mailto:${DEFERRED}` } }]);
    const error = await sendCommunication(deps, DOCUMENTS_AUTH, id).catch((e) => e);
    expect(error).toBeInstanceOf(TemporarySendError);
    expect(error.message).not.toContain(DEFERRED);
    expect(await deps.journal.get(id)).toBeUndefined();
    expect((await readJson(bed, `Communication/${id}`)).status).toBe('preparation');
    const before = relay.received.length;
    expect((await sendCommunication(deps, DOCUMENTS_AUTH, id)).status).toBe('completed');
    expect(relay.received).toHaveLength(before + 1);
  });

  it('no MSSanté mailbox anywhere (no annuaire configured) → not-done with a clear reason, nothing sent', async () => {
    const id = await communication([
      { reference: await practitioner([{ system: 'email', value: 'paul.martin@gmail.com' }]) },
      { reference: 'Practitioner/unknown' },
    ]);
    const before = relay.received.length;
    expect((await sendCommunication(deps, DOCUMENTS_AUTH, id)).status).toBe('not-done');
    expect(relay.received).toHaveLength(before);
    expect((await readJson(bed, `Communication/${id}`)).statusReason.text).toBe('no recipient has an MSSanté mailbox');
  });

  it('a payload that is not a readable CDA → not-done', async () => {
    const r = await bed.service.create(DOCUMENTS_AUTH, 'Communication', {
      resourceType: 'Communication',
      status: 'in-progress',
      recipient: [{ identifier: { value: 'mailto:dr.e@test-ci-sis.mssante.fr' } }],
      payload: [{ contentReference: { reference: 'DocumentReference/missing' } }],
    });
    expect((await sendCommunication(deps, DOCUMENTS_AUTH, r.resource!.id)).status).toBe('not-done');
    expect((await readJson(bed, `Communication/${r.resource!.id}`)).statusReason.text).toBe(
      'the payload DocumentReference cannot be read',
    );
  });
});
