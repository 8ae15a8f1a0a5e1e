/**
 * The short form of `npm run chaos` (what CI runs): the crash, outage and MLLP abuse scenarios with less load. It
 * asserts correctness only — nothing ACKed lost, nothing duplicated, the bridge still answering, memory under a
 * generous bound — and prints the timings without judging them. The PostgreSQL runs need PFI_TEST_DATABASE_URL and
 * skip with a message without it; the embedded runs always run.
 */
import { describe, expect, it } from 'vitest';
import { formatVerdict, runChaos } from '../../scripts/chaos/index.js';
import type { Backend, Scenario } from '../../scripts/chaos/scenario.js';
import { SCENARIOS } from '../../scripts/chaos/scenarios.js';

const PG_URL = process.env['PFI_TEST_DATABASE_URL'];
if (!PG_URL) console.warn('chaos short form: PFI_TEST_DATABASE_URL is unset, the PostgreSQL runs are skipped');

const scenario = (name: string): Scenario => {
  const s = SCENARIOS.find((x) => x.name === name);
  if (!s) throw new Error(`no scenario ${name}`);
  return s;
};

const CASES: [string, Backend][] = [
  ['crash', 'embedded'],
  ['crash', 'pg'],
  ['store-down', 'pg'],
  ['mllp-abuse', 'embedded'],
];

describe('chaos, short form', () => {
  for (const [name, backend] of CASES) {
    it.skipIf(backend === 'pg' && !PG_URL)(`${name} (${backend})`, { timeout: 300_000 }, async () => {
      const lines: string[] = [];
      const verdicts = await runChaos(
        { scenarios: [scenario(name)], short: true, backends: [backend], pgUrl: PG_URL ?? '' },
        (line) => lines.push(line),
      );
      console.log(lines.join('\n'));
      expect(verdicts, 'the scenario ran').toHaveLength(1);
      expect(verdicts[0]?.passed, formatVerdict(verdicts[0]!)).toBe(true);
    });
  }
});
