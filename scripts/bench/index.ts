/**
 * `npm run bench -- <name> [options]`: the benchmarks. `fhir` measures the FHIR API (see fhir.ts).
 */
import { runFhirBench } from './fhir.js';

const USAGE = `usage: npm run bench -- <benchmark> [options]
  fhir    FHIR server: seeding, then create/read/search over HTTP on PGlite and PostgreSQL
          (npm run bench -- fhir --help for its options)`;

const [name, ...rest] = process.argv.slice(2);
switch (name) {
  case 'fhir':
    process.exitCode = await runFhirBench(rest);
    break;
  default:
    process.stderr.write(`${name === undefined ? '' : `bench: unknown benchmark '${name}'\n`}${USAGE}\n`);
    process.exitCode = 2;
}
