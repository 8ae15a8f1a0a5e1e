import { describe, expect, it } from 'vitest';
import { sameContent } from '../../lambdas/fhir/content.js';

describe('sameContent', () => {
  const stored = {
    resourceType: 'Patient',
    id: 'p1',
    meta: { versionId: '3', lastUpdated: '2026-01-01T00:00:00.000Z', tag: [{ system: 's', code: 'c' }] },
    name: [{ family: 'Lefèvre', given: ['Hélène', 'Zoé'] }],
    active: true,
  };

  it('ignores key order, server meta and undefined members', () => {
    expect(
      sameContent(stored, {
        active: true,
        name: [{ given: ['Hélène', 'Zoé'], family: 'Lefèvre' }],
        meta: { tag: [{ code: 'c', system: 's' }] },
        id: 'p1',
        resourceType: 'Patient',
        gender: undefined,
      }),
    ).toBe(true);
    const { meta: _m, ...bare } = stored;
    expect(sameContent({ ...bare, meta: { versionId: '1' } }, bare)).toBe(true);
    expect(sameContent(bare, { ...bare, meta: {} })).toBe(true);
  });

  it('sees any change of value, array order or length, member or tag', () => {
    expect(sameContent(stored, { ...stored, active: false })).toBe(false);
    expect(sameContent(stored, { ...stored, name: [{ family: 'Lefèvre', given: ['Zoé', 'Hélène'] }] })).toBe(false);
    expect(sameContent(stored, { ...stored, name: [...stored.name, { family: 'X' }] })).toBe(false);
    expect(sameContent(stored, { ...stored, gender: 'female' })).toBe(false);
    expect(sameContent(stored, { ...stored, meta: { versionId: '3' } })).toBe(false);
    expect(sameContent({ a: [1, 2] }, { a: { 0: 1, 1: 2 } })).toBe(false);
    expect(sameContent({ a: null }, { a: {} })).toBe(false);
    expect(sameContent({ a: 1 }, { a: '1' })).toBe(false);
  });
});
