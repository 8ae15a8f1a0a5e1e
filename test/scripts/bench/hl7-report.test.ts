import { describe, expect, it } from 'vitest';
import {
  formatAckTable,
  formatIngestTable,
  formatSummary,
  formatVerdicts,
  table,
} from '../../../scripts/bench/hl7-report.js';
import type { BackendRun } from '../../../scripts/bench/hl7-results.js';
import { ackFiguresAt } from '../../support/ack-figures.js';

describe('table', () => {
  it('pads text columns right and number columns left', () => {
    expect(
      table(
        ['run', 'n'],
        [
          ['a', '1'],
          ['bbb', '1,000'],
        ],
      ),
    ).toBe(['run      n', '---  -----', 'a        1', 'bbb  1,000'].join('\n'));
  });
});

describe('formatVerdicts', () => {
  it('titles each group and marks PASS, MISSED and INFO', () => {
    const out = formatVerdicts([
      { title: '(a)', verdicts: [{ target: 't1', actual: '1', pass: true }] },
      { title: '(b)', verdicts: [] },
      {
        title: '(c)',
        verdicts: [
          { target: 't2', actual: '2', pass: false },
          { target: 't3', actual: '3', pass: undefined },
        ],
      },
    ]);
    expect(out.split('\n')).toEqual(['(a):', '  PASS    t1: 1', '(c):', '  MISSED  t2: 2', '  INFO    t3: 3']);
  });
});

const run: BackendRun = {
  backend: 'pg',
  ingest: {
    allAppliedSeconds: undefined,
    elapsedSeconds: 100,
    appliedAtLastAck: 10,
    applied: 500,
    failedAttempts: 2,
    failures: { 'fhir-409': 2 },
    warnings: {},
    deadLetters: 0,
    sqlPerMessage: 9.84,
    counts: { Patient: 200, Encounter: 190, Provenance: 500 },
    expected: { Patient: 250, Encounter: 250, Provenance: 1000 },
  },
};

describe('formatIngestTable', () => {
  it('shows the rate so far when not everything was applied, and failures by code', () => {
    const out = formatIngestTable([run]);
    expect(out).toContain('not all (100 s)');
    expect(out).toMatch(/not all \(100 s\)\s+5\s/);
    expect(out).toContain('500/1,000');
    expect(out).toContain('failed attempts (pg): fhir-409 ×2');
    expect(out).toContain('ingest warnings (pg): none');
  });
});

const acks = (messages: number, perSecond: number) => ackFiguresAt(perSecond, 2, { messages });

describe('formatAckTable', () => {
  it('lists the ceiling, the bridge without queue, then each warm-up’s first run above its measured run', () => {
    const warmUp = { messages: 400, rounds: 5, first: acks(400, 2000), last: acks(400, 9000), drainSeconds: 1 };
    const out = formatAckTable(
      acks(1000, 40_000),
      [{ backend: 'pg', warmUp, ack: acks(1000, 8000) }],
      acks(1000, 20_000),
    ).split('\n');
    expect(out.slice(2).map((l) => [l.slice(0, 40).trim(), l.split(/\s+/).at(-1)])).toEqual([
      // The ceiling's row has no share: its last column is the bad count.
      ['bare MLLP server (ceiling)', '0'],
      ['MLLP bridge, no queue (AA at once)', '50%'],
      ["PostgreSQL server, warm-up's first run", '5%'],
      ['PostgreSQL server', '20%'],
    ]);
  });
});

describe('formatSummary', () => {
  it('counts only judged verdicts', () => {
    const line = formatSummary(
      [],
      undefined,
      [{ backend: 'embedded', skipped: 'x' }],
      [
        { target: 'a', actual: '', pass: true },
        { target: 'b', actual: '', pass: false },
        { target: 'c', actual: '', pass: undefined },
      ],
    );
    expect(line).toBe('hl7 bench: embedded skipped — 1/2 targets met');
  });
});
