/**
 * Worker poison: an A47 that moves patient X's IPP onto the IPP patient Y holds can never be applied (two patients
 * would share an IPP). It must be retried, dead-lettered after PFI_HL7_MAX_RECEIVES attempts with its reason, and not
 * hold back the other patients, sent at the same time. The operator then fixes the cause (Y was a duplicate record:
 * it is deleted) and runs `npm run hl7:redrive`: the dead letter is applied, X now carries the IPP.
 */

import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type ScratchDatabase, scratchDatabase } from '../scratch-database.js';
import { judgeSender, openPlatformDatabase, waitQuiet } from './hl7-verdict.js';
import { checkWorkload, hl7Workload } from './hl7-workload.js';
import { type PlatformProcess, platformProcess } from './platform-process.js';
import { runResilientSender } from './resilient-sender.js';
import { type Backend, type ChaosContext, type Scenario, verdictOf } from './scenario.js';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAX_RECEIVES = 3;
const AUTHORITY = 'CHU-POISON&1.2.250.1.71.4.2.7.1.9.98&ISO';
const IPP_SYSTEM = 'urn:oid:1.2.250.1.71.4.2.7.1.9.98';

/** A PAM FR identity message of the poison scenario's sender (no INS: the identity is provisional). */
function identityMessage(event: 'A28' | 'A47', controlId: string, ipp: string, family: string, oldIpp?: string) {
  const structure = event === 'A28' ? 'ADT_A05' : 'ADT_A30';
  return [
    `MSH|^~\\&|GAM-POISON|CHU-POISON|PFI|PFI|20261202101500||ADT^${event}^${structure}|${controlId}|P|2.5^FRA^2.11|||||FRA|UNICODE UTF-8|FR||2.11^IHE_FRANCE-2.11-PAM`,
    'EVN||20261202101500',
    `PID|1||${ipp}^^^${AUTHORITY}^PI||${family}^CAMILLE^CAMILLE^^^^L||19800101|F|||||||||||||||||||||||PROV`,
    ...(oldIpp ? [`MRG|${oldIpp}^^^${AUTHORITY}^PI`] : []),
    event === 'A28' ? 'PV1|1|N' : '',
  ]
    .filter(Boolean)
    .join('\r');
}

const send = (proc: PlatformProcess, controlIds: string[], texts: string[]) =>
  runResilientSender({ port: proc.mllpPort, connections: [{ controlIds, texts }], giveUpAfterMs: 60_000 });

/** `npm run hl7:redrive` as an operator runs it, on the platform's database. */
async function redrive(proc: PlatformProcess, dryRun: boolean): Promise<string> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', join(REPO_ROOT, 'scripts', 'hl7-redrive.ts'), ...(dryRun ? ['--dry-run'] : [])],
    { cwd: REPO_ROOT, env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', ...proc.env } },
  );
  return stdout.trim();
}

const ippsOf = async (proc: PlatformProcess, family: string) => {
  const db = await openPlatformDatabase(proc);
  try {
    const rows = await db.query<{ content: string }>(
      `SELECT content FROM resource WHERE resource_type = 'Patient' AND NOT deleted AND content LIKE $1`,
      [`%${family}%`],
    );
    return rows.rows.map((r) =>
      ((JSON.parse(r.content) as { identifier?: { value?: string; use?: string }[] }).identifier ?? [])
        .map((i) => `${i.value}${i.use === 'old' ? ' (old)' : ''}`)
        .sort()
        .join(', '),
    );
  } finally {
    await db.close();
  }
};

async function run(ctx: ChaosContext, backend: Backend) {
  const v = verdictOf('poison', backend);
  let database: ScratchDatabase | undefined;
  if (backend === 'pg') database = await scratchDatabase(ctx.pgUrl, 'pfi_chaos');
  const proc = await platformProcess({
    dataDir: join(ctx.workDir, 'data'),
    ...(database ? { databaseUrl: database.url } : {}),
    env: { PFI_HL7_MAX_RECEIVES: String(MAX_RECEIVES) },
  });
  try {
    await proc.start();
    const people = await send(
      proc,
      ['P-X', 'P-Y'],
      [identityMessage('A28', 'P-X', '800001', 'POISONX'), identityMessage('A28', 'P-Y', '800002', 'POISONY')],
    );
    v.check(people.acked.size === 2, 'the two patients were not accepted');
    v.check(await waitQuiet(proc, 60_000), 'the two patients were not applied');

    // The poison, and other patients' traffic on other connections at the same time.
    const workload = hl7Workload(ctx.short ? 50 : 300, 5, 'OTHER');
    const started = Date.now();
    const [poison, others] = await Promise.all([
      send(proc, ['P-A47-X'], [identityMessage('A47', 'P-A47-X', '800002', 'POISONX', '800001')]),
      runResilientSender({ port: proc.mllpPort, connections: workload.connections }),
    ]);
    v.check(poison.acked.size === 1, 'the poison A47 was not ACKed AA (it is valid HL7: only applying it fails)');
    judgeSender(v, workload.messages.length, others);
    const quiet = await waitQuiet(proc, 120_000);
    v.figure('other patients: all applied after', `${((Date.now() - started) / 1000).toFixed(1)} s`);
    v.check(quiet, 'the queue did not drain: the poison blocks it');
    const depth = (await proc.health())?.details?.queues?.['hl7-inbound'];
    v.figure('hl7-inbound after the run', JSON.stringify(depth));
    v.check(depth?.deadLetter === 1, `${depth?.deadLetter} dead letters, expected the poison alone`);
    const failures = proc.logLines().filter((l) => l['message'] === 'hl7 attempt failed').length;
    const deadLettered = proc.logLines().filter((l) => l['message'] === 'hl7 message dead-lettered');
    v.figure('failed attempts logged', failures);
    v.figure('dead-lettered', `${deadLettered.length} (${deadLettered.map((l) => l['error']).join(', ')})`);
    v.check(failures === MAX_RECEIVES - 1 && deadLettered.length === 1, `expected ${MAX_RECEIVES} attempts in all`);

    // The fix: Y was a duplicate record created by mistake; the identity team deletes it, which frees 800002.
    const token = await proc.token('system/Patient.rds');
    const headers = { authorization: `Bearer ${token}`, accept: 'application/fhir+json' };
    const found = await fetch(`${proc.fhirBaseUrl}/Patient?identifier=${encodeURIComponent(`${IPP_SYSTEM}|800002`)}`, {
      headers,
    });
    const bundle = (await found.json()) as { entry?: { resource: { id: string } }[] };
    if (!found.ok) v.note(`the search for patient Y answered ${found.status}: ${JSON.stringify(bundle).slice(0, 300)}`);
    const yId = bundle.entry?.[0]?.resource.id;
    const deleted = yId ? await fetch(`${proc.fhirBaseUrl}/Patient/${yId}`, { method: 'DELETE', headers }) : undefined;
    v.check(deleted?.ok === true, `deleting patient Y answered ${deleted?.status ?? 'nothing (not found)'}`);
    // PGlite: one process per data directory, so the operator stops the platform before redriving.
    if (backend === 'embedded') await proc.stop();
    const dry = await redrive(proc, true);
    v.note(`hl7:redrive --dry-run said: ${dry.replace(/\s+/g, ' ').slice(0, 300)}`);
    const moved = await redrive(proc, false);
    v.figure('hl7:redrive', moved.replace(/\s+/g, ' '));
    if (backend === 'embedded') await proc.start();
    v.check(await waitQuiet(proc, 60_000), 'the redriven message was not applied');
    const after = (await proc.health())?.details?.queues?.['hl7-inbound'];
    v.check(after?.deadLetter === 0, `${after?.deadLetter} dead letters after the redrive`);
    await proc.stop();

    const [x] = await ippsOf(proc, 'POISONX');
    const y = await ippsOf(proc, 'POISONY');
    v.figure('patient X identifiers', x ?? 'none');
    v.figure('patient Y', y.length ? y.join('; ') : 'deleted');
    v.check(x === '800001 (old), 800002', 'patient X does not carry the IPP of the redriven A47');
    v.check(y.length === 0, 'the deleted patient Y is still there');
    const db = await openPlatformDatabase(proc);
    try {
      const check = await checkWorkload(db, workload, others.acked);
      v.figure('other patients: ACKed but missing / duplicates', `${check.missingCount} / ${check.duplicateCount}`);
      v.check(check.missingCount === 0 && check.duplicateCount === 0, 'the other patients were not applied once each');
    } finally {
      await db.close();
    }
    return v.verdict();
  } finally {
    await proc.stop().catch(() => undefined);
    await database?.drop().catch(() => undefined);
  }
}

export const poison: Scenario = {
  name: 'poison',
  summary:
    'an A47 that can never apply: retried, dead-lettered with its reason, others unblocked, redriven after the fix',
  backends: ['pg', 'embedded'],
  run,
};
