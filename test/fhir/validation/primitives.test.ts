import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import * as p from '../../../lambdas/fhir/validation/primitives.js';

function accepts(schema: z.ZodType, values: unknown[]) {
  for (const value of values) expect(schema.safeParse(value).success, JSON.stringify(value)).toBe(true);
}
function rejects(schema: z.ZodType, values: unknown[]) {
  for (const value of values) expect(schema.safeParse(value).success, JSON.stringify(value)).toBe(false);
}

describe('FHIR primitives', () => {
  it('date: YYYY, YYYY-MM, YYYY-MM-DD on existing days', () => {
    accepts(p.date, ['2024', '2024-02', '2024-02-29', '2000-02-29', '0001-01-01', '1974-12-25']);
    rejects(p.date, ['', '24', '2024-2', '2024-13', '2024-02-30', '2023-02-29', '1900-02-29', '2024-04-31', '0000']);
    rejects(p.date, ['2024-01-01T00:00:00Z', '2024/01/01', ' 2024', 2024, null]);
  });

  it('dateTime: timezone mandatory when a time is present', () => {
    accepts(p.dateTime, ['2024', '2024-03', '2024-03-06', '2024-03-06T08:30:00Z', '2024-03-06T08:30:00.123+01:00']);
    accepts(p.dateTime, ['2024-03-06T23:59:60-14:00'.replace('-14:00', '+14:00'), '2024-03-06T00:00:00-03:30']);
    rejects(p.dateTime, [
      '2024-03-06T08:30:00',
      '2024-03-06T08:30Z',
      '2024-03-06T24:00:00Z',
      '2024-03-06T08:30:00+15:00',
    ]);
    rejects(p.dateTime, ['2024-03-06 08:30:00Z', '2024-02-30T08:30:00Z', '2024T08:30:00Z', '']);
  });

  it('instant: full date-time with timezone', () => {
    accepts(p.instant, ['2024-03-06T08:30:00Z', '2024-03-06T08:30:00.000000+02:00']);
    rejects(p.instant, ['2024-03-06', '2024-03-06T08:30:00', '2024-03-06T08:30Z', '2023-02-29T00:00:00Z']);
  });

  it('time, code, id, uri, oid, uuid', () => {
    accepts(p.time, ['08:30:00', '23:59:59.5']);
    rejects(p.time, ['8:30:00', '08:30', '24:00:00', '08:30:00Z']);
    accepts(p.code, ['final', 'a b', 'text/plain', 'INS-NIR']);
    rejects(p.code, ['', ' final', 'final ', 'a  b', 'a\tb', 'a\nb']);
    accepts(p.id, ['a', 'A-1.b', 'x'.repeat(64)]);
    rejects(p.id, ['', 'x'.repeat(65), 'a_b', 'a/b', 'é']);
    accepts(p.uri, ['urn:oid:1.2.250.1.213.1.4.8', 'http://loinc.org', 'identityStatus']);
    rejects(p.uri, ['', 'http://a b', ' urn:x']);
    accepts(p.oid, ['urn:oid:1.2.250.1.213.1.4.10']);
    rejects(p.oid, ['1.2.250', 'urn:oid:1.02', 'urn:oid:3.1']);
    accepts(p.uuid, ['urn:uuid:0e1e2f4a-1b2c-4d5e-8f90-123456789abc']);
    rejects(p.uuid, ['0e1e2f4a-1b2c-4d5e-8f90-123456789abc', 'urn:uuid:0E1E2F4A-1B2C-4D5E-8F90-123456789ABC']);
  });

  it('base64Binary, whitespace tolerated', () => {
    accepts(p.base64Binary, ['YWJj', 'YWI=', 'YQ==', 'SGVs\nbG8g d29y bGQ=', 'a+/9']);
    rejects(p.base64Binary, ['', '   ', 'YWJ', 'YQ=', 'Y===', 'YW*j', 'YQ==YQ==']);
    expect(p.isBase64('YWJj')).toBe(true);
  });

  it('string and markdown: no empty string', () => {
    accepts(p.fhirString, [' ', 'a', ' padded ']);
    rejects(p.fhirString, ['', 1, null, undefined]);
    rejects(p.markdown, ['']);
  });

  it('boolean, integer, decimal, positiveInt, unsignedInt', () => {
    accepts(p.boolean, [true, false]);
    rejects(p.boolean, ['true', 0, null]);
    accepts(p.integer, [0, -5, 2_147_483_647, -2_147_483_648]);
    rejects(p.integer, [1.5, 2_147_483_648, '1', Number.NaN]);
    accepts(p.decimal, [0, 1.25, -3e-5]);
    rejects(p.decimal, ['1.0', Number.POSITIVE_INFINITY, Number.NaN]);
    accepts(p.positiveInt, [1]);
    rejects(p.positiveInt, [0, -1]);
    accepts(p.unsignedInt, [0]);
    rejects(p.unsignedInt, [-1]);
  });

  it('reports one issue per bad value, with a value-free message', () => {
    const result = p.date.safeParse('1979-02-30');
    expect(result.success).toBe(false);
    expect(result.error?.issues).toHaveLength(1);
    expect(result.error?.issues[0]?.message).not.toContain('1979');
    expect(result.error?.issues[0]).toMatchObject({ code: 'custom', params: { fhirCode: 'value' } });
    expect(p.date.safeParse('').error?.issues).toHaveLength(1);
  });
});

describe('multi-megabyte values', () => {
  // Regexes with repeated groups overflow V8's stack on such input; these must return, not throw.
  const big = Buffer.alloc(4_500_000, 7).toString('base64');

  it('base64Binary accepts large content, wrapped or not, and rejects a bad tail', () => {
    accepts(p.base64Binary, [big, big.replace(/(.{76})/g, '$1\n')]);
    rejects(p.base64Binary, [`${big}A`, `${big.slice(0, -4)}*AAA`]);
  });

  it('code and oid stay linear on huge input', () => {
    accepts(p.code, ['a '.repeat(1_000_000).trim()]);
    rejects(p.code, [`${'a '.repeat(1_000_000)}`]);
    accepts(p.oid, [`urn:oid:1${'.1'.repeat(1_000_000)}`]);
    rejects(p.oid, [`urn:oid:1${'.1'.repeat(1_000_000)}.`]);
  });

  it('other string primitives fail fast on huge input', () => {
    const huge = '1'.repeat(5_000_000);
    rejects(p.id, [huge]);
    rejects(p.dateTime, [huge]);
    rejects(p.instant, [huge]);
    rejects(p.date, [huge]);
    accepts(p.uri, [huge]);
  });
});

describe('isRealCalendarDate', () => {
  it('checks day-of-month and leap years only when the day is present', () => {
    expect(p.isRealCalendarDate('2024')).toBe(true);
    expect(p.isRealCalendarDate('2024-02')).toBe(true);
    expect(p.isRealCalendarDate('2024-02-29')).toBe(true);
    expect(p.isRealCalendarDate('2100-02-29')).toBe(false);
    expect(p.isRealCalendarDate('2000-02-29T10:00:00Z')).toBe(true);
    expect(p.isRealCalendarDate('2024-06-31')).toBe(false);
    expect(p.isRealCalendarDate('2024-12-31')).toBe(true);
  });
});
