/**
 * Content equality of two resources as the store sees it (see `contentHashSql` in repository/write-sql.ts): the
 * same JSON values whatever the key order, without the server-managed `meta.versionId` and `meta.lastUpdated`,
 * an empty `meta` counting as none, members set to `undefined` counting as absent (JSON drops them).
 */

type Json = Record<string, unknown>;

const SERVER_META = new Set(['versionId', 'lastUpdated']);

function equalValues(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!equalValues(a[i] ?? null, b[i] ?? null)) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  return equalObjects(a as Json, b as Json, undefined);
}

/** Equal members, ignoring `skip` keys and undefined members. */
function equalObjects(a: Json, b: Json, skip: Set<string> | undefined): boolean {
  let count = 0;
  for (const key in a) {
    const v = a[key];
    if (v === undefined || skip?.has(key)) continue;
    count++;
    if (!equalValues(v, b[key])) return false;
  }
  for (const key in b) {
    if (b[key] !== undefined && !skip?.has(key)) count--;
  }
  return count === 0;
}

function clientMeta(resource: Json): Json | undefined {
  const meta = resource['meta'];
  if (typeof meta !== 'object' || meta === null) return undefined;
  for (const key in meta as Json) {
    if (!SERVER_META.has(key) && (meta as Json)[key] !== undefined) return meta as Json;
  }
  return undefined;
}

/**
 * True when storing `next` over `stored` would change nothing (no new version).
 *
 * @example
 * ```ts
 * sameContent({ resourceType: 'Patient', meta: { versionId: '3' }, gender: 'female' },
 *             { gender: 'female', resourceType: 'Patient' }); // true
 * ```
 */
export function sameContent(stored: Json, next: Json): boolean {
  if (!equalObjects(stored, next, META_KEY)) return false;
  const a = clientMeta(stored);
  const b = clientMeta(next);
  if (a === undefined || b === undefined) return a === b;
  return equalObjects(a, b, SERVER_META);
}

const META_KEY = new Set(['meta']);
