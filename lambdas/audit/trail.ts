/**
 * The audit trail's background work in one step: outbox → AuditEvent resources (./writer.ts), then chaining and
 * sealing (./chain.ts). `npm start` runs it every second; in AWS the scheduled outbox-relay function does.
 */

import type { DocumentStore } from '../adapters/documents/document-store.js';
import type { SqlExecutor } from '../adapters/sql/executor.js';
import type { FhirRepository } from '../fhir/repository/repository.js';
import { chainAuditEvents } from './chain.js';
import { exportSealedBatches } from './export.js';
import type { SealKey } from './seal-key.js';
import { writeAuditEvents } from './writer.js';

const BATCH = 500;

/** Writes every pending AuditEvent (up to `maxBatches` batches), then chains and seals. */
export async function runAuditTrail(
  db: SqlExecutor,
  repo: FhirRepository,
  key: SealKey,
  opts: { maxBatches?: number; now?: Date; exportTo?: DocumentStore } = {},
): Promise<{ written: number; chained: number; sealed: boolean; exported: number }> {
  let written = 0;
  for (let i = 0; i < (opts.maxBatches ?? 20); i++) {
    const n = await writeAuditEvents(db, repo, BATCH);
    written += n;
    if (n < BATCH) break;
  }
  const chain = await chainAuditEvents(db, key, { now: opts.now });
  const exported = opts.exportTo ? await exportSealedBatches(db, opts.exportTo) : 0;
  return { written, ...chain, exported };
}

/** Runs {@link runAuditTrail} every `intervalMs` until stopped; a failed run is retried next tick. */
export function startAuditTrail(opts: {
  db: SqlExecutor;
  repo: FhirRepository;
  key: SealKey;
  intervalMs?: number;
  onError?(err: unknown): void;
}): { stop(): Promise<void>; runNow(): Promise<void> } {
  let stopped = false;
  let running: Promise<void> = Promise.resolve();
  const run = () => {
    running = running
      .then(() => runAuditTrail(opts.db, opts.repo, opts.key))
      .then(
        () => undefined,
        (err: unknown) => opts.onError?.(err),
      );
    return running;
  };
  const timer = setInterval(() => {
    if (!stopped) void run();
  }, opts.intervalMs ?? 1000);
  timer.unref();
  return {
    runNow: run,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
      // A last run so what was recorded before the stop is written and chained.
      await runAuditTrail(opts.db, opts.repo, opts.key).catch((err: unknown) => opts.onError?.(err));
    },
  };
}
