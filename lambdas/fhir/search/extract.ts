/**
 * Computes the search index rows of one resource at write time, from the registry's parameters.
 * Expressions are compiled once per resource type, on the first resource of that type.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { Resource } from '../types.js';
import { compileExpression, type PathEvaluator } from './extract-path.js';
import { addValueRows, normalizeString, type RowSink } from './extract-values.js';
import { emptyIndexRows, type IndexRows } from './index-rows.js';
import { listSearchParams, type SearchParamDef, type SearchParamType } from './registry.js';

export { dateRange, normalizeString, parseReference } from './extract-values.js';

/** Why a parameter stopped being indexed: its expression did not compile, or its evaluation threw. */
export type DisabledReason = 'compile' | 'evaluate';
export type OnParamDisabled = (resourceType: string, code: string, reason: DisabledReason) => void;

interface CompiledParam {
  code: string;
  type: SearchParamType;
  evaluate: PathEvaluator;
  disabled: boolean;
}

const NULL_KEY = '\u0001';

/** Appends rows to an IndexRows, dropping exact duplicates (same table, param and values). */
class DedupSink implements RowSink {
  private readonly seen = new Set<string>();
  /** The same names are indexed under several parameters (name, family, phonetic): normalise each once. */
  private readonly norms = new Map<string, string>();
  constructor(private readonly rows: IndexRows) {}

  private fresh(key: string): boolean {
    if (this.seen.has(key)) return false;
    this.seen.add(key);
    return true;
  }

  string(param: string, exact: string): void {
    let norm = this.norms.get(exact);
    if (norm === undefined) {
      norm = normalizeString(exact);
      this.norms.set(exact, norm);
    }
    if (norm.length > 0 && this.fresh(`s\0${param}\0${exact}`)) this.rows.string.push({ param, norm, exact });
  }
  token(param: string, system: string | null, code: string | null): void {
    if (this.fresh(`t\0${param}\0${system ?? NULL_KEY}\0${code ?? NULL_KEY}`)) {
      this.rows.token.push({ param, system, code });
    }
  }
  date(param: string, low: string | null, high: string | null): void {
    if (this.fresh(`d\0${param}\0${low ?? NULL_KEY}\0${high ?? NULL_KEY}`)) this.rows.date.push({ param, low, high });
  }
  reference(param: string, targetType: string | null, targetId: string | null, ref: string): void {
    if (this.fresh(`r\0${param}\0${ref}`)) this.rows.reference.push({ param, targetType, targetId, ref });
  }
  quantity(param: string, value: number, system: string | null, code: string | null, unit: string | null): void {
    if (this.fresh(`q\0${param}\0${value}\0${system ?? NULL_KEY}\0${code ?? NULL_KEY}\0${unit ?? NULL_KEY}`)) {
      this.rows.quantity.push({ param, value, system, code, unit });
    }
  }
  number(param: string, value: number): void {
    if (this.fresh(`n\0${param}\0${value}`)) this.rows.number.push({ param, value });
  }
  uri(param: string, uri: string): void {
    if (this.fresh(`u\0${param}\0${uri}`)) this.rows.uri.push({ param, uri });
  }
}

const logger = new Logger({ serviceName: 'pfi-fhir-search' });

/** Only the type, the parameter code and the reason: never any value from the resource. */
const logDisabled: OnParamDisabled = (resourceType, code, reason) =>
  logger.warn('search parameter disabled', { resourceType, param: code, reason });

/**
 * Builds an extractor over a parameter source (the registry in production). A parameter whose
 * expression fhirpath cannot compile, or whose evaluation throws, is skipped from then on and
 * reported once through `onDisabled`.
 */
export function createExtractor(
  paramsFor: (resourceType: string) => SearchParamDef[],
  onDisabled: OnParamDisabled = logDisabled,
): (resource: Resource) => IndexRows {
  const compiled = new Map<string, CompiledParam[]>();

  const compileType = (resourceType: string): CompiledParam[] => {
    const params: CompiledParam[] = [];
    for (const def of paramsFor(resourceType)) {
      try {
        params.push({
          code: def.code,
          type: def.type,
          evaluate: compileExpression(resourceType, def.expression),
          disabled: false,
        });
      } catch {
        onDisabled(resourceType, def.code, 'compile');
      }
    }
    compiled.set(resourceType, params);
    return params;
  };

  return (resource) => {
    const rows = emptyIndexRows();
    const sink = new DedupSink(rows);
    const params = compiled.get(resource.resourceType) ?? compileType(resource.resourceType);
    for (const p of params) {
      if (p.disabled) continue;
      try {
        p.evaluate(resource, (value, type) => addValueRows(sink, p.code, p.type, value, type));
      } catch {
        // Rows already added by this parameter for this resource stay: they are correct values.
        p.disabled = true;
        onDisabled(resource.resourceType, p.code, 'evaluate');
      }
    }
    return rows;
  };
}

/**
 * The search index rows of one resource, for every parameter the registry lists for its type
 * (none for unknown types). `_id` and `_lastUpdated` are not included: they are resource columns.
 */
export const extractIndexRows: (resource: Resource) => IndexRows = createExtractor(listSearchParams);

/** The rows of the `identifier` parameter only (what an identifier lookup matches), for in-memory matching. */
export const extractIdentifierRows: (resource: Resource) => IndexRows = createExtractor((type) =>
  listSearchParams(type).filter((p) => p.code === 'identifier'),
);
