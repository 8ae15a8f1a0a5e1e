/** The FHIR benchmark's interactions, their measured figures and the performance targets. */

export const INTERACTIONS = [
  'ceiling',
  'read',
  'search-identifier',
  'search-family',
  'search-observation',
  'create',
] as const;
export type InteractionName = (typeof INTERACTIONS)[number];

export interface InteractionResult {
  name: InteractionName;
  /** Requests completed in the measured window (errors included). */
  requests: number;
  errors: number;
  statuses: Record<string, number>;
  /** Completed requests per second over the window. */
  rps: number;
  p50: number;
  p99: number;
  max: number;
  mean: number;
  /** SQL statements sent per completed request (BEGIN/COMMIT included). */
  roundTripsPerRequest: number;
  firstError?: string;
}

export type Backend = 'embedded' | 'pg';

export interface Verdict {
  target: string;
  actual: string;
  pass: boolean;
}

export type Results = Partial<Record<InteractionName, InteractionResult>>;

const ms = (v: number) => `${v.toFixed(1)} ms`;
const perSecond = (v: number) => `${Math.round(v).toLocaleString('en-US')}/s`;
const clean = (...rs: InteractionResult[]) => rs.every((r) => r.errors === 0);
const withErrors = (actual: string, ...rs: InteractionResult[]) => (clean(...rs) ? actual : `${actual} (with errors)`);

/**
 * The targets that apply to `backend`, judged on `results`: embedded reads ≥ 70% of the
 * bare-lookup ceiling; PostgreSQL-server reads ≥ 4,000/s with p99 ≤ 15 ms; search by identifier p99 ≤ 2× a
 * read's; create ≥ 800/s. A target is missed when an interaction it uses had errors. Targets whose
 * interactions were not measured are left out.
 */
export function judge(backend: Backend, results: Results): Verdict[] {
  const out: Verdict[] = [];
  const { ceiling, read, create } = results;
  const identifier = results['search-identifier'];
  if (backend === 'embedded' && read && ceiling) {
    const ratio = ceiling.rps > 0 ? read.rps / ceiling.rps : 0;
    out.push({
      target: 'read ≥ 70% of ceiling',
      actual: withErrors(
        `${(ratio * 100).toFixed(0)}% (${perSecond(read.rps)} vs ${perSecond(ceiling.rps)})`,
        read,
        ceiling,
      ),
      pass: ratio >= 0.7 && clean(read, ceiling),
    });
  }
  if (backend === 'pg' && read) {
    out.push({
      target: 'read ≥ 4,000/s',
      actual: withErrors(perSecond(read.rps), read),
      pass: read.rps >= 4000 && clean(read),
    });
    out.push({
      target: 'read p99 ≤ 15 ms',
      actual: withErrors(ms(read.p99), read),
      pass: read.p99 <= 15 && clean(read),
    });
  }
  if (read && identifier) {
    out.push({
      target: 'search by identifier p99 ≤ 2× read p99',
      actual: withErrors(`${ms(identifier.p99)} vs ${ms(read.p99)}`, identifier, read),
      pass: identifier.p99 <= 2 * read.p99 && clean(identifier, read),
    });
  }
  if (create) {
    out.push({
      target: 'create ≥ 800/s',
      actual: withErrors(perSecond(create.rps), create),
      pass: create.rps >= 800 && clean(create),
    });
  }
  return out;
}
