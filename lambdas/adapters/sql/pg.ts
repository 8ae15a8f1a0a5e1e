import { createHash } from 'node:crypto';
import pg from 'pg';
import {
  plainParam,
  type QueryOptions,
  SqlError,
  type SqlExecutor,
  type SqlParam,
  type SqlResult,
  type SqlRow,
  SqlUnavailableError,
} from './executor.js';
import { normalizeRow, toSqlError } from './rows.js';

// Keep timestamps, numerics and int8 as text: the port's contract is driver-neutral values.
const passthrough = (v: string) => v;
const types = {
  getTypeParser: (oid: number, format?: string) => {
    // 1082 date, 1114 timestamp, 1184 timestamptz, 20 int8, 1700 numeric, 114/3802 json/jsonb
    if ([1082, 1114, 1184, 20, 1700, 114, 3802].includes(oid)) return passthrough;
    return pg.types.getTypeParser(oid, format as 'text');
  },
};

const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  '57P01',
  '57P03',
  '08006',
  '08001',
]);

/**
 * Distinct statement texts run as named prepared statements (parsed and planned once per connection):
 * PFI's statements come from a bounded set of shapes, and planning was a large part of a search or a
 * write. Past this many texts, statements run unnamed so an unusual workload cannot grow server memory.
 */
export const MAX_PREPARED_STATEMENTS = 1000;

/** `url` with `option` added to its `options` query parameter (server settings sent at connection start-up). */
function withStartupOption(url: string, option: string): string {
  if (!URL.canParse(url)) return url;
  const u = new URL(url);
  const existing = u.searchParams.get('options');
  u.searchParams.set('options', existing ? `${existing} ${option}` : option);
  return u.toString();
}

/** Default time limit of a {@link QueryOptions.bounded} statement: under API Gateway's 29 s integration timeout. */
export const DEFAULT_BOUNDED_STATEMENT_MS = 25_000;

export interface PgExecutorOptions {
  /** Milliseconds a `bounded` statement may run before the server cancels it (default 25 s). */
  boundedStatementMs?: number;
}

/** `pg` adapter: any PostgreSQL server reached through DATABASE_URL. */
export function createPgExecutor(
  connectionString: string,
  poolSize = 10,
  options: PgExecutorOptions = {},
): SqlExecutor & { readonly pool: pg.Pool } {
  const boundedMs = options.boundedStatementMs ?? DEFAULT_BOUNDED_STATEMENT_MS;
  if (!Number.isInteger(boundedMs) || boundedMs < 1)
    throw new RangeError('boundedStatementMs must be a positive integer');
  // Server settings go in at connection start-up (a SET sent on 'connect' would race the pool's first query on that
  // client), next to the URL's own options (a search_path…): pg lets the URL's `options` replace the configured one.
  // One pool per combination, created on first use:
  // - `plan: 'generic'` statements run on connections that always use the cached generic plan (PostgreSQL would
  //   otherwise re-plan some of them at every execution); the others keep `auto`;
  // - `bounded` statements run on connections whose statement_timeout cancels them. Those pools get half the size:
  //   with all four busy, an executor holds at most 3 × poolSize connections (30 by default), and the platform and
  //   its ingest thread hold one executor each, under PostgreSQL's default max_connections of 100.
  const pools = new Map<string, pg.Pool>();
  let closed = false;
  const poolFor = (generic: boolean, bounded: boolean): pg.Pool => {
    if (closed) throw new SqlError('The PostgreSQL executor is closed');
    const key = `${generic ? 'g' : ''}${bounded ? 'b' : ''}`;
    let p = pools.get(key);
    if (!p) {
      const settings = [
        ...(generic ? ['-c plan_cache_mode=force_generic_plan'] : []),
        ...(bounded ? [`-c statement_timeout=${boundedMs}`] : []),
      ];
      p = new pg.Pool({
        connectionString: settings.length ? withStartupOption(connectionString, settings.join(' ')) : connectionString,
        max: bounded ? Math.ceil(poolSize / 2) : poolSize,
        types,
        application_name: 'pfi',
      });
      // An idle client dying (server restart) must not crash the process; the next query reconnects.
      p.on('error', () => undefined);
      pools.set(key, p);
    }
    return p;
  };
  const pool = poolFor(false, false);
  const stats = { roundTrips: 0 };
  const prepared = new Map<string, string>();

  /** The prepared-statement name of `text`, or undefined once the budget is spent (or for transaction control). */
  function statementName(text: string, params: readonly SqlParam[] | undefined): string | undefined {
    if (!params?.length) return undefined;
    let name = prepared.get(text);
    if (name === undefined && prepared.size < MAX_PREPARED_STATEMENTS) {
      name = `pfi_${createHash('sha1').update(text).digest('hex').slice(0, 24)}`;
      prepared.set(text, name);
    }
    return name;
  }

  function mapError(err: unknown): SqlError {
    const code = (err as { code?: string })?.code;
    if (code && UNAVAILABLE_CODES.has(code)) {
      return new SqlUnavailableError('PostgreSQL server unavailable', code, { cause: err });
    }
    return toSqlError(err);
  }

  async function run<R extends SqlRow>(
    client: pg.Pool | pg.PoolClient,
    text: string,
    params: readonly SqlParam[] | undefined,
  ): Promise<SqlResult<R>> {
    stats.roundTrips++;
    try {
      const values = params ? params.map(plainParam) : undefined;
      const name = statementName(text, params);
      const res = await (name ? client.query({ name, text, values }) : client.query(text, values));
      const rows = res.rows.map(normalizeRow) as R[];
      return { rows, rowCount: res.rowCount ?? rows.length };
    } catch (err) {
      throw mapError(err);
    }
  }

  return {
    kind: 'pg',
    pool,
    stats,
    query: async (text, params, options?: QueryOptions) =>
      run(poolFor(options?.plan === 'generic', options?.bounded === true), text, params),
    async transaction(fn) {
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (err) {
        throw mapError(err);
      }
      // A transaction runs on one connection of the default pool: a plan hint becomes a transaction-local setting
      // (`DEFAULT` is the connection's own value, URL options included), sent only when the mode changes.
      let generic = false;
      const tx: SqlExecutor = {
        kind: 'pg',
        stats,
        query: async (text, params, options?: QueryOptions) => {
          const wantGeneric = options?.plan === 'generic';
          if (wantGeneric !== generic) {
            await run(
              client,
              `SET LOCAL plan_cache_mode = ${wantGeneric ? 'force_generic_plan' : 'DEFAULT'}`,
              undefined,
            );
            generic = wantGeneric;
          }
          return run(client, text, params);
        },
        transaction: (inner) => inner(tx),
        close: async () => undefined,
      };
      let broken = false;
      // A checked-out client is not the pool's to watch: its connection dying between two statements (a server
      // restart, a network cut) emits 'error' on it, which would crash the process without a listener.
      const onError = () => {
        broken = true;
      };
      client.on('error', onError);
      try {
        await run(client, 'BEGIN', undefined);
        const result = await fn(tx);
        await run(client, 'COMMIT', undefined);
        return result;
      } catch (err) {
        await run(client, 'ROLLBACK', undefined).catch(() => {
          broken = true;
        });
        throw err;
      } finally {
        client.off('error', onError);
        client.release(broken);
      }
    },
    close: async () => {
      closed = true;
      await Promise.all([...pools.values()].map((p) => p.end()));
    },
  };
}
