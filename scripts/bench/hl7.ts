import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../lambdas/config.js';
import { machineInfo } from './environment.js';
import { redactUrl, UsageError } from './fhir-options.js';
import { inlineClient, type MllpLoadClient, startClientThread } from './hl7-client-thread.js';
import { measureBridgeAlone, measureCeiling, measurePlatform } from './hl7-e2e.js';
import { adtCorpus, adtPlan, oruCorpus } from './hl7-messages.js';
import { HL7_BENCH_USAGE, type Hl7BenchOptions, parseHl7BenchArgs } from './hl7-options.js';
import { measureParsers, type ParseRate } from './hl7-parse.js';
import {
  formatAckTable,
  formatIngestTable,
  formatParseTable,
  formatSummary,
  formatVerdicts,
  RUN_LABELS,
  type VerdictGroup,
} from './hl7-report.js';
import { type AckFigures, type BackendRun, judgeBackend, judgeParse, type Verdict } from './hl7-results.js';

/**
 * `npm run bench -- hl7`: (a) parse + map on one core for ADT and ORU next to @medplum/core's parser; (b) end to end
 * over MLLP on the local platform (embedded database and PostgreSQL server) next to a bare MLLP server, with the
 * issue's targets judged. Exit code 0 whatever the verdicts (2 on a bad command line).
 */

const ADT_CORPUS = 2000;
const ORU_CORPUS = 500;

const log = (line: string) => process.stdout.write(`${line}\n`);

/** Runs the hl7 benchmark with the options after `hl7`; resolves the exit code. */
export async function runHl7Bench(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    log(HL7_BENCH_USAGE);
    return 0;
  }
  let opts: Hl7BenchOptions;
  try {
    opts = parseHl7BenchArgs(argv, env);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`bench hl7: ${err.message}\n${HL7_BENCH_USAGE}\n`);
    return 2;
  }
  const started = new Date();
  const machine = machineInfo();
  log(`HL7 benchmark${opts.quick ? ' (quick)' : ''}: ${machine.cpus} × ${machine.cpuModel}, Node ${machine.node}`);

  let rates: ParseRate[] = [];
  if (opts.parse) {
    log(
      `\n== (a) parse + map, one core: ${ADT_CORPUS} distinct ADT (A01/A02/A03/A08/A28/A31, PAM FR 2.11) and ` +
        `${ORU_CORPUS} ORU^R01 (5–10 NM OBX); ${opts.parseWarmupSeconds} s warm-up, ${opts.parseSeconds} s measured per cell ==`,
    );
    rates = measureParsers(
      { ADT: adtCorpus(ADT_CORPUS), ORU: oruCorpus(ORU_CORPUS) },
      { seconds: opts.parseSeconds, warmupSeconds: opts.parseWarmupSeconds },
    );
  }

  let ceiling: AckFigures | undefined;
  let bridgeAlone: AckFigures | undefined;
  const runs: BackendRun[] = [];
  if (opts.e2e) {
    const plan = adtPlan(opts.messages, opts.connections);
    log(
      `\n== (b) end to end: ${plan.messages.toLocaleString('en-US')} ADT messages (${plan.patients.toLocaleString('en-US')} ` +
        `patients, ${plan.stays.toLocaleString('en-US')} stays), ${plan.connections.length} MLLP connections, one ` +
        `message in flight per connection; ingest batches of ${opts.workerConcurrency ?? loadConfig({}).hl7.workerConcurrency}; load client ` +
        `${opts.client === 'thread' ? 'in its own thread' : 'on the platform thread'} ==`,
    );
    const client: MllpLoadClient = opts.client === 'thread' ? startClientThread() : inlineClient();
    try {
      const settings = {
        plan,
        warmUp: opts.warmUpMessages === 0 ? undefined : adtPlan(opts.warmUpMessages, opts.connections, plan.patients),
        connections: opts.connections,
        workerConcurrency: opts.workerConcurrency,
        applyTimeoutSeconds: opts.applyTimeoutSeconds,
        pgUrl: opts.pgUrl,
        client,
        log,
      };
      ceiling = await measureCeiling(settings);
      bridgeAlone = await measureBridgeAlone(settings);
      for (const backend of opts.backends) {
        const run = await measurePlatform(backend, settings);
        if (run.skipped) log(`  ${run.skipped}`);
        runs.push(run);
      }
    } finally {
      await client.close();
    }
  }

  const groups: VerdictGroup[] = [
    { title: '(a) parse + map', verdicts: judgeParse(rates) },
    ...runs.map((r) => ({ title: `(b) ${RUN_LABELS[r.backend]}`, verdicts: judgeBackend(r, ceiling, bridgeAlone) })),
  ];
  const verdicts: Verdict[] = groups.flatMap((g) => g.verdicts);

  if (opts.parse) {
    log(`\n(a) parse + map\n${formatParseTable(rates)}`);
    log(
      'note: @medplum/core has no HL7 → FHIR mapping: its figure is parsing only; PFI parses lazily, so its ' +
        'parse + map row is the one to compare (it splits exactly what the mapping reads).',
    );
  }
  if (opts.e2e) {
    log(`\n(b) end to end, MLLP (send → ACK per message)\n${formatAckTable(ceiling, runs, bridgeAlone)}`);
    const measured = runs.filter((r) => r.ingest);
    if (measured.length) log(`\n(b) end to end, into FHIR (from the first send)\n${formatIngestTable(measured)}`);
    log(
      'note: the load client, the bridge, the queue, the worker and PGlite share this machine ' +
        `(${machine.cpus} cores); the ceiling runs the same client against a server that only frames and ACKs; ` +
        'the bridge without a queue is the platform’s MLLP server with an enqueue that resolves at once.',
    );
    const warmed = runs.find((r) => r.warmUp)?.warmUp;
    if (warmed) {
      log(
        `note: each platform was first warmed up with ${warmed.messages.toLocaleString('en-US')} other messages sent ` +
          `${warmed.rounds} times (the repeats are duplicates), as the ceiling is; its measured run starts with an ` +
          'empty queue, and the store also holds the warm-up’s resources.',
      );
    }
  }
  log('\ntargets');
  if (verdicts.length) log(formatVerdicts(groups));
  for (const r of runs) if (r.skipped) log(`(b) ${RUN_LABELS[r.backend]}: ${r.skipped}`);
  log(`\n${formatSummary(rates, ceiling, runs, verdicts)}`);

  const file = join('reports', `bench-hl7-${started.toISOString().replace(/[:.]/g, '-')}.json`);
  if (!existsSync('reports')) mkdirSync('reports', { recursive: true });
  const report = {
    benchmark: 'hl7',
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    machine,
    options: { ...opts, pgUrl: redactUrl(opts.pgUrl) },
    parse: rates,
    ceiling,
    bridgeAlone,
    backends: runs,
    verdicts,
  };
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  log(`report: ${file}`);
  return 0;
}
