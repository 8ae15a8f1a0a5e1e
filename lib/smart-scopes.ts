/**
 * The SMART on FHIR system scopes the platform's OAuth server (a Cognito resource server) offers to backend clients.
 *
 * Cognito names a custom scope `<resource server identifier>/<scope name>`; with the identifier `system` the full
 * names are exactly SMART v2 system scopes (`system/Patient.rs`), which `lambdas/auth/scopes.ts` parses.
 */

/** Cognito resource server identifier: the SMART context prefix of every scope. */
export const SMART_SYSTEM_RESOURCE_SERVER = 'system';

export interface SmartScope {
  /** Scope name inside the resource server, e.g. `Patient.rs`. */
  name: string;
  description: string;
}

/**
 * Scopes for every resource type: `<Type>.rs` (read + search) and, unless the type is read-only, `<Type>.cruds`
 * (all interactions); plus the same two on `*` (every type). Throws on an empty, duplicated or malformed type.
 *
 * @example
 * smartSystemScopes(['Patient', 'AuditEvent'], new Set(['AuditEvent'])).map((s) => s.name);
 * // ['*.rs', '*.cruds', 'Patient.rs', 'Patient.cruds', 'AuditEvent.rs']
 */
export function smartSystemScopes(types: readonly string[], readOnly: ReadonlySet<string> = new Set()): SmartScope[] {
  if (types.length === 0) throw new Error('smartSystemScopes: at least one resource type is required');
  if (new Set(types).size !== types.length) throw new Error('smartSystemScopes: resource types must be unique');
  for (const type of types) {
    // FHIR resource type names; this also keeps scope names inside Cognito's allowed characters.
    if (!/^[A-Z][A-Za-z]{0,63}$/.test(type)) throw new Error(`smartSystemScopes: not a FHIR resource type: ${type}`);
  }
  for (const type of readOnly) {
    if (!types.includes(type)) throw new Error(`smartSystemScopes: read-only type is not listed: ${type}`);
  }
  const scopes: SmartScope[] = [
    { name: '*.rs', description: 'Read and search every resource type' },
    { name: '*.cruds', description: 'Create, read, update, delete and search every resource type' },
  ];
  for (const type of types) {
    scopes.push({ name: `${type}.rs`, description: `Read and search ${type}` });
    if (!readOnly.has(type)) {
      scopes.push({ name: `${type}.cruds`, description: `Create, read, update, delete and search ${type}` });
    }
  }
  return scopes;
}
