import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { refreshGrownTableStats } from '../../../lambdas/adapters/sql/table-stats.js';
import { executorFactories, type TestDatabase } from '../../support/executors.js';

describe.each(executorFactories.filter((f) => f.name !== 'data-api'))('refreshGrownTableStats on $name', (factory) => {
  let t: TestDatabase;
  beforeAll(async () => {
    if (!factory.available) return;
    t = await factory.create();
  });
  afterAll(async () => {
    await t?.close();
  });

  it.skipIf(!factory.available)(
    'analyzes a table that grew fourfold since its statistics, not one that only doubled; never the queue',
    async () => {
      await refreshGrownTableStats(t.db);
      await t.db.query(
        `INSERT INTO outbox (topic, payload) SELECT 'stats', repeat('x', 200) FROM generate_series(1, 5000) i`,
      );
      await t.db.query(
        `INSERT INTO queue_message (queue, group_id, body, sent_at, visible_at)
       SELECT 'stats', 'g' || i, repeat('x', 200), now(), now() FROM generate_series(1, 5000) i`,
      );
      const analyzed = await refreshGrownTableStats(t.db);
      expect(analyzed).toContain('outbox');
      // Its statements do not depend on statistics (test/adapters/queue/sql-queue.test.ts, plan test).
      expect(analyzed).not.toContain('queue_message');
      const stats = await t.db.query<{ pages: number }>(
        "SELECT relpages AS pages FROM pg_class WHERE relname = 'outbox' AND relnamespace = current_schema()::regnamespace",
      );
      const pages = stats.rows[0]!.pages;
      expect(pages).toBeGreaterThan(16);
      expect(await refreshGrownTableStats(t.db)).not.toContain('outbox');
      // Two and a half times the size of its statistics: still left alone (the planner scales row estimates by the
      // current size).
      await t.db.query(
        `INSERT INTO outbox (topic, payload) SELECT 'stats', repeat('x', 200) FROM generate_series(1, 7500) i`,
      );
      expect(await refreshGrownTableStats(t.db)).not.toContain('outbox');
      // Past four times the size of its statistics (and 16 pages more): analyzed again.
      await t.db.query(
        `INSERT INTO outbox (topic, payload) SELECT 'stats', repeat('x', 200) FROM generate_series(1, 12000) i`,
      );
      expect(await refreshGrownTableStats(t.db)).toContain('outbox');
    },
  );
});
