/**
 * Lambda entry point of the outbox relay (EventBridge schedule, every minute): moves the outbox rows committed with
 * FHIR changes (lab reports to document, Communications to send) to their SQS FIFO queues. The HL7 ingest and FHIR
 * API functions relay right after their own commits too; this schedule catches whatever they could not. It also
 * writes the AuditEvents recorded in the outbox, chains them and seals the chain with the KMS HMAC key.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { DocumentStore } from '../adapters/documents/document-store.js';
import { documentStoreFromConfig } from '../adapters/documents/from-config.js';
import { outboxBacklog } from '../adapters/queue/outbox-relay.js';
import { type SealKey, sealKeyFromConfig } from '../audit/seal-key.js';
import { runAuditTrail } from '../audit/trail.js';
import { createDocumentsBackend, type DocumentsBackend } from '../documents/backend.js';

const SERVICE = 'pfi-outbox-relay';
/** Runs per invocation: 20 × 100 rows, well inside a one-minute schedule. */
const MAX_RUNS = 20;

const logger = new Logger({ serviceName: SERVICE });
const metrics = new Metrics({ namespace: 'PFI', serviceName: SERVICE });
let backend: Promise<DocumentsBackend> | undefined;

/** Relays the document jobs, then writes, chains and seals the AuditEvents recorded in the outbox. */
export async function relayAll(
  b: DocumentsBackend,
  sealKey: SealKey,
  exportTo?: DocumentStore,
): Promise<{ relayed: number; audited: number; pending: number }> {
  let relayed = 0;
  for (let i = 0; i < MAX_RUNS; i++) {
    const n = await b.relay();
    relayed += n;
    if (n < 100) break;
  }
  const audit = await runAuditTrail(b.db, b.service.repo, sealKey, { exportTo });
  const pending = Object.values(await outboxBacklog(b.db)).reduce((a, n) => a + n, 0);
  return { relayed, audited: audit.written, pending };
}

let exportStore: Promise<DocumentStore | undefined> | undefined;
/** The audit export bucket (Object Lock, SSE-KMS with its key), when configured. */
function auditExportStore(b: DocumentsBackend): Promise<DocumentStore | undefined> {
  const target = b.config.auditExport;
  exportStore ??= target
    ? documentStoreFromConfig({ kind: 's3', bucket: target.bucket, kmsKeyId: target.kmsKeyId })
    : Promise.resolve(undefined);
  return exportStore;
}

async function base(): Promise<{ relayed: number; audited: number; pending: number }> {
  backend ??= createDocumentsBackend().catch((err: unknown) => {
    backend = undefined;
    throw err;
  });
  const ready = await backend;
  const result = await relayAll(ready, sealKeyFromConfig(ready.config), await auditExportStore(ready));
  metrics.addMetric('OutboxRelayed', MetricUnit.Count, result.relayed);
  metrics.addMetric('AuditEventsWritten', MetricUnit.Count, result.audited);
  metrics.addMetric('OutboxPending', MetricUnit.Count, result.pending);
  return result;
}

export const handler = middy(base)
  .use(injectLambdaContext(logger, { clearState: true }))
  .use(logMetrics(metrics));
