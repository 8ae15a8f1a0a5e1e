import { describe, expect, it } from 'vitest';
import { allows, parseScopes } from '../../lambdas/auth/scopes.js';
import { SUPPORTED_TYPES } from '../../lambdas/fhir/types.js';
import { SMART_SYSTEM_RESOURCE_SERVER, smartSystemScopes } from '../../lib/smart-scopes.js';

describe('smartSystemScopes', () => {
  it('offers rs and cruds per type and on every type, rs only for read-only types', () => {
    const names = smartSystemScopes(['Patient', 'AuditEvent'], new Set(['AuditEvent'])).map((s) => s.name);
    expect(names).toEqual(['*.rs', '*.cruds', 'Patient.rs', 'Patient.cruds', 'AuditEvent.rs']);
  });

  it('describes every scope', () => {
    for (const s of smartSystemScopes(['Observation'])) {
      expect(s.description.length).toBeGreaterThan(0);
      expect(s.description.length).toBeLessThanOrEqual(256); // Cognito's limit
    }
  });

  it('produces full scope names the FHIR API grants exactly as named', () => {
    const scopes = smartSystemScopes(SUPPORTED_TYPES, new Set(['AuditEvent']));
    for (const { name } of scopes) {
      const set = parseScopes(`${SMART_SYSTEM_RESOURCE_SERVER}/${name}`);
      expect(set.ignored, name).toEqual([]);
      const [type = '', letters = ''] = name.split('.');
      const target = type === '*' ? 'Encounter' : type;
      for (const interaction of ['c', 'r', 'u', 'd', 's'] as const) {
        expect(allows(set, target, interaction), `${name} ${interaction}`).toBe(letters.includes(interaction));
      }
    }
    // Cognito: 100 custom scopes per resource server at most.
    expect(scopes.length).toBeLessThanOrEqual(100);
  });

  it('refuses an empty, duplicated or malformed type list, and a read-only type that is not listed', () => {
    expect(() => smartSystemScopes([])).toThrow(/at least one resource type/);
    expect(() => smartSystemScopes(['Patient', 'Patient'])).toThrow(/must be unique/);
    expect(() => smartSystemScopes(['patient'])).toThrow(/not a FHIR resource type: patient/);
    expect(() => smartSystemScopes(['Patient/x'])).toThrow(/not a FHIR resource type/);
    expect(() => smartSystemScopes(['Patient'], new Set(['AuditEvent']))).toThrow(/read-only type is not listed/);
  });
});
