import { describe, expect, it } from 'vitest';
import { allows, allowsOperation, formatScopes, type Interaction, parseScopes } from '../../lambdas/auth/scopes.js';

const ALL: Interaction[] = ['c', 'r', 'u', 'd', 's'];

/** The interactions `scope` grants on Patient, as a cruds string. */
function onPatient(scope: string): string {
  const set = parseScopes(scope);
  return ALL.filter((i) => allows(set, 'Patient', i)).join('');
}

describe('parseScopes / allows', () => {
  it.each([
    ['SMART v2 read+search', 'system/Patient.rs', 'rs'],
    ['SMART v2 everything', 'system/Patient.cruds', 'cruds'],
    ['SMART v2 write subset', 'system/Patient.cud', 'cud'],
    ['SMART v2 single letter', 'system/Patient.d', 'd'],
    ['SMART v2 wildcard type', 'system/*.rs', 'rs'],
    ['SMART v1 read = rs', 'system/Patient.read', 'rs'],
    ['SMART v1 write = cud', 'system/Patient.write', 'cud'],
    ['SMART v1 * = cruds', 'system/Patient.*', 'cruds'],
    ['SMART v1 wildcard type and interactions', 'system/*.*', 'cruds'],
    ['union of several scopes', 'system/Patient.r system/*.s system/Patient.write', 'cruds'],
    ['extra whitespace', '  system/Patient.c\t\nsystem/Patient.u  ', 'cu'],
    ['letters out of order grant nothing', 'system/Patient.sr', ''],
    ['repeated letter grants nothing', 'system/Patient.rrs', ''],
    ['unknown suffix grants nothing', 'system/Patient.x', ''],
    ['upper-case suffix grants nothing', 'system/Patient.RS', ''],
    ['empty suffix grants nothing', 'system/Patient.', ''],
    ['granular v2 scope (restriction not enforced) grants nothing', 'system/Patient.rs?identifier=x', ''],
    ['lower-case type grants nothing', 'system/patient.rs', ''],
    ['user/ scope is not system access', 'user/Patient.cruds', ''],
    ['patient/ scope is not system access', 'patient/*.read', ''],
    ['openid and friends have no effect', 'openid fhirUser offline_access launch/patient', ''],
    ['empty string', '', ''],
  ])('%s: %j -> %j', (_name, scope, expected) => {
    expect(onPatient(scope)).toBe(expected);
  });

  it('scopes one resource type only', () => {
    const set = parseScopes('system/Patient.rs');
    expect(allows(set, 'Patient', 'r')).toBe(true);
    expect(allows(set, 'Observation', 'r')).toBe(false);
    expect(allows(set, 'Patient', 'c')).toBe(false);
  });

  it('a wildcard type grants every type', () => {
    const set = parseScopes('system/*.r');
    expect(allows(set, 'Observation', 'r')).toBe(true);
    expect(allows(set, 'Encounter', 'r')).toBe(true);
    expect(allows(set, 'Encounter', 's')).toBe(false);
  });

  it('keeps the scopes it ignores, once each, in input order', () => {
    const set = parseScopes('openid system/Patient.rs patient/*.read openid system/Patient.sr');
    expect(set.ignored).toEqual(['openid', 'patient/*.read', 'system/Patient.sr']);
  });
});

describe('operation scopes', () => {
  it('grant only the named operation on the named type', () => {
    const set = parseScopes('system/Patient.expunge');
    expect(allowsOperation(set, 'Patient', 'expunge')).toBe(true);
    expect(allowsOperation(set, 'Patient', '$expunge')).toBe(true);
    expect(allowsOperation(set, 'Observation', 'expunge')).toBe(false);
    expect(allowsOperation(set, 'Patient', 'everything')).toBe(false);
    expect(ALL.some((i) => allows(set, 'Patient', i))).toBe(false);
  });

  it('accept a $ in the scope and hyphenated names', () => {
    const set = parseScopes('system/Patient.$everything system/*.process-message');
    expect(allowsOperation(set, 'Patient', 'everything')).toBe(true);
    expect(allowsOperation(set, 'Bundle', '$process-message')).toBe(true);
    expect(allowsOperation(set, '*', 'process-message')).toBe(true);
  });

  it('are never implied by cruds, v1 * or wildcard scopes', () => {
    const set = parseScopes('system/*.cruds system/*.* system/Patient.*');
    expect(allowsOperation(set, 'Patient', 'expunge')).toBe(false);
    expect(allowsOperation(set, '*', 'expunge')).toBe(false);
  });

  it('reject names too short or not shaped like an operation', () => {
    const set = parseScopes('system/Patient.ab system/Patient.$ system/Patient.Expunge system/Patient.ex_punge');
    expect(set.operations.size).toBe(0);
    expect(set.ignored).toHaveLength(4);
  });
});

describe('formatScopes', () => {
  it('prints the effective grants in canonical v2 form, widest type first', () => {
    const set = parseScopes('openid system/Patient.write system/Patient.read system/*.s system/Patient.expunge');
    expect(formatScopes(set)).toBe('system/*.s system/Patient.cruds system/Patient.expunge');
  });

  it('is empty when nothing is granted', () => {
    expect(formatScopes(parseScopes('openid user/Patient.rs system/Patient.sr'))).toBe('');
  });

  it('round-trips through parseScopes', () => {
    const text = formatScopes(parseScopes('system/Observation.rs system/*.c system/Patient.$everything'));
    expect(formatScopes(parseScopes(text))).toBe(text);
    expect(text).toBe('system/*.c system/Observation.rs system/Patient.everything');
  });
});
