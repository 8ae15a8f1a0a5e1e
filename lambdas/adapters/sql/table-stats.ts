import { type SqlExecutor, sqlJson } from './executor.js';

/**
 * Planner statistics for tables that grow fast. PostgreSQL plans from statistics gathered by ANALYZE; autovacuum
 * refreshes them at most once a minute on a server and never on the embedded PGlite. A queue or FHIR table that goes
 * from empty to 20,000 rows in seconds keeps the statistics of an empty table meanwhile, and the planner then picks
 * plans for an empty table: measured, a 64-message receive on a 20,000-message backlog took 270 ms instead of 3 ms,
 * and identifier probes turned into sequential scans. This check compares each table's size on disk with the size
 * its statistics were taken at, and analyzes the tables that have grown {@link GROWTH_FACTOR}-fold since.
 *
 * Once a table has statistics, the planner scales its row estimates by the table's current size (rows per page at
 * the last ANALYZE × pages now), so statistics taken at a quarter of the size still count rows right; what ages is the
 * distribution of values, which for these tables stays stable as they grow. Each ANALYZE reads up to 30,000 rows
 * (100 to 170 ms per FHIR index table once they are that large, measured during `npm run bench -- hl7` on the
 * PostgreSQL server): refreshing at each fourfold growth rather than each doubling took one run of it from 44 ANALYZE
 * statements (3.6 s) to 28 (2.1 s).
 */

/** A table is analyzed again once it is this many times the size its statistics were taken at. */
const GROWTH_FACTOR = 4;

// Live size in pages (pg_relation_size) against the size at the last ANALYZE/VACUUM (relpages).
const GROWN_TABLES = `SELECT c.relname AS name
  FROM pg_class c
  WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r' AND NOT $2::jsonb ? c.relname::text
    AND pg_relation_size(c.oid) / current_setting('block_size')::int > c.relpages * ${GROWTH_FACTOR} + $1::int`;

/**
 * Tables whose statements reach their rows by key and index probes whatever the statistics say (the queue's receive
 * walk is tested for that), so analyzing them buys nothing. On PGlite an ANALYZE holds the platform's event loop: on
 * a queue that a burst fills it took up to 145 ms, during which no MLLP message was ACKed.
 */
const PLANNED_WITHOUT_STATISTICS = ['queue_message'];

/** Pages a table may gain before its first statistics (small tables plan the same either way). */
const MIN_GROWTH_PAGES = 16;

/**
 * Analyzes the tables of the current schema (but {@link PLANNED_WITHOUT_STATISTICS}) that have grown fourfold (and by
 * at least 16 pages) since their statistics were taken; returns their names. One cheap catalog query when nothing
 * has grown.
 *
 * @example
 * ```ts
 * setInterval(() => void refreshGrownTableStats(db).catch(() => undefined), 2000).unref();
 * ```
 */
export async function refreshGrownTableStats(db: SqlExecutor): Promise<string[]> {
  const res = await db.query<{ name: string }>(GROWN_TABLES, [MIN_GROWTH_PAGES, sqlJson(PLANNED_WITHOUT_STATISTICS)], {
    readOnly: true,
  });
  const names = res.rows.map((r) => r.name).filter((n) => /^[a-z_][a-z0-9_]*$/.test(n));
  for (const name of names) await db.query(`ANALYZE ${name}`);
  return names;
}
