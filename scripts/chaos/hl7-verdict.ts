/**
 * The end of an HL7 chaos run: wait until the platform has nothing left to do, stop it, and judge its database —
 * every message ACKed AA in FHIR exactly once, no dead letter, the audit chain complete and verified.
 */

import { join } from 'node:path';
import type { SqlExecutor } from '../../lambdas/adapters/sql/executor.js';
import { executorFromConfig } from '../../lambdas/adapters/sql/from-config.js';
import { verifyAuditChain } from '../../lambdas/audit/chain.js';
import { localSealKey } from '../../lambdas/audit/seal-key.js';
import { loadConfig } from '../../lambdas/config.js';
import { summarize } from '../bench/stats.js';
import { checkWorkload, type Hl7Workload } from './hl7-workload.js';
import type { PlatformProcess } from './platform-process.js';
import type { ResilientSenderResult } from './resilient-sender.js';
import type { verdictOf } from './scenario.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Waits until every queue is empty (nothing visible or in flight) and the outbox relayed, twice a second apart. */
export async function waitQuiet(proc: PlatformProcess, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let quietPolls = 0;
  while (Date.now() < deadline) {
    const h = await proc.health();
    const queues = Object.values(h?.details?.queues ?? {});
    const busy = !h?.ok || queues.some((q) => q.visible + q.inFlight > 0) || (h.details?.outbox ?? 1) > 0;
    quietPolls = busy ? 0 : quietPolls + 1;
    if (quietPolls >= 2) return true;
    await sleep(1_000);
  }
  return false;
}

/** `GET /audit/verify` of the running platform: it chains what is pending first, then verifies. */
async function verifyOverHttp(proc: PlatformProcess): Promise<boolean | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${proc.httpPort}/audit/verify`, {
      headers: { authorization: `Bearer ${await proc.token('system/AuditEvent.rs')}` },
      signal: AbortSignal.timeout(60_000),
    });
    return ((await res.json()) as { ok?: boolean }).ok === true;
  } catch {
    return undefined;
  }
}

/** Opens the platform's database from the harness (the embedded one only once the platform has stopped). */
export async function openPlatformDatabase(proc: PlatformProcess): Promise<SqlExecutor> {
  return executorFromConfig(loadConfig(proc.env).database);
}

/** Sender figures and checks shared by the HL7 scenarios. */
export function judgeSender(v: ReturnType<typeof verdictOf>, total: number, result: ResilientSenderResult): void {
  v.figure('messages', total);
  v.figure('sends (first sends + resends)', `${result.sends} (${result.resends} resends)`);
  v.figure('ACKed AA', result.acked.size);
  v.figure('AE', result.rejected.size);
  v.figure('never acknowledged', result.unacknowledged.length);
  v.figure(
    'AR / ACK timeouts / connection failures',
    `${result.ar} / ${result.timeouts} / ${result.connectionFailures}`,
  );
  const lat = summarize(result.latencies);
  v.figure('ACK p50 / p99 / max', `${lat.p50.toFixed(1)} / ${lat.p99.toFixed(1)} / ${lat.max.toFixed(0)} ms`);
  const rejected = [...result.rejected.values()].slice(0, 3).join('; ');
  v.check(result.rejected.size === 0, `${result.rejected.size} messages answered AE: ${rejected}`);
  v.check(result.mismatched === 0, `${result.mismatched} ACKs named another control id`);
  v.check(result.unacknowledged.length === 0, `${result.unacknowledged.length} messages never acknowledged`);
}

/**
 * Waits for the platform to drain, verifies the audit chain over HTTP, stops the platform and checks its database
 * against the workload: what was ACKed is there once, with no duplicate and no dead letter.
 */
export async function judgeStore(
  v: ReturnType<typeof verdictOf>,
  proc: PlatformProcess,
  workload: Hl7Workload,
  acked: ReadonlySet<string>,
  quietTimeoutMs: number,
): Promise<void> {
  const quiet = await waitQuiet(proc, quietTimeoutMs);
  const quietAt = Date.now();
  v.check(quiet, 'the platform did not drain its queues and outbox in time');
  const verifiedLive = await verifyOverHttp(proc);
  await proc.stop();
  const db = await openPlatformDatabase(proc);
  try {
    const check = await checkWorkload(db, workload, acked);
    const dead = await db.query<{ queue: string; n: number }>(
      `SELECT queue, count(*)::int AS n FROM queue_message WHERE queue LIKE '%-dlq' GROUP BY queue`,
    );
    const deadLetters = Object.fromEntries(dead.rows.map((r) => [r.queue, r.n]));
    const audit = await verifyAuditChain(db, localSealKey(join(proc.dataDir, 'keys')));
    const patients = workload.patients;
    const total = workload.messages.length;
    v.figure(
      'found in FHIR',
      Object.entries(check.found)
        .map(([k, n]) => `${k} ${n}`)
        .join(', '),
    );
    v.figure('ACKed but missing', check.missingCount);
    v.figure('duplicates', check.duplicateCount);
    v.figure('dead letters', JSON.stringify(deadLetters));
    v.figure(
      'audit chain',
      audit.ok
        ? `verified: ${audit.auditEvents} AuditEvents, ${audit.chained} chained, ${audit.seals} seals, ` +
            `${audit.unchained} of the last seconds to chain at the next start`
        : `BROKEN at ${JSON.stringify(audit.firstBreak)}`,
    );
    v.check(check.missingCount === 0, `ACKed but missing from FHIR: ${check.missing.join('; ')}`);
    v.check(check.duplicateCount === 0, `duplicates: ${check.duplicates.join('; ')}`);
    v.check(check.found.Patient === patients, `${check.found.Patient} Patients for ${patients} patients`);
    v.check(check.found.Encounter === patients, `${check.found.Encounter} Encounters for ${patients} stays`);
    v.check(
      check.found.DiagnosticReport === patients,
      `${check.found.DiagnosticReport} DiagnosticReports for ${patients}`,
    );
    v.check(
      check.found.Observation === check.expectedObservations,
      `${check.found.Observation} Observations for ${check.expectedObservations} OBX`,
    );
    v.check(check.found.Provenance === total, `${check.found.Provenance} Provenances for ${total} distinct messages`);
    v.check(Object.keys(deadLetters).length === 0, `dead letters: ${JSON.stringify(deadLetters)}`);
    v.check(verifiedLive === true, 'GET /audit/verify did not answer ok on the running platform');
    v.check(audit.ok, 'the audit chain does not verify');
    // Events of the last seconds (the verification's own access, the stop) are chained at the next start; nothing
    // recorded during the run may be left out.
    const sinceQuiet = (Date.now() - quietAt) / 1000;
    v.check(
      (audit.oldestUnchainedSeconds ?? 0) <= sinceQuiet + 5,
      `${audit.unchained} AuditEvents not chained, the oldest ${audit.oldestUnchainedSeconds} s old`,
    );
  } finally {
    await db.close();
  }
}
