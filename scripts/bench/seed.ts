import type { SqlExecutor } from '../../lambdas/adapters/sql/executor.js';
import { FhirRepository } from '../../lambdas/fhir/repository/repository.js';
import { indexVersionSql } from '../../lambdas/fhir/repository/write-sql.js';
import { IPP_SYSTEM, indexFromIpp, seededObservation, seededPatient } from './french-data.js';

/** Seeds the benchmark data set through {@link FhirRepository}, directly on an executor (no HTTP). */

export interface SeedSizes {
  patients: number;
  observations: number;
}

export interface SeedOptions {
  /** Transactions in flight at once. */
  workers: number;
  /** Writes per transaction; 1 = each write on its own (PGlite plans each statement anew, batching gains nothing). */
  batch: number;
  /** Progress lines (every ~5 s and at the end of each phase). */
  log: (line: string) => void;
  progressEveryMs?: number;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

/**
 * Runs `write(i)` for i in [0, total), `batch` writes per transaction and `workers` transactions in
 * flight, logging rows done and the rate. On a server, batching in transactions saves a commit per row.
 */
async function runPhase(
  db: SqlExecutor,
  name: string,
  total: number,
  opts: SeedOptions,
  write: (repo: FhirRepository, i: number) => Promise<void>,
): Promise<number> {
  const started = performance.now();
  const direct = new FhirRepository(db);
  let next = 0;
  let done = 0;
  const progress = () => {
    const s = (performance.now() - started) / 1000;
    opts.log(`  ${name}: ${fmt(done)}/${fmt(total)} (${fmt(done / Math.max(s, 0.001))}/s, ${s.toFixed(0)} s)`);
  };
  const timer = setInterval(progress, opts.progressEveryMs ?? 5000);
  try {
    const worker = async () => {
      while (next < total) {
        const start = next;
        const end = Math.min(total, start + opts.batch);
        next = end;
        if (end - start === 1) await write(direct, start);
        else {
          await db.transaction(async (tx) => {
            const repo = new FhirRepository(tx);
            for (let i = start; i < end; i++) await write(repo, i);
          });
        }
        done += end - start;
        // PGlite answers through microtasks only: without this the progress timer would never fire.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, opts.workers) }, worker));
  } finally {
    clearInterval(timer);
  }
  progress();
  return (performance.now() - started) / 1000;
}

/**
 * Writes `sizes.patients` seeded Patients then `sizes.observations` Observations dealt round-robin over
 * them. Returns the Patient ids by seed index and the seconds each phase took.
 */
export async function seedDatabase(
  db: SqlExecutor,
  sizes: SeedSizes,
  opts: SeedOptions,
): Promise<{ patientIds: string[]; patientSeconds: number; observationSeconds: number }> {
  const patientIds: string[] = new Array(sizes.patients);
  const patientSeconds = await runPhase(db, 'Patient', sizes.patients, opts, async (repo, i) => {
    patientIds[i] = (await repo.create(seededPatient(i))).resource.id;
  });
  const observationSeconds = await runPhase(db, 'Observation', sizes.observations, opts, async (repo, j) => {
    await repo.create(seededObservation(j, sizes.patients, patientIds[j % sizes.patients] as string));
  });
  return { patientIds, patientSeconds, observationSeconds };
}

/**
 * Ids of the seeded Patients by seed index, read back from the identifier index (IPP); undefined when any
 * of the `patients` seeded rows is missing (the database must then be seeded again).
 */
export async function loadSeededPatientIds(db: SqlExecutor, patients: number): Promise<string[] | undefined> {
  const res = await db.query<{ id: string; code: string }>(
    `SELECT s.id, s.code FROM sp_token s JOIN resource r ON r.resource_type = s.resource_type AND r.id = s.id
       AND s.version = ${indexVersionSql('r', 'token')} AND NOT r.deleted
     WHERE s.resource_type = 'Patient' AND s.param = 'identifier' AND s.system = $1`,
    [IPP_SYSTEM],
    { readOnly: true },
  );
  const ids: (string | undefined)[] = new Array(patients);
  for (const row of res.rows) {
    const index = indexFromIpp(row.code);
    if (index !== undefined && index < patients) ids[index] = row.id;
  }
  for (let i = 0; i < patients; i++) if (ids[i] === undefined) return undefined;
  return ids as string[];
}
