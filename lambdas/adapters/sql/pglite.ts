import { mkdirSync } from 'node:fs';
import { PGlite, type messages as PgMessages, parse, protocol } from '@electric-sql/pglite';
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

/**
 * Distinct statement texts kept as named prepared statements (parsed and planned once). PFI's
 * statements come from a bounded set of shapes; past this many, statements are parsed each time.
 */
export const MAX_PREPARED_STATEMENTS = 1000;

const { serialize } = protocol;
type BackendMessage = PgMessages.BackendMessage;

/** Text-format value of a bind parameter. */
function bindValue(p: SqlParam): string | null {
  const v = plainParam(p);
  return v === null ? null : String(v);
}

/** The messages of the extended-protocol statement between a leading and a trailing simple query. */
function statementMessages(messages: BackendMessage[]): BackendMessage[] {
  const first = messages.findIndex((m) => m.name === 'readyForQuery');
  const end = messages.findIndex((m, i) => i > first && m.name === 'readyForQuery');
  const setFailure = messages.slice(0, first).find((m) => m.name === 'error');
  return setFailure ? [setFailure] : messages.slice(first + 1, end + 1);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** Wraps an existing PGlite instance; `owned` decides whether close() closes it. */
export function wrapPglite(db: PGlite, owned = false): SqlExecutor & { readonly db: PGlite } {
  const stats = { roundTrips: 0 };
  // Session default: prepared statements use their cached generic plan, planned once. PFI's reads,
  // writes and key searches do not depend on the values; value-dependent searches ask for `custom`.
  let tail: Promise<unknown> = db.exec('SET plan_cache_mode = force_generic_plan');
  let closed = false;
  const prepared = new Map<string, string>();

  /**
   * One extended-protocol exchange for the whole statement (Parse once per text, then Bind, Describe,
   * Execute, Sync in a single call into the WASM engine). PGlite's own `query()` makes five calls and
   * re-plans every time, which was most of the cost of a search or a write.
   */
  async function execute(
    text: string,
    params: readonly SqlParam[],
    customPlan: boolean,
  ): Promise<Record<string, unknown>[] & { affected?: number }> {
    let name = prepared.get(text);
    const parts: Uint8Array[] = [];
    let fresh: string | undefined;
    if (name === undefined) {
      fresh = prepared.size < MAX_PREPARED_STATEMENTS ? `pfi_${prepared.size + 1}` : '';
      parts.push(serialize.parse({ name: fresh, text, types: [] }));
      name = fresh;
    }
    parts.push(
      serialize.bind({ statement: name, values: params.map(bindValue) }),
      serialize.describe({ type: 'P' }),
      serialize.execute({}),
      serialize.sync(),
    );
    if (customPlan) {
      // The session uses cached generic plans (see wrapPglite); a value-dependent statement gets
      // PostgreSQL's usual choice instead, in the same exchange, and the session setting comes back.
      parts.unshift(serialize.query('SET plan_cache_mode = auto'));
      parts.push(serialize.query('SET plan_cache_mode = force_generic_plan'));
    }
    const exchange = await db.execProtocol(concat(parts), { throwOnError: false });
    const messages = customPlan ? statementMessages(exchange.messages) : exchange.messages;
    // Parse may succeed and Execute fail (a unique violation): the name exists from then on.
    if (fresh && messages.some((m) => m.name === 'parseComplete')) prepared.set(text, fresh);
    const failure = messages.find((m) => m.name === 'error');
    if (failure) throw failure;
    const [result] = parse.parseResults(messages, db.parsers);
    const rows = (result?.rows ?? []) as Record<string, unknown>[] & { affected?: number };
    rows.affected = result?.affectedRows;
    return rows;
  }

  /** Runs `fn` when the session is free; returns its result. */
  function exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = tail.then(fn, fn);
    tail = run.catch(() => undefined);
    return run;
  }

  async function run<R extends SqlRow>(
    text: string,
    params: readonly SqlParam[] | undefined,
    options?: QueryOptions,
  ): Promise<SqlResult<R>> {
    if (closed) throw new SqlError('SQL executor is closed');
    stats.roundTrips++;
    try {
      const res = await execute(text, params ?? [], options?.plan === 'custom');
      const rows = res.map(normalizeRow) as R[];
      return { rows, rowCount: res.affected ?? rows.length };
    } catch (err) {
      throw toSqlError(err);
    }
  }

  function txExecutor(): SqlExecutor {
    const tx: SqlExecutor = {
      kind: 'pglite',
      stats,
      query: (text, params, options?: QueryOptions) => run(text, params, options),
      transaction: (fn) => fn(tx),
      close: async () => undefined,
    };
    return tx;
  }

  const executor: SqlExecutor & { readonly db: PGlite } = {
    kind: 'pglite',
    db,
    stats,
    query: (text, params, options) => exclusive(() => run(text, params, options)),
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
