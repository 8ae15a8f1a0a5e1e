import { badRequest } from '../errors.js';
import { getSearchParam, type SearchParamDef, type SearchParamType } from './registry.js';

/** FHIR search prefixes (numbers, dates, quantities). */
export const PREFIXES = ['eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb', 'ap'] as const;
export type Prefix = (typeof PREFIXES)[number];

export type ParamKind = SearchParamType | 'id' | 'lastUpdated';

export interface Filter {
  /** Parameter code as sent (`family`, `_id`). */
  code: string;
  kind: ParamKind;
  def?: SearchParamDef;
  modifier?: string;
  /** OR-ed values (comma-separated in the URL). */
  values: string[];
  /** One-level chain: `subject:Patient.identifier=…` */
  chain?: { targetType: string; filter: Filter };
}

export interface SortKey {
  code: string;
  kind: ParamKind;
  def?: SearchParamDef;
  descending: boolean;
}

export interface IncludeSpec {
  /** The type holding the reference (the searched type for _include, the other type for _revinclude). */
  sourceType: string;
  param: SearchParamDef;
  targetType?: string;
}

export interface SearchRequest {
  resourceType: string;
  filters: Filter[];
  count: number;
  sort: SortKey[];
  total: 'none' | 'accurate' | 'estimate';
  summary?: 'count' | 'data' | 'false';
  elements?: string[];
  include: IncludeSpec[];
  revinclude: IncludeSpec[];
  cursor?: string;
  /** Unknown parameters ignored under `Prefer: handling=lenient` (reported in an OperationOutcome). */
  ignored: string[];
}

export const DEFAULT_COUNT = 20;
export const MAX_COUNT = 1000;

const RESULT_PARAMS = new Set([
  '_count',
  '_sort',
  '_total',
  '_summary',
  '_elements',
  '_include',
  '_revinclude',
  '_cursor',
  '_format',
  '_pretty',
]);

const MODIFIERS: Record<ParamKind, readonly string[]> = {
  string: ['exact', 'contains', 'missing'],
  // :text would need the codings' display text, which is not indexed: refused rather than answered wrongly.
  token: ['not', 'missing'],
  date: ['missing'],
  reference: ['missing'],
  quantity: ['missing'],
  number: ['missing'],
  uri: ['below', 'missing'],
  id: ['not'],
  lastUpdated: [],
};

/** Splits on commas not escaped with a backslash, and unescapes `\,` `\|` `\$` `\\`. */
export function splitValues(raw: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === '\\' && i + 1 < raw.length) {
      cur += c + raw[i + 1];
      i++;
    } else if (c === ',') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

/** Splits a token/quantity on unescaped `|`, then unescapes each part. */
export function splitPipes(value: string): string[] {
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c === '\\' && i + 1 < value.length) {
      cur += value[i + 1];
      i++;
    } else if (c === '|') {
      parts.push(cur);
      cur = '';
    } else cur += c;
  }
  parts.push(cur);
  return parts;
}

export const unescapeValue = (v: string) => v.replace(/\\([,|$\\])/g, '$1');

function resolveParam(resourceType: string, code: string): { kind: ParamKind; def?: SearchParamDef } | undefined {
  if (code === '_id') return { kind: 'id' };
  if (code === '_lastUpdated') return { kind: 'lastUpdated' };
  const def = getSearchParam(resourceType, code);
  return def ? { kind: def.type, def } : undefined;
}

function parseFilter(resourceType: string, name: string, raw: string, allowChain: boolean): Filter | string {
  const dot = name.indexOf('.');
  if (dot > 0) {
    if (!allowChain) return `chained parameter ${name} is nested more than one level`;
    const [head, modifier] = name.slice(0, dot).split(':') as [string, string | undefined];
    const rest = name.slice(dot + 1);
    const resolved = resolveParam(resourceType, head);
    if (resolved?.kind !== 'reference') return `unknown chained parameter ${head} on ${resourceType}`;
    const targets = resolved.def?.target ?? [];
    const targetType = modifier ?? (targets.length === 1 ? targets[0] : undefined);
    if (!targetType) return `chained parameter ${head} needs a type modifier (${head}:Type.${rest})`;
    if (targets.length && !targets.includes(targetType)) return `${head} cannot refer to ${targetType}`;
    const inner = parseFilter(targetType, rest, raw, false);
    if (typeof inner === 'string') return inner;
    return { code: head, kind: 'reference', def: resolved.def, values: [], chain: { targetType, filter: inner } };
  }
  const [code, modifier] = name.split(':') as [string, string | undefined];
  const resolved = resolveParam(resourceType, code);
  if (!resolved) return `unknown search parameter ${code} on ${resourceType}`;
  if (modifier !== undefined) {
    const typeModifier = resolved.kind === 'reference' && /^[A-Z][A-Za-z]+$/.test(modifier);
    if (!typeModifier && !MODIFIERS[resolved.kind].includes(modifier)) {
      return `modifier :${modifier} is not supported on ${code}`;
    }
  }
  if (raw === '') return `parameter ${name} has an empty value`;
  const values = splitValues(raw);
  if (modifier === 'missing' && !['true', 'false'].includes(raw)) return `${name} must be true or false`;
  return { code, kind: resolved.kind, def: resolved.def, modifier, values };
}

function parseInclude(resourceType: string, value: string, reverse: boolean): IncludeSpec | string {
  const [sourceType, code, targetType] = value.split(':');
  if (!sourceType || !code) return `${reverse ? '_revinclude' : '_include'}=${value} must be Type:param[:Target]`;
  if (!reverse && sourceType !== resourceType) return `_include=${value} must start with ${resourceType}`;
  const def = getSearchParam(sourceType, code);
  if (def?.type !== 'reference') return `${value}: ${code} is not a reference parameter of ${sourceType}`;
  if (reverse && targetType && targetType !== resourceType)
    return `_revinclude=${value} does not target ${resourceType}`;
  return { sourceType, param: def, targetType: reverse ? resourceType : targetType };
}

/**
 * Parses a search query (name/value pairs in URL order) for `resourceType`. Unknown parameters are a
 * 400 unless `lenient`, when they are ignored and listed in `ignored`.
 */
export function parseSearch(resourceType: string, params: [string, string][], lenient = false): SearchRequest {
  const req: SearchRequest = {
    resourceType,
    filters: [],
    count: DEFAULT_COUNT,
    sort: [],
    total: 'none',
    include: [],
    revinclude: [],
    ignored: [],
  };
  const problems: string[] = [];
  const reject = (msg: string, unknown = false) => {
    if (unknown && lenient) req.ignored.push(msg);
    else problems.push(msg);
  };
  for (const [name, value] of params) {
    if (RESULT_PARAMS.has(name)) {
      switch (name) {
        case '_count': {
          if (!/^\d+$/.test(value)) reject('_count must be a non-negative integer');
          else req.count = Math.min(Number(value), MAX_COUNT);
          break;
        }
        case '_sort':
          for (const key of value.split(',')) {
            const descending = key.startsWith('-');
            const code = descending ? key.slice(1) : key;
            const resolved = resolveParam(resourceType, code);
            if (!resolved || resolved.kind === 'reference' || resolved.kind === 'uri') {
              reject(`cannot sort on ${code}`);
            } else req.sort.push({ code, kind: resolved.kind, def: resolved.def, descending });
          }
          break;
        case '_total':
          if (value === 'none' || value === 'accurate' || value === 'estimate') req.total = value;
          else reject('_total must be none, estimate or accurate');
          break;
        case '_summary':
          if (value === 'count' || value === 'data' || value === 'false') req.summary = value;
          else reject(`_summary=${value} is not supported (count, data or false)`);
          break;
        case '_elements':
          req.elements = value
            .split(',')
            .map((e) => e.trim())
            .filter(Boolean);
          if (req.elements.some((e) => !/^[A-Za-z][A-Za-z0-9]*$/.test(e))) reject('_elements must list element names');
          break;
        case '_include':
        case '_revinclude': {
          const spec = parseInclude(resourceType, value, name === '_revinclude');
          if (typeof spec === 'string') reject(spec);
          else (name === '_include' ? req.include : req.revinclude).push(spec);
          break;
        }
        case '_cursor':
          req.cursor = value;
          break;
        case '_format':
          if (!/json/.test(value)) reject('_format must be json');
          break;
      }
      continue;
    }
    const filter = parseFilter(resourceType, name, value, true);
    if (typeof filter === 'string') reject(filter, filter.startsWith('unknown'));
    else req.filters.push(filter);
  }
  if (problems.length) throw badRequest(problems.join('; '));
  return req;
}
