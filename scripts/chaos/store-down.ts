/**
 * Queue and database unavailable: the platform reaches its PostgreSQL server through a proxy the scenario cuts for a
 * while (every connection dropped, new ones refused) in the middle of an MLLP load, then restores. The bridge must
 * answer AR (or nothing) while the store is down, never AA; it must recover by itself, without a restart; and every
 * message ACKed AA, before, during or after the outage, must be in FHIR exactly once.
 *
 * On the embedded database the store lives in the platform's own process: it cannot be down while the bridge is up,
 * so this scenario runs on the PostgreSQL server only.
 */

import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ScratchDatabase, scratchDatabase } from '../scratch-database.js';
import { judgeSender, judgeStore } from './hl7-verdict.js';
import { hl7Workload, MESSAGES_PER_PATIENT } from './hl7-workload.js';
import { platformProcess } from './platform-process.js';
import { runResilientSender } from './resilient-sender.js';
import { type Backend, type ChaosContext, mib, type Scenario, verdictOf } from './scenario.js';
import { startTcpProxy } from './tcp-proxy.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function run(ctx: ChaosContext, backend: Backend) {
  const v = verdictOf('store-down', backend);
  const patients = ctx.short ? 150 : 1_000;
  const outageMs = ctx.short ? 6_000 : 20_000;
  const workload = hl7Workload(patients, 10, 'DOWN');
  const total = workload.messages.length;
  const database: ScratchDatabase = await scratchDatabase(ctx.pgUrl, 'pfi_chaos');
  const server = new URL(database.url);
  const proxy = await startTcpProxy({ host: server.hostname, port: Number(server.port || 5432) });
  const viaProxy = new URL(database.url);
  viaProxy.hostname = '127.0.0.1';
  viaProxy.port = String(proxy.port);
  const proc = await platformProcess({
    dataDir: join(ctx.workDir, 'data'),
    databaseUrl: viaProxy.toString(),
    env: {
      PFI_QUEUE_VISIBILITY_TIMEOUT_SECONDS: '10',
      ...(process.env['CHAOS_DEBUG'] ? { PFI_LOG_LEVEL: 'DEBUG' } : {}),
    },
  });
  try {
    await proc.start();
    ctx.log(
      `  ${total} messages (${patients} patients × ${MESSAGES_PER_PATIENT}), 10 connections; store down ${outageMs / 1000} s once a quarter is ACKed`,
    );
    let maxRss = 0;
    const rssTimer = setInterval(() => {
      maxRss = Math.max(maxRss, proc.rss() ?? 0);
    }, 500);
    // AAs counted while the proxy is cut: none may come from a commit that did not happen (a message ACKed just
    // before the cut may still be answered in its first milliseconds, hence the grace period).
    let aaDuringOutage = 0;
    let cutAt = 0;
    let outage: Promise<void> | undefined;
    let healthDuringOutage: boolean | undefined;
    const result = await runResilientSender({
      port: proc.mllpPort,
      connections: workload.connections,
      ackTimeoutMs: 15_000,
      giveUpAfterMs: ctx.short ? 150_000 : 600_000,
      onAck: (acked) => {
        if (proxy.isCut && Date.now() - cutAt > 500) aaDuringOutage++;
        if (outage || acked < total / 4) return;
        outage = (async () => {
          cutAt = Date.now();
          proxy.cut();
          ctx.log(`  store cut after ${acked} ACKs`);
          await sleep(outageMs / 2);
          healthDuringOutage = (await proc.health())?.ok;
          await sleep(outageMs / 2);
          proxy.restore();
          ctx.log('  store restored');
        })();
      },
    });
    await outage;
    const alive = proc.pid() !== undefined;
    judgeSender(v, total, result);
    v.figure('outage', `${outageMs / 1000} s`);
    v.figure('AA while the store was down', aaDuringOutage);
    v.figure(
      '/health while down',
      healthDuringOutage === undefined ? 'no answer' : healthDuringOutage ? 'ok' : 'not ok',
    );
    v.figure('platform starts', proc.starts);
    v.check(outage !== undefined, 'the outage never happened');
    v.check(aaDuringOutage === 0, `${aaDuringOutage} messages answered AA while the store was down`);
    v.check(result.ar + result.timeouts + result.connectionFailures > 0, 'the outage was not seen by the sender');
    v.check(healthDuringOutage !== true, '/health said ok while the database was down');
    if (!v.check(alive && proc.starts === 1, 'the platform died during the outage (it must recover by itself)')) {
      v.note(`exit code ${proc.exitCode()}; its output ended with: ${proc.lastOutput().slice(-2_000)}`);
      if (process.env['CHAOS_KEEP']) copyFileSync(join(proc.dataDir, 'platform.log'), '/tmp/store-down.log');
    }
    if (alive) await judgeStore(v, proc, workload, result.acked, ctx.short ? 120_000 : 600_000);
    clearInterval(rssTimer);
    v.figure('max RSS', mib(maxRss));
    return v.verdict();
  } finally {
    await proc.stop().catch(() => undefined);
    await proxy.close();
    await database.drop().catch(() => undefined);
  }
}

export const storeDown: Scenario = {
  name: 'store-down',
  summary: 'the PostgreSQL server cut off mid-load: AR (never AA) while down, recovery without restart, nothing lost',
  backends: ['pg'],
  run,
};
