/**
 * The local HL7 ingest worker: the `hl7-inbound` queue → batches applied to the FHIR store. Built the same way on the
 * platform's event loop (embedded database) and in its own thread (PostgreSQL server, `hl7-ingest-thread.ts`); what
 * it reports goes through {@link IngestReport}, so the caller decides where logs and notifications go.
 */

import type { DocumentStore } from '../lambdas/adapters/documents/document-store.js';
import { coalesce } from '../lambdas/adapters/queue/coalesce.js';
import type { QueuePort } from '../lambdas/adapters/queue/queue.js';
import type { SqlExecutor } from '../lambdas/adapters/sql/executor.js';
import { outboxAuditRecorder } from '../lambdas/audit/recorder.js';
import type { Config } from '../lambdas/config.js';
import type { FhirService } from '../lambdas/fhir/service.js';
import { resolveInboundBody } from '../lambdas/hl7/inbound-body.js';
import { createCommitLock, type InboundHl7, ingestBatch } from '../lambdas/hl7/ingest.js';
import { HL7_INBOUND_QUEUE } from '../lambdas/hl7/queues.js';
import type { RawMessageArchive } from '../lambdas/hl7/raw-archive.js';
import { type Hl7Worker, startHl7Worker } from '../lambdas/hl7/worker.js';
import { type IngressPacer, ingressPacer, runPaced } from './ingress-pacer.js';

/** The bridge counts as busy this long after its last enqueue (MLLP senders wait for each ACK: gaps are short). */
const PACER_QUIET_MS = 50;
/**
 * Longest burst paced: longer traffic is a sustained feed the worker must keep up with (`npm run chaos -- soak`: 300
 * messages/s for 10 minutes).
 */
const PACED_BURST_MS = 10_000;

/** A log line without message content: codes, ids and counts only. */
export interface IngestLog {
  level: 'info' | 'warn' | 'error';
  message: string;
  attributes: Record<string, string | number>;
}

export interface IngestReport {
  log(line: IngestLog): void;
  /** Messages were applied: their outbox rows (lab reports, AuditEvents) are ready to relay. */
  applied(): void;
}

export interface IngestWorkerDeps {
  config: Config;
  db: SqlExecutor;
  queue: QueuePort;
  service: FhirService;
  documents: DocumentStore;
  archive: RawMessageArchive;
  report: IngestReport;
  /** Default: paced by `config.hl7.workerShareUnderLoad` (tests pass their own). */
  pacer?: IngressPacer;
  /**
   * Largest batch while a burst is paced, for a worker on the platform's event loop (embedded database): each of its
   * statements holds that loop, ACKs included, and a 64-message write takes about 80 ms there. Default: none.
   */
  batchUnderLoad?: number;
}

export function startIngestWorker(deps: IngestWorkerDeps): Hl7Worker {
  const { config, report } = deps;
  const rejectedAudit = outboxAuditRecorder(deps.db);
  const ingestDeps = {
    service: deps.service,
    documents: deps.documents,
    archive: deps.archive,
    practitioners: new Map<string, string>(),
  };
  // The messages the worker received together are applied as one batch (a few statements for all of them). While
  // one batch is written, the next is read and applied in memory; their writes run one after the other.
  const commitLock = createCommitLock();
  const pacer =
    deps.pacer ??
    ingressPacer({
      share: config.hl7.workerShareUnderLoad,
      quietMs: PACER_QUIET_MS,
      burstMs: PACED_BURST_MS,
    });
  const ingest = coalesce(
    // A batch holds one message per group: applying it in parts keeps every group's order.
    (inbounds: InboundHl7[]) =>
      runPaced(pacer, inbounds, deps.batchUnderLoad, (part) => ingestBatch(ingestDeps, part, commitLock)),
    { maxBatch: config.hl7.workerConcurrency, maxInFlight: 2 },
  );
  const worker = startHl7Worker({
    queue: deps.queue,
    queueName: HL7_INBOUND_QUEUE,
    concurrency: config.hl7.workerConcurrency * 2,
    maxReceives: config.hl7.maxReceives,
    visibilityTimeoutSeconds: config.hl7.visibilityTimeoutSeconds,
    resolveBody: (body) => resolveInboundBody(body, async (p) => (await deps.documents.get(p.key)).body),
    ingest,
    events: {
      applied: (result) => {
        report.applied();
        for (const w of result.warnings) {
          report.log({
            level: 'info',
            message: 'hl7 warning',
            attributes: { controlId: result.controlId, warning: w.code },
          });
        }
      },
      failed: (error, message, final) => {
        // A message given up on is an access event too (rejected): its AuditEvent names the queue message only.
        if (final) {
          void rejectedAudit
            .record({
              what: { kind: 'pfi', event: 'hl7-message' },
              action: 'C',
              outcome: '4',
              outcomeDesc: `${error.code}: ${error.message}`.slice(0, 500),
              agent: { subject: 'hl7:unknown-sender', requestor: true },
              source: 'pfi-hl7-ingest',
              detail: `queue message ${message.id} dead-lettered`,
            })
            .catch(() => undefined);
        }
        report.log({
          level: final ? 'error' : 'warn',
          message: final ? 'hl7 message dead-lettered' : 'hl7 attempt failed',
          attributes: {
            queueMessageId: message.id,
            attempt: message.receiveCount,
            error: error.code,
            reason: error.message,
          },
        });
      },
    },
  });
  return {
    ...worker,
    // The bridge notifies after each enqueue: that is also what tells the pacer messages are arriving.
    notify() {
      pacer.arrived();
      worker.notify();
    },
  };
}
