import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  SqlError,
  SqlTimeoutError,
  SqlUnavailableError,
  sqlJson,
  sqlTimestamp,
} from '../../../lambdas/adapters/sql/executor.js';
import { createPgExecutor } from '../../../lambdas/adapters/sql/pg.js';
import { createPgliteExecutor } from '../../../lambdas/adapters/sql/pglite.js';
import { startTcpProxy } from '../../../scripts/chaos/tcp-proxy.js';
import { PG_SKIP_MESSAGE, PG_URL, pgTestDatabase, type TestDatabase } from '../../support/executors.js';

/** Behaviour both direct adapters share: typed parameters, driver-neutral rows, transactions, errors. */
const adapters = [
  {
    name: 'pglite',
    available: true,
    create: async (): Promise<TestDatabase> => {
      const db = await createPgliteExecutor();
      return { db, close: () => db.close() };
    },
  },
  { name: 'pg', available: PG_URL !== undefined, create: () => pgTestDatabase(4) },
];

describe.each(adapters)('$name adapter', ({ available, create }) => {
  let t: TestDatabase;
  beforeAll(async () => {
    if (available) t = await create();
  });
  afterAll(async () => {
    await t?.close();
  });
  const run = it.skipIf(!available);

  run('returns driver-neutral values and takes typed parameters', async () => {
    const res = await t.db.query(
      'SELECT $1::jsonb ->> $2 AS v, $3::timestamptz AS ts, 42::int8 AS big, 1.5::numeric AS dec, true AS b',
      [sqlJson({ k: 'é' }), 'k', sqlTimestamp('2026-03-05T10:30:00+01:00')],
    );
    const row = res.rows[0]!;
    expect(row.v).toBe('é');
    expect(new Date(String(row.ts)).toISOString()).toBe('2026-03-05T09:30:00.000Z');
    expect(Number(row.big)).toBe(42);
    expect(Number(row.dec)).toBe(1.5);
    expect(row.b).toBe(true);
  });

  run('commits and rolls back transactions, counting round trips', async () => {
    await t.db.query('CREATE TABLE IF NOT EXISTS tx_test (x int)');
    const before = t.db.stats.roundTrips;
    await t.db.transaction(async (tx) => {
      await tx.query('INSERT INTO tx_test VALUES (1)');
    });
    expect(t.db.stats.roundTrips - before).toBe(3);
    await expect(
      t.db.transaction(async (tx) => {
        await tx.query('INSERT INTO tx_test VALUES (2)');
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    const rows = await t.db.query<{ x: number }>('SELECT x FROM tx_test ORDER BY x');
    expect(rows.rows.map((r) => r.x)).toEqual([1]);
  });

  run('keeps the SQLSTATE of a failed statement', async () => {
    await t.db.query('CREATE TABLE IF NOT EXISTS uniq_test (x int PRIMARY KEY)');
    await t.db.query('INSERT INTO uniq_test VALUES (1)');
    const err = await t.db.query('INSERT INTO uniq_test VALUES (1)').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SqlError);
    expect((err as SqlError).code).toBe('23505');
  });
});

describe.skipIf(!PG_URL)('pg adapter plan hints', () => {
  it('runs stable-plan statements on connections that use the cached generic plan', async () => {
    const t = await pgTestDatabase(2);
    try {
      const mode = async (plan: 'generic' | 'custom' | undefined) =>
        (await t.db.query("SELECT current_setting('plan_cache_mode') || $1 AS m", [''], { plan })).rows[0]?.m;
      expect(await mode('generic')).toBe('force_generic_plan');
      expect(await mode('custom')).toBe('auto');
      expect(await mode(undefined)).toBe('auto');
    } finally {
      await t.close();
    }
  });

  it('applies the hint inside a transaction for that statement on, and only until the transaction ends', async () => {
    const t = await pgTestDatabase(1);
    try {
      const seen = await t.db.transaction(async (tx) => {
        const mode = async (plan?: 'generic' | 'custom') =>
          (await tx.query("SELECT current_setting('plan_cache_mode') || $1 AS m", [''], { plan })).rows[0]?.m;
        return [await mode(), await mode('generic'), await mode('generic'), await mode('custom'), await mode()];
      });
      expect(seen).toEqual(['auto', 'force_generic_plan', 'force_generic_plan', 'auto', 'auto']);
      // Pool of one: the next transaction gets the same connection, back to its own setting.
      const after = await t.db.transaction(
        async (tx) => (await tx.query("SELECT current_setting('plan_cache_mode') AS m")).rows[0]?.m,
      );
      expect(after).toBe('auto');
      await expect(
        t.db.transaction(async (tx) => {
          await tx.query('SELECT 1 AS x', [], { plan: 'generic' });
          throw new Error('abort');
        }),
      ).rejects.toThrow('abort');
      expect(
        await t.db.transaction(
          async (tx) => (await tx.query("SELECT current_setting('plan_cache_mode') AS m")).rows[0]?.m,
        ),
      ).toBe('auto');
    } finally {
      await t.close();
    }
  });
});

describe.skipIf(!PG_URL)('pg adapter bounded statements', () => {
  it('cancels a bounded statement at the time limit, keeps the URL options, and leaves other statements alone', async () => {
    const t = await pgTestDatabase(2, { boundedStatementMs: 300 });
    try {
      const slow = t.db.query('SELECT pg_sleep(3) AS s', [], { bounded: true });
      await expect(slow).rejects.toBeInstanceOf(SqlTimeoutError);
      await expect(slow).rejects.toMatchObject({ code: '57014' });
      await expect(
        t.db.query('SELECT pg_sleep($1) AS s', [3], { bounded: true, plan: 'generic' }),
      ).rejects.toBeInstanceOf(SqlTimeoutError);
      // Unbounded statements run past the limit, and the bounded connections kept the URL's search_path.
      expect((await t.db.query('SELECT pg_sleep(0.5)::text AS s')).rows).toEqual([{ s: '' }]);
      const path = await t.db.query<{ p: string }>("SELECT current_setting('search_path') AS p", [], { bounded: true });
      expect(path.rows[0]?.p).toBe(t.schema);
      const limit = await t.db.query<{ v: string }>("SELECT current_setting('statement_timeout') AS v", [], {
        bounded: true,
      });
      expect(limit.rows[0]?.v).toBe('300ms');
      expect((await t.db.query<{ v: string }>("SELECT current_setting('statement_timeout') AS v")).rows[0]?.v).toBe(
        '0',
      );
    } finally {
      await t.close();
    }
  });
});

describe('pg adapter without a server', () => {
  it('reports an unreachable server as unavailable', async () => {
    // Port 9 (discard) on loopback is closed on these machines: connection refused at once.
    const db = createPgExecutor('postgres://nobody@127.0.0.1:9/none', 1);
    try {
      await expect(db.query('SELECT 1')).rejects.toBeInstanceOf(SqlUnavailableError);
      await expect(db.transaction(async () => undefined)).rejects.toBeInstanceOf(SqlUnavailableError);
    } finally {
      await db.close();
    }
  });
});

if (!PG_URL) console.warn(PG_SKIP_MESSAGE);

describe('pglite prepared statements', () => {
  it('keeps working when the first run of a statement fails after it was prepared', async () => {
    const db = await createPgliteExecutor();
    try {
      await db.query('CREATE TABLE once (x int PRIMARY KEY)');
      await db.query('INSERT INTO once VALUES (1)');
      const insert = 'INSERT INTO once VALUES ($1) RETURNING x';
      await expect(db.query(insert, [1])).rejects.toMatchObject({ code: '23505' });
      expect((await db.query(insert, [2])).rows).toEqual([{ x: 2 }]);
      await expect(db.query(insert, [2])).rejects.toMatchObject({ code: '23505' });
      // A statement that does not parse is not remembered, and the session stays usable.
      await expect(db.query('SELEC $1', [1])).rejects.toMatchObject({ code: '42601' });
      expect((await db.query('SELECT $1::int AS v', [7])).rows).toEqual([{ v: 7 }]);
    } finally {
      await db.close();
    }
  });

  it('uses cached generic plans, and the usual choice for value-dependent statements', async () => {
    const db = await createPgliteExecutor();
    try {
      const mode = async (plan?: 'generic' | 'custom') =>
        (await db.query("SELECT current_setting('plan_cache_mode') || $1 AS m", [''], { plan })).rows[0]?.m;
      expect(await mode()).toBe('force_generic_plan');
      expect(await mode('custom')).toBe('auto');
      expect(await mode('generic')).toBe('force_generic_plan');
      await db.query('CREATE TABLE kv (k text PRIMARY KEY, v int)');
      await db.query("INSERT INTO kv SELECT 'k' || i, i FROM generate_series(1, 50) i");
      for (let i = 1; i <= 8; i++) {
        const res = await db.query('SELECT v FROM kv WHERE k LIKE $1', [`k${i}`], { plan: 'custom' });
        expect(res.rows).toEqual([{ v: i }]);
      }
      const insert = 'INSERT INTO kv VALUES ($1, $2)';
      await expect(db.query(insert, ['k1', 0], { plan: 'custom' })).rejects.toMatchObject({ code: '23505' });
      expect((await db.query(insert, ['k99', 99], { plan: 'custom' })).rowCount).toBe(1);
      // The session setting is back after a failed value-dependent statement too.
      expect(await mode()).toBe('force_generic_plan');
    } finally {
      await db.close();
    }
  });
});

describe.skipIf(!PG_URL)('pg adapter when the connection dies inside a transaction', () => {
  it('fails the transaction and keeps the process alive; the next statement reconnects', async () => {
    const server = new URL(PG_URL ?? '');
    const proxy = await startTcpProxy({ host: server.hostname, port: Number(server.port || 5432) });
    const viaProxy = new URL(server);
    viaProxy.hostname = '127.0.0.1';
    viaProxy.port = String(proxy.port);
    const db = createPgExecutor(viaProxy.toString(), 2);
    try {
      await expect(
        db.transaction(async (tx) => {
          await tx.query('SELECT 1');
          // The connection dies while the transaction does work of its own: 'error' on the checked-out client.
          proxy.cut();
          await new Promise((r) => setTimeout(r, 200));
          proxy.restore();
          await tx.query('SELECT 2');
        }),
      ).rejects.toBeInstanceOf(SqlError);
      expect((await db.query<{ n: number }>('SELECT 3 AS n')).rows).toEqual([{ n: 3 }]);
    } finally {
      await db.close();
      await proxy.close();
    }
  });
});
