/**
 * An in-process consumer of a {@link QueuePort} queue (what `npm start` runs for each queue; in AWS a Lambda event
 * source does the same job). It receives up to `concurrency` messages — at most one per message group, so a group's
 * messages are processed in order while groups run in parallel — processes each, deletes it on success and releases
 * it with its (content-free) error otherwise; the queue dead-letters a message after `maxReceives` attempts.
 */

import type { QueuePort, ReceivedMessage } from './queue.js';

/** A content-free description of a failure, kept with the message for the dead-letter queue and the logs. */
export interface FailureDescription {
  name: string;
  code: string;
  message: string;
}

export interface QueueWorkerEvents<R> {
  done?(result: R, message: ReceivedMessage): void;
  /** An attempt failed; `final` when the message has used its attempts (it goes to the dead-letter queue). */
  failed?(error: FailureDescription, message: ReceivedMessage, final: boolean): void;
}

export interface QueueWorkerOptions<R> {
  queue: QueuePort;
  queueName: string;
  process(message: ReceivedMessage): Promise<R>;
  /** Never quotes personal data: only what the error's code and PFI-written message say. */
  describeError(err: unknown): FailureDescription;
  /** Errors no retry can fix: no delay before the next (final) attempts. Default: none. */
  isPoison?(err: unknown): boolean;
  /** Redelivery delay after a failed attempt. Default {@link retryDelaySeconds}. */
  retryDelaySeconds?(receiveCount: number, err: unknown): number;
  /** Messages in flight at once (distinct groups). Default 8. */
  concurrency?: number;
  maxReceives?: number;
  /** Hidden this long while processed; must exceed the slowest message. Default 60 s. */
  visibilityTimeoutSeconds?: number;
  /** Sleep when the queue is empty (a {@link QueueWorker.notify} wakes it at once). Default 1000 ms. */
  idlePollMs?: number;
  events?: QueueWorkerEvents<R>;
}

export interface QueueWorker {
  /** Wakes an idle worker (producers call it after a send). */
  notify(): void;
  /** Resolves when the queue has nothing visible or in flight (tests, benchmarks). */
  idle(): Promise<void>;
  /** Stops receiving, waits for the messages in flight. */
  stop(): Promise<void>;
  readonly stats: { applied: number; failed: number; deadLettered: number };
}

/** Redelivery delay after a failed attempt: 1, 2, 4… seconds, at most 60. */
export const retryDelaySeconds = (receiveCount: number): number => Math.min(60, 2 ** Math.max(0, receiveCount - 1));

/** Event hooks are observers: their failure must not change what happens to the message. */
function safely(fn: () => void): void {
  try {
    fn();
  } catch {
    // ignored on purpose
  }
}

export function startQueueWorker<R>(opts: QueueWorkerOptions<R>): QueueWorker {
  const concurrency = opts.concurrency ?? 8;
  const maxReceives = opts.maxReceives ?? 5;
  const visibility = opts.visibilityTimeoutSeconds ?? 60;
  const idlePollMs = opts.idlePollMs ?? 1000;
  const delayOf = opts.retryDelaySeconds ?? retryDelaySeconds;
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
    let result: R;
    try {
      result = await opts.process(m);
    } catch (err) {
      const error = opts.describeError(err);
      const final = m.receiveCount >= maxReceives;
      stats.failed++;
      if (final) stats.deadLettered++;
      safely(() => opts.events?.failed?.(error, m, final));
      await opts.queue
        .release(opts.queueName, m.receipt, {
          delaySeconds: final || opts.isPoison?.(err) ? 0 : delayOf(m.receiveCount, err),
          error: `${error.name} (${error.code}): ${error.message}`,
        })
        .catch(() => undefined);
      return;
    }
    stats.applied++;
    // Processed and committed: a delete that fails (receipt gone stale after a visibility timeout) only means the
    // message comes again, and processing is idempotent.
    await opts.queue.delete(opts.queueName, m.receipt).catch(() => undefined);
    safely(() => opts.events?.done?.(result, m));
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
        // Nothing deliverable now: the next completion (which may free its group) or a send wakes us.
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
