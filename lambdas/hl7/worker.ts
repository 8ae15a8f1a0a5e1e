/**
 * The in-process HL7 ingest worker `npm start` runs on the local queue (in AWS the same `ingestHl7` runs in the
 * hl7-ingest Lambda on the SQS FIFO queue). It receives up to `concurrency` messages — at most one per message group,
 * so one patient's events apply in order while patients run in parallel — applies each, deletes it on success and
 * releases it with its error otherwise; the queue dead-letters a message after `maxReceives` attempts.
 */

import type { QueuePort, ReceivedMessage } from '../adapters/queue/queue.js';
import { type QueueWorker, retryDelaySeconds, startQueueWorker } from '../adapters/queue/queue-worker.js';
import { describeCommonError } from '../fhir/describe-error.js';
import { InboundBodyError } from './inbound-body.js';
import type { InboundHl7, IngestResult } from './ingest.js';
import { PoisonMessageError } from './ingest.js';
import { MappingError } from './map/message.js';

export interface Hl7WorkerEvents {
  applied?(result: IngestResult, message: ReceivedMessage): void;
  /** An attempt failed; `final` when the message has used its attempts (it goes to the dead-letter queue). */
  failed?(error: { name: string; code: string; message: string }, message: ReceivedMessage, final: boolean): void;
}

export interface Hl7WorkerOptions {
  queue: QueuePort;
  queueName: string;
  /** Turns a queue body into the inbound message (JSON shape, claim-check pointer). */
  resolveBody(body: string): Promise<InboundHl7>;
  ingest(inbound: InboundHl7): Promise<IngestResult>;
  /** Messages in flight at once (distinct groups). Default 8. */
  concurrency?: number;
  maxReceives?: number;
  /** Hidden this long while processed; must exceed the slowest message. Default 60 s. */
  visibilityTimeoutSeconds?: number;
  /** Sleep when the queue is empty (a {@link Hl7Worker.notify} wakes it at once). Default 1000 ms. */
  idlePollMs?: number;
  events?: Hl7WorkerEvents;
}

/** The worker's handle; the bridge calls `notify` after an enqueue. */
export type Hl7Worker = QueueWorker;

export { retryDelaySeconds };

/** Errors no retry can fix: their message goes to the dead-letter queue without waiting between attempts. */
export const isPoison = (err: unknown): boolean => err instanceof PoisonMessageError || err instanceof InboundBodyError;

/**
 * The content-free description of an error kept with the message for the dead-letter queue and the logs. Only errors
 * whose messages PFI writes without values are quoted (poison reasons, FHIR diagnostics naming elements, SQL errors
 * with values redacted); any other error is reduced to its name.
 */
export function describeError(err: unknown): { name: string; code: string; message: string } {
  if (err instanceof PoisonMessageError) return { name: err.name, code: err.code, message: err.message };
  if (err instanceof InboundBodyError) return { name: err.name, code: 'bad-queue-body', message: err.message };
  // Raised while applying (an A47 onto an IPP another patient holds…): PFI's own texts, which name no value.
  if (err instanceof MappingError) return { name: err.name, code: err.code, message: err.message };
  return describeCommonError(err);
}

export function startHl7Worker(opts: Hl7WorkerOptions): Hl7Worker {
  return startQueueWorker<IngestResult>({
    queue: opts.queue,
    queueName: opts.queueName,
    process: async (m) => opts.ingest(await opts.resolveBody(m.body)),
    describeError,
    isPoison,
    concurrency: opts.concurrency,
    maxReceives: opts.maxReceives,
    visibilityTimeoutSeconds: opts.visibilityTimeoutSeconds,
    idlePollMs: opts.idlePollMs,
    events: { done: opts.events?.applied, failed: opts.events?.failed },
  });
}
