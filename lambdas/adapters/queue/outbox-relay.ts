/**
 * The outbox relay: messages committed in the `outbox` table with the FHIR change that triggers them (a lab report
 * to turn into a CDA, a Communication to send over MSSanté) are moved to their queue afterwards, so a change is never
 * committed without its work, nor its work queued for a change that rolled back.
 *
 * Delivery is at least once: rows are marked relayed after the send, so a crash in between sends them again. The
 * deduplication id is the outbox sequence number (SQS FIFO drops a resend within 5 minutes) and every consumer is
 * idempotent anyway.
 */

import type { SqlExecutor } from '../sql/executor.js';
import type { OutgoingMessage } from './queue.js';
import { SqlQueue } from './sql-queue.js';

/** Where the messages of one outbox topic go. */
export interface OutboxRoute {
  queue: string;
  /** The FIFO group of a message (its ordering key), from its payload. */
  groupId(payload: string): string;
}

/** The part of the queue port the relay needs (SQS in AWS). */
export interface QueueSender {
  send(queue: string, messages: OutgoingMessage[]): Promise<void>;
}

export interface RelayOptions {
  /** Rows per run. Default 100. */
  max?: number;
  /**
   * The queue lives in the same database (the embedded queue): the send and the mark commit together, so there is no
   * duplicate at all. Otherwise `sender` is called before the rows are marked.
   */
  sender: QueueSender | 'same-database';
}

const SELECT_PENDING = `SELECT seq::text AS seq, topic, payload FROM outbox
  WHERE relayed_at IS NULL AND topic IN (SELECT jsonb_array_elements_text($1::jsonb)) ORDER BY outbox.seq LIMIT $2::int FOR UPDATE SKIP LOCKED`;
const MARK_RELAYED = `UPDATE outbox SET relayed_at = now() WHERE seq = ANY(ARRAY(SELECT jsonb_array_elements_text($1::jsonb)::bigint))`;
const BACKLOG = `SELECT topic, count(*)::int AS n FROM outbox WHERE relayed_at IS NULL GROUP BY topic ORDER BY topic`;

/**
 * Relays up to `max` pending outbox rows of the routed topics, oldest first; concurrent relays skip each other's rows.
 * Rows of a topic no route names stay in the outbox (see {@link outboxBacklog}). Returns how many were relayed.
 *
 * @example
 * await relayOutbox(db, { 'cda-lab-report': { queue: 'cda', groupId: (p) => JSON.parse(p).diagnosticReport } },
 *   { sender: 'same-database' });
 */
export async function relayOutbox(
  db: SqlExecutor,
  routes: Readonly<Record<string, OutboxRoute>>,
  opts: RelayOptions,
): Promise<number> {
  const topics = Object.keys(routes);
  const max = opts.max ?? 100;
  return db.transaction(async (tx) => {
    const pending = await tx.query<{ seq: string; topic: string; payload: string }>(SELECT_PENDING, [
      JSON.stringify(topics),
      max,
    ]);
    if (pending.rows.length === 0) return 0;
    const byQueue = new Map<string, OutgoingMessage[]>();
    for (const row of pending.rows) {
      const route = routes[row.topic]!;
      const list = byQueue.get(route.queue) ?? [];
      list.push({ body: row.payload, groupId: route.groupId(row.payload), deduplicationId: `outbox-${row.seq}` });
      byQueue.set(route.queue, list);
    }
    const sender = opts.sender === 'same-database' ? new SqlQueue(tx) : opts.sender;
    for (const [queue, messages] of byQueue) await sender.send(queue, messages);
    await tx.query(MARK_RELAYED, [JSON.stringify(pending.rows.map((r) => r.seq))]);
    return pending.rows.length;
  });
}

/** Pending (not yet relayed) outbox rows per topic: health and alarms. */
export async function outboxBacklog(db: SqlExecutor): Promise<Record<string, number>> {
  const res = await db.query<{ topic: string; n: number }>(BACKLOG, [], { readOnly: true });
  return Object.fromEntries(res.rows.map((r) => [r.topic, r.n]));
}

/** Deletes relayed rows older than `days` (they only help to diagnose); returns how many. */
export async function purgeRelayedOutbox(db: SqlExecutor, days: number): Promise<number> {
  const res = await db.query(
    `DELETE FROM outbox WHERE relayed_at IS NOT NULL AND relayed_at < now() - $1::int * interval '1 day'`,
    [days],
  );
  return res.rowCount;
}

export interface OutboxRelayLoop {
  /** Relay now (a producer just committed outbox rows). */
  notify(): void;
  /** Stops after the run in progress. */
  stop(): Promise<void>;
}

/**
 * Relays the outbox continuously in-process (`npm start`): a run every `intervalMs`, at once when notified, and
 * again without waiting while runs are full. A failed run (database briefly unavailable) is retried next tick.
 */
export function startOutboxRelay(opts: {
  db: SqlExecutor;
  routes: Readonly<Record<string, OutboxRoute>>;
  sender: QueueSender | 'same-database';
  intervalMs?: number;
  max?: number;
  /** Called after a run relayed rows (wake the consumers). */
  onRelayed?(count: number): void;
  onError?(err: unknown): void;
}): OutboxRelayLoop {
  const max = opts.max ?? 100;
  let stopped = false;
  let wake: (() => void) | undefined;
  let pending = false;
  const loop = (async () => {
    while (!stopped) {
      pending = false;
      let count = 0;
      try {
        count = await relayOutbox(opts.db, opts.routes, { sender: opts.sender, max });
        if (count > 0) opts.onRelayed?.(count);
      } catch (err) {
        opts.onError?.(err);
      }
      if (count >= max || pending || stopped) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, opts.intervalMs ?? 500);
        function done() {
          clearTimeout(timer);
          wake = undefined;
          resolve();
        }
        wake = done;
      });
    }
  })();
  return {
    notify() {
      pending = true;
      wake?.();
    },
    async stop() {
      stopped = true;
      wake?.();
      await loop;
    },
  };
}
