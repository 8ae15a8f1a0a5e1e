import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FullBatchFailureError } from '@aws-lambda-powertools/batch';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { FileDocumentStore } from '../../lambdas/adapters/documents/file-store.js';
import type { SqlExecutor } from '../../lambdas/adapters/sql/executor.js';
import { migrate } from '../../lambdas/adapters/sql/migrate.js';
import { createPgliteExecutor } from '../../lambdas/adapters/sql/pglite.js';
import { FhirRepository } from '../../lambdas/fhir/repository/repository.js';
import { FhirService } from '../../lambdas/fhir/service.js';
import type { Hl7IngestBackend } from '../../lambdas/handlers/hl7-ingest.js';
import { rawMessageKey } from '../../lambdas/hl7/ingest.js';

type HandlerModule = typeof import('../../lambdas/handlers/hl7-ingest.js');

const IPP_SYSTEM = 'urn:oid:1.2.250.1.71.4.2.7.1.9.99';
const RECEIVED_AT = '2026-03-05T10:30:01.000Z';

/** A small PAM FR ADT^A28 (fictitious patient), segments joined with `\r`. */
function a28(controlId: string, ipp: string): string {
  return [
    `MSH|^~\\&|GAM|CHU-TEST|PFI|PFI|20260305103000||ADT^A28^ADT_A05|${controlId}|P|2.5^FRA^2.11|||||FRA|UNICODE UTF-8`,
    'EVN||20260305103000',
    `PID|||${ipp}^^^CHU-TEST&1.2.250.1.71.4.2.7.1.9.99&ISO^PI||Durand^Anne^^^^^L||19800101|F`,
  ].join('\r');
}

/** An order message PFI does not process: a poison message. */
const orm = (controlId: string, ipp: string) => a28(controlId, ipp).replace('ADT^A28^ADT_A05', 'ORM^O01^ORM_O01');

const inline = (message: string) => JSON.stringify({ message, receivedAt: RECEIVED_AT });

let seq = 0;

/** An SQS FIFO record as the event source mapping delivers it. */
function sqsRecord(groupId: string, body: string, receiveCount = 1): SQSRecord {
  const n = ++seq;
  return {
    messageId: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    receiptHandle: `receipt-${n}`,
    body,
    attributes: {
      ApproximateReceiveCount: String(receiveCount),
      SentTimestamp: '1772706601000',
      SenderId: 'AROAEXAMPLE:pfi-mllp-bridge',
      ApproximateFirstReceiveTimestamp: '1772706601100',
      SequenceNumber: `186330000000000${String(n).padStart(5, '0')}`,
      MessageGroupId: groupId,
      MessageDeduplicationId: createHash('sha256').update(body).digest('hex'),
    },
    messageAttributes: {},
    md5OfBody: createHash('md5').update(body).digest('hex'),
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:eu-west-3:123456789012:pfi-hl7-inbound.fifo',
    awsRegion: 'eu-west-3',
  };
}

const event = (...records: SQSRecord[]): SQSEvent => ({ Records: records });

function lambdaContext(): Context {
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: 'pfi-hl7-ingest',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:eu-west-3:123456789012:function:pfi-hl7-ingest',
    memoryLimitInMB: '1024',
    awsRequestId: `lambda-req-${++seq}`,
    logGroupName: '/aws/lambda/pfi-hl7-ingest',
    logStreamName: '2026/03/05/[$LATEST]0123456789abcdef',
    getRemainingTimeInMillis: () => 29_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** IPP values of the stored Patients, sorted. */
async function storedIpps(db: SqlExecutor): Promise<string[]> {
  const res = await db.query<{ content: string }>(
    "SELECT content FROM resource WHERE resource_type = 'Patient' AND NOT deleted",
  );
  return res.rows
    .flatMap((r) => (JSON.parse(r.content) as { identifier?: { system?: string; value?: string }[] }).identifier ?? [])
    .filter((i) => i.system === IPP_SYSTEM)
    .map((i) => i.value ?? '')
    .sort();
}

/** Everything Powertools prints (POWERTOOLS_DEV routes logs and metrics to the global console). */
const printed: string[] = [];
const printedJson = () =>
  printed.flatMap((line) => {
    try {
      return [JSON.parse(line) as Record<string, unknown>];
    } catch {
      return [];
    }
  });

let dir: string;
let mod: HandlerModule;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pfi-hl7-ingest-'));
  // The module creates its Logger and Metrics at import time: the environment must be set first.
  vi.stubEnv('PFI_DATA_DIR', join(dir, 'module'));
  // As in AWS, where the document store is S3: one object per raw message (here a file).
  vi.stubEnv('PFI_HL7_RAW_ARCHIVE', 'documents');
  for (const name of [
    'DATABASE_URL',
    'PFI_DB_CLUSTER_ARN',
    'PFI_DB_SECRET_ARN',
    'PFI_DOCUMENTS_BUCKET',
    'PFI_DOCUMENTS_KMS_KEY_ID',
    'POWERTOOLS_LOG_LEVEL',
  ]) {
    vi.stubEnv(name, undefined);
  }
  vi.stubEnv('POWERTOOLS_DEV', 'true');
  vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
  vi.stubEnv('AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED', 'true');
  for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
    vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
      printed.push(args.map(String).join(' '));
    });
  }
  mod = await import('../../lambdas/handlers/hl7-ingest.js');
});

afterAll(async () => {
  await mod?.__closeForTests();
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
  if (dir) await rm(dir, { recursive: true, force: true });
});

beforeEach(() => {
  printed.length = 0;
});

describe('createHl7IngestHandler (real backend on PGlite)', () => {
  const quietLogger = () => new Logger({ serviceName: 'test', logLevel: 'SILENT' });
  const metricsSink = () => new Metrics({ namespace: 'Test', serviceName: 'test' });
  // One migrated database for these tests (each uses its own IPPs); the backends' close() is a spy.
  let db: SqlExecutor;
  let documents: FileDocumentStore;

  beforeAll(async () => {
    db = await createPgliteExecutor();
    await migrate(db);
    documents = new FileDocumentStore(join(dir, 'documents'));
  });
  afterAll(async () => {
    await db?.close();
  });

  /** FhirService over FhirRepository over the migrated PGlite; documents in a temporary directory. */
  function realBackend(): Hl7IngestBackend & { close: ReturnType<typeof vi.fn> } {
    const service = new FhirService(new FhirRepository(db), documents);
    return { service, documents, close: vi.fn(async () => undefined) };
  }

  /** Whether the Provenance of a message exists, and the raw message kept in the document store. */
  async function traces(message: string) {
    const sha256 = createHash('sha256').update(message).digest('hex');
    const res = await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM resource WHERE resource_type = 'Provenance' AND id = $1::text",
      [`hl7-${sha256.slice(0, 40)}`],
    );
    const raw = await documents.get(rawMessageKey(sha256, RECEIVED_AT)).then(
      (d) => d.body.toString('utf8'),
      () => undefined,
    );
    return { provenance: res.rows[0]?.n === 1, raw };
  }

  /** IPPs of the stored Patients among `ipps`. */
  const stored = async (...ipps: string[]) => (await storedIpps(db)).filter((i) => ipps.includes(i));

  it('applies every record: no batch item failure, the Patients exist, the raw messages are kept', async () => {
    const backend = realBackend();
    const metrics = metricsSink();
    const addMetric = vi.spyOn(metrics, 'addMetric');
    const ingest = mod.createHl7IngestHandler({ createBackend: async () => backend, logger: quietLogger(), metrics });
    // A claim-check record: the HL7 text is in the document store, the queue carries a pointer.
    const large = a28('CTRL3', 'IPP3');
    const doc = await documents.put('hl7/large/ctrl3.hl7', large, { contentType: 'x-application/hl7' });
    const pointer = JSON.stringify({
      pointer: { key: doc.key, bytes: doc.bytes, sha256: doc.sha256 },
      receivedAt: RECEIVED_AT,
    });

    const res = await ingest.base(
      event(
        sqsRecord('group-a', inline(a28('CTRL1', 'IPP1'))),
        sqsRecord('group-b', inline(a28('CTRL2', 'IPP2'))),
        sqsRecord('group-c', pointer),
      ),
      lambdaContext(),
    );

    expect(res).toEqual({ batchItemFailures: [] });
    expect(await stored('IPP1', 'IPP2', 'IPP3')).toEqual(['IPP1', 'IPP2', 'IPP3']);
    for (const message of [a28('CTRL1', 'IPP1'), a28('CTRL2', 'IPP2'), large]) {
      expect(await traces(message)).toEqual({ provenance: true, raw: message });
    }
    expect(addMetric.mock.calls.filter((c) => c[0] === 'Hl7Applied')).toHaveLength(3);
    expect(addMetric.mock.calls.filter((c) => c[0] === 'Hl7Failed')).toHaveLength(0);

    await ingest.close();
    expect(backend.close).toHaveBeenCalledTimes(1);
  });

  it('fails a poison record and the rest of its group only; other groups are applied', async () => {
    const backend = realBackend();
    const logger = quietLogger();
    const warn = vi.spyOn(logger, 'warn');
    const metrics = metricsSink();
    const addMetric = vi.spyOn(metrics, 'addMetric');
    const ingest = mod.createHl7IngestHandler({ createBackend: async () => backend, logger, metrics });
    const poison = sqsRecord('group-a', inline(orm('CTRL10', 'IPP10')), 3);
    const afterPoison = sqsRecord('group-a', inline(a28('CTRL11', 'IPP11')));
    const other = sqsRecord('group-b', inline(a28('CTRL12', 'IPP12')));
    const notJson = sqsRecord('group-c', 'PID|||IPP13^^^CHU||Durand^Anne');
    const lastOfC = sqsRecord('group-c', inline(a28('CTRL14', 'IPP14')));

    const res = await ingest.base(event(poison, afterPoison, other, notJson, lastOfC), lambdaContext());

    expect(res.batchItemFailures).toEqual([
      { itemIdentifier: poison.messageId },
      { itemIdentifier: afterPoison.messageId },
      { itemIdentifier: notJson.messageId },
      { itemIdentifier: lastOfC.messageId },
    ]);
    expect(await stored('IPP10', 'IPP11', 'IPP12', 'IPP13', 'IPP14')).toEqual(['IPP12']);
    // One warning per failed attempt (skipped records were not attempted), content-free.
    expect(warn.mock.calls).toEqual([
      [
        'hl7 attempt failed',
        {
          messageId: poison.messageId,
          attempt: 3,
          error: 'unsupported-message',
          reason: expect.stringContaining('ORM^O01'),
        },
      ],
      [
        'hl7 attempt failed',
        {
          messageId: notJson.messageId,
          attempt: 1,
          error: 'bad-queue-body',
          reason: 'inbound queue body is not valid JSON',
        },
      ],
    ]);
    expect(JSON.stringify(warn.mock.calls)).not.toMatch(/Durand|IPP1\d/);
    expect(addMetric.mock.calls.filter((c) => c[0] === 'Hl7Failed')).toHaveLength(2);
    expect(addMetric.mock.calls.filter((c) => c[0] === 'Hl7Applied')).toHaveLength(1);
    await ingest.close();
  });

  it('fails the whole batch when the backend cannot be created, and creates it on the next invocation', async () => {
    const backend = realBackend();
    const createBackend = vi
      .fn<() => Promise<Hl7IngestBackend>>()
      .mockRejectedValueOnce(new Error('connect ECONNREFUSED 10.0.0.5:5432'))
      .mockResolvedValue(backend);
    const ingest = mod.createHl7IngestHandler({ createBackend, logger: quietLogger(), metrics: metricsSink() });
    const batch = () =>
      event(sqsRecord('group-a', inline(a28('CTRL20', 'IPP20'))), sqsRecord('group-a', inline(a28('CTRL21', 'IPP21'))));

    // Every record failed: Powertools throws, so SQS retries the whole batch.
    await expect(ingest.base(batch(), lambdaContext())).rejects.toBeInstanceOf(FullBatchFailureError);
    expect(createBackend).toHaveBeenCalledTimes(1);
    expect(await stored('IPP20', 'IPP21')).toEqual([]);

    const res = await ingest.base(batch(), lambdaContext());
    expect(res).toEqual({ batchItemFailures: [] });
    expect(createBackend).toHaveBeenCalledTimes(2);
    expect(await stored('IPP20', 'IPP21')).toEqual(['IPP20', 'IPP21']);

    // Created once, reused afterwards.
    await ingest.base(event(sqsRecord('group-b', inline(a28('CTRL22', 'IPP22')))), lambdaContext());
    expect(createBackend).toHaveBeenCalledTimes(2);
    await ingest.close();
    expect(backend.close).toHaveBeenCalledTimes(1);
  });

  it('close() before any invocation or after a failed creation does nothing', async () => {
    const createBackend = vi.fn(async (): Promise<Hl7IngestBackend> => {
      throw new Error('down');
    });
    const ingest = mod.createHl7IngestHandler({ createBackend, logger: quietLogger(), metrics: metricsSink() });
    await expect(ingest.close()).resolves.toBeUndefined();
    await expect(
      ingest.base(event(sqsRecord('group-a', inline(a28('CTRL30', 'IPP30')))), lambdaContext()),
    ).rejects.toBeInstanceOf(FullBatchFailureError);
    await expect(ingest.close()).resolves.toBeUndefined();
  });
});

describe('handler (production composition on PGlite and local documents)', () => {
  it('applies a record through the middy handler and publishes Hl7Applied', async () => {
    const res = await mod.handler(event(sqsRecord('group-a', inline(a28('CTRL40', 'IPP40')))), lambdaContext());

    expect(res).toEqual({ batchItemFailures: [] });
    // createIngestBackend: PGlite under $PFI_DATA_DIR/pg, raw messages (PFI_HL7_RAW_ARCHIVE) under $PFI_DATA_DIR/documents.
    expect(await readdir(join(dir, 'module'))).toEqual(expect.arrayContaining(['pg', 'documents']));
    const emf = printedJson().find((l) => '_aws' in l && 'Hl7Applied' in l);
    expect(emf).toMatchObject({ Hl7Applied: 1, service: 'pfi-hl7-ingest' });
    expect(printed.join('\n')).not.toMatch(/Durand|IPP40/);
  });

  it('reports a poison record as a batch item failure and logs it without content', async () => {
    const good = sqsRecord('group-b', inline(a28('CTRL41', 'IPP41')));
    const poison = sqsRecord('group-c', inline(orm('CTRL42', 'IPP42')), 2);

    const res = await mod.handler(event(good, poison), lambdaContext());

    expect(res).toEqual({ batchItemFailures: [{ itemIdentifier: poison.messageId }] });
    const log = printedJson().find((l) => l.message === 'hl7 attempt failed');
    expect(log).toMatchObject({
      level: 'WARN',
      service: 'pfi-hl7-ingest',
      function_name: 'pfi-hl7-ingest',
      messageId: poison.messageId,
      attempt: 2,
      error: 'unsupported-message',
    });
    const emf = printedJson().find((l) => '_aws' in l && 'Hl7Failed' in l);
    expect(emf).toMatchObject({ Hl7Applied: 1, Hl7Failed: 1 });
    expect(printed.join('\n')).not.toMatch(/Durand|IPP4\d/);
  });
});
