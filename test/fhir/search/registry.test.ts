import { describe, expect, it } from 'vitest';
import { buildRegistry, getSearchParam, listSearchParams } from '../../../lambdas/fhir/search/registry.js';
import { SUPPORTED_TYPES } from '../../../lambdas/fhir/types.js';

describe('getSearchParam', () => {
  it('returns the Patient-only part of a multi-base definition', () => {
    expect(getSearchParam('Patient', 'family')).toEqual({
      code: 'family',
      type: 'string',
      expression: 'Patient.name.family',
      url: 'http://hl7.org/fhir/SearchParameter/individual-family',
    });
  });

  it('keeps where(resolve() is Patient) filters and targets', () => {
    const p = getSearchParam('Observation', 'patient');
    expect(p?.expression).toBe('Observation.subject.where(resolve() is Patient)');
    expect(p?.target).toEqual(['Patient']);
    expect(p?.type).toBe('reference');
  });

  it('keeps every part of the type in a union', () => {
    expect(getSearchParam('Observation', 'value-quantity')?.expression).toBe(
      '(Observation.value as Quantity) | (Observation.value as SampledData)',
    );
  });

  it('lists _tag on every type and no other Resource-level parameter (_id, _lastUpdated are columns)', () => {
    for (const code of ['_id', '_lastUpdated', '_profile', '_security', '_source', '_text', '_content']) {
      expect(getSearchParam('Patient', code)).toBeUndefined();
    }
    expect(getSearchParam('Patient', '_tag')).toMatchObject({ type: 'token', expression: 'Patient.meta.tag' });
    expect(getSearchParam('Binary', '_tag')).toMatchObject({ expression: 'Binary.meta.tag' });
  });

  it('does not list composite or special parameters', () => {
    expect(getSearchParam('Observation', 'code-value-quantity')).toBeUndefined();
    expect(getSearchParam('Location', 'near')).toBeUndefined();
  });

  it('returns undefined for unknown codes and types', () => {
    expect(getSearchParam('Patient', 'nope')).toBeUndefined();
    expect(getSearchParam('Medication', 'code')).toBeUndefined();
  });
});

describe('listSearchParams', () => {
  it('lists parameters sorted by code, of indexable types only', () => {
    const codes = listSearchParams('Patient').map((p) => p.code);
    expect(codes).toEqual([...codes].sort());
    expect(codes).toEqual(expect.arrayContaining(['birthdate', 'family', 'gender', 'identifier', 'name', 'telecom']));
    for (const type of SUPPORTED_TYPES) {
      for (const p of listSearchParams(type)) {
        expect(['string', 'token', 'date', 'reference', 'quantity', 'number', 'uri']).toContain(p.type);
        expect(p.expression.startsWith(type) || p.expression.startsWith(`(${type}`)).toBe(true);
      }
    }
  });

  it('lists only _tag for Binary, nothing for unknown types', () => {
    expect(listSearchParams('Binary').map((p) => p.code)).toEqual(['_tag']);
    expect(listSearchParams('Nope')).toEqual([]);
  });

  it('returns a copy the caller may change without affecting the registry', () => {
    const list = listSearchParams('Patient');
    const before = list.length;
    list.length = 0;
    expect(listSearchParams('Patient')).toHaveLength(before);
  });

  it('returns frozen definitions', () => {
    const def = getSearchParam('Patient', 'gender');
    expect(Object.isFrozen(def)).toBe(true);
  });
});

describe('buildRegistry', () => {
  it('rejects a parameter type that is not indexable', () => {
    const source = {
      Patient: [{ code: 'x', type: 'composite', expression: 'Patient.x', url: 'http://example.test/x' }],
    };
    expect(() => buildRegistry(source)).toThrow('bad type for http://example.test/x');
  });
});
