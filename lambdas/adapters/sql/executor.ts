/**
 * SQL executor port: the only way domain code talks to PostgreSQL.
 *
 * One dialect (the PostgreSQL 15 subset) runs unchanged on the three adapters: PGlite (embedded),
 * `pg` (DATABASE_URL) and the RDS Data API (Aurora). Parameters are positional (`$1`, `$2`, …);
 * values that need a type on the Data API are wrapped with {@link sqlJson}, {@link sqlTimestamp}
 * or {@link sqlUuid}. Always cast in SQL as well (`$1::jsonb`, `$2::timestamptz`) so every
 * backend sees the same types.
 *
 * Result contract, identical on every adapter: rows are plain objects keyed by column alias whose
 * values are `string | number | boolean | null`. Select `jsonb`, `timestamptz`, `bigint` and
 * `numeric` columns as `::text` (or `::int`/`::float8` when they fit) so no driver-specific
 * type conversion leaks into domain code.
 */

/** A typed parameter: the Data API needs a type hint, the other adapters just use the value. */
export interface TypedSqlParam {
  readonly sqlType: 'json' | 'timestamp' | 'uuid';
  readonly value: string;
}

export type SqlParam = string | number | boolean | null | TypedSqlParam;

export type SqlRow = Record<string, string | number | boolean | null>;

export interface SqlResult<R extends SqlRow = SqlRow> {
  rows: R[];
  /** Rows affected by INSERT/UPDATE/DELETE, or returned by SELECT. */
  rowCount: number;
}

export interface QueryOptions {
  /**
   * The statement only reads. The Data API adapter may then re-run it in pages when the answer
   * exceeds the 1 MiB response limit.
   */
  readonly readOnly?: boolean;
  /**
   * How the statement's plan relates to its parameter values, for adapters that cache plans:
   * `generic` — the best plan does not depend on them (equality on selective keys: an identifier, a
   * reference), even when PostgreSQL's estimates would keep re-planning it; `custom` — it does (a
   * frequent code, a string prefix): plan it for the values each time. Unset: the adapter's default
   * (primary-key reads and writes need no hint).
   */
  readonly plan?: 'generic' | 'custom';
  /**
   * The statement answers a client that is waiting (a FHIR search): the database cancels it once it has run for the
   * executor's time limit, and the adapter raises {@link SqlTimeoutError}. One costly search must not hold a
   * connection and a core for minutes after its client, and API Gateway (29 s), have given up. PGlite cannot
   * interrupt a statement (one thread, no timer signal): there the option is ignored.
   */
  readonly bounded?: boolean;
}

export interface SqlExecutor {
  readonly kind: 'pglite' | 'pg' | 'data-api';
  /** Runs one statement (no multi-statement strings: the Data API refuses them). */
  query<R extends SqlRow = SqlRow>(
    text: string,
    params?: readonly SqlParam[],
    options?: QueryOptions,
  ): Promise<SqlResult<R>>;
  /**
   * Runs `fn` in one transaction: commit when it resolves, rollback when it throws.
   * The executor passed to `fn` must be used for every statement of the transaction.
   */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  /** Statements sent to the database so far (BEGIN/COMMIT/ROLLBACK included): the round-trip counter. */
  readonly stats: { roundTrips: number };
  close(): Promise<void>;
}

export const sqlJson = (value: unknown): TypedSqlParam => ({ sqlType: 'json', value: JSON.stringify(value) });
export const sqlUuid = (value: string): TypedSqlParam => ({ sqlType: 'uuid', value });
/** An instant, sent to the database in UTC. */
export const sqlTimestamp = (value: Date | string): TypedSqlParam => ({
  sqlType: 'timestamp',
  value: (typeof value === 'string' ? new Date(value) : value).toISOString(),
});

export function isTypedParam(p: SqlParam): p is TypedSqlParam {
  return typeof p === 'object' && p !== null && 'sqlType' in p;
}

/** Value handed to drivers that understand PostgreSQL text parameters (PGlite, pg). */
export function plainParam(p: SqlParam): string | number | boolean | null {
  return isTypedParam(p) ? p.value : p;
}

/** Base of every error raised by an SQL adapter; `code` is the PostgreSQL SQLSTATE when known. */
export class SqlError extends Error {
  override readonly name: string = 'SqlError';
  constructor(
    message: string,
    readonly code?: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The database is unreachable or paused: a caller may retry later (503 to HTTP clients). */
export class SqlUnavailableError extends SqlError {
  override readonly name = 'SqlUnavailableError';
}

/** SQLSTATE 57014: the statement ran past its time limit and the database cancelled it (nothing was changed). */
export class SqlTimeoutError extends SqlError {
  override readonly name = 'SqlTimeoutError';
}

/** A result does not fit the backend's limits (Data API: 1 MiB per response, 64 KB per row). */
export class SqlLimitError extends SqlError {
  override readonly name = 'SqlLimitError';
}

/** SQLSTATE 23505: a unique constraint refused the row. */
export const UNIQUE_VIOLATION = '23505';
/** SQLSTATE 57014: query_canceled (statement_timeout, or a cancel request). */
export const QUERY_CANCELED = '57014';
/** SQLSTATE 40001 / 40P01: the transaction may succeed if retried. */
export const SERIALIZATION_FAILURE = '40001';
export const DEADLOCK_DETECTED = '40P01';
