import { getPriority, setPriority } from 'node:os';
import { isMainThread, parentPort, type Worker, workerData } from 'node:worker_threads';
import { documentStoreFromConfig } from '../lambdas/adapters/documents/from-config.js';
import { SqlQueue } from '../lambdas/adapters/queue/sql-queue.js';
import { executorFromConfig } from '../lambdas/adapters/sql/from-config.js';
import { outboxAuditRecorder } from '../lambdas/audit/recorder.js';
import type { Config } from '../lambdas/config.js';
import { documentTriggers } from '../lambdas/documents/queues.js';
import { FhirRepository } from '../lambdas/fhir/repository/repository.js';
import { FhirService } from '../lambdas/fhir/service.js';
import { databaseArchive, documentArchive } from '../lambdas/hl7/raw-archive.js';
import type { Hl7Worker } from '../lambdas/hl7/worker.js';
import { type IngestLog, type IngestReport, startIngestWorker } from './hl7-ingest-worker.js';
import { tsWorker } from './ts-worker.js';

/**
 * The local HL7 ingest worker in its own thread, for a platform on a PostgreSQL server: mapping, validation and index
 * extraction of the FHIR writes (about 1.5 ms of CPU per message) then never run on the event loop that frames
 * messages and writes ACKs, so a sender's ACK waits for its durable enqueue only. The thread has its own connection
 * pool; the two meet in the database (the queue tables), as two processes would. An embedded database belongs to one
 * thread, so there the worker stays on the platform's event loop.
 *
 * The thread never logs: it posts its log lines (codes and ids, no content) to the platform's logger. If it dies, it
 * is started again; what it held in flight is redelivered after the visibility timeout.
 */

const ROLE = 'pfi-hl7-ingest-thread';
const RESTART_DELAY_MS = 1_000;

type ToThread = { type: 'notify' } | { type: 'idle'; id: number } | { type: 'stop' };
type Stats = Hl7Worker['stats'];
type FromThread =
  | { type: 'ready'; nice: number }
  | { type: 'report'; stats: Stats; roundTrips: number; logs: IngestLog[]; applied: boolean }
  | { type: 'idle'; id: number }
  | { type: 'stopped' };

export class IngestThreadError extends Error {
  override readonly name = 'IngestThreadError';
}

/**
 * Starts the thread and resolves once its worker is polling. `report` receives, on this thread, what the worker
 * reports.
 */
export interface IngestThread extends Hl7Worker {
  /** SQL round trips of the thread's pool (benchmarks). */
  readonly sqlRoundTrips: number;
  /** The thread's scheduling niceness, as the operating system reports it. */
  readonly nice: number;
}

export async function startIngestThread(config: Config, report: IngestReport): Promise<IngestThread> {
  const stats: Stats = { applied: 0, failed: 0, deadLettered: 0 };
  let roundTrips = 0;
  let endedRoundTrips = 0;
  // Counts of threads that ended (a restarted thread counts from zero).
  const ended: Stats = { applied: 0, failed: 0, deadLettered: 0 };
  const idleWaiters = new Map<number, () => void>();
  let nextIdleId = 0;
  let stopping = false;
  let stopped: (() => void) | undefined;
  let thread: Worker | undefined;
  let notifyPosted = false;
  let nice = 0;

  const post = (message: ToThread) => thread?.postMessage(message);

  const spawn = (): Promise<void> =>
    new Promise((resolve, reject) => {
      let ready = false;
      let last: Stats = { applied: 0, failed: 0, deadLettered: 0 };
      let lastRoundTrips = 0;
      const w = tsWorker(import.meta.url, { role: ROLE, config });
      thread = w;
      w.on('message', (m: FromThread) => {
        switch (m.type) {
          case 'ready':
            ready = true;
            nice = m.nice;
            for (const id of idleWaiters.keys()) post({ type: 'idle', id });
            resolve();
            return;
          case 'report':
            last = m.stats;
            lastRoundTrips = m.roundTrips;
            roundTrips = endedRoundTrips + m.roundTrips;
            stats.applied = ended.applied + m.stats.applied;
            stats.failed = ended.failed + m.stats.failed;
            stats.deadLettered = ended.deadLettered + m.stats.deadLettered;
            for (const line of m.logs) report.log(line);
            if (m.applied) report.applied();
            return;
          case 'idle': {
            const waiter = idleWaiters.get(m.id);
            idleWaiters.delete(m.id);
            waiter?.();
            return;
          }
          case 'stopped':
            stopped?.();
            return;
        }
      });
      w.on('error', (err) => {
        report.log({
          level: 'error',
          message: 'hl7 ingest thread failed',
          attributes: { error: err.name, ...(ready ? {} : { phase: 'start-up' }) },
        });
        if (!ready) reject(new IngestThreadError(`the HL7 ingest thread did not start: ${err.message}`));
      });
      w.on('exit', () => {
        ended.applied += last.applied;
        ended.failed += last.failed;
        ended.deadLettered += last.deadLettered;
        endedRoundTrips += lastRoundTrips;
        if (thread === w) thread = undefined;
        if (stopping) {
          stopped?.();
          return;
        }
        if (!ready) return;
        report.log({ level: 'error', message: 'hl7 ingest thread stopped; starting it again', attributes: {} });
        setTimeout(() => {
          if (!stopping) spawn().catch(() => undefined);
        }, RESTART_DELAY_MS).unref();
      });
    });

  await spawn();
  return {
    stats,
    get nice() {
      return nice;
    },
    get sqlRoundTrips() {
      return roundTrips;
    },
    notify() {
      // One notification per turn is enough: the worker receives everything visible.
      if (notifyPosted) return;
      notifyPosted = true;
      setImmediate(() => {
        notifyPosted = false;
        post({ type: 'notify' });
      });
    },
    idle() {
      const id = nextIdleId++;
      return new Promise<void>((resolve) => {
        idleWaiters.set(id, resolve);
        post({ type: 'idle', id });
      });
    },
    async stop() {
      if (stopping) return;
      stopping = true;
      const w = thread;
      if (!w) return;
      await new Promise<void>((resolve) => {
        stopped = resolve;
        w.postMessage({ type: 'stop' } satisfies ToThread);
      });
      await w.terminate();
    },
  };
}

/**
 * Lowers this thread's CPU priority (on Linux the nice value is per thread: the platform's event loop keeps its own):
 * when the cores are short, framing, enqueuing and ACKing go first and the mapping waits, which is what a sender
 * waiting for its ACK needs; with cores to spare nothing changes. Measured with `npm run bench -- hl7` on a
 * PostgreSQL server (2 cores, 2026-12-03, three runs each): nice 10, ACK p99 46–54 ms and 4,500–5,300 ACK/s against
 * 59–62 ms and 4,000–4,200 at nice 0, all applied in 16.6–16.8 s either way. Returns the nice value now in force.
 */
function lowerPriority(target: number): number {
  try {
    if (target > getPriority()) setPriority(target);
  } catch {
    // Not permitted or not supported here: the thread keeps the platform's priority.
  }
  return getPriority();
}

/** The thread: its own pool, FHIR service, queue and worker, as the platform would build them. */
async function runThread(config: Config): Promise<void> {
  const port = parentPort!;
  const nice = lowerPriority(config.hl7.workerNice);
  const db = await executorFromConfig(config.database);
  // A pool connects on its first query: ready means the database answers.
  await db.query('SELECT 1');
  const documents = await documentStoreFromConfig(config.documents);
  const service = new FhirService(new FhirRepository(db, config.maxResourceBytes), documents, documentTriggers, {
    recorder: outboxAuditRecorder(db),
    source: 'pfi-fhir-api',
  });
  const archive = config.hl7.rawArchive === 'database' ? databaseArchive(db) : documentArchive(documents);
  let logs: IngestLog[] = [];
  let applied = false;
  let flushing = false;
  const flush = () => {
    flushing = false;
    const message: FromThread = {
      type: 'report',
      stats: { ...worker.stats },
      roundTrips: db.stats.roundTrips,
      logs,
      applied,
    };
    port.postMessage(message);
    logs = [];
    applied = false;
  };
  // Reports go out once per turn: a batch of 64 messages is one post.
  const soon = () => {
    if (flushing) return;
    flushing = true;
    setImmediate(flush);
  };
  const report: IngestReport = {
    log(line) {
      logs.push(line);
      soon();
    },
    applied() {
      applied = true;
      soon();
    },
  };
  const worker = startIngestWorker({ config, db, queue: new SqlQueue(db), service, documents, archive, report });
  port.on('message', (m: ToThread) => {
    switch (m.type) {
      case 'notify':
        worker.notify();
        return;
      case 'idle':
        void worker.idle().then(() => {
          flush();
          port.postMessage({ type: 'idle', id: m.id } satisfies FromThread);
        });
        return;
      case 'stop':
        void worker
          .stop()
          .then(() => db.close())
          .catch(() => undefined)
          .finally(() => {
            flush();
            port.postMessage({ type: 'stopped' } satisfies FromThread);
          });
        return;
    }
  });
  port.postMessage({ type: 'ready', nice } satisfies FromThread);
}

if (!isMainThread && (workerData as { role?: string } | undefined)?.role === ROLE) {
  void runThread((workerData as { config: Config }).config);
}
