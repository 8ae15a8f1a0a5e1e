import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { loadConfig } from '../../lambdas/config.js';
import { openRegistry } from '../../mllp-bridge/src/registry.js';
import { createMllpServer } from '../../mllp-bridge/src/server.js';
import { HL7_INBOUND_QUEUE, startLocalPlatform } from '../local-platform.js';
import { type ScratchDatabase, scratchDatabase } from '../scratch-database.js';
import { reachable } from './environment.js';
import { redactUrl } from './fhir-options.js';
import type { MllpLoadClient } from './hl7-client-thread.js';
import type { AdtPlan } from './hl7-messages.js';
import { epochNow, startBareAckServer } from './hl7-mllp.js';
import type { Hl7Backend } from './hl7-options.js';
import { type AckFigures, ackFigures, type BackendRun, type IngestFigures, type WarmUpFigures } from './hl7-results.js';

/**
 * Part (b) of `npm run bench -- hl7`: the same MLLP load against a bare ACK server (the ceiling) and against the
 * local platform (`startLocalPlatform`, as `npm start` runs it) on a fresh embedded database or a fresh database on
 * a PostgreSQL server; then the wait until the ingest worker has applied every message, checked in the FHIR tables.
 */

const HOST = '127.0.0.1';
const APPLIED_POLL_MS = 10;
const CEILING_ROUNDS = 3;
/** Runs of the warm-up's messages (see warmUpPlatform). */
export const WARM_UP_ROUNDS = 5;

/**
 * A silent logger that counts what the platform reports: ingest warnings (`warning` codes) and failed attempts
 * (`error` codes). Codes only: the platform's log attributes never carry message content, and nothing is printed.
 */
class CountingLogger extends Logger {
  readonly warnings: Record<string, number> = {};
  readonly failures: Record<string, number> = {};

  constructor() {
    super({ logLevel: 'SILENT' });
  }

  /** Forgets what was counted so far (the warm-up's). */
  reset(): void {
    for (const counts of [this.warnings, this.failures]) for (const code of Object.keys(counts)) delete counts[code];
  }

  #count(extra: unknown[]): void {
    for (const x of extra) {
      if (typeof x !== 'object' || x === null) continue;
      const { warning, error } = x as { warning?: unknown; error?: unknown };
      if (typeof warning === 'string') this.warnings[warning] = (this.warnings[warning] ?? 0) + 1;
      if (typeof error === 'string') this.failures[error] = (this.failures[error] ?? 0) + 1;
    }
  }

  override info(...args: Parameters<Logger['info']>): void {
    this.#count(args.slice(1));
  }

  override warn(...args: Parameters<Logger['warn']>): void {
    this.#count(args.slice(1));
  }

  override error(...args: Parameters<Logger['error']>): void {
    this.#count(args.slice(1));
  }
}

export interface E2eSettings {
  plan: Pick<AdtPlan, 'messages' | 'patients' | 'stays'>;
  /** The platform's warm-up messages: an {@link adtPlan} from the plan's last patient on; undefined: no warm-up. */
  warmUp: Pick<AdtPlan, 'messages' | 'patients' | 'stays'> | undefined;
  connections: number;
  workerConcurrency: number | undefined;
  applyTimeoutSeconds: number;
  pgUrl: string;
  client: MllpLoadClient;
  log: (line: string) => void;
}

/** One warm-up run of the plan's messages against `port`, then the median of {@link CEILING_ROUNDS} by throughput. */
async function medianOfRounds(s: E2eSettings, port: number): Promise<AckFigures> {
  const req = { host: HOST, port, connections: s.connections, messages: s.plan.messages };
  await s.client.run(req);
  const rounds: AckFigures[] = [];
  for (let i = 0; i < CEILING_ROUNDS; i++) rounds.push(ackFigures(await s.client.run(req), s.plan.messages));
  rounds.sort((a, b) => a.perSecond - b.perSecond);
  return rounds[Math.floor(rounds.length / 2)]!;
}

/**
 * The bare MLLP server's figures: one warm-up run of the same messages (the client's code is cold otherwise), then
 * the median of three runs by throughput (a run of a few thousand messages lasts a fraction of a second).
 */
export async function measureCeiling(s: E2eSettings): Promise<AckFigures> {
  const bare = await startBareAckServer(HOST);
  try {
    const figures = await medianOfRounds(s, bare.port);
    s.log(
      `  ceiling: ${Math.round(figures.perSecond).toLocaleString('en-US')} ACK/s, p50 ${figures.p50.toFixed(2)} ms, ` +
        `p99 ${figures.p99.toFixed(2)} ms`,
    );
    return figures;
  } finally {
    await bare.close();
  }
}

/**
 * The platform's warm-up, as the ceiling has its own: {@link WARM_UP_ROUNDS} runs of the same `warmUp` messages over the
 * same connections (the first enqueues them, the others are duplicates: parsed, hashed and committed like any
 * message, then dropped by the queue's deduplication), then the wait until the worker has applied the first run's.
 * A platform just started runs its code cold (measured with the worker stopped, runs of 10,000 new messages on the
 * PostgreSQL server: 6,300 ACK/s in the first, 8,700–9,600 from the third; the embedded platform's first 400 messages
 * ACKed at 700/s, p99 0.5 s); the measured run then starts on a warm platform with an empty queue.
 */
async function warmUpPlatform(
  local: Awaited<ReturnType<typeof startLocalPlatform>>,
  s: E2eSettings,
): Promise<WarmUpFigures | undefined> {
  if (!s.warmUp) return undefined;
  const { messages } = s.warmUp;
  const req = { host: HOST, port: local.mllpPort, connections: s.connections, messages, firstPatient: s.plan.patients };
  const rounds: AckFigures[] = [];
  for (let i = 0; i < WARM_UP_ROUNDS; i++) rounds.push(ackFigures(await s.client.run(req), messages));
  const drainStarted = epochNow();
  const drained = await Promise.race([
    local.worker.idle().then(() => true),
    sleep(s.applyTimeoutSeconds * 1000).then(() => false),
  ]);
  if (!drained) throw new Error(`the warm-up's messages were not applied within ${s.applyTimeoutSeconds} s`);
  const figures: WarmUpFigures = {
    messages,
    rounds: WARM_UP_ROUNDS,
    first: rounds[0]!,
    last: rounds[rounds.length - 1]!,
    drainSeconds: (epochNow() - drainStarted) / 1000,
  };
  const rate = (a: AckFigures) => `${Math.round(a.perSecond).toLocaleString('en-US')} ACK/s`;
  s.log(
    `  warm-up: ${messages.toLocaleString('en-US')} messages × ${WARM_UP_ROUNDS} (first run ${rate(figures.first)}, ` +
      `last ${rate(figures.last)}); applied ${figures.drainSeconds.toFixed(1)} s after its last ACK`,
  );
  return figures;
}

/**
 * The bridge's own rate: the platform's MLLP server (framing, MSH decoding, partner check, deduplication hash, ACK)
 * with an enqueue that resolves at once, measured as the ceiling is. Not a target: it shows how much of the gap to
 * the bare server is the bridge's work and how much the durable enqueue.
 */
export async function measureBridgeAlone(s: E2eSettings): Promise<AckFigures> {
  const bridge = createMllpServer({ enqueue: () => Promise.resolve(), registry: openRegistry() });
  try {
    const port = await bridge.listen(0, HOST);
    const figures = await medianOfRounds(s, port);
    s.log(
      `  bridge without queue: ${Math.round(figures.perSecond).toLocaleString('en-US')} ACK/s, p50 ` +
        `${figures.p50.toFixed(2)} ms, p99 ${figures.p99.toFixed(2)} ms`,
    );
    return figures;
  } finally {
    await bridge.close();
  }
}

/** Resolves after `ms` unless the process has nothing else to do (the timer does not keep it alive). */
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/** Runs the load against the local platform on `backend`; a PostgreSQL server that does not answer is skipped. */
export async function measurePlatform(backend: Hl7Backend, s: E2eSettings): Promise<BackendRun> {
  const env: NodeJS.ProcessEnv = {
    PFI_HTTP_PORT: '0',
    PFI_MLLP_PORT: '0',
    PFI_SMTP_SINK_PORT: '0',
    PFI_LOG_LEVEL: 'SILENT',
    ...(s.workerConcurrency === undefined ? {} : { PFI_HL7_WORKER_CONCURRENCY: String(s.workerConcurrency) }),
  };
  let database: ScratchDatabase | undefined;
  if (backend === 'pg') {
    if (!(await reachable(s.pgUrl, 5000))) {
      return { backend, skipped: `PostgreSQL server unreachable at ${redactUrl(s.pgUrl)}: skipped (see --pg-url)` };
    }
    database = await scratchDatabase(s.pgUrl, 'pfi_bench');
    env['DATABASE_URL'] = database.url;
    s.log(`  database ${database.name} created on ${redactUrl(s.pgUrl)}`);
  }
  const dataDir = await mkdtemp(join(tmpdir(), 'pfi-bench-hl7-'));
  env['PFI_DATA_DIR'] = dataDir;
  try {
    const started = epochNow();
    const logger = new CountingLogger();
    const local = await startLocalPlatform(loadConfig(env), { logger });
    const startSeconds = (epochNow() - started) / 1000;
    const { messages } = s.plan;
    let appliedAt: number | undefined;
    let poll: NodeJS.Timeout | undefined;
    try {
      const warmUp = await warmUpPlatform(local, s);
      // The figures below are the measured run's: the worker's counters include the warm-up's messages.
      logger.reset();
      const appliedBefore = local.worker.stats.applied;
      const failedBefore = local.worker.stats.failed;
      const applied = () => local.worker.stats.applied - appliedBefore;
      poll = setInterval(() => {
        if (appliedAt === undefined && applied() >= messages) appliedAt = epochNow();
      }, APPLIED_POLL_MS);
      const tripsBefore = local.sqlRoundTrips();
      const result = await s.client.run({ host: HOST, port: local.mllpPort, messages, connections: s.connections });
      const ack = ackFigures(result, messages);
      const appliedAtLastAck = applied();
      s.log(
        `  ${backend}: ${Math.round(ack.perSecond).toLocaleString('en-US')} ACK/s, p50 ${ack.p50.toFixed(1)} ms, ` +
          `p99 ${ack.p99.toFixed(1)} ms, AA ${ack.aa}/${messages}; ${appliedAtLastAck.toLocaleString('en-US')} applied ` +
          'at the last ACK, waiting for the rest',
      );
      // idle(): nothing visible or in flight (retries included); dead letters do not count.
      const timedOut = await Promise.race([
        local.worker.idle().then(() => false),
        sleep(s.applyTimeoutSeconds * 1000).then(() => true),
      ]);
      if (appliedAt === undefined && applied() >= messages) appliedAt = epochNow();
      const elapsedSeconds = (epochNow() - result.startedAt) / 1000;
      const trips = local.sqlRoundTrips() - tripsBefore;
      const depth = await local.queue.depth(HL7_INBOUND_QUEUE);
      const rows = await local.platform.db.query<{ resource_type: string; n: number }>(
        `SELECT resource_type, count(*)::int AS n FROM resource
         WHERE NOT deleted AND resource_type IN ('Patient', 'Encounter', 'Provenance') GROUP BY resource_type`,
      );
      const count = (type: string) => rows.rows.find((r) => r.resource_type === type)?.n ?? 0;
      const ingest: IngestFigures = {
        allAppliedSeconds: appliedAt === undefined ? undefined : (appliedAt - result.startedAt) / 1000,
        elapsedSeconds,
        appliedAtLastAck,
        applied: applied(),
        failedAttempts: local.worker.stats.failed - failedBefore,
        failures: { ...logger.failures },
        warnings: { ...logger.warnings },
        deadLetters: depth.deadLetter,
        sqlPerMessage: trips / messages,
        counts: { Patient: count('Patient'), Encounter: count('Encounter'), Provenance: count('Provenance') },
        // The store also holds the warm-up's resources.
        expected: {
          Patient: s.plan.patients + (s.warmUp?.patients ?? 0),
          Encounter: s.plan.stays + (s.warmUp?.stays ?? 0),
          Provenance: messages + (s.warmUp?.messages ?? 0),
        },
      };
      s.log(
        `  ${backend}: ${
          ingest.allAppliedSeconds === undefined
            ? `NOT all applied${timedOut ? ` after waiting ${s.applyTimeoutSeconds} s` : ''}`
            : `all applied ${ingest.allAppliedSeconds.toFixed(1)} s after the first send`
        }; queue: ${depth.visible} visible, ${depth.inFlight} in flight, ${depth.deadLetter} dead letters`,
      );
      return { backend, ack, ingest, startSeconds, ...(warmUp ? { warmUp } : {}) };
    } finally {
      clearInterval(poll);
      await local.stop();
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true });
    await database?.drop();
  }
}
