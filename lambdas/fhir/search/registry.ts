/**
 * The search parameters this server indexes, per resource type, generated from the official R4
 * SearchParameter definitions (`npm run generate:search-params`). `_id` and `_lastUpdated` are not
 * listed: the query builder answers them from resource columns.
 */
import generated from './search-parameters.generated.json' with { type: 'json' };

export type SearchParamType = 'string' | 'token' | 'date' | 'reference' | 'quantity' | 'number' | 'uri';

export interface SearchParamDef {
  code: string;
  type: SearchParamType;
  /** FHIRPath restricted to this resource type's parts of the official expression. */
  expression: string;
  /** Allowed target types of a reference parameter (metadata only). */
  target?: string[];
  url: string;
}

const SEARCH_PARAM_TYPES: ReadonlySet<string> = new Set([
  'string',
  'token',
  'date',
  'reference',
  'quantity',
  'number',
  'uri',
]);

function isSearchParamType(t: string): t is SearchParamType {
  return SEARCH_PARAM_TYPES.has(t);
}

/** The generated file's shape, before its `type` strings are checked. */
export type RawSearchParams = Record<
  string,
  { code: string; type: string; expression: string; target?: string[]; url: string }[]
>;

/** An immutable lookup built from generated definitions; exported for tests of the file check. */
export function buildRegistry(source: RawSearchParams) {
  const byType = new Map<string, { list: readonly SearchParamDef[]; byCode: ReadonlyMap<string, SearchParamDef> }>();
  for (const [resourceType, params] of Object.entries(source)) {
    const list: SearchParamDef[] = [];
    for (const p of params) {
      // The generator only emits indexable types; a mismatch means a hand-edited file.
      if (!isSearchParamType(p.type)) throw new Error(`search-parameters.generated.json: bad type for ${p.url}`);
      const def: SearchParamDef = { code: p.code, type: p.type, expression: p.expression, url: p.url };
      if (p.target) def.target = Object.freeze([...p.target]) as string[];
      list.push(Object.freeze(def));
    }
    byType.set(resourceType, { list: Object.freeze(list), byCode: new Map(list.map((d) => [d.code, d])) });
  }
  return byType;
}

const registry = buildRegistry(generated);

/** The definition of `code` on `resourceType`, or undefined when the type does not index it. */
export function getSearchParam(resourceType: string, code: string): SearchParamDef | undefined {
  return registry.get(resourceType)?.byCode.get(code);
}

/** All indexed parameters of `resourceType` (empty for unknown types), sorted by code. */
export function listSearchParams(resourceType: string): SearchParamDef[] {
  return [...(registry.get(resourceType)?.list ?? [])];
}
