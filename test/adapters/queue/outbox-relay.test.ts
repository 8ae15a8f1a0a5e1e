import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { outboxBacklog, purgeRelayedOutbox, relayOutbox } from '../../../lambdas/adapters/queue/outbox-relay.js';
import type { OutgoingMessage } from '../../../lambdas/adapters/queue/queue.js';
import { SqlQueue } from '../../../lambdas/adapters/queue/sql-queue.js';
import { executorFactories, type TestDatabase } from '../../support/executors.js';

const LONG = { max: 10, visibilityTimeoutSeconds: 60, maxReceives: 5 };
const routes = {
  'cda-lab-report': { queue: 'cda', groupId: (p: string) => (JSON.parse(p) as { r: string }).r },
  'mssante-send': { queue: 'mssante', groupId: (p: string) => (JSON.parse(p) as { r: string }).r },
};

describe.each(executorFactories)('outbox relay on $name', (factory) => {
  let t: TestDatabase;
  let queue: SqlQueue;

  beforeAll(async () => {
    if (!factory.available) return;
    t = await factory.create();
    queue = new SqlQueue(t.db);
  });
  afterAll(async () => {
    await t?.close();
  });
  beforeEach(async () => {
    if (!factory.available) return;
    await t.db.query('DELETE FROM outbox');
    await t.db.query('DELETE FROM queue_message');
    await t.db.query('DELETE FROM queue_dedup');
  });

  const insert = (topic: string, r: string) =>
    t.db.query('INSERT INTO outbox (topic, payload) VALUES ($1, $2)', [topic, JSON.stringify({ r })]);

  it.skipIf(!factory.available)('moves pending rows to their queue in one transaction, in order, once', async () => {
    await insert('cda-lab-report', 'DiagnosticReport/a');
    await insert('mssante-send', 'Communication/b');
    await insert('cda-lab-report', 'DiagnosticReport/c');
    expect(await outboxBacklog(t.db)).toEqual({ 'cda-lab-report': 2, 'mssante-send': 1 });

    expect(await relayOutbox(t.db, routes, { sender: 'same-database' })).toBe(3);
    expect(await relayOutbox(t.db, routes, { sender: 'same-database' })).toBe(0);
    expect(await outboxBacklog(t.db)).toEqual({});

    const cda = await queue.receive('cda', LONG);
    expect(cda.map((m) => m.groupId)).toEqual(['DiagnosticReport/a', 'DiagnosticReport/c']);
    const mss = await queue.receive('mssante', LONG);
    expect(mss.map((m) => JSON.parse(m.body))).toEqual([{ r: 'Communication/b' }]);
  });

  it.skipIf(!factory.available)('leaves rows of an unrouted topic pending', async () => {
    await insert('audit-export', 'x');
    await insert('cda-lab-report', 'DiagnosticReport/a');
    expect(await relayOutbox(t.db, routes, { sender: 'same-database' })).toBe(1);
    expect(await outboxBacklog(t.db)).toEqual({ 'audit-export': 1 });
  });

  it.skipIf(!factory.available)('relays at most `max` rows per run, oldest first', async () => {
    for (let i = 0; i < 5; i++) await insert('cda-lab-report', `DiagnosticReport/${i}`);
    expect(await relayOutbox(t.db, routes, { sender: 'same-database', max: 2 })).toBe(2);
    expect(await outboxBacklog(t.db)).toEqual({ 'cda-lab-report': 3 });
    const got = await queue.receive('cda', LONG);
    expect(got.map((m) => m.groupId)).toEqual(['DiagnosticReport/0', 'DiagnosticReport/1']);
  });

  it.skipIf(!factory.available)('keeps the rows pending when an external send fails, and resends them', async () => {
    await insert('cda-lab-report', 'DiagnosticReport/a');
    const failing = {
      send: async () => {
        throw new Error('SQS unavailable');
      },
    };
    await expect(relayOutbox(t.db, routes, { sender: failing })).rejects.toThrow('SQS unavailable');
    expect(await outboxBacklog(t.db)).toEqual({ 'cda-lab-report': 1 });

    const sent: { queue: string; messages: OutgoingMessage[] }[] = [];
    const ok = { send: async (q: string, messages: OutgoingMessage[]) => void sent.push({ queue: q, messages }) };
    expect(await relayOutbox(t.db, routes, { sender: ok })).toBe(1);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.queue).toBe('cda');
    // The outbox sequence is the deduplication id: a resend after a crash is dropped by SQS FIFO.
    expect(sent[0]!.messages[0]!.deduplicationId).toMatch(/^outbox-\d+$/);
  });

  it.skipIf(!factory.available)('purges relayed rows older than the retention only', async () => {
    await insert('cda-lab-report', 'DiagnosticReport/a');
    await insert('cda-lab-report', 'DiagnosticReport/b');
    await relayOutbox(t.db, routes, { sender: 'same-database', max: 1 });
    await t.db.query("UPDATE outbox SET relayed_at = now() - interval '10 days' WHERE relayed_at IS NOT NULL");
    expect(await purgeRelayedOutbox(t.db, 7)).toBe(1);
    expect(await outboxBacklog(t.db)).toEqual({ 'cda-lab-report': 1 });
  });
});
