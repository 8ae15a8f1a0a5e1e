/**
 * Crash during load: 10 MLLP connections send the HL7 workload while the platform is killed with SIGKILL three times
 * at random moments and restarted on the same database; the sender resends whatever got no ACK. Verdict: every
 * message answered AA is in FHIR exactly once, nothing is dead-lettered, and the audit chain verifies.
 */

import { join } from 'node:path';
import { type ScratchDatabase, scratchDatabase } from '../scratch-database.js';
import { judgeSender, judgeStore } from './hl7-verdict.js';
import { hl7Workload, MESSAGES_PER_PATIENT } from './hl7-workload.js';
import { PlatformStartError, platformProcess } from './platform-process.js';
import { runResilientSender } from './resilient-sender.js';
import { type Backend, type ChaosContext, mib, type Scenario, verdictOf } from './scenario.js';

async function run(ctx: ChaosContext, backend: Backend) {
  const v = verdictOf('crash', backend);
  const patients = ctx.short ? 250 : 2_500;
  const kills = 3;
  const workload = hl7Workload(patients, 10);
  const total = workload.messages.length;
  let database: ScratchDatabase | undefined;
  if (backend === 'pg') database = await scratchDatabase(ctx.pgUrl, 'pfi_chaos');
  const proc = await platformProcess({
    dataDir: join(ctx.workDir, 'data'),
    ...(database ? { databaseUrl: database.url } : {}),
    // What a crashed process held waits this long on a PostgreSQL server (the embedded database releases it at once).
    env: { PFI_QUEUE_VISIBILITY_TIMEOUT_SECONDS: '10' },
  });
  try {
    await proc.start();
    // Kill points: three random ACK counts, one in each third of the run.
    const killAt = Array.from({ length: kills }, (_, k) =>
      Math.floor(((k + 0.2 + Math.random() * 0.6) / kills) * total),
    );
    ctx.log(
      `  ${total} messages (${patients} patients × ${MESSAGES_PER_PATIENT}), 10 connections; SIGKILL after ${killAt.join(', ')} ACKs`,
    );
    let maxRss = 0;
    const rssTimer = setInterval(() => {
      maxRss = Math.max(maxRss, proc.rss() ?? 0);
    }, 500);
    const restarts: string[] = [];
    let crashing: Promise<void> = Promise.resolve();
    let nextKill = 0;
    let startFailure: PlatformStartError | undefined;
    const started = Date.now();
    const sent = runResilientSender({
      port: proc.mllpPort,
      connections: workload.connections,
      ackTimeoutMs: 15_000,
      giveUpAfterMs: ctx.short ? 180_000 : 900_000,
      onAck: (acked) => {
        if (nextKill >= kills || acked < killAt[nextKill]!) return;
        nextKill++;
        const k = nextKill;
        crashing = crashing.then(async () => {
          const t0 = Date.now();
          await proc.kill();
          try {
            await proc.start();
            restarts.push(`kill ${k} at ${acked} ACKs: back in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
          } catch (err) {
            startFailure = err instanceof PlatformStartError ? err : new PlatformStartError(String(err), null, '');
            restarts.push(`kill ${k} at ${acked} ACKs: the platform did not start again`);
          }
        });
      },
    });
    const result = await sent;
    await crashing;
    const sendSeconds = (Date.now() - started) / 1000;
    for (const r of restarts) ctx.log(`  ${r}`);
    const failure = startFailure as PlatformStartError | undefined;
    if (failure) {
      v.check(false, `start-up after a crash failed: ${failure.message}`);
      v.note(`its output ended with: ${failure.output.slice(-1_500).replace(/\s+/g, ' ')}`);
    }
    v.figure('kills', `${restarts.length} of ${kills}`);
    v.figure('all ACKed after', `${sendSeconds.toFixed(1)} s`);
    judgeSender(v, total, result);
    v.check(restarts.length === kills, `${restarts.length} kills of ${kills} happened`);
    if (!failure) {
      await judgeStore(v, proc, workload, result.acked, ctx.short ? 120_000 : 600_000);
      v.figure('all applied after', `${((Date.now() - started) / 1000).toFixed(1)} s (quiet)`);
    }
    clearInterval(rssTimer);
    v.figure('max RSS', mib(maxRss));
    return v.verdict();
  } finally {
    await proc.stop().catch(() => undefined);
    await database?.drop().catch(() => undefined);
  }
}

export const crash: Scenario = {
  name: 'crash',
  summary: 'SIGKILL ×3 during an MLLP load; every message ACKed AA in FHIR exactly once, the audit chain verifies',
  backends: ['pg', 'embedded'],
  run,
};
