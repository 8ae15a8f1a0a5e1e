/**
 * `npm start`: the whole platform on one machine with embedded defaults (PGlite in $PFI_DATA_DIR, local signing
 * key, documents under $PFI_DATA_DIR/documents). FHIR at http://127.0.0.1:$PFI_HTTP_PORT/fhir, health at /health,
 * MLLP on $PFI_MLLP_PORT with the HL7 ingest worker running in-process.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { ConfigError, loadConfig } from '../lambdas/config.js';
import { DataDirBusyError, lockDataDir } from '../lambdas/fhir/data-dir-lock.js';
import { startLocalPlatform } from './local-platform.js';

async function main(): Promise<void> {
  const started = Date.now();
  const config = loadConfig();
  const logger = new Logger({ serviceName: 'pfi-local', logLevel: config.logLevel });
  const release = config.database.kind === 'pglite' ? lockDataDir(config.dataDir) : () => undefined;
  const local = await startLocalPlatform(config, { logger });
  logger.info('PFI platform started', {
    fhir: local.fhirBaseUrl,
    health: `http://${config.http.host}:${local.httpPort}/health`,
    mllp: `${config.mllp.host}:${local.mllpPort}${config.mllp.tls ? ' (TLS)' : ''}`,
    database: local.platform.db.kind,
    documents: local.documents.kind,
    mssante: local.smtpSink
      ? `embedded SMTP sink 127.0.0.1:${local.smtpSink.port} → ${local.smtpSink.dir}`
      : 'PFI_SMTP_URL',
    dataDir: config.dataDir,
    startupMs: Date.now() - started,
    token: 'npm run --silent token -- "system/*.cruds"',
  });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('stopping', { signal });
    await local.stop();
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
