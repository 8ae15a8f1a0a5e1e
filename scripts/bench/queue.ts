import { parseArgs } from 'node:util';
import { SqlQueue } from '../../lambdas/adapters/queue/sql-queue.js';
import type { SqlExecutor } from '../../lambdas/adapters/sql/executor.js';
import { migrate } from '../../lambdas/adapters/sql/migrate.js';
import { createPgExecutor } from '../../lambdas/adapters/sql/pg.js';
import { createPgliteExecutor } from '../../lambdas/adapters/sql/pglite.js';
import { type ScratchDatabase, scratchDatabase } from '../scratch-database.js';
import { machineInfo, reachable } from './environment.js';
import { DEFAULT_PG_URL, redactUrl, UsageError, wholeNumber } from './fhir-options.js';
import { adtPlan, MESSAGES_PER_PATIENT } from './hl7-messages.js';
import type { Hl7Backend } from './hl7-options.js';
import { type LatencySummary, summarize } from './stats.js';

/**
 * `npm run bench -- queue`: the local queue (`SqlQueue`) alone, as the HL7 path uses it — the bridge's group commits
 * (one send per batch of messages) fill it with a burst of ADT messages, then a consumer drains it the way the ingest
 * worker does (receive a batch, delete each message). On a fresh database, so the planner's statistics are those of
 * an empty queue, as after a quiet night.
 */

export const QUEUE_BENCH_USAGE = `usage: npm run bench -- queue [options]
  --backend B        embedded, pg or both (default both)
  --messages N       ADT messages sent, then drained (default 20000)
  --send-batch N     messages per send, as the bridge's group commit writes them (default 50)
  --receive-batch N  messages per receive, as the ingest worker asks for them (default 64)
  --groups G         spread the messages over G groups (default: one per patient, 4 messages each);
                     1 is a feed whose messages all wait behind one another (no PID-3, one patient's replay)
  --pg-url URL       PostgreSQL server (default $PFI_BENCH_DATABASE_URL or ${DEFAULT_PG_URL});
                     the bench creates a database pfi_bench_<random> in it and drops it at the end`;

export interface QueueBenchOptions {
  backends: Hl7Backend[];
  messages: number;
  sendBatch: number;
  receiveBatch: number;
  /** Groups the messages are spread over; undefined: one per patient. */
  groups: number | undefined;
  pgUrl: string;
}

/** Parses the options after `queue`; throws {@link UsageError} on anything unknown or out of range. */
export function parseQueueBenchArgs(argv: string[], env: NodeJS.ProcessEnv = {}): QueueBenchOptions {
  let values: Record<string, string | undefined>;
  try {
    const text = { type: 'string' } as const;
    ({ values } = parseArgs({
      args: argv,
      options: {
        backend: text,
        messages: text,
        'send-batch': text,
        'receive-batch': text,
        groups: text,
        'pg-url': text,
      },
      allowPositionals: false,
      strict: true,
    }) as { values: Record<string, string | undefined> });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  const backend = values['backend'] ?? 'both';
  if (!['embedded', 'pg', 'both'].includes(backend)) throw new UsageError('--backend must be embedded, pg or both');
  const pgUrl = values['pg-url'] ?? env['PFI_BENCH_DATABASE_URL'] ?? DEFAULT_PG_URL;
  if (!/^postgres(ql)?:\/\//.test(pgUrl)) throw new UsageError('--pg-url must be a postgres:// URL');
  return {
    backends: backend === 'both' ? ['embedded', 'pg'] : [backend as Hl7Backend],
    messages: wholeNumber('messages', values['messages'], 1, 1_000_000) ?? 20_000,
    // The queue takes at most 1000 messages per receive; a send has no such limit, but a group commit holds 500.
    sendBatch: wholeNumber('send-batch', values['send-batch'], 1, 500) ?? 50,
    receiveBatch: wholeNumber('receive-batch', values['receive-batch'], 1, 1000) ?? 64,
    groups: wholeNumber('groups', values['groups'], 1, 1_000_000),
    pgUrl,
  };
}

export interface QueueFigures {
  messages: number;
  /** Messages per second over all the sends, and the duration of one send statement. */
  sendPerSecond: number;
  send: LatencySummary;
  /** Messages per second over the drain (receives and deletes), and the duration of one receive / one batch of deletes. */
  drainPerSecond: number;
  receive: LatencySummary;
  deleteBatch: LatencySummary;
  /** Messages received more than once or never, and received before an earlier one of their group (all must be 0). */
  duplicates: number;
  missing: number;
  outOfOrder: number;
}

const QUEUE = 'hl7-inbound';

/**
 * Fills the queue of `db` (migrated here) with `messages` ADT bodies, one patient per group (or `groups` groups), then
 * drains it, checking that each group's messages come out in send order. The
 * deletes of one receive are made together, so the queue sends them as one statement, as the worker's are.
 */
export async function measureQueue(
  db: SqlExecutor,
  opts: Pick<QueueBenchOptions, 'messages' | 'sendBatch' | 'receiveBatch'> & { groups?: number | undefined },
): Promise<QueueFigures> {
  await migrate(db);
  const queue = new SqlQueue(db);
  const plan = adtPlan(opts.messages, 1);
  const texts = plan.connections.flatMap((c) => c.texts);
  // One connection: every patient's first event, then every second event… (MSH-10 is ADT<patient × 4 + step>).
  const groups = plan.connections.flatMap((c) =>
    c.controlIds.map((id) => {
      const patient = Math.floor(Number(id.slice(3)) / MESSAGES_PER_PATIENT);
      return `IPP${opts.groups === undefined ? patient : patient % opts.groups}`;
    }),
  );
  const sendMs: number[] = [];
  const sendStart = performance.now();
  for (let i = 0; i < texts.length; i += opts.sendBatch) {
    const batch = texts.slice(i, i + opts.sendBatch).map((body, j) => ({
      body,
      groupId: `CHU-BENCH|${groups[i + j]}`,
      deduplicationId: `bench-${i + j}`,
    }));
    const t = performance.now();
    await queue.send(QUEUE, batch);
    sendMs.push(performance.now() - t);
  }
  const sendSeconds = (performance.now() - sendStart) / 1000;

  const receiveMs: number[] = [];
  const deleteMs: number[] = [];
  const seen = new Set<string>();
  let duplicates = 0;
  const sendIndex = new Map(texts.map((text, i) => [text, i]));
  const lastOfGroup = new Map<string, number>();
  let outOfOrder = 0;
  const drainStart = performance.now();
  for (;;) {
    let t = performance.now();
    const got = await queue.receive(QUEUE, {
      max: opts.receiveBatch,
      visibilityTimeoutSeconds: 300,
      maxReceives: 5,
    });
    receiveMs.push(performance.now() - t);
    if (got.length === 0) break;
    for (const m of got) {
      if (seen.has(m.id)) duplicates++;
      seen.add(m.id);
      const at = sendIndex.get(m.body) ?? -1;
      if (at <= (lastOfGroup.get(m.groupId) ?? -1)) outOfOrder++;
      lastOfGroup.set(m.groupId, at);
    }
    t = performance.now();
    await Promise.all(got.map((m) => queue.delete(QUEUE, m.receipt)));
    deleteMs.push(performance.now() - t);
  }
  const drainSeconds = (performance.now() - drainStart) / 1000;
  return {
    messages: texts.length,
    sendPerSecond: texts.length / sendSeconds,
    send: summarize(sendMs),
    drainPerSecond: seen.size / drainSeconds,
    receive: summarize(receiveMs),
    deleteBatch: summarize(deleteMs),
    duplicates,
    missing: texts.length - seen.size,
    outOfOrder,
  };
}

const log = (line: string) => process.stdout.write(`${line}\n`);
const ms = (s: LatencySummary) => `p50 ${s.p50.toFixed(2)} ms, p99 ${s.p99.toFixed(2)} ms`;

/** Runs the queue benchmark with the options after `queue`; resolves the exit code (1 when a message is lost, doubled or out of its group's order). */
export async function runQueueBench(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    log(QUEUE_BENCH_USAGE);
    return 0;
  }
  let opts: QueueBenchOptions;
  try {
    opts = parseQueueBenchArgs(argv, env);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`bench queue: ${err.message}\n${QUEUE_BENCH_USAGE}\n`);
    return 2;
  }
  const machine = machineInfo();
  log(`Queue benchmark: ${machine.cpus} × ${machine.cpuModel}, Node ${machine.node}`);
  log(
    `${opts.messages.toLocaleString('en-US')} ADT messages sent ${opts.sendBatch} per statement, then drained ` +
      `${opts.receiveBatch} per receive (deletes of a receive in one statement), ` +
      `${opts.groups === undefined ? 'one group per patient' : `over ${opts.groups.toLocaleString('en-US')} group(s)`}, on a fresh database`,
  );
  let lost = false;
  for (const backend of opts.backends) {
    let db: SqlExecutor;
    let scratch: ScratchDatabase | undefined;
    if (backend === 'pg') {
      if (!(await reachable(opts.pgUrl, 5000))) {
        log(`pg: PostgreSQL server unreachable at ${redactUrl(opts.pgUrl)}: skipped (see --pg-url)`);
        continue;
      }
      scratch = await scratchDatabase(opts.pgUrl, 'pfi_bench');
      db = createPgExecutor(scratch.url, 4);
    } else {
      db = await createPgliteExecutor();
    }
    try {
      const f = await measureQueue(db, opts);
      log(
        `${backend}: send ${Math.round(f.sendPerSecond).toLocaleString('en-US')} messages/s (${ms(f.send)} per ` +
          `send); drain ${Math.round(f.drainPerSecond).toLocaleString('en-US')} messages/s (receive ${ms(f.receive)}; ` +
          `deletes ${ms(f.deleteBatch)}); ${f.missing} missing, ${f.duplicates} duplicates, ${f.outOfOrder} out of order`,
      );
      if (f.missing > 0 || f.duplicates > 0 || f.outOfOrder > 0) lost = true;
    } finally {
      await db.close();
      await scratch?.drop();
    }
  }
  return lost ? 1 : 0;
}
