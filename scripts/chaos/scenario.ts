/**
 * What a chaos scenario is: a run against the platform that ends with a verdict. Scenarios print what they do as they
 * go (`ctx.log`) and return one verdict per backend they ran on; `npm run chaos` prints them all and exits 1 when one
 * failed. The short form (`--short`, what CI runs) asserts the same correctness with less load and never fails on a
 * timing.
 */

export type Backend = 'embedded' | 'pg';

export interface ChaosContext {
  /** The CI form: about a tenth of the load, correctness only. */
  short: boolean;
  /** Backends asked for; `pg` is dropped (with a note) when the server does not answer. */
  backends: Backend[];
  /** The PostgreSQL server scratch databases are created on (`pfi_chaos_<random>`). */
  pgUrl: string;
  /** A directory of its own for the scenario's data directories (removed afterwards). */
  workDir: string;
  log(line: string): void;
}

export interface Verdict {
  scenario: string;
  backend?: Backend;
  passed: boolean;
  /** What was measured, printed as `name: value` (messages sent, ACKed, found in FHIR, duplicates, max RSS, p99s). */
  figures: Record<string, string | number>;
  /** What went wrong (when failed) or what was noticed (when passed). */
  findings: string[];
}

export interface Scenario {
  name: string;
  summary: string;
  /** Backends the scenario runs on (a scenario about the MLLP port alone runs once). */
  backends: readonly Backend[];
  run(ctx: ChaosContext, backend: Backend): Promise<Verdict>;
}

/** A verdict builder: `check(condition, finding)` records a failed condition; `verdict()` is passed when none failed. */
export function verdictOf(scenario: string, backend: Backend | undefined) {
  const figures: Record<string, string | number> = {};
  const findings: string[] = [];
  let passed = true;
  return {
    figure(name: string, value: string | number) {
      figures[name] = value;
    },
    check(ok: boolean, failure: string) {
      if (!ok) {
        passed = false;
        findings.push(`FAILED: ${failure}`);
      }
      return ok;
    },
    note(text: string) {
      findings.push(text);
    },
    verdict(): Verdict {
      return { scenario, ...(backend ? { backend } : {}), passed, figures, findings };
    },
  };
}

export const mib = (bytes: number | undefined): string =>
  bytes === undefined ? 'n/a' : `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
