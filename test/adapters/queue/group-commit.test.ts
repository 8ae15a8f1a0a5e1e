import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { groupCommit } from '../../../lambdas/adapters/queue/group-commit.js';
import type { OutgoingMessage, QueuePort } from '../../../lambdas/adapters/queue/queue.js';
import { SqlQueue } from '../../../lambdas/adapters/queue/sql-queue.js';
import type { SqlExecutor } from '../../../lambdas/adapters/sql/executor.js';
import { migrate } from '../../../lambdas/adapters/sql/migrate.js';
import { createPgliteExecutor } from '../../../lambdas/adapters/sql/pglite.js';

const msg = (n: number, groupId = `g${n}`): OutgoingMessage => ({ body: `m${n}`, groupId, deduplicationId: `d${n}` });

/** One `send` call of the fake queue, settled by the test. */
interface Call {
  queue: string;
  bodies: string[];
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** A queue whose sends stay pending until the test settles them; counts sends in flight at once. */
function fakeQueue() {
  const calls: Call[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const queue: Pick<QueuePort, 'send'> = {
    send: (queueName, messages) =>
      new Promise<void>((resolve, reject) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        const settle = (fn: () => void) => () => {
          inFlight--;
          fn();
        };
        calls.push({
          queue: queueName,
          bodies: messages.map((m) => m.body),
          resolve: settle(resolve),
          reject: (err) => settle(() => reject(err))(),
        });
      }),
  };
  return { queue, calls, maxInFlight: () => maxInFlight };
}

/** Lets every pending promise callback run (no timer involved in group commit). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Tracks how a promise settled, without awaiting it. */
function track(p: Promise<void>) {
  const state: { status: 'pending' | 'resolved' | 'rejected'; error?: unknown } = { status: 'pending' };
  p.then(
    () => {
      state.status = 'resolved';
    },
    (error: unknown) => {
      state.status = 'rejected';
      state.error = error;
    },
  );
  return state;
}

describe('groupCommit', () => {
  it('an idle sender writes on the next event-loop turn, with what arrived in the same turn', async () => {
    const fake = fakeQueue();
    const send = groupCommit(fake.queue, 'hl7-inbound');
    const first = track(send(msg(1)));
    // No timer: only the current turn is waited for (messages read from several sockets in it go together).
    expect(fake.calls).toHaveLength(0);
    await settle();
    expect(fake.calls.map((c) => [c.queue, c.bodies])).toEqual([['hl7-inbound', ['m1']]]);
    await settle();
    expect(first.status).toBe('pending');
    fake.calls[0]?.resolve();
    await settle();
    expect(first.status).toBe('resolved');
  });

  it('sends what arrived during a send together in ONE next send, in arrival order', async () => {
    const fake = fakeQueue();
    const send = groupCommit(fake.queue, 'q');
    const p1 = track(send(msg(1)));
    await settle();
    const rest = [2, 3, 4].map((n) => track(send(msg(n))));
    await settle();
    // Still one send: the others wait for it.
    expect(fake.calls).toHaveLength(1);

    fake.calls[0]?.resolve();
    await settle();
    expect(fake.calls.map((c) => c.bodies)).toEqual([['m1'], ['m2', 'm3', 'm4']]);
    // Each caller resolves with its own batch only.
    expect(p1.status).toBe('resolved');
    expect(rest.map((s) => s.status)).toEqual(['pending', 'pending', 'pending']);

    fake.calls[1]?.resolve();
    await settle();
    expect(rest.map((s) => s.status)).toEqual(['resolved', 'resolved', 'resolved']);
    expect(fake.calls).toHaveLength(2);
    expect(fake.maxInFlight()).toBe(1);
  });

  it('a failed batch rejects exactly its callers, and the next batch still goes out', async () => {
    const fake = fakeQueue();
    const send = groupCommit(fake.queue, 'q');
    const p1 = track(send(msg(1)));
    await settle();
    const p2 = track(send(msg(2)));
    const p3 = track(send(msg(3)));
    fake.calls[0]?.resolve();
    await settle();
    // m4 arrives while the batch [m2, m3] is in flight.
    const p4 = track(send(msg(4)));
    const failure = new Error('database unavailable');
    fake.calls[1]?.reject(failure);
    await settle();
    expect(p2).toEqual({ status: 'rejected', error: failure });
    expect(p3).toEqual({ status: 'rejected', error: failure });
    expect(p1.status).toBe('resolved');
    expect(p4.status).toBe('pending');
    expect(fake.calls.map((c) => c.bodies)).toEqual([['m1'], ['m2', 'm3'], ['m4']]);

    fake.calls[2]?.resolve();
    await settle();
    expect(p4.status).toBe('resolved');

    // After a failure as the first send of an idle sender, the next message is sent on the next turn too.
    const p5 = track(send(msg(5)));
    await settle();
    fake.calls[3]?.reject(failure);
    await settle();
    expect(p5.status).toBe('rejected');
    const p6 = track(send(msg(6)));
    await settle();
    expect(fake.calls.map((c) => c.bodies).slice(3)).toEqual([['m5'], ['m6']]);
    fake.calls[4]?.resolve();
    await settle();
    expect(p6.status).toBe('resolved');
  });

  it('splits a backlog into sends of at most maxBatch, in order, one at a time', async () => {
    const fake = fakeQueue();
    const send = groupCommit(fake.queue, 'q', { maxBatch: 2 });
    const states = [1, 2, 3, 4, 5, 6].map((n) => track(send(msg(n))));
    for (let i = 0; i < 3; i++) {
      await settle();
      expect(fake.calls).toHaveLength(i + 1);
      fake.calls[i]?.resolve();
    }
    await settle();
    // All six arrived in one turn: they go out in maxBatch slices.
    expect(fake.calls.map((c) => c.bodies)).toEqual([
      ['m1', 'm2'],
      ['m3', 'm4'],
      ['m5', 'm6'],
    ]);
    expect(states.every((s) => s.status === 'resolved')).toBe(true);
    expect(fake.maxInFlight()).toBe(1);
  });
});

describe('groupCommit on SqlQueue (PGlite)', () => {
  let db: SqlExecutor;

  beforeAll(async () => {
    db = await createPgliteExecutor();
    await migrate(db);
  });
  afterAll(async () => {
    await db?.close();
  });

  it('stores 50 concurrent sends with fewer than 50 statements, in send order', async () => {
    const queue = new SqlQueue(db);
    const batches: number[] = [];
    const counting: Pick<QueuePort, 'send'> = {
      send: (name, messages) => {
        batches.push(messages.length);
        return queue.send(name, messages);
      },
    };
    const send = groupCommit(counting, 'hl7-inbound');
    const messages = Array.from({ length: 50 }, (_, i) => msg(i + 1));

    await Promise.all(messages.map((m) => send(m)));

    expect(batches.length).toBeLessThan(50);
    expect(batches.reduce((a, b) => a + b, 0)).toBe(50);
    expect(await queue.depth('hl7-inbound')).toEqual({ visible: 50, inFlight: 0, deadLetter: 0 });
    const received = await queue.receive('hl7-inbound', { max: 100, visibilityTimeoutSeconds: 60, maxReceives: 5 });
    expect(received.map((m) => m.body)).toEqual(messages.map((m) => m.body));
  });

  it('refuses a maxBatch that is not a positive integer (it would never flush)', () => {
    for (const maxBatch of [0, -1, 1.5, Number.NaN]) {
      expect(() => groupCommit({ send: async () => undefined }, 'q', { maxBatch })).toThrow(RangeError);
    }
  });
});
