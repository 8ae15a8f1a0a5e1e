/**
 * `npm run chaos -- [scenario ...] [--short] [--backend embedded|pg|both] [--pg-url URL]`: fault and load scenarios
 * against the local platform started as a child process (on a scratch database of the PostgreSQL server and, where it
 * applies, on the embedded database). Each prints what it did and a verdict; the exit code is 1 when one failed.
 */

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { reachable } from '../bench/environment.js';
import { DEFAULT_PG_URL, redactUrl } from '../bench/fhir-options.js';
import type { Backend, ChaosContext, Scenario, Verdict } from './scenario.js';
import { SCENARIOS } from './scenarios.js';

const usage = () => `usage: npm run chaos -- [scenario ...] [options]
  scenarios (default: all): ${SCENARIOS.map((s) => s.name).join(', ')}
${SCENARIOS.map((s) => `    ${s.name.padEnd(14)} ${s.summary}`).join('\n')}
  --short               the CI form: less load, correctness only (timings printed, never judged)
  --backend B           embedded, pg or both (default both; a scenario runs only on the backends it applies to)
  --pg-url URL          PostgreSQL server (default $PFI_CHAOS_DATABASE_URL or ${DEFAULT_PG_URL}); each run creates a
                        database pfi_chaos_<random> and drops it at the end`;

export interface ChaosOptions {
  scenarios: Scenario[];
  short: boolean;
  backends: Backend[];
  pgUrl: string;
}

export class ChaosUsageError extends Error {}

export function parseChaosArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): ChaosOptions {
  let parsed: ReturnType<
    typeof parseArgs<{ options: Record<string, { type: 'string' | 'boolean' }>; allowPositionals: true }>
  >;
  try {
    parsed = parseArgs({
      args: argv,
      options: { short: { type: 'boolean' }, backend: { type: 'string' }, 'pg-url': { type: 'string' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw new ChaosUsageError(err instanceof Error ? err.message : String(err));
  }
  const scenarios: Scenario[] = [];
  for (const name of parsed.positionals) {
    const s = SCENARIOS.find((x) => x.name === name);
    if (!s) throw new ChaosUsageError(`unknown scenario "${name}"`);
    scenarios.push(s);
  }
  const backend = (parsed.values['backend'] as string | undefined) ?? 'both';
  if (!['embedded', 'pg', 'both'].includes(backend))
    throw new ChaosUsageError('--backend must be embedded, pg or both');
  return {
    scenarios: scenarios.length > 0 ? scenarios : [...SCENARIOS],
    short: parsed.values['short'] === true,
    backends: backend === 'both' ? ['embedded', 'pg'] : [backend as Backend],
    pgUrl: (parsed.values['pg-url'] as string | undefined) ?? env['PFI_CHAOS_DATABASE_URL'] ?? DEFAULT_PG_URL,
  };
}

const formatFigure = (v: string | number) => (typeof v === 'number' ? v.toLocaleString('en-US') : v);

export function formatVerdict(v: Verdict): string {
  const head = `${v.passed ? 'PASS' : 'FAIL'}  ${v.scenario}${v.backend ? ` (${v.backend})` : ''}`;
  const figures = Object.entries(v.figures).map(([k, x]) => `      ${k}: ${formatFigure(x)}`);
  const findings = v.findings.map((f) => `      - ${f}`);
  return [head, ...figures, ...findings].join('\n');
}

/** Runs the scenarios one after the other; each backend run gets its own work directory. */
export async function runChaos(opts: ChaosOptions, log: (line: string) => void): Promise<Verdict[]> {
  let backends = opts.backends;
  if (backends.includes('pg') && !(await reachable(opts.pgUrl, 5_000))) {
    log(`PostgreSQL server unreachable at ${redactUrl(opts.pgUrl)}: the pg runs are skipped (see --pg-url)`);
    backends = backends.filter((b) => b !== 'pg');
  }
  const verdicts: Verdict[] = [];
  for (const scenario of opts.scenarios) {
    for (const backend of scenario.backends.filter((b) => backends.includes(b))) {
      const workDir = await mkdtemp(join(tmpdir(), `pfi-chaos-${scenario.name}-`));
      const ctx: ChaosContext = { short: opts.short, backends, pgUrl: opts.pgUrl, workDir, log };
      log(`\n== ${scenario.name} (${backend})${opts.short ? ', short form' : ''}: ${scenario.summary}`);
      const started = Date.now();
      let verdict: Verdict;
      try {
        verdict = await scenario.run(ctx, backend);
      } catch (err) {
        verdict = {
          scenario: scenario.name,
          backend,
          passed: false,
          figures: {},
          findings: [
            `FAILED: the scenario itself failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
          ],
        };
      } finally {
        await rm(workDir, { recursive: true, force: true }).catch(() => undefined);
      }
      verdict.figures['scenario seconds'] = ((Date.now() - started) / 1000).toFixed(1);
      log(formatVerdict(verdict));
      verdicts.push(verdict);
    }
  }
  return verdicts;
}

async function main(): Promise<number> {
  let opts: ChaosOptions;
  try {
    opts = parseChaosArgs(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof ChaosUsageError)) throw err;
    process.stderr.write(`chaos: ${err.message}\n${usage()}\n`);
    return 2;
  }
  const verdicts = await runChaos(opts, (line) => process.stdout.write(`${line}\n`));
  const failed = verdicts.filter((v) => !v.passed);
  process.stdout.write(
    `\nchaos: ${verdicts.length - failed.length}/${verdicts.length} verdicts passed` +
      `${failed.length ? ` — failed: ${failed.map((v) => `${v.scenario}${v.backend ? ` (${v.backend})` : ''}`).join(', ')}` : ''}\n`,
  );
  return failed.length === 0 && verdicts.length > 0 ? 0 : 1;
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  // A CLI that is done: exit now rather than wait for idle sockets of the scenarios to time out.
  process.exit(await main());
}
