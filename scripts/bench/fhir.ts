import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import type { SqlExecutor } from '../../lambdas/adapters/sql/executor.js';
import { migrate } from '../../lambdas/adapters/sql/migrate.js';
import { createPgExecutor } from '../../lambdas/adapters/sql/pg.js';
import { createPgliteExecutor } from '../../lambdas/adapters/sql/pglite.js';
import { loadOrCreateLocalKeys, signLocalToken } from '../../lambdas/auth/local-keys.js';
import { loadConfig } from '../../lambdas/config.js';
import { lockDataDir } from '../../lambdas/fhir/data-dir-lock.js';
import { createLocalServer, listen } from '../../lambdas/fhir/local-server.js';
import { createFhirPlatform } from '../../lambdas/fhir/platform.js';
import { machineInfo, reachable } from './environment.js';
import { FHIR_BENCH_USAGE, type FhirBenchOptions, parseFhirBenchArgs, redactUrl, UsageError } from './fhir-options.js';
import {
  FAMILY_NAMES,
  IPP_SYSTEM,
  LOINC,
  labTestOf,
  observationCount,
  randomPatient,
  seededIpp,
} from './french-data.js';
import { type RequestSpec, runLoad } from './load.js';
import { type BackendReport, formatReport } from './report.js';
import { loadSeededPatientIds, type SeedSizes, seedDatabase } from './seed.js';
import { summarize } from './stats.js';
import { type Backend, type InteractionName, type InteractionResult, judge, type Results } from './targets.js';

/**
 * `npm run bench -- fhir`: seeds French Patients (INS, IPP) and lab Observations, then measures the FHIR
 * API over HTTP at a fixed concurrency on the embedded database (PGlite) and on a PostgreSQL server,
 * next to the ceiling (a bare primary-key lookup behind plain node:http).
 */

const HOST = '127.0.0.1';
const PG_SCHEMA = 'pfi_bench';
const SEED_META = 'bench-seed.json';
const SEED_META_VERSION = 1;

const log = (line: string) => process.stdout.write(`${line}\n`);
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

interface BackendRun extends BackendReport {
  skipped?: string;
  seed?: {
    reused: boolean;
    patients: number;
    observations: number;
    patientSeconds?: number;
    observationSeconds?: number;
  };
  unexpectedErrors: number;
}

/** Number of match entries in a searchset Bundle (the server renders them with this exact text). */
function matchCount(body: string): number {
  let n = 0;
  for (let i = body.indexOf('"mode":"match"'); i !== -1; i = body.indexOf('"mode":"match"', i + 1)) n++;
  return n;
}

const randomInt = (n: number) => Math.floor(Math.random() * n);

/** The request builders of each measured interaction, over the seeded data. */
function interactionRequests(
  patientIds: string[],
  sizes: SeedSizes,
): Record<Exclude<InteractionName, 'ceiling'>, () => RequestSpec> {
  const withObservations = Math.min(sizes.patients, sizes.observations);
  return {
    read: () => ({ method: 'GET', path: `/fhir/Patient/${patientIds[randomInt(patientIds.length)]}` }),
    'search-identifier': () => ({
      method: 'GET',
      path: `/fhir/Patient?identifier=${encodeURIComponent(`${IPP_SYSTEM}|${seededIpp(randomInt(sizes.patients))}`)}`,
      check: (body) => matchCount(body) === 1,
    }),
    'search-family': () => {
      const family = FAMILY_NAMES[randomInt(FAMILY_NAMES.length)] as string;
      return {
        method: 'GET',
        path: `/fhir/Patient?family=${encodeURIComponent(Array.from(family).slice(0, 3).join(''))}`,
        check: (body) => matchCount(body) > 0,
      };
    },
    'search-observation': () => {
      const index = randomInt(withObservations);
      const code = labTestOf(index, 0).code;
      return {
        method: 'GET',
        path: `/fhir/Observation?patient=${patientIds[index]}&code=${encodeURIComponent(`${LOINC}|${code}`)}`,
        check: (body) => matchCount(body) === 1 || observationCount(index, sizes.patients, sizes.observations) > 10,
      };
    },
    create: () => ({ method: 'POST', path: '/fhir/Patient', body: JSON.stringify(randomPatient()) }),
  };
}

/** A plain node:http server answering `GET /Patient/<id>` with one primary-key lookup: the ceiling. */
function ceilingServer(db: SqlExecutor): Server {
  return createServer(async (req, res) => {
    try {
      const id = (req.url ?? '').slice('/Patient/'.length);
      const r = await db.query<{ content: string }>(
        `SELECT content FROM resource WHERE resource_type = 'Patient' AND id = $1`,
        [id],
        { readOnly: true },
      );
      const row = r.rows[0];
      res.writeHead(row ? 200 : 404, { 'content-type': 'application/fhir+json' });
      res.end(row?.content ?? '');
    } catch {
      res.writeHead(500);
      res.end();
    }
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** Starts the platform (as `npm start` composes it, on `db`) and the ceiling server, and measures every interaction. */
async function measure(
  backend: Backend,
  db: SqlExecutor,
  patientIds: string[],
  sizes: SeedSizes,
  opts: FhirBenchOptions,
): Promise<{ results: InteractionResult[]; unexpectedErrors: number }> {
  const config = loadConfig({ PFI_DATA_DIR: opts.dataDir, PFI_LOG_LEVEL: 'SILENT' });
  let baseUrl = '';
  let unexpectedErrors = 0;
  const platform = await createFhirPlatform(config, {
    baseUrl: () => baseUrl,
    db,
    audit: opts.audit,
    onError: () => {
      unexpectedErrors++;
    },
  });
  const server = createLocalServer({
    handle: platform.handle,
    maxBodyBytes: config.maxBodyBytes,
    health: async () => ({ ok: true }),
  });
  const port = await listen(server, 0, HOST);
  baseUrl = `http://${HOST}:${port}/fhir`;
  const ceiling = ceilingServer(db);
  const ceilingPort = await listen(ceiling, 0, HOST);

  // The configuration above has no PFI_AUTH_MODE: local keys under the data directory, tokens signed here.
  if (config.auth.mode !== 'local') throw new Error('the benchmark needs the local auth mode');
  const token = await signLocalToken(await loadOrCreateLocalKeys(config.auth.keyDir), {
    scopes: 'system/*.cruds',
    ttlSeconds: 24 * 3600,
  });
  const headers = {
    authorization: `Bearer ${token}`,
    accept: 'application/fhir+json',
    'content-type': 'application/fhir+json',
  };
  const builders = interactionRequests(patientIds, sizes);
  const plan: { name: InteractionName; port: number; next: () => RequestSpec }[] = [
    {
      name: 'ceiling',
      port: ceilingPort,
      next: () => ({ method: 'GET', path: `/Patient/${patientIds[randomInt(patientIds.length)]}` }),
    },
    { name: 'read', port, next: builders.read },
    { name: 'search-identifier', port, next: builders['search-identifier'] },
    { name: 'search-family', port, next: builders['search-family'] },
    { name: 'search-observation', port, next: builders['search-observation'] },
    { name: 'create', port, next: builders.create },
  ];

  const results: InteractionResult[] = [];
  try {
    for (const step of plan) {
      let trips = 0;
      const load = await runLoad({
        host: HOST,
        port: step.port,
        concurrency: opts.concurrency,
        warmupMs: opts.warmupSeconds * 1000,
        durationMs: opts.durationSeconds * 1000,
        headers,
        next: step.next,
        onWindow: (edge) => {
          trips = edge === 'start' ? -db.stats.roundTrips : trips + db.stats.roundTrips;
        },
      });
      const s = summarize(load.latenciesMs);
      const result: InteractionResult = {
        name: step.name,
        requests: load.completed,
        errors: load.errors,
        statuses: load.statuses,
        rps: load.completed / (load.windowMs / 1000),
        p50: s.p50,
        p99: s.p99,
        max: s.max,
        mean: s.mean,
        roundTripsPerRequest: load.completed ? trips / load.completed : Number.NaN,
        ...(load.firstError ? { firstError: load.firstError } : {}),
      };
      results.push(result);
      log(
        `  ${backend} ${step.name}: ${fmt(result.rps)} req/s, p50 ${s.p50.toFixed(1)} ms, p99 ${s.p99.toFixed(1)} ms, ` +
          `errors ${result.errors}, SQL/req ${result.roundTripsPerRequest.toFixed(2)}`,
      );
      if (load.firstError) log(`    first error: ${load.firstError.slice(0, 200)}`);
    }
  } finally {
    await closeServer(server);
    await closeServer(ceiling);
  }
  return { results, unexpectedErrors };
}

function readSeedMeta(file: string): SeedSizes | undefined {
  try {
    const meta = JSON.parse(readFileSync(file, 'utf8')) as Partial<SeedSizes> & { version?: number };
    if (
      meta.version !== SEED_META_VERSION ||
      typeof meta.patients !== 'number' ||
      typeof meta.observations !== 'number'
    ) {
      return undefined;
    }
    return { patients: meta.patients, observations: meta.observations };
  } catch {
    return undefined;
  }
}

/** The embedded part: reuse the kept database when it holds the same seed sizes, else seed it anew. */
async function benchEmbedded(opts: FhirBenchOptions): Promise<BackendRun> {
  const sizes = { patients: opts.patients, observations: opts.observations };
  const release = lockDataDir(opts.dataDir);
  const pgDir = join(opts.dataDir, 'pg');
  const metaFile = join(opts.dataDir, SEED_META);
  let db: SqlExecutor | undefined;
  try {
    log(`\n== embedded (PGlite in ${pgDir}) ==`);
    const previous = readSeedMeta(metaFile);
    let patientIds: string[] | undefined;
    let seed: BackendRun['seed'];
    if (previous && previous.patients === sizes.patients && previous.observations === sizes.observations) {
      db = await createPgliteExecutor(pgDir);
      await migrate(db);
      patientIds = await loadSeededPatientIds(db, sizes.patients);
      if (patientIds) {
        log(`reusing the seeded database (${fmt(sizes.patients)} Patients, ${fmt(sizes.observations)} Observations)`);
        seed = { reused: true, ...sizes };
      } else {
        log('the kept database lacks seeded Patients: seeding it again');
        await db.close();
        db = undefined;
      }
    }
    if (!db || !patientIds) {
      rmSync(metaFile, { force: true });
      rmSync(pgDir, { recursive: true, force: true });
      db = await createPgliteExecutor(pgDir);
      await migrate(db);
      log(`seeding ${fmt(sizes.patients)} Patients and ${fmt(sizes.observations)} Observations (PGlite)`);
      const seeded = await seedDatabase(db, sizes, { workers: 4, batch: 1, log });
      await db.query('ANALYZE');
      patientIds = seeded.patientIds;
      writeFileSync(
        metaFile,
        `${JSON.stringify({ version: SEED_META_VERSION, ...sizes, seededAt: new Date().toISOString() })}\n`,
      );
      seed = {
        reused: false,
        ...sizes,
        patientSeconds: seeded.patientSeconds,
        observationSeconds: seeded.observationSeconds,
      };
    }
    const { results, unexpectedErrors } = await measure('embedded', db, patientIds, sizes, opts);
    return { backend: 'embedded', results, verdicts: judge('embedded', toResults(results)), seed, unexpectedErrors };
  } finally {
    await db?.close();
    release();
  }
}

const withSearchPath = (url: string, schema: string) =>
  `${url}${url.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`;

/** The PostgreSQL-server part: a fresh `pfi_bench` schema, seeded over `pg`, then measured. */
async function benchPg(opts: FhirBenchOptions): Promise<BackendRun> {
  log(`\n== PostgreSQL server (${redactUrl(opts.pgUrl)}, schema ${PG_SCHEMA}) ==`);
  if (!(await reachable(opts.pgUrl, 5000))) {
    const skipped = `PostgreSQL server unreachable at ${redactUrl(opts.pgUrl)}: skipped (set --pg or PFI_BENCH_DATABASE_URL)`;
    log(skipped);
    return { backend: 'pg', results: [], verdicts: [], skipped, unexpectedErrors: 0 };
  }
  const admin = createPgExecutor(opts.pgUrl, 1);
  try {
    await admin.query(`DROP SCHEMA IF EXISTS ${PG_SCHEMA} CASCADE`);
    await admin.query(`CREATE SCHEMA ${PG_SCHEMA}`);
  } finally {
    await admin.close();
  }
  const sizes = { patients: opts.pgPatients, observations: opts.pgObservations };
  // One connection per request in flight, so the pool is not what the bench measures.
  const db = createPgExecutor(withSearchPath(opts.pgUrl, PG_SCHEMA), Math.max(opts.concurrency, 4));
  try {
    await migrate(db);
    log(
      `seeding ${fmt(sizes.patients)} Patients and ${fmt(sizes.observations)} Observations (pg, pool ${Math.max(opts.concurrency, 4)})`,
    );
    const seeded = await seedDatabase(db, sizes, { workers: 4, batch: 100, log });
    await db.query('ANALYZE');
    const { results, unexpectedErrors } = await measure('pg', db, seeded.patientIds, sizes, opts);
    return {
      backend: 'pg',
      results,
      verdicts: judge('pg', toResults(results)),
      seed: {
        reused: false,
        ...sizes,
        patientSeconds: seeded.patientSeconds,
        observationSeconds: seeded.observationSeconds,
      },
      unexpectedErrors,
    };
  } finally {
    await db.close();
  }
}

function toResults(list: InteractionResult[]): Results {
  const out: Results = {};
  for (const r of list) out[r.name] = r;
  return out;
}

/** Runs the FHIR benchmark with the options after `fhir`; resolves the exit code (2 on a bad command line). */
export async function runFhirBench(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    log(FHIR_BENCH_USAGE);
    return 0;
  }
  let opts: FhirBenchOptions;
  try {
    opts = parseFhirBenchArgs(argv, env);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`bench fhir: ${err.message}\n${FHIR_BENCH_USAGE}\n`);
    return 2;
  }
  const started = new Date();
  const machine = machineInfo();
  log(
    `FHIR benchmark: concurrency ${opts.concurrency}, ${opts.durationSeconds} s per interaction after ` +
      `${opts.warmupSeconds} s warm-up; ${machine.cpus} × ${machine.cpuModel}, Node ${machine.node}`,
  );
  log(
    'note: the load generator runs in the same process as the server (and PGlite in the same thread), ' +
      'for the ceiling and PFI alike: figures are comparable with each other, not with a remote client.',
  );
  const runs: BackendRun[] = [];
  if (opts.only !== 'pg') runs.push(await benchEmbedded(opts));
  if (opts.only !== 'embedded') runs.push(await benchPg(opts));

  const measured = runs.filter((r) => !r.skipped);
  log(`\n${formatReport(measured)}`);
  for (const r of runs) {
    if (r.skipped) log(`\n${r.skipped}`);
    if (r.unexpectedErrors) log(`\n${r.backend}: ${r.unexpectedErrors} unexpected server errors (500)`);
  }
  const file = join('reports', `bench-fhir-${started.toISOString().replace(/[:.]/g, '-')}.json`);
  if (!existsSync('reports')) mkdirSync('reports', { recursive: true });
  const report = {
    benchmark: 'fhir',
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    machine,
    sameProcessLoadGenerator: true,
    options: { ...opts, pgUrl: redactUrl(opts.pgUrl) },
    backends: runs,
  };
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  log(`\nreport: ${file}`);
  return 0;
}
