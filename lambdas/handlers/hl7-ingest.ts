/**
 * Lambda entry point of the HL7 ingest worker: SQS FIFO event source (the MLLP bridge's queue), one FHIR transaction
 * per message, partial batch failures through Powertools batch. Middy wiring and composition only: the use case is
 * `hl7/ingest.ts`.
 *
 * FIFO semantics: `SqsFifoPartialProcessorAsync` with `skipGroupOnError` processes records in order and, after a
 * failure, fails the rest of THAT message group only (its order must hold) while other patients go on. SQS then
 * redelivers the failed records; after the queue's maxReceiveCount they land in the dead-letter queue, and
 * `npm run hl7:redrive` (StartMessageMoveTask in AWS) puts them back after a fix.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { SQSClient } from '@aws-sdk/client-sqs';
import middy from '@middy/core';
import type { DocumentStore } from '../adapters/documents/document-store.js';
import { documentStoreFromConfig } from '../adapters/documents/from-config.js';
import { relayOutbox } from '../adapters/queue/outbox-relay.js';
import { createSqsJobHandler } from '../adapters/queue/sqs-job-handler.js';
import { sqsSender } from '../adapters/queue/sqs-sender.js';
import { executorFromConfig } from '../adapters/sql/from-config.js';
import { migrate } from '../adapters/sql/migrate.js';
import { loadConfig } from '../config.js';
import { DOCUMENT_ROUTES, documentTriggers } from '../documents/queues.js';
import { FhirRepository } from '../fhir/repository/repository.js';
import { FhirService } from '../fhir/service.js';
import { resolveInboundBody } from '../hl7/inbound-body.js';
import { type IngestDeps, ingestHl7 } from '../hl7/ingest.js';
import { databaseArchive, documentArchive } from '../hl7/raw-archive.js';
import { describeError } from '../hl7/worker.js';

const SERVICE = 'pfi-hl7-ingest';

export interface Hl7IngestBackend extends IngestDeps {
  documents: DocumentStore;
  /** Relays the outbox rows the messages committed (CDA jobs) to their queues. */
  relay?(): Promise<number>;
  close(): Promise<void>;
}

export interface Hl7IngestDeps {
  /** Creates the backend on the first invocation (and again after a failed creation). */
  createBackend: () => Promise<Hl7IngestBackend>;
  logger: Logger;
  metrics: Metrics;
}

/**
 * Builds the handler around a lazily created backend.
 *
 * @example
 * const ingest = createHl7IngestHandler({ createBackend: createIngestBackend, logger, metrics });
 * export const handler = middy(ingest.base).use(injectLambdaContext(logger));
 */
export function createHl7IngestHandler(deps: Hl7IngestDeps) {
  const { logger, metrics } = deps;
  return createSqsJobHandler({
    createBackend: deps.createBackend,
    run: async (ready: Hl7IngestBackend, body: string) =>
      ingestHl7(ready, await resolveInboundBody(body, async (p) => (await ready.documents.get(p.key)).body)),
    describeError,
    logger,
    metrics,
    metricNames: { done: 'Hl7Applied', failed: 'Hl7Failed' },
    failureMessage: 'hl7 attempt failed',
    onDone: (result) => {
      for (const w of result.warnings) {
        logger.info('hl7 warning', { controlId: result.controlId, warning: w.code });
        metrics.addMetric('Hl7Warning', MetricUnit.Count, 1);
      }
    },
    // Lab reports committed CDA jobs in the outbox: relay them now (the scheduled relay catches any miss).
    afterBatch: async (ready) => {
      await ready.relay?.();
    },
  });
}

/** The production backend: configuration from the environment, database (Data API), document store (S3). */
export async function createIngestBackend(): Promise<Hl7IngestBackend> {
  const config = loadConfig();
  const db = await executorFromConfig(config.database);
  try {
    await migrate(db);
  } catch (err) {
    await db.close().catch(() => undefined);
    throw err;
  }
  const documents = await documentStoreFromConfig(config.documents);
  const service = new FhirService(new FhirRepository(db, config.maxResourceBytes), documents, documentTriggers);
  const archive = config.hl7.rawArchive === 'database' ? databaseArchive(db) : documentArchive(documents);
  const sender = config.queueUrls.cda ? sqsSender(new SQSClient({}), config.queueUrls) : undefined;
  return {
    service,
    documents,
    archive,
    practitioners: new Map(),
    relay: sender ? () => relayOutbox(db, DOCUMENT_ROUTES, { sender }) : undefined,
    close: () => db.close(),
  };
}

const logger = new Logger({ serviceName: SERVICE });
const metrics = new Metrics({ namespace: 'PFI', serviceName: SERVICE });
const ingest = createHl7IngestHandler({ createBackend: createIngestBackend, logger, metrics });

/** The Lambda handler (report batch item failures must be enabled on the event source mapping). */
export const handler = middy(ingest.base)
  .use(injectLambdaContext(logger, { clearState: true }))
  .use(logMetrics(metrics));

/** Closes the module-level backend so a test process can exit. */
export const __closeForTests = ingest.close;
