/**
 * The local platform on a PostgreSQL server runs its HL7 ingest worker in a thread of its own: messages ACKed by the
 * bridge are applied by the thread, its log lines reach the platform's logger, `idle()` and `stop()` work across the
 * thread boundary, and a thread that cannot start fails the start-up with a clear error.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { getPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { afterAll, describe, expect, it } from 'vitest';
import { migrate } from '../../lambdas/adapters/sql/migrate.js';
import { createPgExecutor } from '../../lambdas/adapters/sql/pg.js';
import { loadConfig } from '../../lambdas/config.js';
import { INGEST_AUTH } from '../../lambdas/hl7/apply/context.js';
import { IngestThreadError, startIngestThread } from '../../scripts/hl7-ingest-thread.js';
import type { IngestLog } from '../../scripts/hl7-ingest-worker.js';
import { HL7_INBOUND_QUEUE, startLocalPlatform } from '../../scripts/local-platform.js';
import { scratchDatabase } from '../../scripts/scratch-database.js';
import { PG_URL } from '../support/executors.js';
import { sendMllp } from '../support/mllp-client.js';
import { IPP_SYSTEM, pam } from '../support/pam.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const baseEnv = async (): Promise<NodeJS.ProcessEnv> => {
  const dataDir = await mkdtemp(join(tmpdir(), 'pfi-ingest-thread-'));
  dirs.push(dataDir);
  return {
    PFI_DATA_DIR: dataDir,
    PFI_HTTP_PORT: '0',
    PFI_MLLP_PORT: '0',
    PFI_SMTP_SINK_PORT: '0',
    PFI_LOG_LEVEL: 'SILENT',
    PFI_HL7_MAX_RECEIVES: '2',
  };
};

/** A silent logger keeping what it was asked to log. */
class KeepingLogger extends Logger {
  readonly lines: { level: string; message: string; attributes: unknown }[] = [];
  constructor() {
    super({ logLevel: 'SILENT' });
  }
  override info(message: string, ...extra: unknown[]): void {
    this.lines.push({ level: 'info', message, attributes: extra[0] });
  }
  override warn(message: string, ...extra: unknown[]): void {
    this.lines.push({ level: 'warn', message, attributes: extra[0] });
  }
  override error(message: string, ...extra: unknown[]): void {
    this.lines.push({ level: 'error', message, attributes: extra[0] });
  }
}

describe.skipIf(!PG_URL)('HL7 ingest thread (PostgreSQL server)', () => {
  it('applies what the bridge ACKed, reports through the platform logger, and stops cleanly', async () => {
    const database = await scratchDatabase(PG_URL!, 'pfi_test_thread');
    const logger = new KeepingLogger();
    try {
      const config = loadConfig({ ...(await baseEnv()), DATABASE_URL: database.url });
      expect(config.hl7.workerThread).toBe(true);
      const local = await startLocalPlatform(config, { logger });
      try {
        const ack = await sendMllp(
          local.mllpPort,
          pam({ event: 'A28', controlId: 'THREAD-1', ipp: '71001', family: 'MARTIN', given: 'LEA' }),
        );
        expect(ack).toContain('MSA|AA|THREAD-1');
        // Another patient, then an A47 moving the first one's IPP onto the IPP the second holds: never applicable.
        const second = pam({ event: 'A28', controlId: 'THREAD-2', ipp: '71002', family: 'DURAND', given: 'PAUL' });
        expect(await sendMllp(local.mllpPort, second)).toContain('MSA|AA|THREAD-2');
        await local.worker.idle();
        const a47 = pam({ event: 'A47', structure: 'ADT_A30', controlId: 'THREAD-3', ipp: '71002', mrgIpp: '71001' });
        expect(await sendMllp(local.mllpPort, a47)).toContain('MSA|AA|THREAD-3');
        await local.worker.idle();

        const { result } = await local.platform.service.search(INGEST_AUTH, 'Patient', [
          ['identifier', `${IPP_SYSTEM}|71001`],
        ]);
        expect(result.matches).toHaveLength(1);
        expect(local.worker.stats.applied).toBe(2);
        expect(local.worker.stats.deadLettered).toBe(1);
        expect(local.sqlRoundTrips()).toBeGreaterThan(local.platform.db.stats.roundTrips);
        expect(await local.queue.depth(HL7_INBOUND_QUEUE)).toMatchObject({ visible: 0, inFlight: 0, deadLetter: 1 });
        // The thread's failures are the platform logger's lines, with codes and no content.
        const dead = logger.lines.find((l) => l.message === 'hl7 message dead-lettered');
        expect(dead).toMatchObject({ level: 'error', attributes: { error: 'identifier-conflict' } });
        expect(JSON.stringify(logger.lines)).not.toMatch(/MARTIN|DURAND/);
      } finally {
        await local.stop();
      }
    } finally {
      await database.drop();
    }
  }, 120_000);
});

describe.skipIf(!PG_URL || process.platform !== 'linux')('HL7 ingest thread priority (Linux)', () => {
  it('runs at the configured niceness while the platform thread keeps its own', async () => {
    const database = await scratchDatabase(PG_URL!, 'pfi_test_nice');
    try {
      const db = createPgExecutor(database.url, 1);
      await migrate(db);
      await db.close();
      const before = getPriority();
      const config = loadConfig({ ...(await baseEnv()), DATABASE_URL: database.url, PFI_HL7_WORKER_NICE: '7' });
      const thread = await startIngestThread(config, { log: () => undefined, applied: () => undefined });
      try {
        expect(thread.nice).toBe(Math.max(7, before));
        expect(getPriority()).toBe(before);
      } finally {
        await thread.stop();
      }
      const env = await baseEnv();
      expect(() => loadConfig({ ...env, PFI_HL7_WORKER_NICE: '20' })).toThrow(/PFI_HL7_WORKER_NICE/);
      expect(loadConfig(env).hl7.workerNice).toBe(10);
    } finally {
      await database.drop();
    }
  }, 60_000);
});

it('a thread that cannot reach its database fails the start-up with IngestThreadError', async () => {
  // Port 1 on loopback: nothing listens, the connection is refused at once.
  const config = loadConfig({ ...(await baseEnv()), DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' });
  const logs: IngestLog[] = [];
  await expect(startIngestThread(config, { log: (l) => logs.push(l), applied: () => undefined })).rejects.toThrow(
    IngestThreadError,
  );
  expect(logs.some((l) => l.message === 'hl7 ingest thread failed' && l.attributes['phase'] === 'start-up')).toBe(true);
}, 60_000);

it('the worker thread is for a PostgreSQL server only, and can be turned off', async () => {
  const env = await baseEnv();
  expect(loadConfig(env).hl7.workerThread).toBe(false);
  expect(loadConfig({ ...env, DATABASE_URL: 'postgres://x@127.0.0.1/y' }).hl7.workerThread).toBe(true);
  expect(
    loadConfig({ ...env, DATABASE_URL: 'postgres://x@127.0.0.1/y', PFI_HL7_WORKER_THREAD: 'false' }).hl7.workerThread,
  ).toBe(false);
});
