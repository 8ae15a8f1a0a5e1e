/**
 * `npm start`: the whole platform on one machine with embedded defaults (PGlite in $PFI_DATA_DIR,
 * local signing key). FHIR at http://127.0.0.1:$PFI_HTTP_PORT/fhir, health at /health.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { SqlQueue } from '../lambdas/adapters/queue/sql-queue.js';
import { ConfigError, loadConfig } from '../lambdas/config.js';
import { DataDirBusyError, lockDataDir } from '../lambdas/fhir/data-dir-lock.js';
import { createLocalServer, listen } from '../lambdas/fhir/local-server.js';
import { createFhirPlatform } from '../lambdas/fhir/platform.js';
import { loadRegistryFile, openRegistry } from '../mllp-bridge/src/registry.js';
import { createMllpServer } from '../mllp-bridge/src/server.js';

/** The queue the MLLP bridge fills and the HL7 ingest worker drains. */
const HL7_INBOUND_QUEUE = 'hl7-inbound';

async function main(): Promise<void> {
  const started = Date.now();
  const config = loadConfig();
  const logger = new Logger({ serviceName: 'pfi-local', logLevel: config.logLevel });
  const release = config.database.kind === 'pglite' ? lockDataDir(config.dataDir) : () => undefined;
  let baseUrl = config.fhirBaseUrl ?? '';
  const platform = await createFhirPlatform(config, {
    baseUrl: () => baseUrl,
    onError: (err, req) =>
      logger.error('unexpected error', {
        requestId: req.requestId,
        method: req.method,
        error: err instanceof Error ? err.name : 'unknown',
        // The message may quote SQL or values: keep it out of logs unless debugging locally.
        ...(config.logLevel === 'DEBUG' && err instanceof Error ? { detail: err.message } : {}),
      }),
  });
  const queue = new SqlQueue(platform.db);
  const server = createLocalServer({
    handle: platform.handle,
    maxBodyBytes: config.maxBodyBytes,
    health: async () => {
      try {
        const depth = await queue.depth(HL7_INBOUND_QUEUE);
        return { ok: true, details: { database: platform.db.kind, queues: { [HL7_INBOUND_QUEUE]: depth } } };
      } catch {
        return { ok: false, details: { database: platform.db.kind } };
      }
    },
  });
  const port = await listen(server, config.http.port, config.http.host);
  // MLLP: AA once the message is committed in the local queue (PGlite does not fsync: a process crash
  // keeps it, a power loss may not; in AWS the durability is SQS's).
  const bridge = createMllpServer({
    registry: config.mllp.registryFile ? await loadRegistryFile(config.mllp.registryFile) : openRegistry(),
    enqueue: (msg) =>
      queue.send(HL7_INBOUND_QUEUE, [
        {
          body: JSON.stringify({ message: msg.body, receivedAt: msg.receivedAt.toISOString() }),
          groupId: msg.groupId,
          deduplicationId: msg.deduplicationId,
        },
      ]),
  });
  const mllpPort = await bridge.listen(config.mllp.port, config.mllp.host);
  if (!config.fhirBaseUrl) baseUrl = `http://${config.http.host}:${port}/fhir`;
  logger.info('PFI platform started', {
    fhir: baseUrl,
    health: `http://${config.http.host}:${port}/health`,
    mllp: `${config.mllp.host}:${mllpPort}`,
    database: platform.db.kind,
    dataDir: config.dataDir,
    startupMs: Date.now() - started,
    token: 'npm run --silent token -- "system/*.cruds"',
  });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('stopping', { signal });
    await bridge.close(10_000);
    server.close();
    server.closeIdleConnections();
    setTimeout(() => server.closeAllConnections(), 5_000).unref();
    await new Promise<void>((r) => server.once('close', () => r()));
    await platform.db.close();
    release();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError || err instanceof DataDirBusyError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`PFI failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
