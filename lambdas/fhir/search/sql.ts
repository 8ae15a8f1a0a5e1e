import type { SqlParam } from '../../adapters/sql/executor.js';
import { badRequest } from '../errors.js';
import { type IndexCategory, indexVersionSql } from '../repository/write-sql.js';
import { dateRange, normalizeString } from './extract.js';
import {
  type Filter,
  PREFIXES,
  type Prefix,
  type SearchRequest,
  type SortKey,
  splitPipes,
  unescapeValue,
} from './parse.js';

/** Collects positional parameters while SQL text is built. */
export class Params {
  readonly values: SqlParam[] = [];
  add(v: SqlParam): string {
    this.values.push(v);
    return `$${this.values.length}`;
  }
}

const likeEscape = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

function splitPrefix(value: string): { prefix: Prefix; rest: string } {
  const p = value.slice(0, 2);
  if ((PREFIXES as readonly string[]).includes(p) && /^[-+0-9.]/.test(value.slice(2))) {
    return { prefix: p as Prefix, rest: value.slice(2) };
  }
  return { prefix: 'eq', rest: value };
}

function searchDateRange(code: string, raw: string): { prefix: Prefix; low: string; high: string } {
  const { prefix, rest } = splitPrefix(raw);
  const range = dateRange(rest);
  if (!range) throw badRequest(`${code}: the value is not a valid date`);
  return { prefix, low: range.low, high: range.high };
}

/** The implicit range of a decimal search value: `5.4` means [5.35, 5.45). */
function precisionRange(rest: string): { value: number; low: number; high: number } {
  if (!/^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/.test(rest)) throw badRequest('A search value is not a valid number');
  const value = Number(rest);
  if (!Number.isFinite(value)) throw badRequest('A search value is out of range');
  const [mantissa = '', exp] = rest.toLowerCase().split('e');
  const decimals = mantissa.includes('.') ? mantissa.split('.')[1]!.length : 0;
  const half = 0.5 * 10 ** (-decimals + (exp ? Number(exp) : 0));
  return { value, low: value - half, high: value + half };
}

/** Condition on a numeric column for a prefixed search value. */
function numericCondition(col: string, raw: string, p: Params): string {
  const { prefix, rest } = splitPrefix(raw);
  const { value, low, high } = precisionRange(rest);
  let vp: string | undefined;
  const v = () => (vp ??= p.add(value));
  switch (prefix) {
    case 'eq':
      return `(${col} >= ${p.add(low)} AND ${col} < ${p.add(high)})`;
    case 'ne':
      return `NOT (${col} >= ${p.add(low)} AND ${col} < ${p.add(high)})`;
    case 'gt':
    case 'sa':
      return `${col} > ${v()}`;
    case 'lt':
    case 'eb':
      return `${col} < ${v()}`;
    case 'ge':
      return `${col} >= ${v()}`;
    case 'le':
      return `${col} <= ${v()}`;
    case 'ap': {
      const margin = Math.abs(value) * 0.1;
      return `(${col} >= ${p.add(value - margin)} AND ${col} <= ${p.add(value + margin)})`;
    }
  }
}

/** FHIR date semantics between a stored range [low, high) (NULL = unbounded) and a search range. */
function dateCondition(code: string, raw: string, p: Params): string {
  const { prefix, low, high } = searchDateRange(code, raw);
  let slp: string | undefined;
  let shp: string | undefined;
  // Parameters are added on first use: PostgreSQL refuses a statement with an unused typeless parameter.
  const sl = () => (slp ??= `${p.add(low)}::timestamptz`);
  const sh = () => (shp ??= `${p.add(high)}::timestamptz`);
  const eq = () => `(s.low >= ${sl()} AND s.high <= ${sh()})`;
  const gt = () => `(s.high > ${sh()} OR s.high IS NULL)`;
  const lt = () => `(s.low < ${sl()} OR s.low IS NULL)`;
  switch (prefix) {
    case 'eq':
      return eq();
    case 'ne':
      return `NOT COALESCE(${eq()}, false)`;
    case 'gt':
      return gt();
    case 'lt':
      return lt();
    case 'ge':
      return `(${gt()} OR ${eq()})`;
    case 'le':
      return `(${lt()} OR ${eq()})`;
    case 'sa':
      return `s.low >= ${sh()}`;
    case 'eb':
      return `s.high <= ${sl()}`;
    case 'ap':
      return `((s.low < ${sh()} OR s.low IS NULL) AND (s.high > ${sl()} OR s.high IS NULL))`;
  }
}

/** `_lastUpdated` on the resource column (an instant). */
function lastUpdatedCondition(alias: string, raw: string, p: Params): string {
  const { prefix, low, high } = searchDateRange('_lastUpdated', raw);
  const col = `${alias}.last_updated`;
  const sl = () => `${p.add(low)}::timestamptz`;
  const sh = () => `${p.add(high)}::timestamptz`;
  switch (prefix) {
    case 'eq':
    case 'ap':
      return `(${col} >= ${sl()} AND ${col} < ${sh()})`;
    case 'ne':
      return `NOT (${col} >= ${sl()} AND ${col} < ${sh()})`;
    case 'gt':
    case 'sa':
      return `${col} >= ${sh()}`;
    case 'lt':
    case 'eb':
      return `${col} < ${sl()}`;
    case 'ge':
      return `${col} >= ${sl()}`;
    case 'le':
      return `${col} < ${sh()}`;
  }
}

function tokenCondition(value: string, p: Params): string {
  const parts = splitPipes(value);
  if (parts.length === 1) return `s.code = ${p.add(parts[0]!)}`;
  const [system, code] = parts as [string, string];
  if (system === '') return `(s.system IS NULL AND s.code = ${p.add(code)})`;
  if (code === '') return `s.system = ${p.add(system)}`;
  return `(s.system = ${p.add(system)} AND s.code = ${p.add(code)})`;
}

function quantityCondition(value: string, p: Params): string {
  const [num = '', system, code] = splitPipes(value);
  const conds = [numericCondition('s.value', num, p)];
  if (system && code) conds.push(`s.system = ${p.add(system)} AND s.code = ${p.add(code)}`);
  else if (code) conds.push(`(s.code = ${p.add(code)} OR s.unit = ${p.add(code)})`);
  else if (system) conds.push(`s.system = ${p.add(system)}`);
  return `(${conds.join(' AND ')})`;
}

function referenceCondition(value: string, modifier: string | undefined, p: Params): string {
  const v = unescapeValue(value);
  const typed = /^(?:.*\/)?([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/\d+)?$/.exec(v);
  if (typed) {
    if (/^https?:\/\//.test(v)) return `s.ref = ${p.add(v)}`;
    return `(s.target_type = ${p.add(typed[1]!)} AND s.target_id = ${p.add(typed[2]!)})`;
  }
  if (/^[A-Za-z0-9\-.]{1,64}$/.test(v)) {
    const type = modifier ? ` AND s.target_type = ${p.add(modifier)}` : '';
    return `(s.target_id = ${p.add(v)}${type})`;
  }
  return `s.ref = ${p.add(v)}`;
}

const TABLE: Record<string, string> = {
  string: 'sp_string',
  token: 'sp_token',
  date: 'sp_date',
  reference: 'sp_reference',
  quantity: 'sp_quantity',
  number: 'sp_number',
  uri: 'sp_uri',
};
const TABLE_CATEGORY = Object.fromEntries(Object.entries(TABLE).map(([c, t]) => [t, c as IndexCategory]));

/** One filter on rows of `alias` (a `resource` row): an EXISTS over its index table, or a column test. */
export function filterCondition(filter: Filter, alias: string, p: Params): string {
  if (filter.kind === 'id') {
    const ids = filter.values.map(unescapeValue);
    const cond = `${alias}.id IN (${ids.map((id) => p.add(id)).join(', ')})`;
    return filter.modifier === 'not' ? `NOT (${cond})` : cond;
  }
  if (filter.kind === 'lastUpdated') {
    return `(${filter.values.map((v) => lastUpdatedCondition(alias, v, p)).join(' OR ')})`;
  }
  const table = TABLE[filter.kind]!;
  const exists = (cond: string) =>
    `EXISTS (SELECT 1 FROM ${table} s WHERE s.resource_type = ${alias}.resource_type AND s.id = ${alias}.id
      AND s.version = ${indexVersionSql(alias, filter.kind as IndexCategory)} AND s.param = ${p.add(filter.code)}${
        cond ? ` AND ${cond}` : ''
      })`;
  if (filter.modifier === 'missing') {
    const e = exists('');
    return filter.values[0] === 'true' ? `NOT ${e}` : e;
  }
  if (filter.chain) {
    const { targetType, filter: inner } = filter.chain;
    const innerCond = filterCondition(inner, 'c', p);
    return exists(
      `s.target_type = ${p.add(targetType)} AND s.target_id IN (SELECT c.id FROM resource c
        WHERE c.resource_type = ${p.add(targetType)} AND NOT c.deleted AND ${innerCond})`,
    );
  }
  const ors = filter.values.map((raw) => {
    const v = unescapeValue(raw);
    switch (filter.kind) {
      case 'string': {
        if (filter.modifier === 'exact') return `s.exact = ${p.add(v)}`;
        const n = likeEscape(normalizeString(v));
        return filter.modifier === 'contains' ? `s.norm LIKE ${p.add(`%${n}%`)}` : `s.norm LIKE ${p.add(`${n}%`)}`;
      }
      case 'token':
        return tokenCondition(raw, p);
      case 'date':
        return dateCondition(filter.code, raw, p);
      case 'reference':
        return referenceCondition(raw, filter.modifier, p);
      case 'quantity':
        return quantityCondition(raw, p);
      case 'number':
        return numericCondition('s.value', raw, p);
      case 'uri':
        return filter.modifier === 'below' ? `s.uri LIKE ${p.add(`${likeEscape(v)}%`)}` : `s.uri = ${p.add(v)}`;
      default:
        throw badRequest(`unsupported parameter ${filter.code}`);
    }
  });
  const e = exists(`(${ors.join(' OR ')})`);
  return filter.modifier === 'not' ? `NOT ${e}` : e;
}

/** SQL expression of one sort key for rows of `r`, and the cast its cursor value needs. */
export function sortExpression(key: SortKey, p: Params): { expr: string; cast: string } {
  if (key.kind === 'lastUpdated') return { expr: 'r.last_updated', cast: 'timestamptz' };
  if (key.kind === 'id') return { expr: 'r.id', cast: 'text' };
  const sub = (table: string, col: string) =>
    `(SELECT min(s.${col}) FROM ${table} s WHERE s.resource_type = r.resource_type AND s.id = r.id
      AND s.version = ${indexVersionSql('r', TABLE_CATEGORY[table]!)} AND s.param = ${p.add(key.code)})`;
  switch (key.kind) {
    case 'date':
      return { expr: sub('sp_date', 'low'), cast: 'timestamptz' };
    case 'string':
      return { expr: sub('sp_string', 'norm'), cast: 'text' };
    case 'token':
      return { expr: sub('sp_token', 'code'), cast: 'text' };
    case 'quantity':
      return { expr: sub('sp_quantity', 'value'), cast: 'numeric' };
    case 'number':
      return { expr: sub('sp_number', 'value'), cast: 'numeric' };
    default:
      throw badRequest(`cannot sort on ${key.code}`);
  }
}

export interface Cursor {
  /** 'n' = rows after the keys, 'p' = rows before them. */
  d: 'n' | 'p';
  k: (string | null)[];
  id: string;
}

export const encodeCursor = (c: Cursor) => Buffer.from(JSON.stringify(c)).toString('base64url');

export function decodeCursor(raw: string, keys: number): Cursor {
  try {
    const c = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as Cursor;
    if (
      (c.d === 'n' || c.d === 'p') &&
      Array.isArray(c.k) &&
      c.k.length === keys &&
      c.k.every((k) => k === null || typeof k === 'string') &&
      typeof c.id === 'string'
    ) {
      return c;
    }
  } catch {
    // fall through
  }
  throw badRequest('_cursor is invalid or does not match _sort');
}

/**
 * Keyset condition "row comes after the cursor" in the page's order (or before it, for 'p'),
 * NULL-aware (sort keys are NULLS LAST in both directions).
 */
export function keysetCondition(
  keys: { expr: string; cast: string; descending: boolean }[],
  cursor: Cursor,
  p: Params,
): string {
  const forward = cursor.d === 'n';
  const build = (i: number): string => {
    if (i === keys.length) {
      const after = forward ? '>' : '<';
      return `r.id ${after} ${p.add(cursor.id)}`;
    }
    const { expr, cast, descending } = keys[i]!;
    const v = cursor.k[i] ?? null;
    const rest = build(i + 1);
    if (v === null) {
      // Cursor row has NULL: after it come only NULL rows (forward); before it, every non-NULL row too.
      return forward ? `(${expr} IS NULL AND ${rest})` : `(${expr} IS NOT NULL OR (${expr} IS NULL AND ${rest}))`;
    }
    const param = `${p.add(v)}::${cast}`;
    const strictly = forward
      ? `(${expr} ${descending ? '<' : '>'} ${param} OR ${expr} IS NULL)`
      : `${expr} ${descending ? '>' : '<'} ${param}`;
    return `(${strictly} OR (${expr} = ${param} AND ${rest}))`;
  };
  return build(0);
}

/** ORDER BY clause for the page, reversed when paging backwards. */
export function orderBy(keys: { expr: string; descending: boolean }[], reverse: boolean): string {
  const parts = keys.map(
    (k) => `${k.expr} ${k.descending !== reverse ? 'DESC' : 'ASC'} NULLS ${reverse ? 'FIRST' : 'LAST'}`,
  );
  parts.push(`r.id ${reverse ? 'DESC' : 'ASC'}`);
  return parts.join(', ');
}

export type { SearchRequest };
