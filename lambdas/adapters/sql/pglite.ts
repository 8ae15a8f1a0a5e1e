import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import {
  plainParam,
  type QueryOptions,
  SqlError,
  type SqlExecutor,
  type SqlParam,
  type SqlResult,
  type SqlRow,
} from './executor.js';
import { normalizeRow, toSqlError } from './rows.js';

/**
 * Embedded PostgreSQL (PGlite, WASM) adapter: the default for `npm start` and tests.
 * PGlite is a single session, so statements are serialized here: a transaction holds the session
 * until it ends and other callers wait for it.
 */
export async function createPgliteExecutor(dataDir?: string): Promise<SqlExecutor & { readonly db: PGlite }> {
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const db = dataDir ? await PGlite.create(dataDir) : await PGlite.create();
  return wrapPglite(db, true);
}

/** Wraps an existing PGlite instance; `owned` decides whether close() closes it. */
export function wrapPglite(db: PGlite, owned = false): SqlExecutor & { readonly db: PGlite } {
  const stats = { roundTrips: 0 };
  let tail: Promise<unknown> = Promise.resolve();
  let closed = false;

  /** Runs `fn` when the session is free; returns its result. */
  function exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = tail.then(fn, fn);
    tail = run.catch(() => undefined);
    return run;
  }

  async function run<R extends SqlRow>(text: string, params: readonly SqlParam[] | undefined): Promise<SqlResult<R>> {
    if (closed) throw new SqlError('SQL executor is closed');
    stats.roundTrips++;
    try {
      const res = await db.query<Record<string, unknown>>(text, params ? params.map(plainParam) : undefined);
      const rows = res.rows.map(normalizeRow) as R[];
      return { rows, rowCount: res.affectedRows ?? rows.length };
    } catch (err) {
      throw toSqlError(err);
    }
  }

  function txExecutor(): SqlExecutor {
    const tx: SqlExecutor = {
      kind: 'pglite',
      stats,
      query: (text, params, _options?: QueryOptions) => run(text, params),
      transaction: (fn) => fn(tx),
      close: async () => undefined,
    };
    return tx;
  }

  const executor: SqlExecutor & { readonly db: PGlite } = {
    kind: 'pglite',
    db,
    stats,
    query: (text, params) => exclusive(() => run(text, params)),
    transaction: (fn) =>
      exclusive(async () => {
        await run('BEGIN', undefined);
        try {
          const result = await fn(txExecutor());
          await run('COMMIT', undefined);
          return result;
        } catch (err) {
          await run('ROLLBACK', undefined).catch(() => undefined);
          throw err;
        }
      }),
    close: async () => {
      if (closed) return;
      await exclusive(async () => {
        closed = true;
        if (owned) await db.close();
      });
    },
  };
  return executor;
}
