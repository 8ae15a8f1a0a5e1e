/**
 * The MSSanté send use case against a faulty relay (the chaos harness relay): a temporary failure is retried and sends
 * once; a message the relay took whose reply was lost is never sent again.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EXAMPLE_CDA_ORGANISATION } from '../../lambdas/cda/organisation.js';
import { DOCUMENTS_AUTH, runMssanteJob } from '../../lambdas/documents/jobs.js';
import { generateLabReport } from '../../lambdas/documents/lab-report.js';
import {
  MESSAGE_ID_SYSTEM,
  type SendCommunicationDeps,
  TemporarySendError,
} from '../../lambdas/documents/send-communication.js';
import { sqlSendJournal } from '../../lambdas/documents/send-journal.js';
import { createMssanteTransport, type MssanteTransport, sendMail } from '../../lambdas/mssante/smtp.js';
import { EMAIL_TYPE_EXTENSION } from '../../lambdas/mssante/telecom.js';
import { type ChaosRelay, startChaosRelay } from '../../scripts/chaos/smtp-relay.js';
import {
  type DocumentsTestBed,
  documentsTestBed,
  ingestLabReport,
  labReportOru,
  readJson,
} from '../support/documents.js';

let bed: DocumentsTestBed;
let dir: string;
let relay: ChaosRelay;
let transport: MssanteTransport;
let deps: SendCommunicationDeps;
let documentReference: string;
let patient: string;

async function communicationTo(address: string): Promise<string> {
  const practitioner = await bed.service.create(DOCUMENTS_AUTH, 'Practitioner', {
    resourceType: 'Practitioner',
    name: [{ family: 'Martin', given: ['Paul'] }],
    telecom: [
      { system: 'email', value: address, extension: [{ url: EMAIL_TYPE_EXTENSION, valueCoding: { code: 'MSSANTE' } }] },
    ],
  });
  const r = await bed.service.create(DOCUMENTS_AUTH, 'Communication', {
    resourceType: 'Communication',
    status: 'preparation',
    subject: { reference: patient },
    recipient: [{ reference: `Practitioner/${practitioner.resource!.id}` }],
    payload: [{ contentReference: { reference: documentReference } }],
  });
  return r.resource!.id;
}

const job = (id: string) => JSON.stringify({ communication: `Communication/${id}` });
const copiesOf = (id: string) => relay.received.filter((m) => m.messageId?.startsWith(`<pfi.${id}.`)).length;

beforeAll(async () => {
  bed = await documentsTestBed();
  dir = await mkdtemp(join(tmpdir(), 'pfi-send-faults-'));
  relay = await startChaosRelay({ dir });
  transport = createMssanteTransport({ url: `smtp://127.0.0.1:${relay.port}`, ca: await readFile(relay.caFile) });
  deps = {
    service: bed.service,
    journal: sqlSendJournal(bed.db),
    send: (mail) => sendMail(transport, mail),
    settings: {
      from: 'pfi@hopital-test.mssante.fr',
      nil: 'NIL-TEST-0001',
      sourceId: EXAMPLE_CDA_ORGANISATION.documentIdRoot,
      messageIdDomain: 'hopital-test.mssante.fr',
    },
  };
  const reportId = await ingestLabReport(bed, labReportOru({ ipp: `IPP-MSSF-${Date.now()}`, filler: 'F-MSSF' }));
  const generated = await generateLabReport(
    { service: bed.service, documents: bed.documents, organisation: EXAMPLE_CDA_ORGANISATION, pdf: false },
    DOCUMENTS_AUTH,
    reportId,
  );
  documentReference = `DocumentReference/${generated.documentReference.id}`;
  patient = (await readJson(bed, `DiagnosticReport/${reportId}`)).subject.reference;
});
afterEach(async () => {
  await relay.setMode('up');
});
afterAll(async () => {
  transport?.close();
  await relay?.close();
  await bed?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('sendCommunication with a faulty relay', () => {
  it('relay down: a temporary failure, nothing journaled; once it is back the retry sends it once', async () => {
    const id = await communicationTo('dr.down@test-ci-sis.mssante.fr');
    await relay.setMode('down');
    await expect(runMssanteJob(deps, job(id))).rejects.toBeInstanceOf(TemporarySendError);
    expect(await deps.journal.get(id)).toBeUndefined();
    await relay.setMode('up');
    expect((await runMssanteJob(deps, job(id))).status).toBe('completed');
    expect(copiesOf(id)).toBe(1);
  });

  it('the relay took the message but its 250 was lost: unknown with the Message-ID, never sent again', async () => {
    const id = await communicationTo('drop-send@test-ci-sis.mssante.fr');
    const result = await runMssanteJob(deps, job(id));
    expect(result.status).toBe('unknown');
    expect(copiesOf(id)).toBe(1);
    const comm = await readJson(bed, `Communication/${id}`);
    expect(comm.status).toBe('unknown');
    const messageId = comm.identifier.find((i: { system: string }) => i.system === MESSAGE_ID_SYSTEM).value;
    expect(relay.received.find((m) => m.messageId === messageId)).toBeDefined();
    expect(comm.statusReason.text).toContain(messageId);
    expect(comm.statusReason.text).not.toContain('drop-send@');
    expect(await deps.journal.get(id)).toMatchObject({ state: 'sending', messageId });
    // The job delivered again (a queue redelivery) sends nothing.
    expect((await runMssanteJob(deps, job(id))).status).toBe('skipped');
    expect(copiesOf(id)).toBe(1);
  });
});
