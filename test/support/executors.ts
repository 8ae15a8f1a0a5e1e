import { randomBytes } from 'node:crypto';
import type { SqlExecutor } from '../../lambdas/adapters/sql/executor.js';
import { migrate } from '../../lambdas/adapters/sql/migrate.js';
import { createPgExecutor, type PgExecutorOptions } from '../../lambdas/adapters/sql/pg.js';
import { createPgliteExecutor } from '../../lambdas/adapters/sql/pglite.js';
import { createFakeDataApi } from './data-api-fake.js';

/**
 * The three SQL adapters the repository suites run through: PGlite (always), the Data API (its
 * client mocked by a fake that executes on PGlite) and `pg` against a real PostgreSQL server when
 * PFI_TEST_DATABASE_URL is set (CI sets it; without it those suites skip with a message).
 */
export interface TestDatabase {
  db: SqlExecutor;
  close(): Promise<void>;
}

export const PG_URL = process.env.PFI_TEST_DATABASE_URL;

export const PG_SKIP_MESSAGE =
  'PFI_TEST_DATABASE_URL is not set: the PostgreSQL-server suites (races, concurrent writers) are skipped. ' +
  'Set it to e.g. postgres://postgres@127.0.0.1:5432/test to run them.';

/** A `pg` executor isolated in a fresh schema (tests run in parallel against one database). */
export async function pgTestDatabase(
  poolSize = 10,
  options: PgExecutorOptions = {},
): Promise<TestDatabase & { schema: string; url: string }> {
  if (!PG_URL) throw new Error(PG_SKIP_MESSAGE);
  const schema = `pfi_test_${randomBytes(6).toString('hex')}`;
  const admin = createPgExecutor(PG_URL, 1);
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.close();
  const url = `${PG_URL}${PG_URL.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
  const db = createPgExecutor(url, poolSize, options);
  return {
    db,
    schema,
    url,
    async close() {
      await db.close();
      const drop = createPgExecutor(PG_URL, 1);
      await drop.query(`DROP SCHEMA ${schema} CASCADE`);
      await drop.close();
    },
  };
}

export interface ExecutorFactory {
  name: 'pglite' | 'pg' | 'data-api';
  /** False when the backend is not available here (the suite is skipped with a message). */
  available: boolean;
  create(): Promise<TestDatabase>;
}

export const executorFactories: ExecutorFactory[] = [
  {
    name: 'pglite',
    available: true,
    async create() {
      const db = await createPgliteExecutor();
      await migrate(db);
      return { db, close: () => db.close() };
    },
  },
  {
    name: 'data-api',
    available: true,
    async create() {
      const fake = await createFakeDataApi({ retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 1 } });
      await migrate(fake.executor);
      return { db: fake.executor, close: () => fake.close() };
    },
  },
  {
    name: 'pg',
    available: PG_URL !== undefined,
    async create() {
      const t = await pgTestDatabase();
      await migrate(t.db);
      return t;
    },
  },
];

if (!PG_URL) console.warn(PG_SKIP_MESSAGE);
