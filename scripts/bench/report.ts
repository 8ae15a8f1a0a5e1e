import type { Backend, InteractionResult, Verdict } from './targets.js';

/** Text rendering of the FHIR benchmark results. */

export interface BackendReport {
  backend: Backend;
  results: InteractionResult[];
  verdicts: Verdict[];
}

const LABELS: Record<InteractionResult['name'], string> = {
  ceiling: 'ceiling (bare PK lookup)',
  read: 'read Patient/<id>',
  'search-identifier': 'Patient?identifier=<IPP>',
  'search-family': 'Patient?family=<3 letters>',
  'search-observation': 'Observation?patient&code',
  create: 'create Patient',
};

const num = (v: number, digits = 1) => (Number.isFinite(v) ? v.toFixed(digits) : '-');

/** One aligned table per backend (req/s, p50, p99, max, errors, SQL round trips per request), then the verdicts. */
export function formatReport(reports: BackendReport[]): string {
  const header = ['backend', 'interaction', 'req/s', 'p50 ms', 'p99 ms', 'max ms', 'errors', 'SQL/req'];
  const rows: string[][] = [];
  for (const r of reports) {
    for (const x of r.results) {
      rows.push([
        r.backend,
        LABELS[x.name],
        Math.round(x.rps).toLocaleString('en-US'),
        num(x.p50),
        num(x.p99),
        num(x.max),
        x.errors === 0
          ? '0'
          : `${x.errors} (${Object.entries(x.statuses)
              .filter(([k]) => !/^2/.test(k))
              .map(([k, v]) => `${k}×${v}`)
              .join(' ')})`,
        num(x.roundTripsPerRequest, 2),
      ]);
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i < 2 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  const out = [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
  for (const r of reports) {
    if (r.verdicts.length === 0) continue;
    out.push('', `targets (${r.backend}):`);
    for (const v of r.verdicts) out.push(`  ${v.pass ? 'PASS' : 'MISS'}  ${v.target}: ${v.actual}`);
  }
  return out.join('\n');
}
