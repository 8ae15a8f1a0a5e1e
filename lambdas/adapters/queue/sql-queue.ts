import { type SqlExecutor, sqlJson } from '../sql/executor.js';
import { coalesce, type Settled } from './coalesce.js';
import {
  DEAD_LETTER_SUFFIX,
  type OutgoingMessage,
  type QueueDepth,
  QueueInputError,
  type QueuePort,
  type ReceivedMessage,
  type ReceiveOptions,
  type ReleaseOptions,
  StaleReceiptError,
} from './queue.js';

/**
 * Embedded queue adapter: the queue port on the SQL executor (tables of migration 0002), one statement
 * per call, so it works on PGlite, `pg` and the Data API alike and several processes can share it.
 *
 * All times are the database's (`now()`), so consumers on different hosts agree on visibility.
 */

export interface SqlQueueOptions {
  /** How long a deduplication id blocks a resend; SQS FIFO uses 5 minutes. */
  readonly deduplicationWindowSeconds?: number;
  /** Seconds between the background prunes of expired deduplication ids `send` starts. Default 5. */
  readonly pruneIntervalSeconds?: number;
}

const QUEUE_NAME = /^[A-Za-z0-9_.-]{1,80}$/;
const MAX_ID_LENGTH = 128;
const MAX_RECEIVE = 1000;
/**
 * Groups a receive looks at one by one before it walks the queue in id order instead (see RECEIVE): enough that a
 * queue holding fewer groups than the receive asks for messages never needs the walk. Only after a receive that
 * returned fewer messages than it asked for: while receives come back full, the walk finds its messages without
 * reading a backlog, and listing the groups first cost 3 ms of a 7 ms receive (20,000 messages in 5,000 groups).
 */
const groupScanLimit = (max: number): number => Math.max(256, 2 * max);
const VACUUM_EVERY_DELETES = 1000;
// Expired deduplication rows removed by one prune; a full prune is followed by another at the next send.
const PRUNE_BATCH = 10_000;
// Seconds between prunes of one queue's expired deduplication rows (made by `send`, in the background).
const PRUNE_INTERVAL_SECONDS = 5;

/*
 * Deduplication lives in its own table, not in a unique index on the messages: a message is often
 * processed and deleted well within the window, and its resend must still be dropped. One row per
 * (queue, deduplication id): a resend inside the window conflicts and is dropped; a resend after it
 * takes the row over (ON CONFLICT … DO UPDATE … WHERE expired), so an expired row never blocks.
 * Expired rows are removed apart (PRUNE), never by the send itself: a send that also looked for
 * expired rows walked the dead entries its predecessors left at the head of the expiry index (or
 * scanned the table: a generic plan guesses a third of the rows expired), 45–90 ms per send once
 * the window had passed on a busy queue, which cut the MLLP bridge's ACK rate by two thirds.
 */
const SEND = `WITH input AS (
    SELECT * FROM jsonb_to_recordset($2::jsonb) AS r(i int, body text, group_id text, dedup_id text)
  ),
  firsts AS (
    SELECT DISTINCT ON (dedup_id) i, dedup_id FROM input ORDER BY dedup_id, i
  ),
  claimed AS (
    INSERT INTO queue_dedup AS d (queue, deduplication_id, sent_at)
    SELECT $1::text, dedup_id, now() FROM firsts ORDER BY dedup_id
    ON CONFLICT (queue, deduplication_id) DO UPDATE SET sent_at = excluded.sent_at
      WHERE d.sent_at <= excluded.sent_at - $3::float8 * interval '1 second'
    RETURNING d.deduplication_id
  )
  INSERT INTO queue_message (queue, group_id, body, sent_at, visible_at)
  SELECT $1::text, input.group_id, input.body, now(), now()
  FROM input
  JOIN firsts ON firsts.i = input.i
  JOIN claimed ON claimed.deduplication_id = input.dedup_id
  ORDER BY input.i`;

/** Expired deduplication rows, oldest first, at most PRUNE_BATCH (rows another session holds are skipped). */
const PRUNE = `DELETE FROM queue_dedup WHERE (queue, deduplication_id) IN (
    SELECT x.queue, x.deduplication_id FROM queue_dedup x
    WHERE x.queue = $1::text AND x.sent_at <= now() - $2::float8 * interval '1 second'
    ORDER BY x.sent_at
    LIMIT ${PRUNE_BATCH}
    FOR UPDATE SKIP LOCKED
  )`;

/*
 * A message is deliverable when it is visible, is the oldest of its group (so a released message
 * holds its group back until it is redelivered), and nothing of its group is hidden (a message sent
 * concurrently can get a smaller id than one already in flight). Both group conditions are one probe of
 * the group's rows in id order (`queue_message_group`): an older row ends it at once, otherwise it reads
 * the group's later rows for one in flight.
 *
 * The queue is walked in id order one row at a time (`walk`: each step is "the next id after this one",
 * an index probe) until `$2` deliverable messages are found. Written as one ordered scan under a LIMIT,
 * the plan depended on the statistics: a planner that believed the queue nearly empty (autovacuum
 * analyzes once a minute, a burst fills the queue in seconds) read and checked the whole backlog, then
 * sorted it, on every receive (41 ms against 1 ms for 64 messages out of 10,000).
 *
 * Dead letters come from the same walk: a message past its last attempt is moved to `<queue>-dlq` by the
 * receive that would have delivered it once more (that receive returns fewer messages). Rows are locked
 * with SKIP LOCKED; a row another consumer took meanwhile fails the `visible_at` recheck and is skipped.
 * Every step reaches its rows by key or by address (the locked rows' ctid, stable while they are locked),
 * never by a join the planner could turn into a scan of the table. Two consumers receiving at the same
 * instant walk to the same messages: the later one skips those the first locked and returns fewer (the
 * next receive walks past them, hidden by then). A walk visits the rows waiting behind an older message
 * of their group, so one group holding most of a large backlog would make each receive read that backlog
 * (2,000 messages of one group drained at 25–36 messages/s, one per receive).
 *
 * So a receive may first list the groups (`heads`: each step is "the first row of the next group", one
 * probe of `queue_message_group`), up to `$5` of them (0 after a full receive: see groupScanLimit). When
 * the queue holds no more groups than that, the oldest message of each group is the only candidate and the
 * walk does not run; otherwise the list is dropped and the queue is walked as above. The one check left
 * that reads a whole group is, for its oldest message, whether any of its messages is in flight.
 *
 * No index on `receive_count`, `receipt` or `visible_at` (migration 0011): the receive's UPDATE then
 * changes no indexed column and stays on its page (HOT), writing no index entry. The receipt starts with
 * the message id, so delete and release reach the row by its primary key.
 */
const RECEIVE = `WITH RECURSIVE heads (group_id, id, n) AS (
      (SELECT m.group_id, m.id, 1 FROM queue_message m WHERE m.queue = $1::text ORDER BY m.group_id, m.id LIMIT 1)
    UNION ALL
      SELECT nx.group_id, nx.id, h.n + 1
      FROM heads h, LATERAL (
        SELECT m.group_id, m.id FROM queue_message m
        WHERE m.queue = $1::text AND m.group_id > h.group_id
        ORDER BY m.group_id, m.id LIMIT 1
      ) nx
      WHERE h.n <= $5::int
  ),
  few AS (
    SELECT count(*) <= $5::int AS groups FROM heads
  ),
  walk (id, ok, found) AS (
      SELECT 0::bigint, false, 0 WHERE NOT (SELECT groups FROM few)
    UNION ALL
      SELECT nx.id, nx.ok, w.found + nx.ok::int
      FROM walk w, LATERAL (
        SELECT m.id, m.visible_at <= now() AND NOT EXISTS (
            SELECT 1 FROM queue_message e
            WHERE e.queue = m.queue AND e.group_id = m.group_id AND (e.id < m.id OR e.visible_at > now())
          ) AS ok
        FROM queue_message m WHERE m.queue = $1::text AND m.id > w.id
        ORDER BY m.id LIMIT 1
      ) nx
      WHERE w.found < $2::int
  ),
  candidates AS (
      (SELECT c.id FROM heads h, LATERAL (
        SELECT m.id FROM queue_message m
        WHERE m.id = h.id AND m.queue = $1::text AND m.visible_at <= now() AND NOT EXISTS (
            SELECT 1 FROM queue_message e WHERE e.queue = m.queue AND e.group_id = m.group_id AND e.visible_at > now()
          )
        LIMIT 1
      ) c
      WHERE (SELECT groups FROM few)
      ORDER BY c.id LIMIT $2::int)
    UNION ALL
      SELECT id FROM walk WHERE ok
  ),
  picked AS (
    SELECT l.row_address, l.dead FROM candidates w, LATERAL (
      SELECT m.ctid AS row_address, m.receive_count >= $4::int AS dead FROM queue_message m
      WHERE m.id = w.id AND m.queue = $1::text AND m.visible_at <= now()
      FOR UPDATE SKIP LOCKED
    ) l
  ),
  moved AS (
    UPDATE queue_message m SET queue = $1::text || '${DEAD_LETTER_SUFFIX}', receipt = NULL, visible_at = now()
    WHERE m.ctid = ANY (ARRAY(SELECT row_address FROM picked WHERE dead))
  ),
  taken AS (
    UPDATE queue_message m
    SET receive_count = m.receive_count + 1,
      receipt = m.id::text || ':' || gen_random_uuid()::text,
      visible_at = now() + $3::float8 * interval '1 second'
    WHERE m.ctid = ANY (ARRAY(SELECT row_address FROM picked WHERE NOT dead))
    RETURNING m.id, m.body, m.group_id, m.receive_count, m.receipt, m.sent_at, m.last_error
  )
  SELECT taken.id::text AS id, body, group_id, receive_count, receipt, last_error,
    to_char(sent_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS sent_at
  FROM taken ORDER BY taken.id`;

// `= ANY (ARRAY(…))`: probes the primary key per id, whatever the planner guesses of the list's size.
const DELETE = `DELETE FROM queue_message
  WHERE id = ANY (ARRAY(SELECT jsonb_array_elements_text($2::jsonb)::bigint)) AND queue = $1::text
    AND receipt = ANY (ARRAY(SELECT jsonb_array_elements_text($3::jsonb)))
  RETURNING receipt`;
// Deletes made together (a worker's batch) share one statement.
const MAX_DELETE_BATCH = 500;

const RELEASE = `UPDATE queue_message
  SET visible_at = now() + $3::float8 * interval '1 second', receipt = NULL, last_error = coalesce($4::text, last_error)
  WHERE id = $5::bigint AND queue = $1::text AND receipt = $2::text`;

const DEPTH = `SELECT
    count(*) FILTER (WHERE queue = $1::text AND visible_at <= now())::int AS visible,
    count(*) FILTER (WHERE queue = $1::text AND visible_at > now())::int AS in_flight,
    count(*) FILTER (WHERE queue = $1::text || '${DEAD_LETTER_SUFFIX}')::int AS dead_letter
  FROM queue_message WHERE queue IN ($1::text, $1::text || '${DEAD_LETTER_SUFFIX}')`;

// Messages held by a consumer (a receipt) become visible again; their receive count keeps the attempt.
const RELEASE_HELD = `UPDATE queue_message SET visible_at = now(), receipt = NULL
  WHERE queue = $1::text AND receipt IS NOT NULL AND visible_at > now()`;

// Redriven messages keep their id, so they go back ahead of later messages of their group.
const REDRIVE = `UPDATE queue_message
  SET queue = $1::text, receive_count = 0, receipt = NULL, visible_at = now()
  WHERE queue = $1::text || '${DEAD_LETTER_SUFFIX}'`;

interface ReceivedRow {
  [column: string]: string | number | boolean | null;
  id: string;
  body: string;
  group_id: string;
  receive_count: number;
  receipt: string;
  last_error: string | null;
  sent_at: string;
}

interface DepthRow {
  [column: string]: string | number | boolean | null;
  visible: number;
  in_flight: number;
  dead_letter: number;
}

function checkQueue(queue: string): void {
  if (!QUEUE_NAME.test(queue)) throw new QueueInputError('Queue name must be 1 to 80 letters, digits, ".", "_" or "-"');
}

function checkId(value: string, what: string, index: number): void {
  if (value.length === 0 || value.length > MAX_ID_LENGTH) {
    throw new QueueInputError(`Message ${index}: ${what} must be 1 to ${MAX_ID_LENGTH} characters`);
  }
}

function checkSeconds(value: number, what: string): void {
  if (!Number.isFinite(value) || value < 0) throw new QueueInputError(`${what} must be a number of seconds >= 0`);
}

function checkReceipt(receipt: string): void {
  if (receipt.length === 0) throw new QueueInputError('Receipt must not be empty');
}

/** The message id a receipt starts with (`<id>:<uuid>`, see RECEIVE); undefined when it has none. */
function messageIdOf(receipt: string): string | undefined {
  const id = receipt.slice(0, receipt.indexOf(':'));
  // Up to 18 digits: every id a bigserial hands out, and never a number a bigint cannot hold.
  return /^[1-9]\d{0,17}$/.test(id) ? id : undefined;
}

const staleReceipt = () => new StaleReceiptError('The receipt no longer designates a message held by this consumer');

/** The queue port on PostgreSQL through the SQL executor. */
export class SqlQueue implements QueuePort {
  private readonly dedupWindowSeconds: number;

  private deletesSinceVacuum = 0;
  private readonly pruneIntervalMs: number;
  /** Per queue: when the next background prune is due, and whether one is running. */
  private readonly pruning = new Map<string, { dueAt: number; running: boolean }>();
  /** Per queue: whether the last receive returned fewer messages than it asked for (see groupScanLimit). */
  private readonly lastReceiveShort = new Map<string, boolean>();

  /** `db` must have migration 0002 applied. */
  constructor(
    private readonly db: SqlExecutor,
    options: SqlQueueOptions = {},
  ) {
    this.dedupWindowSeconds = options.deduplicationWindowSeconds ?? 300;
    checkSeconds(this.dedupWindowSeconds, 'deduplicationWindowSeconds');
    const interval = options.pruneIntervalSeconds ?? PRUNE_INTERVAL_SECONDS;
    checkSeconds(interval, 'pruneIntervalSeconds');
    this.pruneIntervalMs = interval * 1000;
  }

  /** Removes expired deduplication ids of `queue` (at most {@link PRUNE_BATCH}); returns how many. */
  async prune(queue: string): Promise<number> {
    checkQueue(queue);
    const res = await this.db.query(PRUNE, [queue, this.dedupWindowSeconds]);
    return res.rowCount;
  }

  /** Starts a prune of `queue` when one is due; never delays the send that triggers it (an ACK waits on it). */
  private pruneWhenDue(queue: string): void {
    const now = Date.now();
    let state = this.pruning.get(queue);
    if (!state) {
      state = { dueAt: now + this.pruneIntervalMs, running: false };
      this.pruning.set(queue, state);
    }
    if (state.running || now < state.dueAt) return;
    const s = state;
    s.running = true;
    this.prune(queue)
      .then((removed) => {
        // A full batch: more are expired, prune again at the next send.
        s.dueAt = removed >= PRUNE_BATCH ? 0 : Date.now() + this.pruneIntervalMs;
      })
      .catch(() => {
        // Housekeeping only (an expired row never blocks a send): try again after the interval.
        s.dueAt = Date.now() + this.pruneIntervalMs;
      })
      .finally(() => {
        s.running = false;
      });
  }

  /** Stores the messages in one statement; duplicates (same deduplicationId within the window) are dropped. */
  async send(queue: string, messages: OutgoingMessage[]): Promise<void> {
    checkQueue(queue);
    if (messages.length === 0) return;
    const rows = messages.map((m, i) => {
      checkId(m.groupId, 'groupId', i);
      checkId(m.deduplicationId, 'deduplicationId', i);
      return { i, body: m.body, group_id: m.groupId, dedup_id: m.deduplicationId };
    });
    await this.db.query(SEND, [queue, sqlJson(rows), this.dedupWindowSeconds]);
    this.pruneWhenDue(queue);
  }

  /** Receives up to `opts.max` messages in one statement, dead-lettering those past `opts.maxReceives`. */
  async receive(queue: string, opts: ReceiveOptions): Promise<ReceivedMessage[]> {
    checkQueue(queue);
    if (!Number.isInteger(opts.max) || opts.max < 1 || opts.max > MAX_RECEIVE) {
      throw new QueueInputError(`max must be an integer from 1 to ${MAX_RECEIVE}`);
    }
    checkSeconds(opts.visibilityTimeoutSeconds, 'visibilityTimeoutSeconds');
    if (!Number.isInteger(opts.maxReceives) || opts.maxReceives < 1) {
      throw new QueueInputError('maxReceives must be an integer >= 1');
    }
    // A custom plan: with a backlog, the generic plan of the receive this walk replaced took ~88 ms on PGlite against
    // ~11 ms; the hint stays (planning the walk took 0.2–0.5 ms in EXPLAIN ANALYZE).
    const res = await this.db.query<ReceivedRow>(
      RECEIVE,
      [
        queue,
        opts.max,
        opts.visibilityTimeoutSeconds,
        opts.maxReceives,
        (this.lastReceiveShort.get(queue) ?? true) ? groupScanLimit(opts.max) : 0,
      ],
      { plan: 'custom' },
    );
    this.lastReceiveShort.set(queue, res.rows.length < opts.max);
    return res.rows.map((r) => ({
      id: r.id,
      body: r.body,
      groupId: r.group_id,
      receiveCount: r.receive_count,
      receipt: r.receipt,
      sentAt: r.sent_at,
      ...(r.last_error === null ? {} : { lastError: r.last_error }),
    }));
  }

  /**
   * Deletes a processed message; throws {@link StaleReceiptError} when the receipt is not current. Deletes made in
   * the same event-loop turn go in one statement.
   */
  async delete(queue: string, receipt: string): Promise<void> {
    checkQueue(queue);
    checkReceipt(receipt);
    await this.deleteTogether({ queue, receipt });
  }

  private readonly deleteTogether = coalesce(
    async (items: { queue: string; receipt: string }[]): Promise<Settled<void>[]> => {
      const deleted = new Set<string>();
      for (const queue of new Set(items.map((i) => i.queue))) {
        const ids: string[] = [];
        const receipts: string[] = [];
        for (const i of items) {
          const id = i.queue === queue ? messageIdOf(i.receipt) : undefined;
          if (id === undefined) continue;
          ids.push(id);
          receipts.push(i.receipt);
        }
        if (receipts.length === 0) continue;
        const res = await this.db.query<{ receipt: string }>(DELETE, [queue, sqlJson(ids), sqlJson(receipts)]);
        for (const r of res.rows) deleted.add(`${queue}\u0000${r.receipt}`);
      }
      await this.vacuumNow(deleted.size);
      return items.map((i) =>
        deleted.has(`${i.queue}\u0000${i.receipt}`)
          ? { ok: true, value: undefined }
          : { ok: false, error: staleReceipt() },
      );
    },
    { maxBatch: MAX_DELETE_BATCH },
  );

  /**
   * Embedded PostgreSQL (PGlite) has no autovacuum: the dead rows of processed messages pile up at the head of the
   * queue's indexes and every receive walks through them (measured: 108 messages/s applied with a 4,000 backlog, 23/s
   * with 20,000). Vacuum the queue tables every {@link VACUUM_EVERY_DELETES} deletes there; a server has autovacuum.
   * No ANALYZE: the queue's statements reach their rows by index probes whatever the statistics say (the receive plan
   * test), and on PGlite every statement holds the platform's event loop, ACKs included.
   */
  private async vacuumNow(deleted: number): Promise<void> {
    if (this.db.kind !== 'pglite') return;
    this.deletesSinceVacuum += deleted;
    if (this.deletesSinceVacuum < VACUUM_EVERY_DELETES) return;
    this.deletesSinceVacuum = 0;
    await this.db.query('VACUUM queue_message').catch(() => undefined);
    await this.db.query('VACUUM queue_dedup').catch(() => undefined);
  }

  /** Hands a message back for redelivery after `opts.delaySeconds`, keeping `opts.error` as its last error. */
  async release(queue: string, receipt: string, opts: ReleaseOptions): Promise<void> {
    checkQueue(queue);
    checkReceipt(receipt);
    checkSeconds(opts.delaySeconds, 'delaySeconds');
    const id = messageIdOf(receipt);
    if (id === undefined) throw staleReceipt();
    const res = await this.db.query(RELEASE, [queue, receipt, opts.delaySeconds, opts.error ?? null, id]);
    if (res.rowCount === 0) throw staleReceipt();
  }

  /** Counts visible, hidden and dead-lettered messages in one statement. */
  async depth(queue: string): Promise<QueueDepth> {
    checkQueue(queue);
    const res = await this.db.query<DepthRow>(DEPTH, [queue], { readOnly: true });
    const row = res.rows[0];
    return { visible: row?.visible ?? 0, inFlight: row?.in_flight ?? 0, deadLetter: row?.dead_letter ?? 0 };
  }

  /**
   * Makes the messages received but not yet deleted or released visible at once, instead of after their visibility
   * timeout. Only for a consumer that knows it is alone on the queue and starting: the embedded database is opened by
   * one process, so whatever it holds in flight at start-up was held by a process that crashed.
   */
  async releaseHeld(queue: string): Promise<number> {
    checkQueue(queue);
    const res = await this.db.query(RELEASE_HELD, [queue]);
    return res.rowCount;
  }

  /** Moves every message of `<queue>-dlq` back to `queue` with a fresh receive count; returns how many. */
  async redrive(queue: string): Promise<number> {
    checkQueue(queue);
    const res = await this.db.query(REDRIVE, [queue]);
    return res.rowCount;
  }
}
