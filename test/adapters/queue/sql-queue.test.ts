import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type OutgoingMessage,
  QueueInputError,
  type ReceivedMessage,
  StaleReceiptError,
} from '../../../lambdas/adapters/queue/queue.js';
import { SqlQueue } from '../../../lambdas/adapters/queue/sql-queue.js';
import type { SqlExecutor } from '../../../lambdas/adapters/sql/executor.js';
import { migrate } from '../../../lambdas/adapters/sql/migrate.js';
import { createPgExecutor } from '../../../lambdas/adapters/sql/pg.js';
import { executorFactories, PG_URL, pgTestDatabase, type TestDatabase } from '../../support/executors.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const msg = (groupId: string, n: number, deduplicationId = `${groupId}-${n}`): OutgoingMessage => ({
  body: `${groupId}:${n}`,
  groupId,
  deduplicationId,
});
const LONG = { max: 10, visibilityTimeoutSeconds: 60, maxReceives: 5 };
const bodies = (ms: ReceivedMessage[]) => ms.map((m) => m.body);

describe.each(executorFactories)('SqlQueue on $name', (factory) => {
  let t: TestDatabase;
  let queue: SqlQueue;
  let n = 0;
  // A fresh queue name per test: the tests share one database.
  const fresh = () => `q${++n}`;

  beforeAll(async () => {
    if (!factory.available) return;
    t = await factory.create();
    queue = new SqlQueue(t.db);
  });
  afterAll(async () => {
    await t?.close();
  });

  const trips = async <T>(fn: () => Promise<T>): Promise<{ value: T; trips: number }> => {
    const before = t.db.stats.roundTrips;
    const value = await fn();
    return { value, trips: t.db.stats.roundTrips - before };
  };

  it.skipIf(!factory.available)('sends N messages in one statement and receives them oldest first', async () => {
    const q = fresh();
    const sent = await trips(() => queue.send(q, [msg('a', 1), msg('b', 1), msg('c', 1)]));
    expect(sent.trips).toBe(1);
    expect((await trips(() => queue.send(q, []))).trips).toBe(0);

    const got = await trips(() => queue.receive(q, LONG));
    expect(got.trips).toBe(1);
    expect(bodies(got.value)).toEqual(['a:1', 'b:1', 'c:1']);
    const first = got.value[0];
    expect(first).toMatchObject({ groupId: 'a', receiveCount: 1 });
    expect(first?.lastError).toBeUndefined();
    expect(first?.id).toMatch(/^\d+$/);
    expect(first?.sentAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(Math.abs(Date.parse(first?.sentAt ?? '') - Date.now())).toBeLessThan(60_000);
    expect(new Set(got.value.map((m) => m.receipt)).size).toBe(3);

    // All three are in flight now.
    expect(await queue.receive(q, LONG)).toEqual([]);
    expect(await queue.depth(q)).toEqual({ visible: 0, inFlight: 3, deadLetter: 0 });
    const del = await trips(() => queue.delete(q, first?.receipt ?? ''));
    expect(del.trips).toBe(1);
    expect(await queue.depth(q)).toEqual({ visible: 0, inFlight: 2, deadLetter: 0 });
  });

  it.skipIf(!factory.available)(
    'releaseHeld makes what a crashed consumer held visible at once, keeping its receive count; delayed retries stay',
    async () => {
      const q = fresh();
      await queue.send(q, [msg('a', 1), msg('b', 1), msg('c', 1)]);
      const [a, b] = await queue.receive(q, { ...LONG, max: 2 });
      // b failed once and waits for its retry: not held by anyone, it keeps its delay.
      await queue.release(q, b?.receipt ?? '', { delaySeconds: 600 });
      expect(await queue.depth(q)).toEqual({ visible: 1, inFlight: 2, deadLetter: 0 });

      expect(await queue.releaseHeld(q)).toBe(1);
      expect(await queue.depth(q)).toEqual({ visible: 2, inFlight: 1, deadLetter: 0 });
      const again = await queue.receive(q, LONG);
      expect(bodies(again)).toEqual(['a:1', 'c:1']);
      expect(again[0]?.receiveCount).toBe(2);
      // The crashed consumer's receipt is no longer valid.
      await expect(queue.delete(q, a?.receipt ?? '')).rejects.toThrow();
    },
  );

  it.skipIf(!factory.available)(
    'deletes made together share one statement; a stale receipt among them fails alone',
    async () => {
      const q = fresh();
      const other = fresh();
      await queue.send(q, [msg('a', 1), msg('b', 1), msg('c', 1)]);
      await queue.send(other, [msg('z', 1)]);
      const got = await queue.receive(q, LONG);
      const [z] = await queue.receive(other, LONG);
      const del = await trips(() =>
        Promise.allSettled([...got.map((m) => queue.delete(q, m.receipt)), queue.delete(q, 'no-such-receipt')]),
      );
      expect(del.trips).toBe(1);
      expect(del.value.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'rejected']);
      expect((del.value[3] as PromiseRejectedResult).reason).toBeInstanceOf(StaleReceiptError);
      expect(await queue.depth(q)).toEqual({ visible: 0, inFlight: 0, deadLetter: 0 });
      // Two queues in one turn: one statement each.
      await queue.send(q, [msg('d', 1)]);
      const [d] = await queue.receive(q, LONG);
      const both = await trips(() => Promise.all([queue.delete(q, d!.receipt), queue.delete(other, z!.receipt)]));
      expect(both.trips).toBe(2);
    },
  );

  it.skipIf(!factory.available)('respects max and keeps queues apart', async () => {
    const q = fresh();
    const other = fresh();
    await queue.send(q, [msg('a', 1), msg('b', 1), msg('c', 1)]);
    await queue.send(other, [msg('z', 1)]);
    expect(bodies(await queue.receive(q, { ...LONG, max: 2 }))).toEqual(['a:1', 'b:1']);
    expect(bodies(await queue.receive(q, LONG))).toEqual(['c:1']);
    expect(bodies(await queue.receive(other, LONG))).toEqual(['z:1']);
  });

  it.skipIf(!factory.available)('delivers one message per group at a time, in send order', async () => {
    const q = fresh();
    await queue.send(q, [msg('a', 1), msg('a', 2), msg('b', 1), msg('a', 3)]);
    const first = await queue.receive(q, LONG);
    expect(bodies(first)).toEqual(['a:1', 'b:1']);
    expect(await queue.receive(q, LONG)).toEqual([]);
    expect(await queue.depth(q)).toEqual({ visible: 2, inFlight: 2, deadLetter: 0 });

    await queue.delete(q, first[0]?.receipt ?? '');
    const second = await queue.receive(q, LONG);
    expect(bodies(second)).toEqual(['a:2']);
    await queue.delete(q, second[0]?.receipt ?? '');
    expect(bodies(await queue.receive(q, LONG))).toEqual(['a:3']);
  });

  it.skipIf(!factory.available)('redelivers after the visibility timeout with a new receipt', async () => {
    const q = fresh();
    await queue.send(q, [msg('a', 1), msg('a', 2)]);
    const opts = { max: 10, visibilityTimeoutSeconds: 0.3, maxReceives: 5 };
    const [first] = await queue.receive(q, opts);
    expect(await queue.receive(q, opts)).toEqual([]);
    await sleep(400);
    const [again] = await queue.receive(q, opts);
    expect(again).toMatchObject({ id: first?.id, body: 'a:1', receiveCount: 2 });
    expect(again?.receipt).not.toBe(first?.receipt);

    // The first consumer's receipt is stale: it can neither delete nor release the redelivered message.
    await expect(queue.delete(q, first?.receipt ?? '')).rejects.toBeInstanceOf(StaleReceiptError);
    await expect(queue.release(q, first?.receipt ?? '', { delaySeconds: 0 })).rejects.toBeInstanceOf(StaleReceiptError);
    expect(await queue.depth(q)).toEqual({ visible: 1, inFlight: 1, deadLetter: 0 });
    await queue.delete(q, again?.receipt ?? '');
    await expect(queue.delete(q, again?.receipt ?? '')).rejects.toBeInstanceOf(StaleReceiptError);
  });

  it.skipIf(!factory.available)('release holds the group back until the message is redelivered', async () => {
    const q = fresh();
    await queue.send(q, [msg('a', 1), msg('a', 2), msg('b', 1)]);
    const [a1, b1] = await queue.receive(q, LONG);
    await queue.delete(q, b1?.receipt ?? '');
    await queue.release(q, a1?.receipt ?? '', { delaySeconds: 0.3, error: 'HL7 parse error at MSH-9' });
    // The receipt was handed back with the message.
    await expect(queue.delete(q, a1?.receipt ?? '')).rejects.toBeInstanceOf(StaleReceiptError);
    // a:2 waits behind the delayed a:1.
    expect(await queue.receive(q, LONG)).toEqual([]);
    expect(await queue.depth(q)).toEqual({ visible: 1, inFlight: 1, deadLetter: 0 });
    await sleep(400);
    const [again] = await queue.receive(q, LONG);
    expect(again).toMatchObject({ body: 'a:1', receiveCount: 2, lastError: 'HL7 parse error at MSH-9' });

    // Released without delay and without error: visible at once, the previous error is kept.
    await queue.release(q, again?.receipt ?? '', { delaySeconds: 0 });
    const [third] = await queue.receive(q, LONG);
    expect(third).toMatchObject({ body: 'a:1', receiveCount: 3, lastError: 'HL7 parse error at MSH-9' });
    await queue.delete(q, third?.receipt ?? '');
    expect(bodies(await queue.receive(q, LONG))).toEqual(['a:2']);
  });

  it.skipIf(!factory.available)('dead-letters past maxReceives and redrives', async () => {
    const q = fresh();
    const opts = { max: 10, visibilityTimeoutSeconds: 60, maxReceives: 2 };
    await queue.send(q, [msg('a', 1), msg('a', 2), msg('b', 1)]);
    for (let attempt = 1; attempt <= 2; attempt++) {
      const got = await queue.receive(q, opts);
      const a1 = got.find((m) => m.body === 'a:1');
      expect(a1?.receiveCount).toBe(attempt);
      await queue.release(q, a1?.receipt ?? '', { delaySeconds: 0, error: `failure ${attempt}` });
    }
    // Third receive of a:1 would exceed maxReceives: it moves to the dead-letter queue.
    expect(await queue.receive(q, opts)).toEqual([]);
    expect(await queue.depth(q)).toEqual({ visible: 1, inFlight: 1, deadLetter: 1 });
    // The group moves on.
    const [a2] = await queue.receive(q, opts);
    expect(a2?.body).toBe('a:2');
    await queue.delete(q, a2?.receipt ?? '');

    // The dead letter is a message of `<queue>-dlq`, with its last error.
    const dlq = `${q}-dlq`;
    expect(await queue.depth(dlq)).toEqual({ visible: 1, inFlight: 0, deadLetter: 0 });
    const [dead] = await queue.receive(dlq, LONG);
    expect(dead).toMatchObject({ body: 'a:1', receiveCount: 3, lastError: 'failure 2' });
    await queue.release(dlq, dead?.receipt ?? '', { delaySeconds: 0 });

    const moved = await trips(() => queue.redrive(q));
    expect(moved).toEqual({ value: 1, trips: 1 });
    expect(await queue.redrive(q)).toBe(0);
    expect(await queue.depth(q)).toEqual({ visible: 1, inFlight: 1, deadLetter: 0 });
    const [back] = await queue.receive(q, opts);
    expect(back).toMatchObject({ body: 'a:1', receiveCount: 1, lastError: 'failure 2' });
  });

  it.skipIf(!factory.available)('drops a resend within the deduplication window', async () => {
    const q = fresh();
    await queue.send(q, [msg('a', 1, 'ctrl-1'), msg('a', 2, 'ctrl-1'), msg('a', 3, 'ctrl-2')]);
    await queue.send(q, [msg('a', 4, 'ctrl-2'), msg('b', 1, 'ctrl-3')]);
    // Another queue has its own deduplication ids.
    const other = fresh();
    await queue.send(other, [msg('a', 9, 'ctrl-1')]);
    expect(await queue.depth(q)).toMatchObject({ visible: 3 });
    const [a1, b1] = await queue.receive(q, LONG);
    expect([a1?.body, b1?.body]).toEqual(['a:1', 'b:1']);
    // Processed and deleted: a resend is still a duplicate.
    await queue.delete(q, a1?.receipt ?? '');
    await queue.send(q, [msg('a', 5, 'ctrl-1')]);
    const [a3] = await queue.receive(q, LONG);
    expect(a3?.body).toBe('a:3');
    await queue.delete(q, a3?.receipt ?? '');
    expect(await queue.receive(q, LONG)).toEqual([]);
    expect(bodies(await queue.receive(other, LONG))).toEqual(['a:9']);
  });

  it.skipIf(!factory.available)(
    'prunes expired deduplication ids in the background of a later send, never in the send itself',
    async () => {
      const q = fresh();
      const statements: string[] = [];
      const spy: SqlExecutor = {
        ...t.db,
        query: (text, params, options) => {
          statements.push(text);
          return t.db.query(text, params, options);
        },
      };
      const pruning = new SqlQueue(spy, { deduplicationWindowSeconds: 0.1, pruneIntervalSeconds: 0.2 });
      await pruning.send(q, [msg('a', 1), msg('a', 2)]);
      // The statement an ACK waits for only inserts.
      expect(statements).toHaveLength(1);
      expect(statements[0]).not.toMatch(/DELETE/);
      await sleep(300);
      await pruning.send(q, [msg('a', 3)]);
      const count = async () =>
        (await t.db.query('SELECT count(*)::int AS n FROM queue_dedup WHERE queue = $1::text', [q])).rows[0]?.n;
      for (let i = 0; i < 50 && (await count()) !== 1; i++) await sleep(20);
      // a-1 and a-2 expired and pruned; a-3 is within its window.
      expect(await count()).toBe(1);
      expect(statements.filter((s) => s.startsWith('DELETE FROM queue_dedup'))).toHaveLength(1);
    },
  );

  it.skipIf(!factory.available)('accepts a resend once the deduplication window has passed', async () => {
    const q = fresh();
    const short = new SqlQueue(t.db, { deduplicationWindowSeconds: 0.3 });
    await short.send(q, [msg('a', 1, 'ctrl-1'), msg('a', 2, 'ctrl-old')]);
    await short.send(q, [msg('a', 3, 'ctrl-1')]);
    await sleep(400);
    // The expired entry is taken over by a send (ctrl-1), or removed by a prune (ctrl-old).
    await short.send(q, [msg('a', 4, 'ctrl-1')]);
    expect(await short.prune(q)).toBe(1);
    expect(
      (await t.db.query('SELECT count(*)::int AS n FROM queue_dedup WHERE queue = $1::text', [q])).rows[0]?.n,
    ).toBe(1);
    await short.send(q, [msg('a', 5, 'ctrl-old'), msg('a', 6, 'ctrl-1')]);
    const seen: string[] = [];
    for (;;) {
      const [m] = await short.receive(q, LONG);
      if (!m) break;
      seen.push(m.body);
      await short.delete(q, m.receipt);
    }
    expect(seen).toEqual(['a:1', 'a:2', 'a:4', 'a:5']);
  });

  it.skipIf(!factory.available)('refuses invalid arguments without a round trip', async () => {
    const before = t.db.stats.roundTrips;
    const ok = { max: 1, visibilityTimeoutSeconds: 1, maxReceives: 1 };
    await expect(queue.send('bad name', [msg('a', 1)])).rejects.toBeInstanceOf(QueueInputError);
    await expect(queue.send('', [msg('a', 1)])).rejects.toBeInstanceOf(QueueInputError);
    await expect(queue.send('q', [msg('', 1)])).rejects.toThrow(/Message 0: groupId/);
    await expect(queue.send('q', [msg('a', 1), msg('a', 2, 'x'.repeat(129))])).rejects.toThrow(
      /Message 1: deduplicationId/,
    );
    await expect(queue.receive('q', { ...ok, max: 0 })).rejects.toThrow(/max must be/);
    await expect(queue.receive('q', { ...ok, max: 1.5 })).rejects.toThrow(/max must be/);
    await expect(queue.receive('q', { ...ok, max: 1001 })).rejects.toThrow(/max must be/);
    await expect(queue.receive('q', { ...ok, visibilityTimeoutSeconds: -1 })).rejects.toThrow(
      /visibilityTimeoutSeconds/,
    );
    await expect(queue.receive('q', { ...ok, visibilityTimeoutSeconds: Number.NaN })).rejects.toThrow(
      /visibilityTimeoutSeconds/,
    );
    await expect(queue.receive('q', { ...ok, maxReceives: 0 })).rejects.toThrow(/maxReceives/);
    await expect(queue.delete('q', '')).rejects.toThrow(/Receipt/);
    await expect(queue.release('q', 'r', { delaySeconds: -1 })).rejects.toThrow(/delaySeconds/);
    await expect(queue.depth('q/x')).rejects.toBeInstanceOf(QueueInputError);
    await expect(queue.redrive('q x')).rejects.toBeInstanceOf(QueueInputError);
    expect(() => new SqlQueue(t.db, { deduplicationWindowSeconds: -1 })).toThrow(QueueInputError);
    expect(t.db.stats.roundTrips).toBe(before);
  });

  it.skipIf(!factory.available)('delete and release of an unknown receipt are stale', async () => {
    const q = fresh();
    await queue.send(q, [msg('a', 1)]);
    const [m] = await queue.receive(q, LONG);
    await expect(queue.delete(q, 'not-a-receipt')).rejects.toBeInstanceOf(StaleReceiptError);
    // A receipt is only valid on the queue it came from.
    await expect(queue.delete(fresh(), m?.receipt ?? '')).rejects.toBeInstanceOf(StaleReceiptError);
    await expect(queue.release(q, 'not-a-receipt', { delaySeconds: 0 })).rejects.toThrow(/no longer designates/);
    // An id no bigint holds is stale too, not a database error.
    await expect(queue.delete(q, '99999999999999999999:x')).rejects.toBeInstanceOf(StaleReceiptError);
    await expect(queue.release(q, '99999999999999999999:x', { delaySeconds: 0 })).rejects.toBeInstanceOf(
      StaleReceiptError,
    );
    expect(await queue.depth(q)).toEqual({ visible: 0, inFlight: 1, deadLetter: 0 });
  });

  it.skipIf(!factory.available)(
    'a receipt names its message: a forged one or one from before migration 11 is stale, and the message comes back',
    async () => {
      const q = fresh();
      await queue.send(q, [msg('a', 1)]);
      const [m] = await queue.receive(q, { ...LONG, visibilityTimeoutSeconds: 0.3 });
      expect(m?.receipt.startsWith(`${m?.id}:`)).toBe(true);
      await expect(queue.delete(q, `${m?.id}:not-the-uuid`)).rejects.toBeInstanceOf(StaleReceiptError);
      await expect(queue.release(q, `${m?.id}:not-the-uuid`, { delaySeconds: 0 })).rejects.toBeInstanceOf(
        StaleReceiptError,
      );
      // Receipts were bare UUIDs before migration 11: one still held then designates no message now.
      const legacy = '6f1c1f7e-3d2a-4a53-9d8e-0c1b2a3d4e5f';
      await t.db.query('UPDATE queue_message SET receipt = $2::text WHERE id = $1::bigint', [m?.id ?? '0', legacy]);
      await expect(queue.delete(q, legacy)).rejects.toBeInstanceOf(StaleReceiptError);
      await expect(queue.release(q, legacy, { delaySeconds: 0 })).rejects.toBeInstanceOf(StaleReceiptError);
      // Nothing is lost: after its visibility timeout the message is delivered again, with a receipt that works.
      await sleep(400);
      const [again] = await queue.receive(q, LONG);
      expect(again).toMatchObject({ id: m?.id, body: 'a:1', receiveCount: 2 });
      await queue.delete(q, again?.receipt ?? '');
      expect(await queue.depth(q)).toEqual({ visible: 0, inFlight: 0, deadLetter: 0 });
    },
  );

  it.skipIf(!factory.available)('a receive updates its rows in place: no index entry per receive (HOT)', async () => {
    const q = fresh();
    await queue.send(q, [msg('a', 1), msg('b', 1), msg('c', 1)]);
    const counts = await t.db.transaction(async (tx) => {
      const read = async () =>
        (
          await tx.query<{ updated: number; hot: number }>(
            `SELECT pg_stat_get_xact_tuples_updated('queue_message'::regclass)::int AS updated,
               pg_stat_get_xact_tuples_hot_updated('queue_message'::regclass)::int AS hot`,
          )
        ).rows[0] ?? { updated: -1, hot: -1 };
      const before = await read();
      const got = await new SqlQueue(tx).receive(q, LONG);
      const after = await read();
      return { received: got.length, updated: after.updated - before.updated, hot: after.hot - before.hot };
    });
    expect(counts).toEqual({ received: 3, updated: 3, hot: 3 });
  });

  it.skipIf(!factory.available)(
    'a receive walks the queue in id order and stops at its limit, whatever the statistics say',
    async () => {
      const q = fresh();
      // A burst the planner has no statistics for yet (autovacuum analyzes once a minute).
      for (let b = 0; b < 4; b++) {
        await queue.send(
          q,
          Array.from({ length: 500 }, (_, i) => msg(`g${i % 300}`, b * 500 + i)),
        );
      }
      const seen: { text: string; params: readonly unknown[] | undefined }[] = [];
      const spy: SqlExecutor = {
        ...t.db,
        query: (text, params, options) => {
          seen.push({ text, params });
          return t.db.query(text, params, options);
        },
      };
      expect(await new SqlQueue(spy).receive(q, LONG)).toHaveLength(10);
      const receive = seen[0];
      const plan = await t.db.query<Record<string, string>>(
        `EXPLAIN ${receive?.text ?? ''}`,
        receive?.params as never,
        { plan: 'custom' },
      );
      const text = plan.rows.map((r) => Object.values(r)[0]).join('\n');
      // The messages are read in id order through an index, each group checked by a probe: no hash of the backlog,
      // no sort of it.
      expect(text).toMatch(/Index Scan using queue_message_order on queue_message m(_\d+)?\b/);
      expect(text).not.toMatch(/Hash|Seq Scan|Bitmap/);
    },
  );
  it.skipIf(!factory.available)(
    'a group holding most of the backlog is skipped in one probe, not read row by row at every receive',
    async () => {
      const q = fresh();
      await queue.send(
        q,
        Array.from({ length: 1000 }, (_, i) => msg('big', i)),
      );
      await queue.send(q, [msg('x', 0), msg('y', 0)]);
      const first = await queue.receive(q, LONG);
      expect(bodies(first)).toEqual(['big:0', 'x:0', 'y:0']);
      // big:0 is in flight: its 999 later messages wait, and so does everything of x and y.
      const seen: { text: string; params: readonly unknown[] | undefined }[] = [];
      const spy: SqlExecutor = {
        ...t.db,
        query: (text, params, options) => {
          seen.push({ text, params });
          return t.db.query(text, params, options);
        },
      };
      expect(await new SqlQueue(spy).receive(q, LONG)).toEqual([]);
      const rowsRead = await queueRowsRead(seen[0]);
      // Three groups: a probe for each, a look at its oldest message. The walk in id order read all 1,002 rows.
      expect(rowsRead).toBeLessThan(20);
      await queue.delete(q, first[0]?.receipt ?? '');
      expect(bodies(await queue.receive(q, LONG))).toEqual(['big:1']);
    },
  );

  it.skipIf(!factory.available)(
    'lists the groups only after a receive that came back short: full receives walk at once',
    async () => {
      const q = fresh();
      await queue.send(
        q,
        Array.from({ length: 25 }, (_, i) => msg(`g${i}`, 0)),
      );
      const limits: unknown[] = [];
      const spy: SqlExecutor = {
        ...t.db,
        query: (text, params, options) => {
          if (text.includes('WITH RECURSIVE heads')) limits.push(params?.[4]);
          return t.db.query(text, params, options);
        },
      };
      const consumer = new SqlQueue(spy);
      // First receive: nothing known, the groups are listed; full (10 of 25); full again; then short (5).
      for (const expected of [10, 10, 5, 0]) expect(await consumer.receive(q, LONG)).toHaveLength(expected);
      expect(limits).toEqual([256, 0, 0, 256]);
    },
  );

  /** Rows of queue_message the statement's plan nodes produced, executed and rolled back. */
  const queueRowsRead = async (statement: { text: string; params: readonly unknown[] | undefined } | undefined) => {
    let rows = -1;
    const rollback = new Error('rollback');
    await t.db
      .transaction(async (tx) => {
        const plan = await tx.query<Record<string, string>>(
          `EXPLAIN (ANALYZE, FORMAT JSON) ${statement?.text ?? ''}`,
          statement?.params as never,
          { plan: 'custom' },
        );
        const cell: unknown = Object.values(plan.rows[0] ?? {})[0];
        const parsed = (typeof cell === 'string' ? JSON.parse(cell) : cell) as { Plan: PlanNode }[];
        rows = sumQueueRows(parsed[0]?.Plan);
        throw rollback;
      })
      .catch((err: unknown) => {
        if (err !== rollback) throw err;
      });
    return rows;
  };
});

interface PlanNode {
  'Relation Name'?: string;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  Plans?: PlanNode[];
}

const sumQueueRows = (node: PlanNode | undefined): number =>
  node === undefined
    ? 0
    : (node['Relation Name'] === 'queue_message' ? (node['Actual Rows'] ?? 0) * (node['Actual Loops'] ?? 0) : 0) +
      (node.Plans ?? []).reduce((sum, child) => sum + sumQueueRows(child), 0);

describe.skipIf(!PG_URL)('SqlQueue with concurrent consumers on PostgreSQL', () => {
  let main: Awaited<ReturnType<typeof pgTestDatabase>>;
  const extra: SqlExecutor[] = [];

  beforeAll(async () => {
    main = await pgTestDatabase(4);
    await migrate(main.db);
    for (let i = 0; i < 3; i++) extra.push(createPgExecutor(main.url, 4));
  });
  afterAll(async () => {
    for (const db of extra) await db.close();
    await main?.close();
  });

  it('4 consumers drain 500 messages over 20 groups: exactly once, in order per group', async () => {
    const q = 'drain';
    const producer = new SqlQueue(main.db);
    const groups = 20;
    const perGroup = 25;
    // Interleaved groups, sent in 10 batches of 50.
    const all: OutgoingMessage[] = [];
    for (let i = 0; i < perGroup; i++) for (let g = 0; g < groups; g++) all.push(msg(`g${g}`, i));
    for (let b = 0; b < all.length; b += 50) await producer.send(q, all.slice(b, b + 50));

    const processed = new Map<string, number[]>();
    const inFlightGroups = new Set<string>();
    const deliveries: string[] = [];
    let overlap = 0;
    const consumer = async (db: SqlExecutor) => {
      const port = new SqlQueue(db);
      let idle = 0;
      while (idle < 5) {
        const got = await port.receive(q, { max: 5, visibilityTimeoutSeconds: 30, maxReceives: 3 });
        if (got.length === 0) {
          idle++;
          await sleep(20);
          continue;
        }
        idle = 0;
        await Promise.all(
          got.map(async (m) => {
            if (inFlightGroups.has(m.groupId)) overlap++;
            inFlightGroups.add(m.groupId);
            deliveries.push(m.id);
            const seq = Number(m.body.split(':')[1]);
            processed.set(m.groupId, [...(processed.get(m.groupId) ?? []), seq]);
            await sleep(Math.random() * 3);
            inFlightGroups.delete(m.groupId);
            await port.delete(q, m.receipt);
          }),
        );
      }
    };
    await Promise.all([main.db, ...extra].map(consumer));

    expect(overlap).toBe(0);
    expect(deliveries).toHaveLength(500);
    expect(new Set(deliveries).size).toBe(500);
    const inOrder = Array.from({ length: perGroup }, (_, i) => i);
    expect(processed.size).toBe(groups);
    for (const seqs of processed.values()) expect(seqs).toEqual(inOrder);
    expect(await producer.depth(q)).toEqual({ visible: 0, inFlight: 0, deadLetter: 0 });
  }, 60_000);

  it('concurrent resends of one deduplication id store one message', async () => {
    const q = 'dedup-race';
    const ports = [main.db, ...extra].map((db) => new SqlQueue(db));
    await Promise.all(ports.map((p, i) => p.send(q, [msg('a', i, 'same'), msg('b', i, `b-${i}`)])));
    const depth = await ports[0]?.depth(q);
    expect(depth).toEqual({ visible: 5, inFlight: 0, deadLetter: 0 });
  });

  it('a message committed late with a smaller id waits while its group has one in flight', async () => {
    const q = 'late-commit';
    const other = new SqlQueue(extra[0] as SqlExecutor);
    let early: ReceivedMessage[] = [];
    await main.db.transaction(async (tx) => {
      // Gets the smaller id but commits after a:2 has been received.
      await new SqlQueue(tx).send(q, [msg('a', 1)]);
      await other.send(q, [msg('a', 2)]);
      early = await other.receive(q, LONG);
    });
    expect(bodies(early)).toEqual(['a:2']);
    // a:1 is now the oldest of its group, but a:2 is in flight: nothing for group a.
    expect(await other.receive(q, LONG)).toEqual([]);
    await other.delete(q, early[0]?.receipt ?? '');
    expect(bodies(await other.receive(q, LONG))).toEqual(['a:1']);
  });

  it('concurrent receivers never share a message or a group', async () => {
    const q = 'receive-race';
    await new SqlQueue(main.db).send(q, [msg('a', 1), msg('a', 2), msg('b', 1), msg('c', 1)]);
    const ports = [main.db, ...extra].map((db) => new SqlQueue(db));
    const results = await Promise.all(ports.map((p) => p.receive(q, LONG)));
    const got = results.flat();
    expect(got.map((m) => m.body).sort()).toEqual(['a:1', 'b:1', 'c:1']);
  });
});

describe('SqlQueue on PGlite (no autovacuum)', () => {
  it('vacuums the queue tables every 1,000 deletes, and only on the embedded database', async () => {
    const { createPgliteExecutor } = await import('../../../lambdas/adapters/sql/pglite.js');
    const db = await createPgliteExecutor();
    try {
      await migrate(db);
      const statements: string[] = [];
      const spy = (kind: SqlExecutor['kind']): SqlExecutor => ({
        ...db,
        kind,
        query: (text, params, options) => {
          statements.push(text);
          return db.query(text, params, options);
        },
      });
      for (const kind of ['pglite', 'pg'] as const) {
        statements.length = 0;
        const queue = new SqlQueue(spy(kind));
        for (let batch = 0; batch < 5; batch++) {
          await queue.send(
            `q-${kind}`,
            Array.from({ length: 250 }, (_, i) => ({ body: 'b', groupId: `g${i}`, deduplicationId: `${batch}-${i}` })),
          );
          const got = await queue.receive(`q-${kind}`, { max: 250, visibilityTimeoutSeconds: 30, maxReceives: 5 });
          for (const m of got) await queue.delete(`q-${kind}`, m.receipt);
        }
        const vacuums = statements.filter((s) => s.startsWith('VACUUM'));
        expect(vacuums, kind).toEqual(kind === 'pglite' ? ['VACUUM queue_message', 'VACUUM queue_dedup'] : []);
      }
    } finally {
      await db.close();
    }
  });
});
