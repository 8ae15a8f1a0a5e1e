/**
 * Start-up of the local platform after a crash: what the crashed process held in flight on the embedded queue is
 * retried at once, not after its visibility timeout. A start-up that fails half-way leaves nothing running.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { afterAll, expect, it } from 'vitest';
import { SqlQueue } from '../../lambdas/adapters/queue/sql-queue.js';
import { migrate } from '../../lambdas/adapters/sql/migrate.js';
import { createPgliteExecutor } from '../../lambdas/adapters/sql/pglite.js';
import { ConfigError, loadConfig } from '../../lambdas/config.js';
import { INGEST_AUTH } from '../../lambdas/hl7/apply/context.js';
import { HL7_INBOUND_QUEUE, startLocalPlatform } from '../../scripts/local-platform.js';
import { eventually, sendMllp } from '../support/mllp-client.js';
import { IPP_SYSTEM, pam } from '../support/pam.js';
import { writeTlsFiles } from '../support/tls-files.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

it('a message the crashed process held in flight is applied at the next start, well before its visibility timeout', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'pfi-restart-'));
  dirs.push(dataDir);
  // The state a SIGKILL leaves: the message received (hidden for 10 minutes) and never deleted.
  const db = await createPgliteExecutor(join(dataDir, 'pg'));
  await migrate(db);
  const queue = new SqlQueue(db);
  const message = pam({ event: 'A28', controlId: 'CRASH-1', ipp: '70001', family: 'MARTIN', given: 'LEA' });
  await queue.send(HL7_INBOUND_QUEUE, [
    { body: JSON.stringify({ message, receivedAt: new Date().toISOString() }), groupId: 'g', deduplicationId: 'd1' },
  ]);
  const held = await queue.receive(HL7_INBOUND_QUEUE, { max: 1, visibilityTimeoutSeconds: 600, maxReceives: 5 });
  expect(held).toHaveLength(1);
  await db.close();

  const config = loadConfig({
    PFI_DATA_DIR: dataDir,
    PFI_HTTP_PORT: '0',
    PFI_MLLP_PORT: '0',
    PFI_SMTP_SINK_PORT: '0',
    PFI_LOG_LEVEL: 'SILENT',
  });
  const local = await startLocalPlatform(config, { logger: new Logger({ logLevel: 'SILENT' }) });
  try {
    const found = await eventually(
      'the Patient of the held message',
      async () => {
        const { result } = await local.platform.service.search(INGEST_AUTH, 'Patient', [
          ['identifier', `${IPP_SYSTEM}|70001`],
        ]);
        return result.matches[0];
      },
      30_000,
    );
    expect(found).toBeDefined();
    const drained = await eventually('the queue drained', async () => {
      const depth = await local.queue.depth(HL7_INBOUND_QUEUE);
      return depth.visible + depth.inFlight === 0 ? depth : undefined;
    });
    expect(drained.deadLetter).toBe(0);
  } finally {
    await local.stop();
  }
}, 60_000);

it('a start-up step that fails (MLLP port in use) stops what had started: the port and the data directory are free again', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'pfi-failed-start-'));
  dirs.push(dataDir);
  const taken = createServer();
  await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
  const takenPort = (taken.address() as AddressInfo).port;
  const httpPort = await freePort();
  const env = {
    PFI_DATA_DIR: dataDir,
    PFI_HTTP_PORT: String(httpPort),
    PFI_SMTP_SINK_PORT: '0',
    PFI_LOG_LEVEL: 'SILENT',
  };
  const logger = new Logger({ logLevel: 'SILENT' });
  try {
    await expect(
      startLocalPlatform(loadConfig({ ...env, PFI_MLLP_PORT: String(takenPort) }), { logger }),
    ).rejects.toMatchObject({ code: 'EADDRINUSE' });
  } finally {
    await new Promise<void>((r) => taken.close(() => r()));
  }
  // The HTTP port and the embedded database (one process at a time) were released: the next start works.
  const local = await startLocalPlatform(loadConfig({ ...env, PFI_MLLP_PORT: '0' }), { logger });
  try {
    expect(local.httpPort).toBe(httpPort);
  } finally {
    await local.stop();
  }
}, 60_000);

it('direct TLS on the MLLP port when PFI_MLLP_TLS_CERT_FILE and PFI_MLLP_TLS_KEY_FILE are set; a bad file stops the start', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'pfi-tls-start-'));
  dirs.push(dataDir);
  const files = await writeTlsFiles(dataDir);
  const env = {
    PFI_DATA_DIR: dataDir,
    PFI_HTTP_PORT: '0',
    PFI_MLLP_PORT: '0',
    PFI_SMTP_SINK_PORT: '0',
    PFI_LOG_LEVEL: 'SILENT',
    PFI_MLLP_TLS_CERT_FILE: files.certFile,
  };
  const logger = new Logger({ logLevel: 'SILENT' });
  expect(() => loadConfig(env)).toThrow(/PFI_MLLP_TLS_KEY_FILE/);
  const wrongKey = loadConfig({ ...env, PFI_MLLP_TLS_KEY_FILE: files.certFile });
  await expect(startLocalPlatform(wrongKey, { logger })).rejects.toThrow(
    new ConfigError('Invalid configuration:\n  PFI_MLLP_TLS_KEY_FILE: not the PEM private key of the certificate'),
  );

  const local = await startLocalPlatform(loadConfig({ ...env, PFI_MLLP_TLS_KEY_FILE: files.keyFile }), { logger });
  try {
    const message = pam({ event: 'A28', controlId: 'TLS-1', ipp: '70002', family: 'MARTIN', given: 'LEA' });
    expect(await sendMllp(local.mllpPort, message, { ca: files.cert })).toContain('MSA|AA|TLS-1');
    const found = await eventually('the Patient sent over TLS', async () => {
      const { result } = await local.platform.service.search(INGEST_AUTH, 'Patient', [
        ['identifier', `${IPP_SYSTEM}|70002`],
      ]);
      return result.matches[0];
    });
    expect(found).toBeDefined();
    // Plain MLLP on the TLS port gets no ACK: the connection is closed.
    await expect(sendMllp(local.mllpPort, message)).rejects.toThrow();
  } finally {
    await local.stop();
  }
}, 60_000);

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
