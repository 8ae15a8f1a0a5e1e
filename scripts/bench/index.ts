/**
 * `npm run bench -- <name> [options]`: the benchmarks. `fhir` measures the FHIR API (see fhir.ts), `hl7` the HL7 v2
 * ingestion (see hl7.ts), `queue` the local queue it goes through (see queue.ts), `cda` CDA generation and XDM
 * packaging (see cda.ts).
 */
import { runCdaBench } from './cda.js';
import { runFhirBench } from './fhir.js';
import { runHl7Bench } from './hl7.js';
import { runQueueBench } from './queue.js';

const USAGE = `usage: npm run bench -- <benchmark> [options]
  fhir    FHIR server: seeding, then create/read/search over HTTP on PGlite and PostgreSQL
          (npm run bench -- fhir --help for its options)
  hl7     HL7 v2 ingestion: parse + map on one core (next to @medplum/core), then MLLP end to end on the
          local platform (PGlite and PostgreSQL) next to a bare MLLP server
          (npm run bench -- hl7 --help for its options)
  queue   the local queue alone: a burst of ADT messages sent as the bridge's group commits write them, then
          drained as the ingest worker receives and deletes them (npm run bench -- queue --help)
  cda     CI-SIS CR-BIO documents/s on one core (without and with the PDF copy), CDA header read and IHE XDM
          packaging/s (npm run bench -- cda --help for its options)`;

const [name, ...rest] = process.argv.slice(2);
switch (name) {
  case 'fhir':
    process.exitCode = await runFhirBench(rest);
    break;
  case 'hl7':
    process.exitCode = await runHl7Bench(rest);
    break;
  case 'queue':
    process.exitCode = await runQueueBench(rest);
    break;
  case 'cda':
    process.exitCode = await runCdaBench(rest);
    break;
  default:
    process.stderr.write(`${name === undefined ? '' : `bench: unknown benchmark '${name}'\n`}${USAGE}\n`);
    process.exitCode = 2;
}
