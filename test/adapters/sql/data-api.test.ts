import {
  BadRequestException,
  DatabaseUnavailableException,
  ExecuteStatementCommand,
  type ExecuteStatementCommandInput,
  StatementTimeoutException,
} from '@aws-sdk/client-rds-data';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createDataApiExecutor, toNamedParameters, toSqlParameter } from '../../../lambdas/adapters/sql/data-api.js';
import {
  SqlError,
  SqlLimitError,
  SqlTimeoutError,
  SqlUnavailableError,
  sqlJson,
  sqlTimestamp,
  sqlUuid,
} from '../../../lambdas/adapters/sql/executor.js';
import {
  createFakeDataApi,
  FAKE_DATABASE,
  FAKE_RESOURCE_ARN,
  FAKE_SECRET_ARN,
  type FakeDataApi,
} from '../../support/data-api-fake.js';

describe('toNamedParameters', () => {
  it('rewrites $n into :pn and lists the numbers in first-use order', () => {
    expect(toNamedParameters('SELECT * FROM t WHERE a = $2 AND b = $1 OR c = $2')).toEqual({
      sql: 'SELECT * FROM t WHERE a = :p2 AND b = :p1 OR c = :p2',
      indexes: [2, 1],
    });
  });

  it('keeps casts and multi-digit numbers', () => {
    expect(toNamedParameters('VALUES ($10::jsonb, $1::timestamptz)').sql).toBe(
      'VALUES (:p10::jsonb, :p1::timestamptz)',
    );
  });

  it('leaves string literals, escaped quotes and E-strings alone', () => {
    expect(toNamedParameters("SELECT '$1', 'it''s $2', E'\\'$3', $4").sql).toBe(
      "SELECT '$1', 'it''s $2', E'\\'$3', :p4",
    );
  });

  it('leaves dollar-quoted bodies, quoted identifiers and comments alone', () => {
    const sql = 'SELECT $$ $1 $$, $fn$ $2 $fn$, "col$3", $4 -- $5\n, /* $6 /* $7 */ $8 */ $9';
    expect(toNamedParameters(sql)).toEqual({
      sql: 'SELECT $$ $1 $$, $fn$ $2 $fn$, "col$3", :p4 -- $5\n, /* $6 /* $7 */ $8 */ :p9',
      indexes: [4, 9],
    });
  });

  it('does not treat a $ inside an identifier as a parameter', () => {
    expect(toNamedParameters('SELECT a$1 FROM t WHERE x = $1').sql).toBe('SELECT a$1 FROM t WHERE x = :p1');
  });
});

describe('toSqlParameter', () => {
  it('maps every port parameter type to a Data API field', () => {
    expect(toSqlParameter('p1', 'x')).toEqual({ name: 'p1', value: { stringValue: 'x' } });
    expect(toSqlParameter('p1', 42)).toEqual({ name: 'p1', value: { longValue: 42 } });
    expect(toSqlParameter('p1', 1.5)).toEqual({ name: 'p1', value: { doubleValue: 1.5 } });
    expect(toSqlParameter('p1', 2 ** 60)).toEqual({ name: 'p1', value: { doubleValue: 2 ** 60 } });
    expect(toSqlParameter('p1', false)).toEqual({ name: 'p1', value: { booleanValue: false } });
    expect(toSqlParameter('p1', null)).toEqual({ name: 'p1', value: { isNull: true } });
    expect(toSqlParameter('p1', sqlJson({ a: 1 }))).toEqual({
      name: 'p1',
      value: { stringValue: '{"a":1}' },
      typeHint: 'JSON',
    });
    expect(toSqlParameter('p1', sqlUuid('0b6f1c6e-8f3a-4a39-9a57-6c1f2b9d7e10'))).toEqual({
      name: 'p1',
      value: { stringValue: '0b6f1c6e-8f3a-4a39-9a57-6c1f2b9d7e10' },
      typeHint: 'UUID',
    });
  });

  it('formats timestamps as UTC YYYY-MM-DD HH:MM:SS.FFF', () => {
    expect(toSqlParameter('p1', sqlTimestamp('2024-03-01T12:20:30.456+02:00'))).toEqual({
      name: 'p1',
      value: { stringValue: '2024-03-01 10:20:30.456' },
      typeHint: 'TIMESTAMP',
    });
  });

  it('refuses an invalid timestamp without echoing it', () => {
    const call = () => toSqlParameter('p3', { sqlType: 'timestamp', value: 'not-a-date-1850575' }, 3);
    expect(call).toThrow(SqlError);
    expect(call).toThrow(/\$3 is not a valid timestamp/);
    expect(call).not.toThrow(/1850575/);
  });
});

describe('Data API executor (through the PGlite-backed fake)', () => {
  let api: FakeDataApi;
  const executeInputs = (): ExecuteStatementCommandInput[] =>
    api.fake.calls.filter((c) => c.command === 'ExecuteStatement').map((c) => c.input as ExecuteStatementCommandInput);

  beforeAll(async () => {
    api = await createFakeDataApi({ retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 2 }, lockTimeoutMs: 500 });
    await api.pglite.exec(`
      CREATE TABLE item (id text PRIMARY KEY, n int, doc jsonb, at timestamptz, ref uuid);
      CREATE TABLE big (id int PRIMARY KEY, pad text NOT NULL);
      INSERT INTO big SELECT g, repeat('x', 4000) FROM generate_series(1, 300) AS g;
    `);
  });

  afterAll(async () => {
    await api.close();
  });

  beforeEach(async () => {
    await api.pglite.exec('TRUNCATE item');
    api.fake.reset();
  });

  it('has kind data-api and sends the configured ARNs, database and JSON format', async () => {
    expect(api.executor.kind).toBe('data-api');
    await api.executor.query('SELECT 1 AS one');
    expect(executeInputs()[0]).toEqual({
      resourceArn: FAKE_RESOURCE_ARN,
      secretArn: FAKE_SECRET_ARN,
      database: FAKE_DATABASE,
      sql: 'SELECT 1 AS one',
      formatRecordsAs: 'JSON',
    });
  });

  it('binds parameters of every type, a repeated $1, and leaves $1 in a literal alone', async () => {
    const result = await api.executor.query(
      `SELECT $1 AS s, $2 AS l, $3 AS d, $4 AS b, $5::text IS NULL AS n, $1 || '-again' AS s2, '$1' AS lit`,
      ['abc', 42, 1.5, true, null],
    );
    expect(result.rows).toEqual([{ s: 'abc', l: 42, d: 1.5, b: true, n: true, s2: 'abc-again', lit: '$1' }]);
    expect(result.rowCount).toBe(1);
    const input = executeInputs()[0];
    expect(input?.sql).toBe(
      `SELECT :p1 AS s, :p2 AS l, :p3 AS d, :p4 AS b, :p5::text IS NULL AS n, :p1 || '-again' AS s2, '$1' AS lit`,
    );
    expect(input?.parameters).toEqual([
      { name: 'p1', value: { stringValue: 'abc' } },
      { name: 'p2', value: { longValue: 42 } },
      { name: 'p3', value: { doubleValue: 1.5 } },
      { name: 'p4', value: { booleanValue: true } },
      { name: 'p5', value: { isNull: true } },
    ]);
  });

  it('does not rewrite or send parameters when none are given', async () => {
    const result = await api.executor.query(`SELECT '$1' AS lit`);
    expect(result.rows).toEqual([{ lit: '$1' }]);
    expect(executeInputs()[0]?.parameters).toBeUndefined();
  });

  it('refuses a statement that references a missing parameter before calling the service', async () => {
    await expect(api.executor.query('SELECT $2::text AS x', ['only-one'])).rejects.toThrow(/references \$2/);
    await expect(api.executor.query('SELECT $0::text AS x', ['a'])).rejects.toThrow(/references \$0/);
    expect(api.fake.calls).toHaveLength(0);
  });

  it('round-trips jsonb through sqlJson', async () => {
    const doc = { resourceType: 'Patient', active: true, name: [{ family: 'É' }] };
    const insert = await api.executor.query('INSERT INTO item (id, doc) VALUES ($1, $2::jsonb)', ['j1', sqlJson(doc)]);
    expect(insert).toEqual({ rows: [], rowCount: 1 });
    const read = await api.executor.query<{ doc: string }>('SELECT doc::text AS doc FROM item WHERE id = $1', ['j1']);
    expect(JSON.parse(read.rows[0]?.doc ?? 'null')).toEqual(doc);
    expect(executeInputs()[0]?.parameters?.[1]).toMatchObject({ typeHint: 'JSON' });
  });

  it('binds plain strings as character varying, like the service (a jsonb column needs the cast)', async () => {
    const err = await api.executor.query('INSERT INTO item (id, doc) VALUES ($1, $2)', ['j2', '{}']).catch((e) => e);
    expect(err).toBeInstanceOf(SqlError);
    expect(err.code).toBe('42804');
  });

  it('sends timestamps with the TIMESTAMP hint and reads timestamptz as UTC text', async () => {
    await api.executor.query('INSERT INTO item (id, at) VALUES ($1, $2::timestamptz)', [
      't1',
      sqlTimestamp('2024-03-01T12:20:30.456+02:00'),
    ]);
    expect(executeInputs()[0]?.parameters?.[1]).toEqual({
      name: 'p2',
      value: { stringValue: '2024-03-01 10:20:30.456' },
      typeHint: 'TIMESTAMP',
    });
    const read = await api.executor.query(
      `SELECT at AS raw, at = '2024-03-01T10:20:30.456Z'::timestamptz AS same FROM item WHERE id = $1`,
      ['t1'],
    );
    expect(read.rows).toEqual([{ raw: '2024-03-01 10:20:30.456', same: true }]);
  });

  it('sends uuids with the UUID hint; the service refuses a malformed one', async () => {
    const ref = '0b6f1c6e-8f3a-4a39-9a57-6c1f2b9d7e10';
    await api.executor.query('INSERT INTO item (id, ref) VALUES ($1, $2::uuid)', ['u1', sqlUuid(ref)]);
    const read = await api.executor.query('SELECT ref::text AS ref FROM item WHERE ref = $1::uuid', [sqlUuid(ref)]);
    expect(read.rows).toEqual([{ ref }]);
    await expect(api.executor.query('SELECT $1::uuid AS u', [sqlUuid('nope')])).rejects.toBeInstanceOf(SqlError);
  });

  it('reports affected rows for writes and returned rows for RETURNING', async () => {
    const insert = await api.executor.query("INSERT INTO item (id, n) VALUES ('a', 1), ('b', 2), ('c', 3)");
    expect(insert.rowCount).toBe(3);
    const update = await api.executor.query('UPDATE item SET n = n + 10 WHERE n >= $1 RETURNING id, n', [2]);
    expect(update.rows).toEqual([
      { id: 'b', n: 12 },
      { id: 'c', n: 13 },
    ]);
    expect(update.rowCount).toBe(2);
    const none = await api.executor.query('DELETE FROM item WHERE id = $1', ['zzz']);
    expect(none).toEqual({ rows: [], rowCount: 0 });
  });

  it('commits a transaction: Begin, statements with the transaction id, Commit', async () => {
    const value = await api.executor.transaction(async (tx) => {
      await tx.query('INSERT INTO item (id, n) VALUES ($1, $2)', ['tx1', 1]);
      await tx.query('INSERT INTO item (id, n) VALUES ($1, $2)', ['tx2', 2]);
      return 'done';
    });
    expect(value).toBe('done');
    expect(api.fake.calls.map((c) => c.command)).toEqual([
      'BeginTransaction',
      'ExecuteStatement',
      'ExecuteStatement',
      'CommitTransaction',
    ]);
    const ids = new Set(executeInputs().map((i) => i.transactionId));
    expect(ids.size).toBe(1);
    expect([...ids][0]).toEqual(expect.any(String));
    const read = await api.executor.query('SELECT count(*)::int AS c FROM item');
    expect(read.rows).toEqual([{ c: 2 }]);
  });

  it('rolls back when fn throws and rethrows the original error', async () => {
    const boom = new Error('domain failure');
    const err = await api.executor
      .transaction(async (tx) => {
        await tx.query('INSERT INTO item (id) VALUES ($1)', ['rb1']);
        throw boom;
      })
      .catch((e) => e);
    expect(err).toBe(boom);
    expect(api.fake.calls.at(-1)?.command).toBe('RollbackTransaction');
    const read = await api.executor.query('SELECT id FROM item WHERE id = $1', ['rb1']);
    expect(read.rows).toEqual([]);
  });

  it('rethrows the original error even when the rollback call fails', async () => {
    const boom = new Error('domain failure');
    const err = await api.executor
      .transaction(async () => {
        api.fake.failNextWith(new BadRequestException({ message: 'rollback refused', $metadata: {} }));
        throw boom;
      })
      .catch((e) => e);
    expect(err).toBe(boom);
    expect(api.fake.calls.at(-1)?.command).toBe('RollbackTransaction');
    // The refused rollback left the fake's transaction open: end it so the session is free again.
    expect(await api.fake.rollbackOpenTransaction()).toBe(true);
    await expect(api.executor.query('SELECT id FROM item')).resolves.toEqual({ rows: [], rowCount: 0 });
  });

  it('joins the running transaction on nested transaction()', async () => {
    await api.executor.transaction(async (tx) => {
      await tx.query('INSERT INTO item (id) VALUES ($1)', ['n1']);
      await tx.transaction(async (inner) => {
        await inner.query('INSERT INTO item (id) VALUES ($1)', ['n2']);
      });
    });
    expect(api.fake.calls.filter((c) => c.command === 'BeginTransaction')).toHaveLength(1);
    expect(new Set(executeInputs().map((i) => i.transactionId)).size).toBe(1);
    const read = await api.executor.query('SELECT count(*)::int AS c FROM item');
    expect(read.rows).toEqual([{ c: 2 }]);
  });

  it('counts every command as a round trip, shared with the transaction executor', async () => {
    const before = api.executor.stats.roundTrips;
    await api.executor.transaction(async (tx) => {
      await tx.query('INSERT INTO item (id) VALUES ($1)', ['r1']);
      await tx.query('INSERT INTO item (id) VALUES ($1)', ['r2']);
      expect(tx.stats.roundTrips).toBe(before + 3);
    });
    expect(api.executor.stats.roundTrips - before).toBe(4);
  });

  it('retries DatabaseResumingException and succeeds after 2 failures', async () => {
    api.fake.failNextWithResuming(2);
    const before = api.executor.stats.roundTrips;
    const result = await api.executor.query('SELECT 7 AS seven');
    expect(result.rows).toEqual([{ seven: 7 }]);
    expect(api.fake.calls).toHaveLength(3);
    expect(api.executor.stats.roundTrips - before).toBe(3);
  });

  it('gives SqlUnavailableError after the last attempt', async () => {
    api.fake.failNextWithResuming(3);
    const err = await api.executor.query('SELECT 1 AS one').catch((e) => e);
    expect(err).toBeInstanceOf(SqlUnavailableError);
    expect(err.message).toMatch(/after 3 attempts/);
    expect(api.fake.calls).toHaveLength(3);
  });

  it('uses 6 attempts by default and retries DatabaseUnavailableException too', async () => {
    const executor = createDataApiExecutor({
      client: api.fake.client,
      resourceArn: FAKE_RESOURCE_ARN,
      secretArn: FAKE_SECRET_ARN,
      database: FAKE_DATABASE,
      retry: { baseDelayMs: 0, maxDelayMs: 0 },
    });
    api.fake.failNextWith(new DatabaseUnavailableException({ message: 'unavailable', $metadata: {} }), 5);
    await expect(executor.query('SELECT 1 AS one')).resolves.toEqual({ rows: [{ one: 1 }], rowCount: 1 });
    expect(api.fake.calls).toHaveLength(6);
    api.fake.clearCalls();
    api.fake.failNextWithResuming(6);
    await expect(executor.query('SELECT 1 AS one')).rejects.toBeInstanceOf(SqlUnavailableError);
    expect(api.fake.calls).toHaveLength(6);
  });

  it('backs off exponentially between attempts', async () => {
    const executor = createDataApiExecutor({
      client: api.fake.client,
      resourceArn: FAKE_RESOURCE_ARN,
      secretArn: FAKE_SECRET_ARN,
      database: FAKE_DATABASE,
      retry: { attempts: 4, baseDelayMs: 40, maxDelayMs: 60 },
    });
    api.fake.failNextWithResuming(3);
    const started = Date.now();
    await executor.query('SELECT 1 AS one');
    // Delays are at least half of 40, 60 (capped from 80) and 60 ms.
    expect(Date.now() - started).toBeGreaterThanOrEqual(75);
  });

  it('reports the 45 s statement timeout as SqlTimeoutError, without a retry', async () => {
    api.fake.failNextWith(new StatementTimeoutException({ message: 'Request timed out', $metadata: {} }), 1);
    const err = await api.executor.query('SELECT 1 AS one').catch((e) => e);
    expect(err).toBeInstanceOf(SqlTimeoutError);
    expect(err).toMatchObject({ code: '57014' });
    expect(api.fake.calls).toHaveLength(1);
  });

  it('never retries other errors', async () => {
    api.fake.failNextWith(new BadRequestException({ message: 'something else', $metadata: {} }), 1);
    const err = await api.executor.query('SELECT 1 AS one').catch((e) => e);
    expect(err).toBeInstanceOf(SqlError);
    expect(err).not.toBeInstanceOf(SqlUnavailableError);
    expect(api.fake.calls).toHaveLength(1);
  });

  it('retries BeginTransaction but never a statement inside the transaction', async () => {
    api.fake.failNextWithResuming(1);
    await api.executor.transaction(async (tx) => {
      await tx.query('INSERT INTO item (id) VALUES ($1)', ['b1']);
    });
    expect(api.fake.calls.map((c) => c.command)).toEqual([
      'BeginTransaction',
      'BeginTransaction',
      'ExecuteStatement',
      'CommitTransaction',
    ]);

    api.fake.clearCalls();
    const err = await api.executor
      .transaction(async (tx) => {
        api.fake.failNextWithResuming(1);
        await tx.query('INSERT INTO item (id) VALUES ($1)', ['b2']);
      })
      .catch((e) => e);
    expect(err).toBeInstanceOf(SqlUnavailableError);
    expect(api.fake.calls.map((c) => c.command)).toEqual([
      'BeginTransaction',
      'ExecuteStatement',
      'RollbackTransaction',
    ]);
  });

  it('surfaces a unique violation with code 23505 and without the row values', async () => {
    const key = 'INS-2850575123456';
    await api.executor.query('INSERT INTO item (id) VALUES ($1)', [key]);
    const err = await api.executor.query('INSERT INTO item (id) VALUES ($1)', [key]).catch((e) => e);
    expect(err).toBeInstanceOf(SqlError);
    expect(err.code).toBe('23505');
    expect(err.message).toMatch(/item_pkey/);
    expect(err.message).not.toContain(key);
    expect(err.message).not.toMatch(/Detail|SQLState/);
  });

  it('masks parameter values that PostgreSQL repeats in its message', async () => {
    const err = await api.executor.query('SELECT $1::int AS n', ['secret-1850575']).catch((e) => e);
    expect(err.code).toBe('22P02');
    expect(err.message).toMatch(/invalid input syntax for type integer/);
    expect(err.message).not.toContain('secret-1850575');
  });

  it('refuses multi-statement SQL like the service', async () => {
    const err = await api.executor.query('SELECT 1; SELECT 2').catch((e) => e);
    expect(err).toBeInstanceOf(SqlError);
    expect(err.code).toBe('42601');
  });

  it('pages a read-only query whose answer exceeds 1 MiB and keeps every row in order', async () => {
    const result = await api.executor.query<{ id: number; pad: string }>(
      'SELECT id, pad FROM big WHERE id >= $1 ORDER BY id',
      [1],
      { readOnly: true },
    );
    expect(result.rowCount).toBe(300);
    expect(result.rows.map((r) => r.id)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    expect(result.rows[299]?.pad).toHaveLength(4000);
    const pages = executeInputs().slice(1);
    // 300 rows of 4 KB: 1000 and 500 still exceed 1 MiB, 250 fits.
    expect(pages.map((p) => / LIMIT (\d+) OFFSET (\d+)$/.exec(p.sql ?? '')?.slice(1))).toEqual([
      ['1000', '0'],
      ['500', '0'],
      ['250', '0'],
      ['250', '250'],
    ]);
    expect(pages[0]?.sql).toBe(
      'SELECT * FROM (SELECT id, pad FROM big WHERE id >= :p1 ORDER BY id) AS pfi_page LIMIT 1000 OFFSET 0',
    );
    expect(pages.every((p) => p.parameters?.[0]?.value?.longValue === 1)).toBe(true);
  });

  it('throws SqlLimitError for a non-read-only answer over 1 MiB', async () => {
    const err = await api.executor.query('SELECT id, pad FROM big ORDER BY id').catch((e) => e);
    expect(err).toBeInstanceOf(SqlLimitError);
    expect(err.message).toMatch(/1 MiB/);
    expect(err.message).toMatch(/page/);
    expect(api.fake.calls).toHaveLength(1);
  });

  it('throws SqlLimitError for a row over 64 KB, even read-only', async () => {
    const err = await api.executor
      .query(`SELECT repeat('y', 70 * 1024) AS huge`, [], { readOnly: true })
      .catch((e) => e);
    expect(err).toBeInstanceOf(SqlLimitError);
    expect(err.message).toMatch(/64 KB/);
  });

  it('refuses queries and transactions after close without closing the given client', async () => {
    const executor = createDataApiExecutor({
      client: api.fake.client,
      resourceArn: FAKE_RESOURCE_ARN,
      secretArn: FAKE_SECRET_ARN,
      database: FAKE_DATABASE,
    });
    await executor.close();
    await expect(executor.query('SELECT 1 AS one')).rejects.toThrow(/closed/);
    await expect(executor.transaction(async () => 1)).rejects.toThrow(/closed/);
    expect(api.fake.calls).toHaveLength(0);
    await expect(api.executor.query('SELECT 1 AS one')).resolves.toMatchObject({ rowCount: 1 });
  });
});

describe('the fake Data API itself', () => {
  let api: FakeDataApi;

  beforeAll(async () => {
    api = await createFakeDataApi({ lockTimeoutMs: 200 });
  });

  afterAll(async () => {
    await api.close();
  });

  it('answers an unknown transaction id with BadRequestException', async () => {
    const err = await api.fake.client
      .send(
        new ExecuteStatementCommand({
          resourceArn: FAKE_RESOURCE_ARN,
          secretArn: FAKE_SECRET_ARN,
          sql: 'SELECT 1',
          transactionId: 'no-such-transaction',
        }),
      )
      .catch((e) => e);
    expect(err).toBeInstanceOf(BadRequestException);
    expect(err.message).toMatch(/Transaction no-such-transaction is not found/);
  });

  it('formats numeric as text, bigint/float as numbers and jsonb as its text', async () => {
    const out = await api.fake.client.send(
      new ExecuteStatementCommand({
        resourceArn: FAKE_RESOURCE_ARN,
        secretArn: FAKE_SECRET_ARN,
        sql: `SELECT 1.50::numeric AS num, 9007199254740::int8 AS big, 0.25::float8 AS f, '{"a":1}'::jsonb AS j, false AS b`,
        formatRecordsAs: 'JSON',
      }),
    );
    expect(JSON.parse(out.formattedRecords ?? '')).toEqual([
      { num: '1.50', big: 9007199254740, f: 0.25, j: '{"a": 1}', b: false },
    ]);
    expect(out.numberOfRecordsUpdated).toBe(0);
  });

  it('makes statements outside the open transaction wait for it', async () => {
    const order: string[] = [];
    await api.executor.transaction(async (tx) => {
      const outside = api.executor.query('SELECT 1 AS one').then(() => order.push('outside'));
      await tx.query('SELECT 2 AS two');
      order.push('inside');
      // Not awaited here: awaiting would wait for this very transaction.
      void outside;
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(order).toEqual(['inside', 'outside']);
  });

  it('fails, rather than hangs, when a statement outside waits too long', async () => {
    const err = await api.executor
      .transaction(async () => {
        await api.executor.query('SELECT 1 AS one');
      })
      .catch((e) => e);
    expect(err).toBeInstanceOf(SqlError);
    expect(err.message).toMatch(/waited for the open transaction/);
  });
});
