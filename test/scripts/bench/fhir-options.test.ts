import { describe, expect, it } from 'vitest';
import { DEFAULT_PG_URL, parseFhirBenchArgs, redactUrl, UsageError } from '../../../scripts/bench/fhir-options.js';

describe('parseFhirBenchArgs', () => {
  it('has the issue defaults', () => {
    expect(parseFhirBenchArgs([])).toEqual({
      patients: 100_000,
      observations: 200_000,
      pgPatients: 100_000,
      pgObservations: 200_000,
      durationSeconds: 10,
      warmupSeconds: 2,
      concurrency: 16,
      pgUrl: DEFAULT_PG_URL,
      dataDir: '.pfi-data/bench',
      only: undefined,
      audit: true,
    });
    expect(parseFhirBenchArgs(['--audit', 'off']).audit).toBe(false);
    expect(() => parseFhirBenchArgs(['--audit', 'maybe'])).toThrow('--audit must be on or off');
  });

  it('reads every option, and PFI_BENCH_DATABASE_URL when --pg is absent', () => {
    const o = parseFhirBenchArgs(
      [
        '--patients',
        '2000',
        '--observations',
        '4000',
        '--duration',
        '3',
        '--concurrency',
        '8',
        '--data-dir',
        'd',
        '--only',
        'pg',
      ],
      { PFI_BENCH_DATABASE_URL: 'postgres://u@h/db' },
    );
    expect(o).toMatchObject({
      patients: 2000,
      observations: 4000,
      durationSeconds: 3,
      concurrency: 8,
      dataDir: 'd',
      only: 'pg',
    });
    expect(o.pgUrl).toBe('postgres://u@h/db');
    expect(
      parseFhirBenchArgs(['--pg', 'postgresql://x@y/z'], { PFI_BENCH_DATABASE_URL: 'postgres://u@h/db' }).pgUrl,
    ).toBe('postgresql://x@y/z');
  });

  it('scales the PostgreSQL-server observations with --pg-patients unless given', () => {
    expect(parseFhirBenchArgs(['--pg-patients', '1000'])).toMatchObject({ pgPatients: 1000, pgObservations: 2000 });
    expect(parseFhirBenchArgs(['--pg-patients', '1000', '--pg-observations', '5'])).toMatchObject({
      pgObservations: 5,
    });
  });

  it.each([
    [['--patients', 'x'], '--patients'],
    [['--patients', '0'], '--patients'],
    [['--patients', '600000'], '--patients'],
    [['--duration', '1.5'], '--duration'],
    [['--concurrency', '0'], '--concurrency'],
    [['--only', 'both'], '--only'],
    [['--pg', 'mysql://h/db'], '--pg'],
    [['--data-dir', ' '], '--data-dir'],
    [['--nope'], 'nope'],
    [['extra'], 'extra'],
  ])('refuses %j', (argv, mention) => {
    expect(() => parseFhirBenchArgs(argv)).toThrow(UsageError);
    expect(() => parseFhirBenchArgs(argv)).toThrow(mention);
  });
});

describe('redactUrl', () => {
  it('masks the password only', () => {
    expect(redactUrl('postgres://bench:s3cret@db:5432/test')).toBe('postgres://bench:***@db:5432/test');
    expect(redactUrl('postgres://postgres@127.0.0.1:5432/test')).toBe('postgres://postgres@127.0.0.1:5432/test');
    expect(redactUrl('not a url')).toBe('(unparsable URL)');
  });
});
