/**
 * SMART on FHIR scopes (v1 and v2) for the system-level access PFI grants to backend clients.
 *
 * Only `system/` scopes grant anything here: `user/` and `patient/` scopes need a user or patient context the
 * platform does not enforce yet, so they are kept as ignored rather than widened to system access.
 */

/** A SMART v2 interaction letter: create, read, update, delete, search. */
export type Interaction = 'c' | 'r' | 'u' | 'd' | 's';

/** The parsed, effective grants of a scope string. Build it with {@link parseScopes}. */
export interface ScopeSet {
  /** Interactions granted per resource type; the key `*` grants them on every type. */
  readonly interactions: ReadonlyMap<string, ReadonlySet<Interaction>>;
  /** Named operations (without `$`) granted per resource type; the key `*` grants them on every type. */
  readonly operations: ReadonlyMap<string, ReadonlySet<string>>;
  /** Scopes kept without effect (openid, user/…, patient/…, invalid or restricted scopes), in input order. */
  readonly ignored: readonly string[];
}

const ORDER: readonly Interaction[] = ['c', 'r', 'u', 'd', 's'];
const V1: Readonly<Record<string, readonly Interaction[]>> = {
  read: ['r', 's'],
  write: ['c', 'u', 'd'],
  '*': ORDER,
};
const SYSTEM_SCOPE = /^system\/(\*|[A-Z][A-Za-z]*)\.(.+)$/;
/** SMART v2: a non-empty subset of c,r,u,d,s in that order, each letter at most once. */
const V2_SUFFIX = /^(?=.)c?r?u?d?s?$/;
const CRUDS_LETTERS = /^[cruds]+$/;
/** A FHIR operation name (`$` optional). Three characters at least, so a typo like `.x` is not read as one. */
const OPERATION = /^\$?([a-z][a-zA-Z0-9]*(?:-[a-zA-Z0-9]+)*)$/;
const MIN_OPERATION_LENGTH = 3;

type Grant = { kind: 'interactions'; letters: readonly Interaction[] } | { kind: 'operation'; name: string };

function parseSuffix(suffix: string): Grant | undefined {
  const v1 = V1[suffix];
  if (v1) return { kind: 'interactions', letters: v1 };
  if (V2_SUFFIX.test(suffix)) return { kind: 'interactions', letters: ORDER.filter((l) => suffix.includes(l)) };
  // Only cruds letters but out of order or repeated (`sr`, `rr`): an invalid v2 scope, not an operation.
  if (CRUDS_LETTERS.test(suffix)) return undefined;
  const name = OPERATION.exec(suffix)?.[1];
  if (name !== undefined && name.length >= MIN_OPERATION_LENGTH) return { kind: 'operation', name };
  // Anything else, including v2 granular scopes (`.rs?category=…`) whose restriction we cannot enforce.
  return undefined;
}

function addTo<T>(map: Map<string, Set<T>>, key: string, values: readonly T[]): void {
  let set = map.get(key);
  if (!set) {
    set = new Set<T>();
    map.set(key, set);
  }
  for (const v of values) set.add(v);
}

/**
 * Parses a space-separated scope string (as in a token's `scope` claim).
 *
 * @example
 * const set = parseScopes('openid system/Patient.rs system/Observation.read system/Patient.expunge');
 * allows(set, 'Patient', 'r'); // true
 * allowsOperation(set, 'Patient', '$expunge'); // true
 */
export function parseScopes(s: string): ScopeSet {
  const interactions = new Map<string, Set<Interaction>>();
  const operations = new Map<string, Set<string>>();
  const ignored: string[] = [];
  for (const scope of s.split(/\s+/)) {
    if (scope === '') continue;
    const m = SYSTEM_SCOPE.exec(scope);
    const type = m?.[1];
    const grant = m?.[2] === undefined ? undefined : parseSuffix(m[2]);
    if (type === undefined || grant === undefined) {
      if (!ignored.includes(scope)) ignored.push(scope);
    } else if (grant.kind === 'interactions') {
      addTo(interactions, type, grant.letters);
    } else {
      addTo(operations, type, [grant.name]);
    }
  }
  return { interactions, operations, ignored };
}

/** True when `set` grants `interaction` on `resourceType` (directly or through `system/*`). */
export function allows(set: ScopeSet, resourceType: string, interaction: Interaction): boolean {
  return (
    set.interactions.get(resourceType)?.has(interaction) === true ||
    set.interactions.get('*')?.has(interaction) === true
  );
}

/**
 * True when `set` grants the named operation (`expunge` or `$expunge`) on `resourceType`. Only an explicit
 * operation scope grants it: `system/*.cruds` does not. For a system-level operation pass `*` as the type.
 */
export function allowsOperation(set: ScopeSet, resourceType: string, operation: string): boolean {
  const name = operation.startsWith('$') ? operation.slice(1) : operation;
  return set.operations.get(resourceType)?.has(name) === true || set.operations.get('*')?.has(name) === true;
}

function sortedTypes(map: ReadonlyMap<string, unknown>): string[] {
  // `*` sorts before letters in code-unit order, which puts the widest grant first.
  return [...map.keys()].sort();
}

/**
 * The effective grants of `set` in canonical SMART v2 form, space-separated (ignored scopes are left out).
 *
 * @example
 * formatScopes(parseScopes('system/Patient.read system/Patient.write')); // 'system/Patient.cruds'
 */
export function formatScopes(set: ScopeSet): string {
  const out: string[] = [];
  for (const type of sortedTypes(set.interactions)) {
    const letters = set.interactions.get(type);
    const suffix = ORDER.filter((l) => letters?.has(l)).join('');
    if (suffix !== '') out.push(`system/${type}.${suffix}`);
  }
  for (const type of sortedTypes(set.operations)) {
    for (const name of [...(set.operations.get(type) ?? [])].sort()) out.push(`system/${type}.${name}`);
  }
  return out.join(' ');
}
