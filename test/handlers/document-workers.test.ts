/**
 * The document Lambdas on their real backend composition (configuration from the environment; here the embedded
 * database and file document store of a temporary PFI_DATA_DIR): SQS FIFO records in, partial batch failures out.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Context, SQSRecord } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileDocumentStore } from '../../lambdas/adapters/documents/file-store.js';
import { migrate } from '../../lambdas/adapters/sql/migrate.js';
import { createPgliteExecutor } from '../../lambdas/adapters/sql/pglite.js';
import { DOCUMENTS_AUTH } from '../../lambdas/documents/jobs.js';
import { FhirRepository } from '../../lambdas/fhir/repository/repository.js';
import { FhirService } from '../../lambdas/fhir/service.js';
import { ingestHl7 } from '../../lambdas/hl7/ingest.js';
import { labReportOru } from '../support/documents.js';

let dir: string;
let reportId: string;
let seq = 0;

function record(groupId: string, body: string): SQSRecord {
  const n = ++seq;
  return {
    messageId: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    receiptHandle: `receipt-${n}`,
    body,
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: '1772706601000',
      SenderId: 'AROAEXAMPLE:pfi-outbox-relay',
      ApproximateFirstReceiveTimestamp: '1772706601100',
      SequenceNumber: `186330000000000${String(n).padStart(5, '0')}`,
      MessageGroupId: groupId,
      MessageDeduplicationId: `outbox-${n}`,
    },
    messageAttributes: {},
    md5OfBody: createHash('md5').update(body).digest('hex'),
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:eu-west-3:123456789012:pfi-cda.fifo',
    awsRegion: 'eu-west-3',
  };
}

const context = { functionName: 'pfi-cda-worker', awsRequestId: 'req-1' } as Context;

async function withDatabase<T>(fn: (service: FhirService) => Promise<T>): Promise<T> {
  const db = await createPgliteExecutor(join(dir, 'pg'));
  try {
    await migrate(db);
    return await fn(new FhirService(new FhirRepository(db), new FileDocumentStore(join(dir, 'documents'))));
  } finally {
    await db.close();
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pfi-cda-lambda-'));
  reportId = await withDatabase(async (service) => {
    const r = await ingestHl7(
      { service, documents: new FileDocumentStore(join(dir, 'documents')) },
      { message: labReportOru({ ipp: 'LAMBDA-IPP-1', filler: 'LAMBDA-F-1' }), receivedAt: '2026-12-02T08:30:00.000Z' },
    );
    return r.written.find((w) => w.reference.startsWith('DiagnosticReport/'))!.reference.split('/')[1]!;
  });
  process.env.PFI_DATA_DIR = dir;
  process.env.PFI_LOG_LEVEL = 'SILENT';
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
});
afterAll(async () => {
  delete process.env.PFI_DATA_DIR;
  await rm(dir, { recursive: true, force: true });
});

describe('cda-worker Lambda', () => {
  it('generates the report document and fails only the record with a bad body', async () => {
    const { handler, __closeForTests } = await import('../../lambdas/handlers/cda-worker.js');
    const good = record(
      `DiagnosticReport/${reportId}`,
      JSON.stringify({ diagnosticReport: `DiagnosticReport/${reportId}` }),
    );
    const bad = record('other', '{"diagnosticReport":"Patient/1"}');
    const response = await handler({ Records: [good, bad] }, context);
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: bad.messageId }] });
    await __closeForTests();

    const documents = await withDatabase(async (service) => {
      const { result } = await service.search(DOCUMENTS_AUTH, 'DocumentReference', [
        ['related', `DiagnosticReport/${reportId}`],
      ]);
      return result.matches.map((m) => JSON.parse(m.json));
    });
    expect(documents).toHaveLength(1);
    expect(documents[0]).toMatchObject({ status: 'current', type: { coding: [{ code: '11502-2' }] } });
  });
});
