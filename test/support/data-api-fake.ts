/**
 * A fake RDS Data API for tests: `aws-sdk-client-mock` answers the four commands the adapter uses by
 * really running the SQL on PGlite, in the service's shape and with the service's limits:
 * - named parameters (`:p1`) bound like the service binds them: `stringValue` as `character varying`
 *   (so a missing `::jsonb` cast fails as it does on Aurora), `longValue` as `bigint`, `doubleValue`
 *   as `double precision`; hinted strings (JSON/UUID/TIMESTAMP/…) are validated, then sent untyped
 *   for PostgreSQL to cast;
 * - `formattedRecords`: a JSON array of objects keyed by column alias; integers and floats as JSON
 *   numbers, booleans as JSON booleans, `numeric` as a string, `json`/`jsonb` as their text,
 *   timestamps as `YYYY-MM-DD HH:MM:SS[.ffffff]` (UTC, no offset), everything else as PostgreSQL text;
 * - a row over 64 KB, a response over 1 MiB, multi-statement SQL and unknown transaction ids fail
 *   like the service (messages from the Data API troubleshooting guide and observed clients).
 *
 * PGlite is one session: while a transaction is open, statements sent without its id wait for it
 * to end (the real service would run them on another connection).
 */
import { randomUUID } from 'node:crypto';
import {
  BadRequestException,
  BeginTransactionCommand,
  type BeginTransactionCommandInput,
  CommitTransactionCommand,
  type CommitTransactionCommandInput,
  DatabaseErrorException,
  DatabaseResumingException,
  ExecuteStatementCommand,
  type ExecuteStatementCommandInput,
  type ExecuteStatementCommandOutput,
  type Field,
  RDSDataClient,
  RollbackTransactionCommand,
  type RollbackTransactionCommandInput,
  type SqlParameter,
} from '@aws-sdk/client-rds-data';
import { PGlite } from '@electric-sql/pglite';
import { mockClient } from 'aws-sdk-client-mock';
import { createDataApiExecutor, type DataApiRetryOptions } from '../../lambdas/adapters/sql/data-api.js';
import type { SqlExecutor } from '../../lambdas/adapters/sql/executor.js';

export const FAKE_RESOURCE_ARN = 'arn:aws:rds:eu-west-3:123456789012:cluster:pfi';
export const FAKE_SECRET_ARN = 'arn:aws:secretsmanager:eu-west-3:123456789012:secret:pfi-db-credentials';
export const FAKE_DATABASE = 'pfi';

const RESPONSE_LIMIT_BYTES = 1024 * 1024;
const ROW_LIMIT_BYTES = 64 * 1024;
const RESPONSE_TOO_LARGE_MESSAGE = 'Database returned more than the allowed response size limit';
const ROW_TOO_LARGE_MESSAGE = 'Packet for query is too large';

type CommandName = 'BeginTransaction' | 'ExecuteStatement' | 'CommitTransaction' | 'RollbackTransaction';

export interface FakeDataApiCall {
  readonly command: CommandName;
  readonly input: BeginTransactionCommandInput | ExecuteStatementCommandInput | CommitTransactionCommandInput;
}

export interface FakeDataApiControls {
  /** Every command received, failed ones included, in order. */
  readonly calls: readonly FakeDataApiCall[];
  /** The next `n` commands (of any kind) fail with `DatabaseResumingException`, as a paused cluster does. */
  failNextWithResuming(n: number): void;
  /** The next `n` commands fail with `error` (e.g. a `DatabaseUnavailableException`). */
  failNextWith(error: Error, n?: number): void;
  /** Rolls back a transaction left open (e.g. after a refused Rollback); true when there was one. */
  rollbackOpenTransaction(): Promise<boolean>;
  /** Forgets the recorded calls. */
  clearCalls(): void;
  /** Forgets the recorded calls and any failure still queued. */
  reset(): void;
  /** The mocked client, for building more executors (e.g. with other retry settings). */
  readonly client: RDSDataClient;
}

export interface FakeDataApi {
  executor: SqlExecutor;
  fake: FakeDataApiControls;
  pglite: PGlite;
  close(): Promise<void>;
}

export interface FakeDataApiOptions {
  /** Run on this PGlite instead of a fresh in-memory one (it is then left open by `close()`). */
  pglite?: PGlite;
  /** Retry settings of the returned executor (tests use tiny delays). */
  retry?: DataApiRetryOptions;
  /** How long a statement outside the open transaction waits before failing (default 10 s). */
  lockTimeoutMs?: number;
}

/** Creates the fake Data API and an executor from the real adapter wired to it. */
export async function createFakeDataApi(opts: FakeDataApiOptions = {}): Promise<FakeDataApi> {
  const pglite = opts.pglite ?? (await PGlite.create());
  const ownsPglite = opts.pglite === undefined;
  const client = new RDSDataClient({ region: 'eu-west-3' });
  const mock = mockClient(client);
  const service = new FakeService(pglite, opts.lockTimeoutMs ?? 10_000);

  mock
    .on(BeginTransactionCommand)
    .callsFake((input: BeginTransactionCommandInput) =>
      service.handle('BeginTransaction', input, () => service.begin()),
    );
  mock
    .on(ExecuteStatementCommand)
    .callsFake((input: ExecuteStatementCommandInput) =>
      service.handle('ExecuteStatement', input, () => service.execute(input)),
    );
  mock
    .on(CommitTransactionCommand)
    .callsFake((input: CommitTransactionCommandInput) =>
      service.handle('CommitTransaction', input, () => service.end(input.transactionId, 'COMMIT')),
    );
  mock
    .on(RollbackTransactionCommand)
    .callsFake((input: RollbackTransactionCommandInput) =>
      service.handle('RollbackTransaction', input, () => service.end(input.transactionId, 'ROLLBACK')),
    );

  const executor = createDataApiExecutor({
    client,
    resourceArn: FAKE_RESOURCE_ARN,
    secretArn: FAKE_SECRET_ARN,
    database: FAKE_DATABASE,
    ...(opts.retry ? { retry: opts.retry } : {}),
  });

  const fake: FakeDataApiControls = {
    get calls() {
      return service.calls;
    },
    failNextWithResuming: (n) => {
      for (let i = 0; i < n; i++) {
        service.failures.push(
          new DatabaseResumingException({
            message:
              'The request was cancelled because the Aurora Serverless v2 DB instance was paused. ' +
              'The Data API request automatically resumes the DB instance. Wait a few seconds and try again.',
            $metadata: {},
          }),
        );
      }
    },
    failNextWith: (error, n = 1) => {
      for (let i = 0; i < n; i++) service.failures.push(error);
    },
    rollbackOpenTransaction: () => service.abandonOpenTransaction(),
    clearCalls: () => {
      service.calls.length = 0;
    },
    reset: () => {
      service.calls.length = 0;
      service.failures.length = 0;
    },
    client,
  };

  return {
    executor,
    fake,
    pglite,
    close: async () => {
      await executor.close();
      await service.abandonOpenTransaction();
      mock.restore();
      client.destroy();
      if (ownsPglite) await pglite.close();
    },
  };
}

interface OpenTransaction {
  readonly id: string;
  readonly release: () => void;
}

class FakeService {
  readonly calls: FakeDataApiCall[] = [];
  readonly failures: Error[] = [];
  private open: OpenTransaction | undefined;
  /** PGlite has a single session: held by a statement or by the open transaction. */
  private locked = false;
  /** Resolves when the session is freed. */
  private idle: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: PGlite,
    private readonly lockTimeoutMs: number,
  ) {}

  async handle<T>(command: CommandName, input: FakeDataApiCall['input'], run: () => Promise<T>): Promise<T> {
    this.calls.push({ command, input });
    const failure = this.failures.shift();
    if (failure) throw failure;
    return run();
  }

  async begin(): Promise<{ transactionId: string }> {
    const release = await this.acquire();
    try {
      await this.db.query('BEGIN');
    } catch (err) {
      release();
      throw toServiceError(err);
    }
    const id = randomUUID();
    this.open = { id, release };
    return { transactionId: id };
  }

  async end(transactionId: string | undefined, verb: 'COMMIT' | 'ROLLBACK'): Promise<{ transactionStatus: string }> {
    const tx = this.requireTransaction(transactionId);
    this.open = undefined;
    try {
      await this.db.query(verb);
    } catch (err) {
      throw toServiceError(err);
    } finally {
      tx.release();
    }
    return { transactionStatus: verb === 'COMMIT' ? 'Transaction Committed' : 'Rollback Complete' };
  }

  async execute(input: ExecuteStatementCommandInput): Promise<Partial<ExecuteStatementCommandOutput>> {
    if (!input.sql) throw badRequest('SQL statement is required');
    if (input.resourceArn !== FAKE_RESOURCE_ARN) throw badRequest('Invalid resource ARN');
    const bound = bindNamedParameters(input.sql, input.parameters ?? []);
    if (input.transactionId !== undefined) {
      this.requireTransaction(input.transactionId);
      return this.run(bound);
    }
    const release = await this.acquire();
    try {
      return await this.run(bound);
    } finally {
      release();
    }
  }

  /** Rolls back a transaction left open, so the session (and a caller-supplied PGlite) is clean. */
  async abandonOpenTransaction(): Promise<boolean> {
    const tx = this.open;
    if (!tx) return false;
    this.open = undefined;
    try {
      await this.db.query('ROLLBACK');
    } finally {
      tx.release();
    }
    return true;
  }

  private async run(bound: BoundStatement): Promise<Partial<ExecuteStatementCommandOutput>> {
    let result: Awaited<ReturnType<PGlite['query']>>;
    try {
      result = await this.db.query(bound.sql, bound.values, {
        rowMode: 'array',
        paramTypes: bound.types,
        parsers: RAW_TEXT_PARSERS,
      });
    } catch (err) {
      throw toServiceError(err);
    }
    if (result.fields.length === 0) return { numberOfRecordsUpdated: result.affectedRows ?? 0 };

    const records: Record<string, unknown>[] = [];
    for (const raw of result.rows as unknown[][]) {
      const record: Record<string, unknown> = {};
      result.fields.forEach((field, i) => {
        record[field.name] = formatValue(raw[i], field.dataTypeID);
      });
      if (Buffer.byteLength(JSON.stringify(record)) > ROW_LIMIT_BYTES) throw badRequest(ROW_TOO_LARGE_MESSAGE);
      records.push(record);
    }
    const formattedRecords = JSON.stringify(records);
    if (Buffer.byteLength(formattedRecords) > RESPONSE_LIMIT_BYTES) throw badRequest(RESPONSE_TOO_LARGE_MESSAGE);
    return { formattedRecords, numberOfRecordsUpdated: 0 };
  }

  private requireTransaction(transactionId: string | undefined): OpenTransaction {
    const tx = this.open;
    if (!tx || transactionId === undefined || tx.id !== transactionId) {
      throw badRequest(`Transaction ${transactionId ?? ''} is not found`);
    }
    return tx;
  }

  /** Waits until the session is free (no open transaction), then holds it; the returned function frees it. */
  private async acquire(): Promise<() => void> {
    const deadline = Date.now() + this.lockTimeoutMs;
    while (this.locked) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new Error(
          'Fake Data API: a statement without transactionId waited for the open transaction to end ' +
            '(PGlite has one session); run it through the transaction executor',
        );
      }
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.idle, new Promise<void>((resolve) => (timer = setTimeout(resolve, remaining)))]);
      clearTimeout(timer);
    }
    // Taken synchronously after the wait, so two waiters cannot both get the session.
    this.locked = true;
    let resolveIdle: () => void = () => {};
    this.idle = new Promise<void>((resolve) => {
      resolveIdle = resolve;
    });
    return () => {
      this.locked = false;
      resolveIdle();
    };
  }
}

/** PostgreSQL types whose PGlite parsing is replaced by the raw text, formatted like the service. */
const TYPE = {
  bool: 16,
  bytea: 17,
  int8: 20,
  int2: 21,
  int4: 23,
  oid: 26,
  json: 114,
  float4: 700,
  float8: 701,
  date: 1082,
  timestamp: 1114,
  timestamptz: 1184,
  numeric: 1700,
  uuid: 2950,
  jsonb: 3802,
  varchar: 1043,
} as const;

const RAW_TEXT_PARSERS = Object.fromEntries(Object.values(TYPE).map((oid) => [oid, (value: string) => value]));

function formatValue(raw: unknown, typeId: number): unknown {
  if (raw === null || raw === undefined) return null;
  if (typeof raw !== 'string') return raw; // arrays parsed by PGlite come back as JSON arrays, like the service
  switch (typeId) {
    case TYPE.bool:
      return raw === 't' || raw === 'true';
    case TYPE.int2:
    case TYPE.int4:
    case TYPE.int8:
    case TYPE.oid:
      return Number(raw);
    case TYPE.float4:
    case TYPE.float8: {
      const n = Number(raw);
      return Number.isFinite(n) ? n : raw;
    }
    case TYPE.timestamptz:
      return utcTimestampText(raw);
    case TYPE.bytea:
      return Buffer.from(raw.replace(/^\\x/, ''), 'hex').toString('base64');
    default:
      return raw; // numeric, json, jsonb, timestamp, date, uuid, text…: the PostgreSQL text
  }
}

/** `2024-01-02 03:04:05.123+00` → `2024-01-02 03:04:05.123` (the service drops the offset, in UTC). */
function utcTimestampText(raw: string): string {
  const match = /^(.*?)([+-]\d{2}(?::?\d{2}){0,2})$/.exec(raw);
  if (!match) return raw;
  const [, local, offset] = match;
  if (/^[+-]00(?::?00)*$/.test(offset ?? '')) return local ?? raw;
  const date = new Date(`${(local ?? '').replace(' ', 'T')}${offset}`);
  return Number.isNaN(date.getTime()) ? raw : date.toISOString().replace('T', ' ').replace('Z', '');
}

interface BoundStatement {
  readonly sql: string;
  readonly values: unknown[];
  readonly types: number[];
}

/** Rewrites `:name` into `$n` (in first-use order) and converts the Data API values for PGlite. */
function bindNamedParameters(sql: string, parameters: readonly SqlParameter[]): BoundStatement {
  const byName = new Map<string, SqlParameter>();
  for (const p of parameters) {
    if (!p.name) throw badRequest('Parameter name is required');
    if (byName.has(p.name)) throw badRequest(`Duplicate parameter name: ${p.name}`);
    byName.set(p.name, p);
  }
  const order: string[] = [];
  let out = '';
  let i = 0;
  while (i < sql.length) {
    const skipped = skipLiteral(sql, i);
    if (skipped > i) {
      out += sql.slice(i, skipped);
      i = skipped;
      continue;
    }
    const name =
      sql[i] === ':' && sql[i - 1] !== ':' ? /^:([A-Za-z_][A-Za-z0-9_]*)/.exec(sql.slice(i))?.[1] : undefined;
    if (name) {
      if (!byName.has(name)) throw badRequest(`No value specified for parameter: ${name}`);
      if (!order.includes(name)) order.push(name);
      out += `$${order.indexOf(name) + 1}`;
      i += name.length + 1;
      continue;
    }
    out += sql[i];
    i++;
  }
  const values: unknown[] = [];
  const types: number[] = [];
  for (const name of order) {
    const [value, type] = toPgValue(byName.get(name) as SqlParameter);
    values.push(value);
    types.push(type);
  }
  return { sql: out, values, types };
}

function skipLiteral(sql: string, i: number): number {
  const ch = sql[i];
  if (ch === "'" || ch === '"') {
    const backslash = ch === "'" && /[Ee]/.test(sql[i - 1] ?? '');
    let j = i + 1;
    while (j < sql.length) {
      if (backslash && sql[j] === '\\') j += 2;
      else if (sql[j] === ch && sql[j + 1] === ch) j += 2;
      else if (sql[j] === ch) return j + 1;
      else j++;
    }
    return sql.length;
  }
  if (ch === '-' && sql[i + 1] === '-') {
    const eol = sql.indexOf('\n', i);
    return eol === -1 ? sql.length : eol;
  }
  if (ch === '/' && sql[i + 1] === '*') {
    const close = sql.indexOf('*/', i + 2);
    return close === -1 ? sql.length : close + 2;
  }
  if (ch === '$') {
    const tag = /^\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i))?.[0];
    if (tag) {
      const close = sql.indexOf(tag, i + tag.length);
      return close === -1 ? sql.length : close + tag.length;
    }
  }
  return i;
}

const HINT_FORMATS: Record<string, RegExp> = {
  TIMESTAMP: /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,9})?$/,
  DATE: /^\d{4}-\d{2}-\d{2}$/,
  TIME: /^\d{2}:\d{2}:\d{2}(\.\d{1,9})?$/,
  UUID: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i,
  DECIMAL: /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/,
};

function toPgValue(p: SqlParameter): [unknown, number] {
  const v: Field | undefined = p.value;
  if (!v || v.isNull) return [null, 0];
  if (v.stringValue !== undefined) {
    if (!p.typeHint) return [v.stringValue, TYPE.varchar];
    const format = HINT_FORMATS[p.typeHint];
    const valid = p.typeHint === 'JSON' ? isJson(v.stringValue) : format?.test(v.stringValue);
    if (!valid) throw badRequest(`The value of parameter :${p.name} does not match its type hint ${p.typeHint}`);
    return [v.stringValue, 0];
  }
  if (v.longValue !== undefined) return [v.longValue, TYPE.int8];
  if (v.doubleValue !== undefined) return [v.doubleValue, TYPE.float8];
  if (v.booleanValue !== undefined) return [v.booleanValue, TYPE.bool];
  if (v.blobValue !== undefined) return [v.blobValue, TYPE.bytea];
  throw badRequest('Array parameters are not supported');
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

function badRequest(message: string): BadRequestException {
  return new BadRequestException({ message, $metadata: {} });
}

/** PostgreSQL errors come back with the server message and `; SQLState: xxxxx`, as on Aurora. */
function toServiceError(err: unknown): Error {
  if (err instanceof Error && 'code' in err && typeof err.code === 'string') {
    const detail = 'detail' in err && typeof err.detail === 'string' ? `\n  Detail: ${err.detail}` : '';
    return new DatabaseErrorException({
      message: `ERROR: ${err.message}${detail}; SQLState: ${err.code}`,
      $metadata: {},
    });
  }
  return err instanceof Error ? err : new Error(String(err));
}
