import { describe, expect, it } from 'vitest';
import type { MllpClientResult } from '../../../scripts/bench/hl7-mllp.js';
import type { ParseRate } from '../../../scripts/bench/hl7-parse.js';
import {
  type AckFigures,
  ackFigures,
  type BackendRun,
  type IngestFigures,
  judgeBackend,
  judgeParse,
} from '../../../scripts/bench/hl7-results.js';
import { ackFiguresAt } from '../../support/ack-figures.js';

const ack = ackFiguresAt;

const ingest = (seconds: number | undefined, over: Partial<IngestFigures> = {}): IngestFigures => ({
  allAppliedSeconds: seconds,
  elapsedSeconds: seconds ?? 300,
  appliedAtLastAck: 100,
  applied: 1000,
  failedAttempts: 0,
  failures: {},
  warnings: {},
  deadLetters: 0,
  sqlPerMessage: 20,
  counts: { Patient: 250, Encounter: 250, Provenance: 1000 },
  expected: { Patient: 250, Encounter: 250, Provenance: 1000 },
  ...over,
});

const passes = (run: BackendRun, ceiling?: AckFigures) =>
  Object.fromEntries(judgeBackend(run, ceiling).map((v) => [v.target.replace(/[\d,]+ in FHIR/, 'N in FHIR'), v.pass]));

describe('ackFigures', () => {
  it('derives throughput from the first send to the last ACK and percentiles from the latencies', () => {
    const r: MllpClientResult = {
      sent: 4,
      aa: 3,
      ae: 1,
      ar: 0,
      bad: 0,
      latenciesMs: Float64Array.from([4, 1, 3, 2]),
      startedAt: 1000,
      finishedAt: 1002,
      errors: [],
    };
    expect(ackFigures(r, 4)).toMatchObject({ perSecond: 2000, seconds: 0.002, p50: 2, p99: 4, max: 4, ae: 1 });
  });
});

describe('judgeParse', () => {
  const rate = (perSecond: number): ParseRate => ({
    parser: 'pfi-parse-map',
    corpus: 'ADT',
    messages: 1,
    seconds: 1,
    perSecond,
    micros: 1e6 / perSecond,
  });

  it('passes at 20,000 ADT/s and not below', () => {
    expect(judgeParse([rate(20_000)])[0]?.pass).toBe(true);
    expect(judgeParse([rate(19_999)])[0]?.pass).toBe(false);
    expect(judgeParse([])).toEqual([]);
  });
});

describe('judgeBackend', () => {
  const ceiling = ack(10_000, 5);

  it('judges ACK throughput against 30% of the ceiling and p99 against 50 ms', () => {
    expect(passes({ backend: 'embedded', ack: ack(3000, 50) }, ceiling)).toEqual({
      'ACK throughput ≥ 30% of the bare MLLP ceiling': true,
      'ACK p99 ≤ 50 ms': true,
    });
    expect(passes({ backend: 'embedded', ack: ack(2999, 50.1) }, ceiling)).toEqual({
      'ACK throughput ≥ 30% of the bare MLLP ceiling': false,
      'ACK p99 ≤ 50 ms': false,
    });
  });

  it('misses the ACK targets when a message was not AA', () => {
    const v = judgeBackend({ backend: 'pg', ack: ack(9000, 1, { aa: 999, ar: 1 }) }, ceiling);
    expect(v.map((x) => x.pass)).toEqual([false, false]);
    expect(v[0]?.actual).toContain('AR 1');
  });

  it('holds the PostgreSQL server to 20 s and only reports the embedded figure', () => {
    expect(passes({ backend: 'pg', ack: ack(5000, 10), ingest: ingest(20) })['all N in FHIR ≤ 20 s']).toBe(true);
    expect(passes({ backend: 'pg', ack: ack(5000, 10), ingest: ingest(20.1) })['all N in FHIR ≤ 20 s']).toBe(false);
    const embedded = judgeBackend({ backend: 'embedded', ack: ack(5000, 10), ingest: ingest(99) }, ceiling);
    expect(embedded.at(-1)).toMatchObject({ pass: undefined, actual: '99.0 s' });
  });

  it('misses "all in FHIR" when messages were not applied, dead-lettered, or are missing from the store', () => {
    const run = (i: IngestFigures): BackendRun => ({ backend: 'pg', ack: ack(5000, 10), ingest: i });
    const fhir = (i: IngestFigures) => judgeBackend(run(i), ceiling).at(-1)!;
    expect(fhir(ingest(undefined, { applied: 900 }))).toMatchObject({
      pass: false,
      actual: expect.stringContaining('900/1,000 after 300 s (3/s)'),
    });
    expect(fhir(ingest(5, { deadLetters: 1 })).pass).toBe(false);
    expect(fhir(ingest(5, { counts: { Patient: 250, Encounter: 249, Provenance: 1000 } })).pass).toBe(false);
  });

  it('reports, without judging it, the share of the bridge without a queue', () => {
    const v = judgeBackend({ backend: 'pg', ack: ack(3000, 10) }, ceiling, ack(6000, 2));
    expect(v[1]).toEqual({
      target: 'ACK throughput, share of the bridge without a queue',
      actual: '50% (3,000/s vs 6,000/s)',
      pass: undefined,
    });
    expect(v.map((x) => x.pass)).toEqual([true, undefined, true]);
  });

  it('judges nothing without ACK figures and no ratio without a ceiling', () => {
    expect(judgeBackend({ backend: 'pg', skipped: 'unreachable' }, ceiling)).toEqual([]);
    expect(judgeBackend({ backend: 'pg', ack: ack(5000, 10) }, undefined).map((v) => v.target)).toEqual([
      'ACK p99 ≤ 50 ms',
    ]);
  });
});
