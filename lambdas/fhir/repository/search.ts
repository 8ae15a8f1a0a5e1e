import {
  type QueryOptions,
  SqlError,
  type SqlExecutor,
  type SqlParam,
  type SqlResult,
  type SqlRow,
} from '../../adapters/sql/executor.js';
import { badRequest } from '../errors.js';
import { type Filter, type SearchRequest, splitPipes } from '../search/parse.js';
import {
  type Cursor,
  decodeCursor,
  filterCondition,
  keysetCondition,
  orderBy,
  Params,
  sortExpression,
} from '../search/sql.js';
import type { StoredResource } from './repository.js';
import { indexVersionSql } from './write-sql.js';

export interface SearchResult {
  matches: StoredResource[];
  included: StoredResource[];
  total?: number;
  next?: Cursor;
  prev?: Cursor;
  /** _revinclude hit its cap: some referencing resources were left out. */
  includeTruncated: boolean;
}

/** At most this many resources are added by _include/_revinclude to one page. */
export const MAX_INCLUDED = 1000;

interface Row {
  mode: string;
  resource_type: string | null;
  id: string | null;
  version: number | null;
  content: string | null;
  lu: number | null;
  [key: string]: string | number | boolean | null;
}

const toStored = (r: Row): StoredResource => ({
  resourceType: r.resource_type!,
  id: r.id!,
  versionId: r.version!,
  lastUpdated: new Date(r.lu!).toISOString(),
  json: r.content!,
});

/**
 * Runs one search page in ONE statement: the matching page (keyset-paginated, so pages stay stable
 * while rows are inserted), the _include/_revinclude resources and, when asked, the total.
 */
/**
 * A search whose best plan does not depend on the values: only exact tokens, references by id and
 * `_id`, in the default order. A frequent code (`gender=female`) or a short prefix wants a plan made
 * for its value, so those are planned each time.
 */
function isStable(req: SearchRequest): boolean {
  if (req.sort.length > 0 || req.filters.length === 0) return false;
  return req.filters.every(
    (f) =>
      isExactToken(f) ||
      (f.kind === 'id' && f.modifier === undefined) ||
      (f.kind === 'reference' &&
        !f.chain &&
        f.modifier === undefined &&
        f.values.length === 1 &&
        /\//.test(f.values[0]!)),
  );
}

/** `system|code` with both parts, no modifier, one value. */
function isExactToken(f: Filter): boolean {
  if (f.kind !== 'token' || f.modifier !== undefined || f.chain || f.values.length !== 1) return false;
  const parts = splitPipes(f.values[0]!);
  return parts.length === 2 && parts[0] !== '' && parts[1] !== '';
}

export async function runSearch(db: SqlExecutor, req: SearchRequest): Promise<SearchResult> {
  const p = new Params();
  const type = p.add(req.resourceType);
  const conds = [`r.resource_type = ${type}`, 'NOT r.deleted'];
  // An exact token (identifier=system|value, code=system|code) drives the query as a join: at most one
  // index row per resource version matches it (rows are deduplicated), and a join plans and runs
  // cheaper than the semi-join of the general case.
  const driving = req.filters.find(isExactToken);
  let from = 'resource r';
  if (driving) {
    const [system, code] = splitPipes(driving.values[0]!) as [string, string];
    from = `sp_token d JOIN resource r ON r.resource_type = d.resource_type AND r.id = d.id
      AND d.version = ${indexVersionSql('r', 'token')}`;
    conds.push(
      `d.resource_type = ${type} AND d.param = ${p.add(driving.code)} AND d.system = ${p.add(system)} AND d.code = ${p.add(code)}`,
    );
  }
  for (const f of req.filters) if (f !== driving) conds.push(filterCondition(f, 'r', p));
  const where = conds.join('\n  AND ');

  if (req.summary === 'count' || req.count === 0) {
    const res = await readQuery<{ total: number }>(
      db,
      `SELECT count(*)::int AS total FROM ${from} WHERE ${where}`,
      p.values,
      { readOnly: true, plan: isStable(req) ? 'generic' : 'custom' },
    );
    return { matches: [], included: [], total: res.rows[0]?.total ?? 0, includeTruncated: false };
  }

  const keys = req.sort.map((k) => ({ ...sortExpression(k, p), descending: k.descending }));
  if (keys.length === 0) keys.push({ expr: 'r.last_updated', cast: 'timestamptz', descending: false });
  const cursor = req.cursor ? decodeCursor(req.cursor, keys.length) : undefined;
  const backward = cursor?.d === 'p';
  const pageConds = cursor ? `${where}\n  AND ${keysetCondition(keys, cursor, p)}` : where;
  // Sort keys come back as text columns k0…kn: the cursor of the next/previous page.
  const keyColumns = keys.map((k, i) => `(${k.expr})::text AS k${i}`).join(', ');
  const keyNames = keys.map((_, i) => `k${i}`).join(', ');
  const nullKeys = keys.map(() => 'NULL::text').join(', ');
  const limit = p.add(req.count + 1);

  const pageSelect = `SELECT 'm' AS mode, r.resource_type, r.id, r.version, r.index_version, r.content,
        extract(epoch FROM r.last_updated)::float8 * 1000 AS lu, ${keyColumns}
      FROM ${from} WHERE ${pageConds}
      ORDER BY ${orderBy(keys, backward)} LIMIT ${limit}`;
  const ctes = [`page AS (SELECT q.*, (row_number() OVER ())::int AS ord FROM (${pageSelect}) q)`];
  const selects = [`SELECT mode, resource_type, id, version, content, lu, ${keyNames}, ord FROM page`];
  let countParam: string | undefined;
  const count = () => (countParam ??= p.add(req.count));
  const includeParts: string[] = [];
  for (const inc of req.include) {
    const target = inc.targetType ? ` AND s.target_type = ${p.add(inc.targetType)}` : '';
    includeParts.push(`SELECT t.resource_type, t.id, t.version, t.content, t.last_updated FROM page pg
      JOIN sp_reference s ON s.resource_type = pg.resource_type AND s.id = pg.id
        AND s.version = ${indexVersionSql('pg', 'reference')}
        AND s.param = ${p.add(inc.param.code)}${target}
      JOIN resource t ON t.resource_type = s.target_type AND t.id = s.target_id AND NOT t.deleted
      WHERE pg.ord <= ${count()}`);
  }
  for (const inc of req.revinclude) {
    includeParts.push(`SELECT t.resource_type, t.id, t.version, t.content, t.last_updated FROM page pg
      JOIN sp_reference s ON s.resource_type = ${p.add(inc.sourceType)} AND s.param = ${p.add(inc.param.code)}
        AND s.target_type = pg.resource_type AND s.target_id = pg.id
      JOIN resource t ON t.resource_type = s.resource_type AND t.id = s.id
        AND s.version = ${indexVersionSql('t', 'reference')} AND NOT t.deleted
      WHERE pg.ord <= ${count()}`);
  }
  if (includeParts.length) {
    ctes.push(`inc AS (SELECT DISTINCT u.resource_type, u.id, u.version, u.content,
        extract(epoch FROM u.last_updated)::float8 * 1000 AS lu
      FROM (${includeParts.join('\nUNION ALL\n')}) u LIMIT ${MAX_INCLUDED + 1})`);
    selects.push(`SELECT 'i', resource_type, id, version, content, lu, ${nullKeys}, NULL::int FROM inc`);
  }
  if (req.total === 'accurate' || req.total === 'estimate') {
    selects.push(
      `SELECT 't', NULL::text, NULL::text, (SELECT count(*)::int FROM ${from} WHERE ${where}), NULL::text, NULL::float8, ${nullKeys}, NULL::int`,
    );
  }
  // The plain page (the common case) needs no CTE: less to plan, less to run.
  const sql =
    selects.length === 1
      ? pageSelect
      : `WITH ${ctes.join(',\n')}\n${selects.join('\nUNION ALL\n')}\nORDER BY mode, ord`;
  const res = await readQuery<Row>(db, sql, p.values, { readOnly: true, plan: isStable(req) ? 'generic' : 'custom' });

  let page = res.rows.filter((r) => r.mode === 'm');
  const more = page.length > req.count;
  page = page.slice(0, req.count);
  if (backward) page.reverse();
  const included = res.rows.filter((r) => r.mode === 'i');
  const totalRow = res.rows.find((r) => r.mode === 't');
  const keyOf = (r: Row | undefined): Cursor | undefined => {
    if (!r) return undefined;
    const k = keys.map((_, i) => {
      const v = r[`k${i}`];
      return v === null || v === undefined ? null : String(v);
    });
    return { d: 'n', k, id: r.id! };
  };
  const first = keyOf(page[0]);
  const last = keyOf(page.at(-1));
  const result: SearchResult = {
    matches: page.map(toStored),
    included: included.slice(0, MAX_INCLUDED).map(toStored),
    includeTruncated: included.length > MAX_INCLUDED,
  };
  if (totalRow) result.total = Number(totalRow.version);
  else if (!cursor && !more) result.total = page.length;
  const hasNext = backward ? true : more;
  const hasPrev = backward ? more : cursor !== undefined;
  if (hasNext && last) result.next = { ...last, d: 'n' };
  if (hasPrev && first) result.prev = { ...first, d: 'p' };
  return result;
}

/**
 * Runs a search statement, bounded in time (the client is waiting: past the executor's limit the database cancels it
 * and the router answers 503 too-costly); a value PostgreSQL refuses (SQLSTATE class 22: a crafted _cursor, a date
 * or number out of range) is the client's error, a 400, not a 500.
 */
async function readQuery<R extends SqlRow>(
  db: SqlExecutor,
  text: string,
  values: readonly SqlParam[],
  options: QueryOptions,
): Promise<SqlResult<R>> {
  try {
    return await db.query<R>(text, values, { ...options, bounded: true });
  } catch (err) {
    if (err instanceof SqlError && err.code?.startsWith('22')) {
      throw badRequest('A search value or _cursor is out of range or malformed');
    }
    throw err;
  }
}

export interface HistoryEntry extends StoredResource {
  deleted: boolean;
}

export interface HistoryPage {
  entries: HistoryEntry[];
  next?: string;
}

/** Instance or type history, newest first, keyset-paginated on (last_updated, id, version). */
export async function runHistory(
  db: SqlExecutor,
  opts: { resourceType: string; id?: string; count: number; since?: string; cursor?: string },
): Promise<HistoryPage> {
  const p = new Params();
  const conds = [`h.resource_type = ${p.add(opts.resourceType)}`];
  if (opts.id) conds.push(`h.id = ${p.add(opts.id)}`);
  if (opts.since) conds.push(`h.last_updated >= ${p.add(opts.since)}::timestamptz`);
  if (opts.cursor) {
    let c: { t: string; id: string; v: number };
    try {
      c = JSON.parse(Buffer.from(opts.cursor, 'base64url').toString('utf8'));
      if (typeof c.t !== 'string' || typeof c.id !== 'string' || typeof c.v !== 'number') throw new Error();
    } catch {
      throw badRequest('_cursor is invalid');
    }
    conds.push(`(h.last_updated, h.id, h.version) < (${p.add(c.t)}::timestamptz, ${p.add(c.id)}, ${p.add(c.v)})`);
  }
  const res = await readQuery<{
    id: string;
    version: number;
    deleted: boolean;
    content: string | null;
    lu: number;
    t: string;
  }>(
    db,
    `SELECT h.id, h.version, h.deleted, h.content, extract(epoch FROM h.last_updated)::float8 * 1000 AS lu,
       h.last_updated::text AS t
     FROM resource_history h WHERE ${conds.join(' AND ')}
     ORDER BY h.last_updated DESC, h.id DESC, h.version DESC LIMIT ${p.add(opts.count + 1)}`,
    p.values,
    { readOnly: true },
  );
  const rows = res.rows.slice(0, opts.count);
  const page: HistoryPage = {
    entries: rows.map((r) => ({
      resourceType: opts.resourceType,
      id: r.id,
      versionId: r.version,
      lastUpdated: new Date(r.lu).toISOString(),
      json: r.content ?? '',
      deleted: r.deleted,
    })),
  };
  const last = rows.at(-1);
  if (res.rows.length > opts.count && last) {
    page.next = Buffer.from(JSON.stringify({ t: last.t, id: last.id, v: last.version })).toString('base64url');
  }
  return page;
}
