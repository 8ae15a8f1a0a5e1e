import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SqlExecutor } from '../../../lambdas/adapters/sql/executor.js';
import { MIGRATIONS, type Migration, migrate } from '../../../lambdas/adapters/sql/migrate.js';
import { createPgliteExecutor } from '../../../lambdas/adapters/sql/pglite.js';

describe('migrate', () => {
  let db: SqlExecutor;
  beforeAll(async () => {
    db = await createPgliteExecutor();
  });
  afterAll(async () => {
    await db.close();
  });

  it('applies every migration once and is re-runnable', async () => {
    expect(await migrate(db)).toEqual(MIGRATIONS.map((m) => m.version));
    const before = db.stats.roundTrips;
    expect(await migrate(db)).toEqual([]);
    // Up to date: one statement to find out.
    expect(db.stats.roundTrips - before).toBe(1);
  });

  it('applies a new migration on top, in one transaction', async () => {
    const next: Migration = { version: 999, name: 'test-extra', statements: ['CREATE TABLE test_extra (x int)'] };
    expect(await migrate(db, [...MIGRATIONS, next])).toEqual([999]);
    expect((await db.query('SELECT count(*)::int AS n FROM test_extra')).rows[0]?.n).toBe(0);
  });

  it('rolls back a failing migration entirely', async () => {
    const bad: Migration = {
      version: 1000,
      name: 'test-bad',
      statements: ['CREATE TABLE test_half (x int)', 'CREATE TABLE broken ('],
    };
    await expect(migrate(db, [...MIGRATIONS, bad])).rejects.toThrow();
    await expect(db.query('SELECT 1 FROM test_half')).rejects.toMatchObject({ code: '42P01' });
  });

  it('refuses to run when an applied migration was edited', async () => {
    const edited = MIGRATIONS.map((m) => (m.version === 1 ? { ...m, statements: [...m.statements, 'SELECT 1'] } : m));
    await expect(migrate(db, [...edited, { version: 1001, name: 'x', statements: ['SELECT 1'] }])).rejects.toThrow(
      /was changed after it was applied/,
    );
  });
});
