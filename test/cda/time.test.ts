import { describe, expect, it } from 'vitest';
import { cdaDateTime, cdaTimestamp, instantOf } from '../../lambdas/cda/time.js';

describe('cdaTimestamp (Europe/Paris with offset)', () => {
  it.each([
    ['2026-12-02T12:45:00Z', '20261202134500+0100'],
    ['2026-07-14T08:00:05Z', '20260714100005+0200'],
    ['2026-12-31T23:30:00Z', '20270101003000+0100'],
    // DST starts 2026-03-29 at 01:00 UTC (02:00 → 03:00 local), ends 2026-10-25 at 01:00 UTC.
    ['2026-03-29T00:59:59Z', '20260329015959+0100'],
    ['2026-03-29T01:00:00Z', '20260329030000+0200'],
    ['2026-10-25T00:59:59Z', '20261025025959+0200'],
    ['2026-10-25T01:00:00Z', '20261025020000+0100'],
  ])('%s → %s', (iso, ts) => {
    expect(cdaTimestamp(new Date(iso))).toBe(ts);
  });

  it('refuses an invalid date', () => {
    expect(() => cdaTimestamp(new Date('nope'))).toThrow(RangeError);
  });
});

describe('cdaDateTime (FHIR date/dateTime → TS)', () => {
  it('keeps a date (or a partial date) without zone', () => {
    expect(cdaDateTime('1979-03-28')).toBe('19790328');
    expect(cdaDateTime('1979-03')).toBe('197903');
    expect(cdaDateTime('1979')).toBe('1979');
  });

  it('renders a dateTime in Paris time whatever zone it was written in', () => {
    expect(cdaDateTime('2026-03-05T08:00:00+01:00')).toBe('20260305080000+0100');
    expect(cdaDateTime('2026-03-05T07:00:00Z')).toBe('20260305080000+0100');
    expect(cdaDateTime('2026-06-05T08:00:00.123+02:00')).toBe('20260605080000+0200');
  });

  it('is undefined for anything else', () => {
    for (const v of [undefined, 42, '', '2026-13-45T99:00:00', '05/03/2026']) expect(cdaDateTime(v)).toBeUndefined();
    expect(instantOf('2026-03-05')).toBeUndefined();
    expect(instantOf('2026-03-05T08:00:00+01:00')?.toISOString()).toBe('2026-03-05T07:00:00.000Z');
  });
});
