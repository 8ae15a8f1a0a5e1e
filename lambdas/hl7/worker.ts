/**
 * The in-process HL7 ingest worker `npm start` runs on the local queue (in AWS the same `ingestHl7` runs in the
 * hl7-ingest Lambda on the SQS FIFO queue). It receives up to `concurrency` messages — at most one per message group,
 * so one patient's events apply in order while patients run in parallel — applies each, deletes it on success and
 * releases it with its error otherwise; the queue dead-letters a message after `maxReceives` attempts.
 */

import type { QueuePort, ReceivedMessage } from '../adapters/queue/queue.js';
import { SqlError } from '../adapters/sql/executor.js';
import { FhirError } from '../fhir/errors.js';
import { InboundBodyError } from './inbound-body.js';
import type { InboundHl7, IngestResult } from './ingest.js';
import { PoisonMessageError } from './ingest.js';

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

export interface Hl7Worker {
  /** Wakes an idle worker (the bridge calls it after an enqueue). */
  notify(): void;
  /** Resolves when the queue has nothing visible or in flight (tests, benchmarks). */
  idle(): Promise<void>;
  /** Stops receiving, waits for the messages in flight. */
  stop(): Promise<void>;
  readonly stats: { applied: number; failed: number; deadLettered: number };
}

/** Redelivery delay after a failed attempt: 1, 2, 4… seconds, at most 60. */
export const retryDelaySeconds = (receiveCount: number): number => Math.min(60, 2 ** Math.max(0, receiveCount - 1));

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
  if (err instanceof FhirError) {
    const detail = err.issues.map((i) => i.diagnostics ?? i.code).join('; ');
    return { name: err.name, code: `fhir-${err.status}`, message: detail.slice(0, 1000) };
  }
  if (err instanceof SqlError)
    return { name: err.name, code: `sql-${err.code ?? 'error'}`, message: err.message.slice(0, 1000) };
  if (err instanceof Error) return { name: err.name, code: 'error', message: err.name };
  return { name: 'Error', code: 'error', message: 'unknown error' };
}

/** Event hooks are observers: their failure must not change what happens to the message. */
function safely(fn: () => void): void {
  try {
    fn();
  } catch {
    // ignored on purpose
  }
}

export function startHl7Worker(opts: Hl7WorkerOptions): Hl7Worker {
  const concurrency = opts.concurrency ?? 8;
  const maxReceives = opts.maxReceives ?? 5;
  const visibility = opts.visibilityTimeoutSeconds ?? 60;
  const idlePollMs = opts.idlePollMs ?? 1000;
  const stats = { applied: 0, failed: 0, deadLettered: 0 };
  let stopped = false;
  let wake: (() => void) | undefined;
  let idleWaiters: (() => void)[] = [];
  let notified = false;

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        if (wake === done) wake = undefined;
        resolve();
      }
      wake = done;
    });

  async function handle(m: ReceivedMessage): Promise<void> {
    let result: IngestResult;
    try {
      const inbound = await opts.resolveBody(m.body);
      result = await opts.ingest(inbound);
    } catch (err) {
      const error = describeError(err);
      const final = m.receiveCount >= maxReceives;
      stats.failed++;
      if (final) stats.deadLettered++;
      safely(() => opts.events?.failed?.(error, m, final));
      await opts.queue
        .release(opts.queueName, m.receipt, {
          delaySeconds: final || isPoison(err) ? 0 : retryDelaySeconds(m.receiveCount),
          error: `${error.name} (${error.code}): ${error.message}`,
        })
        .catch(() => undefined);
      return;
    }
    stats.applied++;
    // Applied and committed: a delete that fails (receipt gone stale after a visibility timeout) only means the
    // message comes again, and its redelivery changes nothing.
    await opts.queue.delete(opts.queueName, m.receipt).catch(() => undefined);
    safely(() => opts.events?.applied?.(result, m));
  }

  // A pipeline rather than batches: a slow message holds only its own slot. New messages are received once half the
  // slots are free (fewer receive statements), or at once when the worker has nothing in flight.
  const inFlight = new Set<Promise<void>>();
  const refillAt = Math.max(1, Math.floor(concurrency / 2));
  const loop = (async () => {
    while (!stopped) {
      const free = concurrency - inFlight.size;
      if (inFlight.size > 0 && free < refillAt) {
        await Promise.race(inFlight);
        continue;
      }
      let batch: ReceivedMessage[] = [];
      try {
        notified = false;
        batch = await opts.queue.receive(opts.queueName, {
          max: free,
          visibilityTimeoutSeconds: visibility,
          maxReceives,
        });
      } catch {
        // Database briefly unavailable: retry after a pause rather than crash the platform.
        await sleep(idlePollMs);
        continue;
      }
      for (const m of batch) {
        const p: Promise<void> = handle(m).finally(() => {
          inFlight.delete(p);
          wake?.();
        });
        inFlight.add(p);
      }
      if (batch.length > 0) continue;
      if (inFlight.size > 0) {
        // Nothing deliverable now: the next completion (which may free its group) or an enqueue wakes us.
        if (!notified) await Promise.race([...inFlight, sleep(idlePollMs)]);
        continue;
      }
      const depth = await opts.queue.depth(opts.queueName).catch(() => undefined);
      if (depth && depth.visible === 0 && depth.inFlight === 0) {
        for (const w of idleWaiters) w();
        idleWaiters = [];
      }
      if (!notified && !stopped) await sleep(idlePollMs);
    }
    await Promise.all(inFlight);
  })();

  return {
    notify() {
      notified = true;
      wake?.();
    },
    idle() {
      if (stopped) return Promise.resolve();
      return new Promise<void>((resolve) => {
        idleWaiters.push(resolve);
        wake?.();
      });
    },
    async stop() {
      stopped = true;
      wake?.();
      await loop;
      for (const w of idleWaiters) w();
      idleWaiters = [];
    },
    stats,
  };
}
