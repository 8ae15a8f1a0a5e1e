import { parseArgs } from 'node:util';
import { MAX_SEEDED_PATIENTS } from './french-data.js';

/** Command line of `npm run bench -- fhir`. */

export interface FhirBenchOptions {
  patients: number;
  observations: number;
  pgPatients: number;
  pgObservations: number;
  /** Seconds measured per interaction (after the warm-up). */
  durationSeconds: number;
  warmupSeconds: number;
  concurrency: number;
  pgUrl: string;
  dataDir: string;
  only: 'embedded' | 'pg' | undefined;
  /** Record AuditEvents (as the platform does); `off` measures the platform without them, for the overhead. */
  audit: boolean;
}

export const DEFAULT_PG_URL = 'postgres://postgres@127.0.0.1:5432/test';

export const FHIR_BENCH_USAGE = `usage: npm run bench -- fhir [options]
  --patients N          seeded Patients in the embedded database (default 100000)
  --observations N      seeded Observations, dealt round-robin over the Patients (default 200000)
  --pg-patients N       seeded Patients on the PostgreSQL server (default: --patients)
  --pg-observations N   seeded Observations on the PostgreSQL server (default: same ratio as embedded)
  --duration S          measured seconds per interaction, after a 2 s warm-up (default 10)
  --concurrency C       requests in flight (default 16)
  --pg URL              PostgreSQL server (default $PFI_BENCH_DATABASE_URL or ${DEFAULT_PG_URL});
                        the bench recreates the schema pfi_bench in it
  --data-dir DIR        embedded database kept between runs (default .pfi-data/bench)
  --only embedded|pg    run one backend only
  --audit on|off        record AuditEvents as the platform does (default on); off to measure their overhead`;

/** A bad command line; the message says which option. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** `--name`'s value as a whole number in [min, max], undefined when absent; {@link UsageError} otherwise. */
export function wholeNumber(name: string, value: string | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new UsageError(`--${name} must be a whole number between ${min} and ${max}`);
  }
  return Number(value);
}

/** Parses the options after `fhir`; throws {@link UsageError} on anything unknown or out of range. */
export function parseFhirBenchArgs(argv: string[], env: NodeJS.ProcessEnv = {}): FhirBenchOptions {
  let values: Record<string, string | undefined>;
  try {
    const text = { type: 'string' } as const;
    ({ values } = parseArgs({
      args: argv,
      options: {
        patients: text,
        observations: text,
        'pg-patients': text,
        'pg-observations': text,
        duration: text,
        concurrency: text,
        pg: text,
        'data-dir': text,
        only: text,
        audit: text,
      },
      allowPositionals: false,
      strict: true,
    }));
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  const patients = wholeNumber('patients', values['patients'], 1, MAX_SEEDED_PATIENTS) ?? 100_000;
  const observations = wholeNumber('observations', values['observations'], 0, 10_000_000) ?? 200_000;
  const pgPatients = wholeNumber('pg-patients', values['pg-patients'], 1, MAX_SEEDED_PATIENTS) ?? patients;
  const pgObservations =
    wholeNumber('pg-observations', values['pg-observations'], 0, 10_000_000) ??
    Math.round((observations * pgPatients) / patients);
  const only = values['only'];
  if (only !== undefined && only !== 'embedded' && only !== 'pg') throw new UsageError('--only must be embedded or pg');
  const pgUrl = values['pg'] ?? (env['PFI_BENCH_DATABASE_URL'] || DEFAULT_PG_URL);
  if (!/^postgres(ql)?:\/\//.test(pgUrl)) throw new UsageError('--pg must be a postgres:// URL');
  const audit = values['audit'] ?? 'on';
  if (audit !== 'on' && audit !== 'off') throw new UsageError('--audit must be on or off');
  const dataDir = values['data-dir'] ?? '.pfi-data/bench';
  if (dataDir.trim() === '') throw new UsageError('--data-dir must not be empty');
  return {
    patients,
    observations,
    pgPatients,
    pgObservations,
    durationSeconds: wholeNumber('duration', values['duration'], 1, 3600) ?? 10,
    warmupSeconds: 2,
    concurrency: wholeNumber('concurrency', values['concurrency'], 1, 1024) ?? 16,
    pgUrl,
    dataDir,
    only,
    audit: audit === 'on',
  };
}

/** The URL with any password masked, for printing. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}
