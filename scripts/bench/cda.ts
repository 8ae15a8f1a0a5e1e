/**
 * `npm run bench -- cda`: CI-SIS CR-BIO documents per second on the calling thread (one core), without and with the
 * PDF copy of the results, the CDA header read, and IHE XDM archives (METADATA.XML + zip) per second. The input is
 * a lab report (ORU^R01, fictitious patient) ingested once into an embedded database through the real HL7 pipeline.
 */

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { FileDocumentStore } from '../../lambdas/adapters/documents/file-store.js';
import { migrate } from '../../lambdas/adapters/sql/migrate.js';
import { createPgliteExecutor } from '../../lambdas/adapters/sql/pglite.js';
import { buildCrBio, type CrBioInput } from '../../lambdas/cda/cr-bio.js';
import { EXAMPLE_CDA_ORGANISATION } from '../../lambdas/cda/organisation.js';
import { DOCUMENTS_AUTH } from '../../lambdas/documents/jobs.js';
import { loadLabReport } from '../../lambdas/documents/lab-report.js';
import { FhirRepository } from '../../lambdas/fhir/repository/repository.js';
import { FhirService } from '../../lambdas/fhir/service.js';
import type { Resource } from '../../lambdas/fhir/types.js';
import { ingestHl7 } from '../../lambdas/hl7/ingest.js';
import { readCdaHeader } from '../../lambdas/mssante/cda-header.js';
import { buildXdmArchive } from '../../lambdas/mssante/xdm.js';

const USAGE = `usage: npm run bench -- cda [--seconds N] [--results N]
  --seconds N   measuring time per case (default 3)
  --results N   results (OBX) in the lab report (default 12)`;

const TARGET_PER_SECOND = 1000;

/** Our own fictitious lab report: `results` numeric results with UCUM units, ranges and flags. */
function oru(results: number): string {
  const obx = Array.from({ length: results }, (_, i) => {
    const flag = i % 4 === 0 ? 'H' : 'N';
    return `OBX|${i + 1}|NM|${2000 + i}-${i % 10}^Analyse ${i + 1}^LN||${(4 + i / 10).toFixed(1).replace('.', ',')}|mmol/L^mmol/L^UCUM|3.5-5.2|${flag}|||F|||20261202080000`;
  });
  return [
    'MSH|^~\\&|SIL|LABO|PFI|PFI|20261202093000||ORU^R01^ORU_R01|BENCH-CDA-1|P|2.5|||||FRA|UNICODE UTF-8',
    'PID|||BENCH-IPP-1^^^CHU-TEST&1.2.250.1.71.4.2.7.1.9.99&ISO^PI||Roux^Inès^^^^^L||19900412|F',
    'OBR|1||BENCH-F-1^LABO|24331-1^Bilan^LN|||20261202080000|||||||||||||||20261202091500|||F',
    ...obx,
  ].join('\r');
}

async function timeAsync(ms: number, fn: () => Promise<number>): Promise<{ count: number; ms: number; bytes: number }> {
  let count = 0;
  let bytes = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    bytes += await fn();
    count++;
    if ((count & 7) === 0) now = performance.now();
  }
  now = performance.now();
  return { count, ms: now - start, bytes };
}

export async function runCdaBench(argv: string[]): Promise<number> {
  let values: { seconds?: string; results?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { seconds: { type: 'string' }, results: { type: 'string' }, help: { type: 'boolean' } },
    }));
  } catch (err) {
    process.stderr.write(`bench cda: ${err instanceof Error ? err.message : String(err)}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const seconds = Number(values.seconds ?? 3);
  const results = Number(values.results ?? 12);
  if (!(seconds > 0) || !Number.isInteger(results) || results < 1 || results > 200) {
    process.stderr.write(`bench cda: --seconds must be > 0 and --results an integer in 1..200\n${USAGE}\n`);
    return 2;
  }

  const dir = await mkdtemp(join(tmpdir(), 'pfi-bench-cda-'));
  const db = await createPgliteExecutor();
  try {
    await migrate(db);
    const documents = new FileDocumentStore(dir);
    const service = new FhirService(new FhirRepository(db), documents);
    const ingested = await ingestHl7(
      { service, documents },
      { message: oru(results), receivedAt: new Date().toISOString() },
    );
    const reportId = ingested.written
      .find((w) => w.reference.startsWith('DiagnosticReport/'))!
      .reference.split('/')[1]!;
    const loaded = await loadLabReport(service, DOCUMENTS_AUTH, reportId);
    let n = 0;
    const input = (pdf: boolean): CrBioInput => ({
      report: loaded.report as Resource,
      observations: loaded.observations as Resource[],
      patient: loaded.patient as Resource,
      practitioners: loaded.practitioners as Resource[],
      organisation: EXAMPLE_CDA_ORGANISATION,
      document: {
        id: { root: EXAMPLE_CDA_ORGANISATION.documentIdRoot, extension: `bench-${++n}` },
        setId: { root: EXAMPLE_CDA_ORGANISATION.documentIdRoot, extension: 'bench-set' },
        versionNumber: 1,
        effectiveTime: new Date(),
      },
      pdf,
    });
    const sampleXml = await buildCrBio(input(true));
    const sampleHeader = readCdaHeader(sampleXml);
    const ms = seconds * 1000;
    // Warm-up: JIT and the PDF fonts.
    for (let i = 0; i < 50; i++) await buildCrBio(input(i % 2 === 0));

    const cases: [string, () => Promise<number>][] = [
      ['CR-BIO without PDF', async () => (await buildCrBio(input(false))).length],
      ['CR-BIO with PDF copy', async () => (await buildCrBio(input(true))).length],
      ['CDA header read', async () => readCdaHeader(sampleXml).title.length],
      [
        'XDM archive (METADATA.XML + zip)',
        async () =>
          buildXdmArchive({
            documents: [{ xml: sampleXml, header: sampleHeader }],
            submission: { sourceId: '2.999.1', uniqueId: `2.999.1.${++n}`, submissionTime: new Date() },
          }).zip.length,
      ],
    ];
    process.stdout.write(
      `CDA benchmark: ${results} results per report, ${seconds} s per case, one thread (${process.version})\n\n`,
    );
    process.stdout.write('| case | per second | mean | output size |\n| --- | ---: | ---: | ---: |\n');
    const rates: Record<string, number> = {};
    for (const [name, fn] of cases) {
      const r = await timeAsync(ms, fn);
      const perSecond = (r.count / r.ms) * 1000;
      rates[name] = perSecond;
      process.stdout.write(
        `| ${name} | ${Math.round(perSecond).toLocaleString('en')} | ${((r.ms / r.count) * 1000).toFixed(0)} µs | ${Math.round(r.bytes / r.count).toLocaleString('en')} B |\n`,
      );
    }
    const noPdf = rates['CR-BIO without PDF']!;
    process.stdout.write(
      `\ntarget: CR-BIO without PDF ≥ ${TARGET_PER_SECOND}/s → ${Math.round(noPdf)}/s ${noPdf >= TARGET_PER_SECOND ? 'PASS' : 'MISS'}\n`,
    );
    return 0;
  } finally {
    await db.close();
    await rm(dir, { recursive: true, force: true });
  }
}
