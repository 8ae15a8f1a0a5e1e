/**
 * SQL executor adapter for the RDS Data API (Aurora PostgreSQL Serverless v2 / provisioned).
 *
 * Every statement is one HTTPS call (`ExecuteStatement`); transactions are explicit
 * (`BeginTransaction` → `transactionId` → `CommitTransaction` / `RollbackTransaction`).
 * Service facts this adapter relies on (see /work/shared/spec/aws.md §2):
 * - named parameters only (`:name`), so positional `$n` are rewritten to `:pn`;
 * - a string parameter is bound as `character varying` unless it carries a `typeHint`;
 * - `formatRecordsAs: 'JSON'` returns the rows as one JSON string keyed by column alias;
 * - a response over 1 MiB or a row over 64 KB fails the whole call;
 * - an auto-paused Serverless v2 cluster answers `DatabaseResumingException` (statement not run).
 */
import {
  BeginTransactionCommand,
  CommitTransactionCommand,
  ExecuteStatementCommand,
  type ExecuteStatementCommandInput,
  type ExecuteStatementCommandOutput,
  type RDSDataClient,
  RollbackTransactionCommand,
  type SqlParameter,
} from '@aws-sdk/client-rds-data';
import {
  isTypedParam,
  QUERY_CANCELED,
  type QueryOptions,
  SqlError,
  type SqlExecutor,
  SqlLimitError,
  type SqlParam,
  type SqlResult,
  type SqlRow,
  SqlTimeoutError,
  SqlUnavailableError,
} from './executor.js';

export interface DataApiRetryOptions {
  /** Total attempts for a retryable failure, the first one included (default 6). */
  attempts?: number;
  /** Delay before the first retry, doubled on each further retry (default 250 ms). */
  baseDelayMs?: number;
  /** Upper bound of one delay (default 5 s). */
  maxDelayMs?: number;
}

export interface DataApiExecutorOptions {
  client: RDSDataClient;
  resourceArn: string;
  secretArn: string;
  database: string;
  retry?: DataApiRetryOptions;
}

/** Errors meaning "the statement was not run, try again later". */
const RETRYABLE_ERRORS = new Set(['DatabaseResumingException', 'DatabaseUnavailableException']);
/** Errors meaning the database cannot be reached right now (not retried: a write may have run). */
const UNAVAILABLE_ERRORS = new Set([...RETRYABLE_ERRORS, 'ServiceUnavailableError', 'InternalServerErrorException']);

/**
 * Wordings of the 1 MiB response failure. The troubleshooting guide titles it "Database response
 * exceeded size limit"; clients in the wild match "Database returned more than the allowed response
 * size limit" (BadRequestException) and, on Serverless v2, "The result exceeds the size limit"
 * (UnsupportedResultException).
 */
const RESPONSE_TOO_LARGE = /response size limit|response exceeded size limit|result exceeds the size limit/i;
/** Wording of the 64 KB row failure ("Packet for query is too large" in the troubleshooting guide). */
const ROW_TOO_LARGE = /packet for query is too large/i;

const FIRST_PAGE_SIZE = 1000;

interface Shared {
  readonly client: RDSDataClient;
  readonly resourceArn: string;
  readonly secretArn: string;
  readonly database: string;
  readonly retry: Required<DataApiRetryOptions>;
  readonly stats: { roundTrips: number };
  closed: boolean;
}

interface PreparedStatement {
  readonly sql: string;
  readonly parameters: SqlParameter[];
  /** Original values, only used to keep them out of error messages. */
  readonly values: readonly SqlParam[];
}

/**
 * Creates a {@link SqlExecutor} that runs statements through the RDS Data API.
 * The client is owned by the caller: `close()` only stops this executor from sending more calls.
 */
export function createDataApiExecutor(opts: DataApiExecutorOptions): SqlExecutor {
  const shared: Shared = {
    client: opts.client,
    resourceArn: opts.resourceArn,
    secretArn: opts.secretArn,
    database: opts.database,
    retry: {
      attempts: Math.max(1, opts.retry?.attempts ?? 6),
      baseDelayMs: Math.max(0, opts.retry?.baseDelayMs ?? 250),
      maxDelayMs: Math.max(0, opts.retry?.maxDelayMs ?? 5000),
    },
    stats: { roundTrips: 0 },
    closed: false,
  };
  return makeExecutor(shared, undefined);
}

function makeExecutor(shared: Shared, transactionId: string | undefined): SqlExecutor {
  const executor: SqlExecutor = {
    kind: 'data-api',
    stats: shared.stats,
    query: <R extends SqlRow = SqlRow>(text: string, params?: readonly SqlParam[], options?: QueryOptions) =>
      runQuery(shared, transactionId, text, params, options) as Promise<SqlResult<R>>,
    transaction: async <T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> => {
      // Already in a transaction: the Data API has no savepoint call, so nest by joining.
      if (transactionId !== undefined) return fn(executor);
      return runTransaction(shared, fn);
    },
    close: async () => {
      shared.closed = true;
    },
  };
  return executor;
}

async function runTransaction<T>(shared: Shared, fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
  assertOpen(shared);
  const ids = { resourceArn: shared.resourceArn, secretArn: shared.secretArn };
  let transactionId: string;
  try {
    // Begin changes nothing, so a paused cluster may be waited for.
    const begun = await send(shared, true, () =>
      shared.client.send(new BeginTransactionCommand({ ...ids, database: shared.database })),
    );
    if (!begun.transactionId) throw new SqlError('Data API BeginTransaction returned no transaction id');
    transactionId = begun.transactionId;
  } catch (err) {
    throw toSqlError(err, []);
  }

  let result: T;
  try {
    result = await fn(makeExecutor(shared, transactionId));
  } catch (err) {
    try {
      await send(shared, false, () => shared.client.send(new RollbackTransactionCommand({ ...ids, transactionId })));
    } catch {
      // The original failure matters more; the service also drops an idle transaction after 3 minutes.
    }
    throw err;
  }
  try {
    await send(shared, false, () => shared.client.send(new CommitTransactionCommand({ ...ids, transactionId })));
  } catch (err) {
    throw toSqlError(err, []);
  }
  return result;
}

async function runQuery(
  shared: Shared,
  transactionId: string | undefined,
  text: string,
  params: readonly SqlParam[] | undefined,
  options: QueryOptions | undefined,
): Promise<SqlResult> {
  assertOpen(shared);
  const statement = prepareStatement(text, params ?? []);
  try {
    return await execute(shared, transactionId, statement);
  } catch (err) {
    if (isResponseTooLarge(err) && options?.readOnly) return runPaged(shared, transactionId, statement);
    throw toSqlError(err, statement.values);
  }
}

/**
 * Re-runs a read-only statement in LIMIT/OFFSET pages after the one-shot answer exceeded 1 MiB,
 * halving the page until it fits. Row order is that of the wrapped statement, so it must ORDER BY
 * for a stable concatenation.
 */
async function runPaged(
  shared: Shared,
  transactionId: string | undefined,
  statement: PreparedStatement,
): Promise<SqlResult> {
  const inner = statement.sql.trim().replace(/;\s*$/, '');
  const rows: SqlRow[] = [];
  let pageSize = FIRST_PAGE_SIZE;
  let offset = 0;
  for (;;) {
    const page = { ...statement, sql: `SELECT * FROM (${inner}) AS pfi_page LIMIT ${pageSize} OFFSET ${offset}` };
    let result: SqlResult;
    try {
      result = await execute(shared, transactionId, page);
    } catch (err) {
      if (isResponseTooLarge(err) && pageSize > 1) {
        pageSize = Math.floor(pageSize / 2);
        continue;
      }
      throw toSqlError(err, statement.values);
    }
    rows.push(...result.rows);
    if (result.rows.length < pageSize) return { rows, rowCount: rows.length };
    offset += pageSize;
  }
}

async function execute(
  shared: Shared,
  transactionId: string | undefined,
  statement: PreparedStatement,
): Promise<SqlResult> {
  const input: ExecuteStatementCommandInput = {
    resourceArn: shared.resourceArn,
    secretArn: shared.secretArn,
    database: shared.database,
    sql: statement.sql,
    formatRecordsAs: 'JSON',
    ...(statement.parameters.length > 0 ? { parameters: statement.parameters } : {}),
    ...(transactionId !== undefined ? { transactionId } : {}),
  };
  // Inside a transaction a failed call may have aborted it: never replay a statement there.
  const output = await send(shared, transactionId === undefined, () =>
    shared.client.send(new ExecuteStatementCommand(input)),
  );
  return toResult(output);
}

function toResult(output: ExecuteStatementCommandOutput): SqlResult {
  const rows = parseRecords(output.formattedRecords);
  // Statements that return records (SELECT, DML … RETURNING) count their rows; plain writes
  // report numberOfRecordsUpdated.
  const rowCount = rows.length > 0 ? rows.length : (output.numberOfRecordsUpdated ?? 0);
  return { rows, rowCount };
}

function parseRecords(formatted: string | undefined): SqlRow[] {
  if (formatted === undefined || formatted === '') return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(formatted);
  } catch {
    throw new SqlError('Data API returned formattedRecords that are not JSON');
  }
  if (!Array.isArray(parsed)) throw new SqlError('Data API returned formattedRecords that are not a JSON array');
  return parsed.map((record: unknown) => {
    if (typeof record !== 'object' || record === null || Array.isArray(record)) {
      throw new SqlError('Data API returned a record that is not a JSON object');
    }
    const row: SqlRow = {};
    for (const [key, value] of Object.entries(record)) row[key] = toCell(value);
    return row;
  });
}

/** Keeps the port's contract (scalars only): arrays and structs come back as their JSON text. */
function toCell(value: unknown): string | number | boolean | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  return JSON.stringify(value);
}

/** Sends one command, counting the round trip; retries a paused/unavailable database when allowed. */
async function send<O>(shared: Shared, retryable: boolean, call: () => Promise<O>): Promise<O> {
  const { attempts, baseDelayMs, maxDelayMs } = shared.retry;
  for (let attempt = 1; ; attempt++) {
    shared.stats.roundTrips++;
    try {
      return await call();
    } catch (err) {
      const name = errorName(err);
      if (!RETRYABLE_ERRORS.has(name)) throw err;
      if (!retryable) {
        throw new SqlUnavailableError(
          `Database unavailable (${name}) inside a transaction; the transaction was not retried, try again later`,
          undefined,
          { cause: err },
        );
      }
      if (attempt >= attempts) {
        throw new SqlUnavailableError(
          `Database still unavailable (${name}) after ${attempts} attempts; Aurora may be resuming, try again later`,
          undefined,
          { cause: err },
        );
      }
      const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
      // "Equal jitter": at least half the exponential delay, so retries spread without collapsing to 0.
      await sleep(ceiling / 2 + Math.random() * (ceiling / 2));
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function assertOpen(shared: Shared): void {
  if (shared.closed) throw new SqlError('The Data API executor is closed');
}

function errorName(err: unknown): string {
  return err instanceof Error ? err.name : '';
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function isResponseTooLarge(err: unknown): boolean {
  return err instanceof Error && !(err instanceof SqlError) && RESPONSE_TOO_LARGE.test(err.message);
}

/**
 * Maps a Data API failure to the port's errors. The message keeps the PostgreSQL sentence but drops
 * Detail/Hint lines (they echo row values) and masks any parameter value the database repeated.
 */
function toSqlError(err: unknown, values: readonly SqlParam[]): SqlError {
  if (err instanceof SqlError) return err;
  const name = errorName(err) || 'Error';
  const message = errorMessage(err);
  if (RESPONSE_TOO_LARGE.test(message)) {
    return new SqlLimitError(
      'The result exceeded the Data API 1 MiB response limit: page the query (LIMIT/keyset) or pass { readOnly: true }',
    );
  }
  if (ROW_TOO_LARGE.test(message)) {
    return new SqlLimitError('A result row exceeded the Data API 64 KB row limit: select fewer or smaller columns');
  }
  if (name === 'StatementTimeoutException') {
    // The service cancels a statement after 45 s; 57014 is PostgreSQL's query_canceled.
    return new SqlTimeoutError('The statement exceeded the Data API 45 s timeout and was cancelled', QUERY_CANCELED);
  }
  if (UNAVAILABLE_ERRORS.has(name)) {
    return new SqlUnavailableError(`Database unavailable (${name}); try again later`, undefined, { cause: err });
  }
  const code = /SQLState:\s*([0-9A-Z]{5})/i.exec(message)?.[1]?.toUpperCase();
  return new SqlError(`Data API ${name}: ${sanitize(message, values)}`, code);
}

function sanitize(message: string, values: readonly SqlParam[]): string {
  let text = message
    .split(/\r?\n|\s+(?:Detail|Hint|Where|Position):/)[0]!
    .replace(/;?\s*SQLState:.*$/i, '')
    .replace(/^ERROR:\s*/i, '')
    .trim();
  for (const value of values) {
    const raw = value === null ? '' : isTypedParam(value) ? value.value : String(value);
    // Short values (flags, single letters) would mask ordinary words without hiding anything personal.
    if (raw.length >= 3) text = text.split(raw).join('[redacted]');
  }
  return text || 'statement failed';
}

/** Builds the Data API statement: named parameters and their typed values. */
function prepareStatement(text: string, values: readonly SqlParam[]): PreparedStatement {
  if (values.length === 0) return { sql: text, parameters: [], values };
  const { sql, indexes } = toNamedParameters(text);
  const parameters: SqlParameter[] = [];
  for (const index of indexes) {
    if (index < 1 || index > values.length) {
      throw new SqlError(`Statement references $${index} but only ${values.length} parameter(s) were given`);
    }
    parameters.push(toSqlParameter(`p${index}`, values[index - 1] as SqlParam, index));
  }
  return { sql, parameters, values };
}

/** Maps one port parameter to a Data API `SqlParameter`. Exported for tests. */
export function toSqlParameter(name: string, value: SqlParam, position = 0): SqlParameter {
  if (value === null) return { name, value: { isNull: true } };
  if (typeof value === 'string') return { name, value: { stringValue: value } };
  if (typeof value === 'boolean') return { name, value: { booleanValue: value } };
  if (typeof value === 'number') {
    return Number.isSafeInteger(value)
      ? { name, value: { longValue: value } }
      : { name, value: { doubleValue: value } };
  }
  switch (value.sqlType) {
    case 'json':
      return { name, value: { stringValue: value.value }, typeHint: 'JSON' };
    case 'uuid':
      return { name, value: { stringValue: value.value }, typeHint: 'UUID' };
    case 'timestamp':
      return { name, value: { stringValue: formatTimestamp(value.value, position) }, typeHint: 'TIMESTAMP' };
  }
}

/** The Data API TIMESTAMP hint wants `YYYY-MM-DD HH:MM:SS[.FFF]`: no `T`, no offset, so UTC. */
function formatTimestamp(value: string, position: number): string {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) throw new SqlError(`Parameter $${position} is not a valid timestamp`);
  return date.toISOString().replace('T', ' ').replace('Z', '');
}

/**
 * Rewrites positional `$1..$n` into Data API named parameters `:p1..:pn`, leaving string literals
 * (`'…'`, `E'…'`), quoted identifiers, dollar-quoted bodies and comments untouched.
 * Returns the rewritten SQL and the parameter numbers it references, in first-use order.
 */
export function toNamedParameters(sql: string): { sql: string; indexes: number[] } {
  let out = '';
  const indexes: number[] = [];
  let i = 0;
  while (i < sql.length) {
    const ch = sql[i]!;
    const next = sql[i + 1];
    const end = skipNonCode(sql, i);
    if (end > i) {
      out += sql.slice(i, end);
      i = end;
      continue;
    }
    if (ch === '$' && next !== undefined && /[0-9]/.test(next) && !isIdentChar(sql[i - 1])) {
      let j = i + 1;
      while (j < sql.length && /[0-9]/.test(sql[j]!)) j++;
      const index = Number(sql.slice(i + 1, j));
      if (!indexes.includes(index)) indexes.push(index);
      out += `:p${index}`;
      i = j;
      continue;
    }
    out += ch;
    i++;
  }
  return { sql: out, indexes };
}

/** When a literal, quoted identifier, dollar-quoted body or comment starts at `i`, the index after it. */
function skipNonCode(sql: string, i: number): number {
  const ch = sql[i];
  const next = sql[i + 1];
  if (ch === "'") {
    const escapes = (sql[i - 1] === 'E' || sql[i - 1] === 'e') && !isIdentChar(sql[i - 2]);
    return skipQuoted(sql, i, "'", escapes);
  }
  if (ch === '"') return skipQuoted(sql, i, '"', false);
  if (ch === '-' && next === '-') {
    const eol = sql.indexOf('\n', i);
    return eol === -1 ? sql.length : eol + 1;
  }
  if (ch === '/' && next === '*') return skipBlockComment(sql, i);
  if (ch === '$' && !isIdentChar(sql[i - 1])) {
    const tag = /^\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/.exec(sql.slice(i))?.[0];
    if (tag) {
      const close = sql.indexOf(tag, i + tag.length);
      return close === -1 ? sql.length : close + tag.length;
    }
  }
  return i;
}

function skipQuoted(sql: string, start: number, quote: string, backslashEscapes: boolean): number {
  let i = start + 1;
  while (i < sql.length) {
    const ch = sql[i];
    if (backslashEscapes && ch === '\\') {
      i += 2;
      continue;
    }
    if (ch === quote) {
      if (sql[i + 1] === quote) {
        i += 2;
        continue;
      }
      return i + 1;
    }
    i++;
  }
  return sql.length;
}

/** PostgreSQL block comments nest. */
function skipBlockComment(sql: string, start: number): number {
  let depth = 0;
  let i = start;
  while (i < sql.length) {
    if (sql[i] === '/' && sql[i + 1] === '*') {
      depth++;
      i += 2;
    } else if (sql[i] === '*' && sql[i + 1] === '/') {
      depth--;
      i += 2;
      if (depth === 0) return i;
    } else {
      i++;
    }
  }
  return sql.length;
}

function isIdentChar(ch: string | undefined): boolean {
  return ch !== undefined && /[A-Za-z0-9_$\u0080-\uffff]/.test(ch);
}
