/**
 * How the operator commands (audit:verify, audit:report, erasure:reapply) reach the platform database: a PostgreSQL
 * server directly; an embedded PGlite directory only while no platform holds it (two processes must never open one
 * PGlite directory) — when `npm start` holds it, the caller's `busy` fallback runs instead (ask the platform).
 */

import type { SqlExecutor } from '../lambdas/adapters/sql/executor.js';
import { executorFromConfig } from '../lambdas/adapters/sql/from-config.js';
import { migrate } from '../lambdas/adapters/sql/migrate.js';
import type { Config } from '../lambdas/config.js';
import { DataDirBusyError, lockDataDir } from '../lambdas/fhir/data-dir-lock.js';

/** The database could not be opened or read (its error's name only: messages may quote values). */
export class DatabaseUnreachableError extends Error {
  override readonly name = 'DatabaseUnreachableError';
}

/**
 * Runs `fn` on the configured database (migrated; locked and closed afterwards), or `busy` when a running platform
 * holds the embedded directory.
 *
 * @throws {@link DatabaseUnreachableError} when the database fails; `fn`'s own errors otherwise
 */
export async function withPlatformDatabase<T>(
  config: Config,
  fn: (db: SqlExecutor) => Promise<T>,
  busy: (err: DataDirBusyError) => Promise<T>,
): Promise<T> {
  let release = () => {};
  if (config.database.kind === 'pglite') {
    try {
      release = lockDataDir(config.dataDir);
    } catch (err) {
      if (err instanceof DataDirBusyError) return busy(err);
      throw err;
    }
  }
  let db: SqlExecutor | undefined;
  try {
    try {
      db = await executorFromConfig(config.database);
      await migrate(db);
    } catch (err) {
      throw new DatabaseUnreachableError(err instanceof Error ? err.name : 'error');
    }
    return await fn(db);
  } finally {
    await db?.close().catch(() => undefined);
    release();
  }
}
