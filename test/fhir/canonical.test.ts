import { describe, expect, it } from 'vitest';
import { canonicalJson, contentHash } from '../../lambdas/fhir/canonical.js';
import type { Resource } from '../../lambdas/fhir/types.js';

// Stored content hashes are compared with hashes computed later: these outputs must never change.
describe('canonicalJson', () => {
  it('sorts keys at every level, drops undefined members and keeps an undefined array item empty', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { f: null, e: 'x' }], c: undefined } })).toBe(
      '{"a":{"d":[2,{"e":"x","f":null}]},"b":1}',
    );
    expect(canonicalJson([1, undefined, { a: undefined, b: null }])).toBe('[1,,{"b":null}]');
    expect(canonicalJson({ 'we"ird\n': 'é\u2028', n: 1.5e-7 })).toBe('{"n":1.5e-7,"we\\"ird\\n":"é\u2028"}');
    expect([
      canonicalJson('s'),
      canonicalJson(42),
      canonicalJson(null),
      canonicalJson(true),
      canonicalJson({}),
    ]).toEqual(['"s"', '42', 'null', 'true', '{}']);
  });

  it('hashes a resource without meta.versionId and meta.lastUpdated, as stored since the first version', () => {
    const patient = {
      resourceType: 'Patient',
      id: 'p1',
      meta: { versionId: '3', lastUpdated: '2026-01-01T00:00:00.000Z', tag: [{ system: 's', code: 'c' }] },
      name: [{ family: 'Lefèvre', given: ['Hélène', 'Zoé'] }],
      active: true,
    } as Resource;
    // Computed by the first implementation (key-sorted JSON, SHA-256, base64url).
    expect(contentHash(patient)).toBe('fO3a-ZGKFt0bJR5t3E-ShTfLMo7CFarVcbiDg9Q2KLQ');
    expect(contentHash({ ...patient, meta: { ...patient.meta, versionId: '4' } })).toBe(contentHash(patient));
  });
});
