import type { CorpusName, ParseRate, ParserName } from './hl7-parse.js';
import { type AckFigures, type BackendRun, shareOf, type Verdict } from './hl7-results.js';

/** Text rendering of the hl7 benchmark: aligned tables, verdict lines, a one-line summary. */

const PARSER_LABELS: Record<ParserName, string> = {
  'pfi-parse-map': 'PFI parseHl7 + mapMessage',
  'pfi-parse': 'PFI parseHl7 alone (lazy: fields split on access)',
  'medplum-parse': '@medplum/core Hl7Message.parse (parser only, no mapping)',
};

export const RUN_LABELS = {
  ceiling: 'bare MLLP server (ceiling)',
  bridgeAlone: 'MLLP bridge, no queue (AA at once)',
  embedded: 'embedded (PGlite)',
  pg: 'PostgreSQL server',
};

const int = (v: number) => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : '-');
const dec = (v: number | undefined, digits = 1) => (v !== undefined && Number.isFinite(v) ? v.toFixed(digits) : '-');

/** Columns aligned; the first `left` columns padded right, the others left (numbers). */
export function table(header: string[], rows: string[][], left = 1): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i < left ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** Part (a): one row per parser, ADT and ORU side by side. */
export function formatParseTable(rates: ParseRate[]): string {
  const corpora: CorpusName[] = ['ADT', 'ORU'];
  const parsers = [...new Set(rates.map((r) => r.parser))];
  const header = ['parser (one core)', ...corpora.flatMap((c) => [`${c} msg/s`, `${c} µs/msg`])];
  const rows = parsers.map((p) => [
    PARSER_LABELS[p],
    ...corpora.flatMap((c) => {
      const r = rates.find((x) => x.parser === p && x.corpus === c);
      return [r ? int(r.perSecond) : '-', r ? dec(r.micros, 2) : '-'];
    }),
  ]);
  return table(header, rows);
}

function ackRow(label: string, a: AckFigures, ceiling: AckFigures | undefined): string[] {
  return [
    label,
    int(a.messages),
    int(a.perSecond),
    dec(a.p50, 2),
    dec(a.p99, 2),
    dec(a.max, 1),
    int(a.aa),
    int(a.ae),
    int(a.ar),
    int(a.bad + a.errors.length),
    ceiling && ceiling !== a && ceiling.perSecond > 0 ? shareOf(a, ceiling) : '',
  ];
}

/**
 * Part (b), MLLP side: the ceiling, the bridge without a queue, and each backend — its warm-up's first run (the
 * platform just started) above its measured run.
 */
export function formatAckTable(
  ceiling: AckFigures | undefined,
  runs: BackendRun[],
  bridgeAlone?: AckFigures | undefined,
): string {
  const header = ['run', 'messages', 'ACK/s', 'p50 ms', 'p99 ms', 'max ms', 'AA', 'AE', 'AR', 'bad', 'of ceiling'];
  const rows: string[][] = [];
  if (ceiling) rows.push(ackRow(RUN_LABELS.ceiling, ceiling, ceiling));
  if (bridgeAlone) rows.push(ackRow(RUN_LABELS.bridgeAlone, bridgeAlone, ceiling));
  for (const r of runs) {
    if (r.warmUp) rows.push(ackRow(`${RUN_LABELS[r.backend]}, warm-up's first run`, r.warmUp.first, ceiling));
    if (r.ack) rows.push(ackRow(RUN_LABELS[r.backend], r.ack, ceiling));
  }
  return table(header, rows);
}

/** Part (b), FHIR side: when everything was applied, at what rate, and what the store holds. */
export function formatIngestTable(runs: BackendRun[]): string {
  const header = [
    'run',
    'all in FHIR s',
    'applied/s',
    'applied at last ACK',
    'failed attempts',
    'dead letters',
    'Patient',
    'Encounter',
    'Provenance',
    'SQL/msg',
  ];
  const rows: string[][] = [];
  for (const r of runs) {
    const i = r.ingest;
    if (!i) continue;
    const s = i.allAppliedSeconds;
    rows.push([
      RUN_LABELS[r.backend],
      s === undefined ? `not all (${int(i.elapsedSeconds)} s)` : dec(s, 1),
      // Not all applied: the rate so far.
      int(s === undefined ? i.applied / i.elapsedSeconds : i.expected.Provenance / s),
      int(i.appliedAtLastAck),
      int(i.failedAttempts),
      int(i.deadLetters),
      `${int(i.counts.Patient)}/${int(i.expected.Patient)}`,
      `${int(i.counts.Encounter)}/${int(i.expected.Encounter)}`,
      `${int(i.counts.Provenance)}/${int(i.expected.Provenance)}`,
      dec(i.sqlPerMessage, 1),
    ]);
  }
  const codes = (label: string, pick: (i: NonNullable<BackendRun['ingest']>) => Record<string, number>) =>
    runs
      .filter((r) => r.ingest)
      .map((r) => {
        const entries = Object.entries(pick(r.ingest!)).sort((a, b) => b[1] - a[1]);
        return `${label} (${r.backend}): ${entries.length ? entries.map(([k, n]) => `${k} ×${int(n)}`).join(', ') : 'none'}`;
      });
  return [
    table(header, rows),
    ...codes('failed attempts', (i) => i.failures),
    ...codes('ingest warnings', (i) => i.warnings),
  ].join('\n');
}

/** A titled list of verdicts (one part, or one backend). */
export interface VerdictGroup {
  title: string;
  verdicts: Verdict[];
}

/** `title:` then `  PASS    target: actual` lines (MISSED, or INFO when no target applies). */
export function formatVerdicts(groups: VerdictGroup[]): string {
  return groups
    .filter((g) => g.verdicts.length)
    .map((g) =>
      [
        `${g.title}:`,
        ...g.verdicts.map(
          (v) =>
            `  ${(v.pass === undefined ? 'INFO' : v.pass ? 'PASS' : 'MISSED').padEnd(6)}  ${v.target}: ${v.actual}`,
        ),
      ].join('\n'),
    )
    .join('\n');
}

/** One line: the headline figures and how many targets were met. */
export function formatSummary(
  rates: ParseRate[],
  ceiling: AckFigures | undefined,
  runs: BackendRun[],
  verdicts: Verdict[],
): string {
  const parts: string[] = [];
  const adt = rates.find((r) => r.parser === 'pfi-parse-map' && r.corpus === 'ADT');
  const medplum = rates.find((r) => r.parser === 'medplum-parse' && r.corpus === 'ADT');
  if (adt)
    parts.push(`parse+map ${int(adt.perSecond)} ADT/s${medplum ? ` (medplum parse ${int(medplum.perSecond)})` : ''}`);
  if (ceiling) parts.push(`ceiling ${int(ceiling.perSecond)} msg/s`);
  for (const r of runs) {
    if (r.skipped || !r.ack) {
      parts.push(`${r.backend} skipped`);
      continue;
    }
    const fhir = r.ingest?.allAppliedSeconds;
    parts.push(
      `${r.backend} ${int(r.ack.perSecond)} ACK/s p99 ${dec(r.ack.p99, 1)} ms, all in FHIR ${fhir === undefined ? 'not reached' : `${dec(fhir, 1)} s`}`,
    );
  }
  const judged = verdicts.filter((v) => v.pass !== undefined);
  const met = judged.filter((v) => v.pass).length;
  return `hl7 bench: ${parts.join('; ')} — ${met}/${judged.length} targets met`;
}
