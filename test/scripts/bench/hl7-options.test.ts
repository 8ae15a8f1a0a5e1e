import { describe, expect, it } from 'vitest';
import { DEFAULT_PG_URL, UsageError } from '../../../scripts/bench/fhir-options.js';
import { parseHl7BenchArgs } from '../../../scripts/bench/hl7-options.js';

describe('parseHl7BenchArgs', () => {
  it('defaults to the issue’s run: both backends, 20,000 messages, 50 connections', () => {
    expect(parseHl7BenchArgs([])).toEqual({
      backends: ['embedded', 'pg'],
      parse: true,
      e2e: true,
      messages: 20_000,
      warmUpMessages: 4000,
      connections: 50,
      workerConcurrency: undefined,
      parseSeconds: 3,
      parseWarmupSeconds: 1,
      pgUrl: DEFAULT_PG_URL,
      applyTimeoutSeconds: 300,
      client: 'thread',
      quick: false,
    });
  });

  it('reads every option', () => {
    const o = parseHl7BenchArgs([
      '--backend',
      'pg',
      '--only',
      'e2e',
      '--messages',
      '500',
      '--warm-up',
      '0',
      '--connections',
      '10',
      '--worker-concurrency',
      '16',
      '--duration-parse',
      '5',
      '--pg-url',
      'postgres://u@db:5432/x',
      '--apply-timeout',
      '60',
      '--client',
      'inline',
    ]);
    expect(o).toMatchObject({
      backends: ['pg'],
      parse: false,
      e2e: true,
      messages: 500,
      warmUpMessages: 0,
      connections: 10,
      workerConcurrency: 16,
      parseSeconds: 5,
      pgUrl: 'postgres://u@db:5432/x',
      applyTimeoutSeconds: 60,
      client: 'inline',
    });
    expect(parseHl7BenchArgs(['--only', 'parse'])).toMatchObject({ parse: true, e2e: false });
  });

  it('makes --quick small unless told otherwise', () => {
    expect(parseHl7BenchArgs(['--quick'])).toMatchObject({
      quick: true,
      messages: 2000,
      warmUpMessages: 400,
      parseSeconds: 1,
    });
    expect(parseHl7BenchArgs(['--quick', '--messages', '3000'])).toMatchObject({ messages: 3000 });
  });

  it('takes the PostgreSQL URL from PFI_BENCH_DATABASE_URL when --pg-url is absent', () => {
    expect(parseHl7BenchArgs([], { PFI_BENCH_DATABASE_URL: 'postgresql://h/db' }).pgUrl).toBe('postgresql://h/db');
  });

  it.each([
    [['--backend', 'sqlite']],
    [['--only', 'ack']],
    [['--messages', '0']],
    [['--connections', '101']],
    [['--warm-up', '-1']],
    [['--warm-up', '100001']],
    [['--messages', '1e3']],
    [['--client', 'process']],
    [['--pg-url', 'mysql://x']],
    [['--unknown']],
    [['positional']],
  ])('rejects %j', (argv) => {
    expect(() => parseHl7BenchArgs(argv)).toThrow(UsageError);
  });
});
