import { describe, expect, it } from 'vitest';
import {
  addValueRows,
  dateRange,
  normalizeString,
  parseReference,
  type RowSink,
} from '../../../lambdas/fhir/search/extract-values.js';
import type { SearchParamType } from '../../../lambdas/fhir/search/registry.js';

describe('normalizeString', () => {
  it.each([
    ['Lefèvre', 'lefevre'],
    ['LEFÈVRE', 'lefevre'],
    ['Saint-Étienne', 'saint-etienne'],
    ['Cœur Lætitia', 'coeur laetitia'],
    ['  Jean \t  Marie\n', 'jean marie'],
    ['D’Artagnan', "d'artagnan"],
    ['Ñoño Çà', 'nono ca'],
    ['plain ascii', 'plain ascii'],
    ['', ''],
  ])('%j -> %j', (input, expected) => {
    expect(normalizeString(input)).toBe(expected);
  });
});

describe('dateRange', () => {
  it.each([
    ['2024', '2024-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z'],
    ['2024-03', '2024-03-01T00:00:00.000Z', '2024-04-01T00:00:00.000Z'],
    ['2024-12', '2024-12-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z'],
    ['2024-03-05', '2024-03-05T00:00:00.000Z', '2024-03-06T00:00:00.000Z'],
    ['2024-02-29', '2024-02-29T00:00:00.000Z', '2024-03-01T00:00:00.000Z'],
    ['2024-12-31', '2024-12-31T00:00:00.000Z', '2025-01-01T00:00:00.000Z'],
    ['2024-03-05T10:00', '2024-03-05T10:00:00.000Z', '2024-03-05T10:01:00.000Z'],
    ['2024-03-05T10:00Z', '2024-03-05T10:00:00.000Z', '2024-03-05T10:01:00.000Z'],
    ['2024-03-05T10:00+02:00', '2024-03-05T08:00:00.000Z', '2024-03-05T08:01:00.000Z'],
    ['2024-03-05T10:00:07', '2024-03-05T10:00:07.000Z', '2024-03-05T10:00:08.000Z'],
    ['2024-03-05T10:00:07Z', '2024-03-05T10:00:07.000Z', '2024-03-05T10:00:08.000Z'],
    ['2024-03-05T10:00:07+02:00', '2024-03-05T08:00:07.000Z', '2024-03-05T08:00:08.000Z'],
    ['2024-03-05T01:00:00+02:00', '2024-03-04T23:00:00.000Z', '2024-03-04T23:00:01.000Z'],
    ['2024-03-05T23:30:00-05:30', '2024-03-06T05:00:00.000Z', '2024-03-06T05:00:01.000Z'],
    ['2024-03-05T10:00:07.123Z', '2024-03-05T10:00:07.123Z', '2024-03-05T10:00:07.124Z'],
    ['2024-03-05T10:00:07.5+01:00', '2024-03-05T09:00:07.500Z', '2024-03-05T09:00:07.501Z'],
    ['2024-03-05T10:00:07.123456Z', '2024-03-05T10:00:07.123Z', '2024-03-05T10:00:07.124Z'],
    ['2016-12-31T23:59:60Z', '2017-01-01T00:00:00.000Z', '2017-01-01T00:00:01.000Z'],
    ['0050-06', '0050-06-01T00:00:00.000Z', '0050-07-01T00:00:00.000Z'],
    ['9999', '9999-01-01T00:00:00.000Z', '10000-01-01T00:00:00.000Z'],
  ])('%s -> [%s, %s)', (value, low, high) => {
    expect(dateRange(value)).toEqual({ low, high });
  });

  it.each([
    '',
    'yesterday',
    '24',
    '0000',
    '2024-13',
    '2024-00',
    '2023-02-29',
    '2024-04-31',
    '2024-03-05T',
    '2024-03-05T10',
    '2024-03-05T24:00:00Z',
    '2024-03-05T10:60:00Z',
    '2024-03-05T10:00:61Z',
    '2024-03-05T10:00:00+15:00',
    '2024-03-05T10:00:00+02:60',
    '2024-03-05T10:00:00+0200',
    '2024-03-05Z',
    '2024-03-05 10:00:00',
    ' 2024',
  ])('rejects %j', (value) => {
    expect(dateRange(value)).toBeUndefined();
  });
});

describe('parseReference', () => {
  it.each([
    ['Patient/123', 'Patient', '123'],
    ['Patient/a.b-c', 'Patient', 'a.b-c'],
    ['Patient/123/_history/4', 'Patient', '123'],
    ['https://fhir.example.test/r4/Patient/123', 'Patient', '123'],
    ['http://fhir.example.test/Patient/123/_history/2', 'Patient', '123'],
  ])('%s -> %s/%s', (ref, targetType, targetId) => {
    expect(parseReference(ref)).toEqual({ targetType, targetId });
  });

  it.each([
    '#contained',
    'urn:uuid:6b1c2a8e-0000-4000-8000-000000000001',
    'urn:oid:1.2.3',
    'patient/123',
    'Patient/',
    'Patient/has space',
    `Patient/${'x'.repeat(65)}`,
    'https://fhir.example.test/',
    'Patient/1/_history/',
  ])('gives no target for %j', (ref) => {
    expect(parseReference(ref)).toEqual({ targetType: null, targetId: null });
  });
});

/** A sink recording rows as [table, ...columns] tuples. */
function collect(paramType: SearchParamType, value: unknown, type: string): unknown[][] {
  const out: unknown[][] = [];
  const sink: RowSink = {
    string: (_p, exact) => out.push(['string', exact]),
    token: (_p, system, code) => out.push(['token', system, code]),
    date: (_p, low, high) => out.push(['date', low, high]),
    reference: (_p, t, id, ref) => out.push(['reference', t, id, ref]),
    quantity: (_p, v, system, code, unit) => out.push(['quantity', v, system, code, unit]),
    number: (_p, v) => out.push(['number', v]),
    uri: (_p, uri) => out.push(['uri', uri]),
  };
  addValueRows(sink, 'p', paramType, value, type);
  return out;
}

describe('addValueRows', () => {
  it('string: skips non-name objects and guesses untyped HumanName and Address', () => {
    expect(collect('string', { system: 'phone', value: '1' }, 'ContactPoint')).toEqual([]);
    expect(collect('string', { family: 'Durand', given: ['A', 'B'] }, '')).toEqual([
      ['string', 'Durand'],
      ['string', 'A'],
      ['string', 'B'],
    ]);
    expect(collect('string', { city: 'Lyon', line: ['1 rue'] }, '')).toEqual([
      ['string', '1 rue'],
      ['string', 'Lyon'],
    ]);
  });

  it('string: ignores a primitive where a HumanName is declared', () => {
    expect(collect('string', 'Durand', 'HumanName')).toEqual([]);
  });

  it('token: Coding without system or code, Identifier without value, empty string', () => {
    expect(collect('token', { display: 'x' }, 'Coding')).toEqual([]);
    expect(collect('token', { system: 'urn:x' }, 'Identifier')).toEqual([]);
    expect(collect('token', '', 'code')).toEqual([]);
    expect(collect('token', { code: 'c' }, 'Coding')).toEqual([['token', null, 'c']]);
  });

  it('token: guesses the datatype of untyped objects', () => {
    expect(collect('token', { coding: [{ system: 's', code: 'c' }] }, '')).toEqual([['token', 's', 'c']]);
    expect(collect('token', { system: 'email', value: 'a@b.test' }, '')).toEqual([['token', null, 'a@b.test']]);
    expect(collect('token', { system: 'urn:x', value: 'v' }, '')).toEqual([['token', 'urn:x', 'v']]);
    expect(collect('token', { system: 's', code: 'c' }, '')).toEqual([['token', 's', 'c']]);
    expect(collect('token', false, '')).toEqual([['token', null, 'false']]);
  });

  it('date: Period bounds that do not parse are open; a Period with neither is skipped', () => {
    expect(collect('date', { start: 'bad', end: '2024' }, 'Period')).toEqual([
      ['date', null, '2025-01-01T00:00:00.000Z'],
    ]);
    expect(collect('date', { start: 'bad' }, 'Period')).toEqual([]);
    expect(collect('date', 'not a date', 'dateTime')).toEqual([]);
    expect(collect('date', { value: 3 }, 'Age')).toEqual([]);
  });

  it('reference: a Reference with only an identifier or display is skipped', () => {
    expect(collect('reference', { identifier: { system: 's', value: 'v' } }, 'Reference')).toEqual([]);
    expect(collect('reference', 'https://example.test/Questionnaire/q', 'canonical')).toEqual([
      ['reference', null, null, 'https://example.test/Questionnaire/q'],
    ]);
  });

  it('quantity: Quantity kinds, Money, SampledData and missing values', () => {
    expect(collect('quantity', { value: 3, unit: 'a', system: 'http://unitsofmeasure.org', code: 'a' }, 'Age')).toEqual(
      [['quantity', 3, 'http://unitsofmeasure.org', 'a', 'a']],
    );
    expect(collect('quantity', { value: 12.5, currency: 'EUR' }, 'Money')).toEqual([
      ['quantity', 12.5, 'urn:iso:std:iso:4217', 'EUR', null],
    ]);
    expect(collect('quantity', { value: 1, currency: 'EUR' }, '')).toEqual([
      ['quantity', 1, 'urn:iso:std:iso:4217', 'EUR', null],
    ]);
    expect(collect('quantity', { origin: { value: 0 }, period: 1, data: '1 2' }, 'SampledData')).toEqual([]);
    expect(collect('quantity', { unit: 'mg' }, 'Quantity')).toEqual([]);
    expect(collect('quantity', { value: Number.NaN }, 'Quantity')).toEqual([]);
  });

  it('number and uri', () => {
    expect(collect('number', 4, 'integer')).toEqual([['number', 4]]);
    expect(collect('number', Number.POSITIVE_INFINITY, 'decimal')).toEqual([]);
    expect(collect('number', '4', '')).toEqual([]);
    expect(collect('uri', 'https://example.test/x', 'uri')).toEqual([['uri', 'https://example.test/x']]);
    expect(collect('uri', '', 'uri')).toEqual([]);
  });
});
