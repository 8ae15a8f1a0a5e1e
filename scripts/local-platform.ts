/**
 * The whole platform in one process (what `npm start` runs, and what the e2e tests and the hl7 benchmark start):
 * FHIR API over HTTP, MLLP bridge → local durable queue (group commit) → HL7 ingest worker → FHIR store, documents
 * in `$PFI_DATA_DIR/documents` (or S3), retention of raw HL7 messages.
 */

import type { Server } from 'node:http';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { DocumentStore } from '../lambdas/adapters/documents/document-store.js';
import { documentStoreFromConfig } from '../lambdas/adapters/documents/from-config.js';
import { startSmtpSink } from '../lambdas/adapters/mail/smtp-sink.js';
import { groupCommit } from '../lambdas/adapters/queue/group-commit.js';
import { outboxBacklog, startOutboxRelay } from '../lambdas/adapters/queue/outbox-relay.js';
import { type QueueWorker, startQueueWorker } from '../lambdas/adapters/queue/queue-worker.js';
import { SqlQueue } from '../lambdas/adapters/queue/sql-queue.js';
import { refreshGrownTableStats } from '../lambdas/adapters/sql/table-stats.js';
import { verifyAuditChain } from '../lambdas/audit/chain.js';
import { erasureOperations } from '../lambdas/audit/expunge-operation.js';
import { sealKeyFromConfig } from '../lambdas/audit/seal-key.js';
import { startAuditTrail } from '../lambdas/audit/trail.js';
import { allows } from '../lambdas/auth/scopes.js';
import { type Config, ConfigError } from '../lambdas/config.js';
import {
  annuaireFromConfig,
  createMssanteSender,
  documentOperations,
  loadCdaOrganisation,
} from '../lambdas/documents/compose.js';
import {
  describeDocumentError,
  isDocumentPoison,
  mssanteRetryDelays,
  runCdaJob,
  runMssanteJob,
} from '../lambdas/documents/jobs.js';
import { CDA_QUEUE, DOCUMENT_ROUTES, documentTriggers, MSSANTE_QUEUE } from '../lambdas/documents/queues.js';
import { sqlSendJournal } from '../lambdas/documents/send-journal.js';
import { createLocalServer, listen } from '../lambdas/fhir/local-server.js';
import { createFhirPlatform, type FhirPlatform } from '../lambdas/fhir/platform.js';
import { purgeRawMessages } from '../lambdas/hl7/ingest.js';
import { messageKind } from '../lambdas/hl7/map/message.js';
import { HL7_INBOUND_QUEUE } from '../lambdas/hl7/queues.js';
import { databaseArchive, documentArchive, type RawMessageArchive } from '../lambdas/hl7/raw-archive.js';
import type { Hl7Worker } from '../lambdas/hl7/worker.js';
import { CONTENT_LOG_WARNING, contentLogger } from '../mllp-bridge/src/content-log.js';
import { createBridgeMetrics } from '../mllp-bridge/src/metrics.js';
import { createRefusalLog } from '../mllp-bridge/src/refusal-log.js';
import { loadRegistryFile, openRegistry } from '../mllp-bridge/src/registry.js';
import { createMllpServer, type MllpServer } from '../mllp-bridge/src/server.js';
import { loadTlsCredentials, TlsCredentialsError } from '../mllp-bridge/src/tls-credentials.js';
import { startIngestThread } from './hl7-ingest-thread.js';
import { type IngestReport, startIngestWorker } from './hl7-ingest-worker.js';

export { HL7_INBOUND_QUEUE };

const HOUR_MS = 3_600_000;
const STATS_CHECK_MS = 2_000;
/** How often the bridge's refusals (AR: queue errors, refused senders) are logged, one line per cause. */
const REFUSAL_LOG_MS = 10_000;
/** Batch size of the ingest worker on the platform's event loop while a burst is paced (see startIngestWorker). */
const BATCH_UNDER_LOAD = 16;

const jsonResponse = (status: number, body: unknown) => ({
  status,
  headers: { 'content-type': 'application/json', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' },
  body: JSON.stringify(body),
});

export interface LocalPlatform {
  platform: FhirPlatform;
  queue: SqlQueue;
  documents: DocumentStore;
  archive: RawMessageArchive;
  worker: Hl7Worker;
  /** CR-BIO generation of lab reports (queue `cda`). */
  cdaWorker: QueueWorker;
  /** MSSanté sending of Communications (queue `mssante`). */
  mssanteWorker: QueueWorker;
  /** Writes, chains and seals AuditEvents in the background (`runNow` for tests). */
  auditTrail: { runNow(): Promise<void> };
  /** The embedded SMTP sink (when PFI_SMTP_URL is unset): its port and where it writes `.eml` files. */
  smtpSink: { port: number; dir: string } | undefined;
  bridge: MllpServer;
  /** SQL round trips of the platform's pools (the ingest thread's included). */
  sqlRoundTrips(): number;
  http: Server;
  fhirBaseUrl: string;
  httpPort: number;
  mllpPort: number;
  stop(): Promise<void>;
}

export interface LocalPlatformOptions {
  logger: Logger;
}

/** Direct TLS credentials, checked before the port opens; a bad file is a configuration error (exit 2). */
async function loadMllpTls(files: { certFile: string; keyFile: string }, logger: Logger) {
  try {
    const credentials = await loadTlsCredentials(files);
    logger.info('MLLP direct TLS', { certificateValidTo: credentials.validTo.toISOString() });
    return { cert: credentials.cert, key: credentials.key };
  } catch (err) {
    if (err instanceof TlsCredentialsError) throw new ConfigError(`Invalid configuration:\n  ${err.message}`);
    throw err;
  }
}

export async function startLocalPlatform(config: Config, opts: LocalPlatformOptions): Promise<LocalPlatform> {
  const { logger } = opts;
  // The bridge's files are read first: a bad one stops the start before the database opens.
  const registry = config.mllp.registryFile ? await loadRegistryFile(config.mllp.registryFile) : openRegistry();
  const tls = config.mllp.tls && (await loadMllpTls(config.mllp.tls, logger));
  let baseUrl = config.fhirBaseUrl ?? '';
  const documents = await documentStoreFromConfig(config.documents);
  const organisation = await loadCdaOrganisation(config.cda);
  if (!config.cda.organisationFile && !config.cda.organisationJson) {
    logger.warn('CDA documents use the example organisation: set PFI_ORGANISATION_FILE for real documents');
  }
  const labReports = { documents, organisation, pdf: config.cda.pdf };
  const platform = await createFhirPlatform(config, {
    baseUrl: () => baseUrl,
    documents,
    trigger: documentTriggers,
    operations: (service) => ({
      ...documentOperations(labReports)(service),
      ...erasureOperations({
        documents,
        archive: config.hl7.rawArchive === 'database' ? databaseArchive(service.repo.db) : documentArchive(documents),
      })(service),
    }),
    onError: (err, req) =>
      logger.error('unexpected error', {
        requestId: req.requestId,
        method: req.method,
        error: err instanceof Error ? err.name : 'unknown',
        // The message may quote SQL or values: keep it out of logs unless debugging locally.
        ...(config.logLevel === 'DEBUG' && err instanceof Error ? { detail: err.message } : {}),
      }),
  });
  // What has started so far, stopped in reverse order when a later step fails (a port in use, an ingest thread that
  // cannot start): the caller gets the error and nothing keeps running.
  const started: (() => unknown)[] = [() => platform.db.close()];
  try {
    const queue = new SqlQueue(platform.db);
    if (platform.db.kind === 'pglite') {
      // One process opens the embedded database (the data directory lock): what its queues hold in flight at start-up
      // was held by a process that crashed, and is retried now rather than after the visibility timeout.
      for (const name of [HL7_INBOUND_QUEUE, CDA_QUEUE, MSSANTE_QUEUE]) {
        const released = await queue.releaseHeld(name);
        if (released) logger.warn('messages held by a stopped process released', { queue: name, released });
      }
    }
    const sealKey = sealKeyFromConfig(config);
    let auditTrail: ReturnType<typeof startAuditTrail> | undefined;
    // /health answers before the MLLP port listens (it is opened last): not ready until then, so that "healthy" means
    // an interface engine can connect.
    let mllpListening = false;
    const bridgeMetrics = createBridgeMetrics();
    const http = createLocalServer({
      handle: platform.handle,
      maxBodyBytes: config.maxBodyBytes,
      routes: {
        // The bridge's counters, as the standalone bridge serves them on its health port. Counts only.
        '/metrics': async () => ({
          status: 200,
          headers: {
            'content-type': 'text/plain; version=0.0.4; charset=utf-8',
            'cache-control': 'no-store',
            'x-content-type-options': 'nosniff',
          },
          body: bridgeMetrics.prometheusText(),
        }),
        // `npm run audit:verify` asks the running platform (a PGlite directory is opened by one process only).
        '/audit/verify': async (headers) => {
          try {
            const auth = await platform.verifier.verify(headers.authorization);
            if (!allows(auth.scopes, 'AuditEvent', 'r')) {
              return jsonResponse(403, { error: 'the token needs read access to AuditEvent' });
            }
          } catch {
            return jsonResponse(401, { error: 'a valid bearer token is required' });
          }
          await auditTrail?.runNow();
          return jsonResponse(200, await verifyAuditChain(platform.db, sealKey));
        },
      },
      health: async () => {
        if (!mllpListening) return { ok: false, details: { database: platform.db.kind, mllp: 'starting' } };
        try {
          const queues: Record<string, unknown> = {};
          for (const name of [HL7_INBOUND_QUEUE, CDA_QUEUE, MSSANTE_QUEUE]) queues[name] = await queue.depth(name);
          const outbox = await outboxBacklog(platform.db);
          return { ok: true, details: { database: platform.db.kind, queues, outbox } };
        } catch {
          return { ok: false, details: { database: platform.db.kind } };
        }
      },
    });
    const httpPort = await listen(http, config.http.port, config.http.host);
    started.push(() => {
      http.closeAllConnections();
      return new Promise<void>((r) => http.close(() => r()));
    });
    if (!config.fhirBaseUrl) baseUrl = `http://${config.http.host}:${httpPort}/fhir`;

    // Documents: outbox rows (lab reports to turn into CDA, Communications to send) → their queues → the workers.
    const smtpSink = config.mssante.smtpUrl
      ? undefined
      : await startSmtpSink({ dir: config.mssante.outboxDir, host: '127.0.0.1', port: config.mssante.sinkPort });
    started.push(() => smtpSink?.close());
    const sender = await createMssanteSender(
      config.mssante,
      smtpSink && { url: `smtp://${smtpSink.host}:${smtpSink.port}`, ca: smtpSink.caCertificate },
    );
    started.push(() => sender.close());
    const jobFailed =
      (queueName: string) =>
      (error: { code: string; message: string }, message: { id: string; receiveCount: number }, final: boolean) =>
        (final ? logger.error : logger.warn).call(
          logger,
          final ? 'document job dead-lettered' : 'document job failed',
          {
            queue: queueName,
            queueMessageId: message.id,
            attempt: message.receiveCount,
            error: error.code,
            reason: error.message,
          },
        );
    const cdaWorker = startQueueWorker({
      queue,
      queueName: CDA_QUEUE,
      process: (m) => runCdaJob({ ...labReports, service: platform.service }, m.body),
      describeError: describeDocumentError,
      isPoison: isDocumentPoison,
      concurrency: 2,
      visibilityTimeoutSeconds: config.hl7.visibilityTimeoutSeconds,
      maxReceives: config.mssante.maxReceives,
      events: { failed: jobFailed(CDA_QUEUE) },
    });
    started.push(() => cdaWorker.stop());
    const mssanteDeps = {
      service: platform.service,
      journal: sqlSendJournal(platform.db),
      send: sender.send,
      annuaire: await annuaireFromConfig(config.annuaire, platform.db),
      settings: {
        from: config.mssante.from,
        nil: config.mssante.nil,
        receiptsTo: config.mssante.receiptsTo,
        sourceId: organisation.documentIdRoot,
        messageIdDomain: config.mssante.from.split('@')[1]!,
      },
    };
    const mssanteWorker = startQueueWorker({
      queue,
      queueName: MSSANTE_QUEUE,
      process: (m) => runMssanteJob(mssanteDeps, m.body),
      describeError: describeDocumentError,
      isPoison: isDocumentPoison,
      retryDelaySeconds: mssanteRetryDelays(config.mssante.retryBaseSeconds, config.mssante.retryMaxSeconds),
      concurrency: 4,
      maxReceives: config.mssante.maxReceives,
      // An SMTP transaction with a large archive may take a while on a slow relay.
      visibilityTimeoutSeconds: 300,
      events: { failed: jobFailed(MSSANTE_QUEUE) },
    });
    started.push(() => mssanteWorker.stop());
    const relay = startOutboxRelay({
      db: platform.db,
      routes: DOCUMENT_ROUTES,
      sender: 'same-database',
      intervalMs: 250,
      onRelayed: () => {
        cdaWorker.notify();
        mssanteWorker.notify();
      },
      onError: (err) => logger.warn('outbox relay failed', { error: err instanceof Error ? err.name : 'unknown' }),
    });
    started.push(() => relay.stop());

    const archive = config.hl7.rawArchive === 'database' ? databaseArchive(platform.db) : documentArchive(documents);
    const ingestReport: IngestReport = {
      log: (line) => logger[line.level].call(logger, line.message, line.attributes),
      applied: () => relay.notify(),
    };
    // On a PostgreSQL server the worker gets its own thread (and pool), off the event loop that ACKs; an embedded
    // database belongs to this thread.
    const ingestThread = config.hl7.workerThread ? await startIngestThread(config, ingestReport) : undefined;
    const worker =
      ingestThread ??
      startIngestWorker({
        config,
        db: platform.db,
        queue,
        service: platform.service,
        documents,
        archive,
        report: ingestReport,
        batchUnderLoad: BATCH_UNDER_LOAD,
      });
    started.push(() => worker.stop());

    // Audit trail: AuditEvents recorded in the outbox become resources, chained and sealed with the local key.
    auditTrail = startAuditTrail({
      db: platform.db,
      repo: platform.service.repo,
      key: sealKey,
      onError: (err) => logger.warn('audit trail run failed', { error: err instanceof Error ? err.name : 'unknown' }),
    });
    started.push(() => auditTrail?.stop());

    // MLLP: AA once the message is committed in the local queue (PGlite does not fsync: a process crash keeps it, a
    // power loss may not; in AWS the durability is SQS's). Messages arriving together share one commit.
    const send = groupCommit(queue, HL7_INBOUND_QUEUE);
    const refusals = createRefusalLog();
    const logRefusals = () => {
      for (const { level: _level, message, ...fields } of refusals.drain()) logger.warn(message, fields);
    };
    const refusalTimer = setInterval(logRefusals, REFUSAL_LOG_MS);
    refusalTimer.unref();
    if (config.mllp.logContent !== 'off') logger.warn(CONTENT_LOG_WARNING, { mode: config.mllp.logContent });
    const onContent = contentLogger(config.mllp.logContent, ({ message, ...fields }) => logger.info(message, fields));
    const bridge = createMllpServer({
      ...(tls ? { tls } : {}),
      ...(onContent ? { onContent } : {}),
      onEvent: (e) => {
        bridgeMetrics.recordEvent(e);
        refusals.record(e);
      },
      registry,
      accepts: (type, event) => messageKind(type, event) !== undefined,
      maxConnections: config.mllp.maxConnections,
      idleTimeoutMs: config.mllp.idleTimeoutMs,
      frameTimeoutMs: config.mllp.frameTimeoutMs,
      enqueue: async (msg) => {
        const body: Record<string, string> = { message: msg.body, receivedAt: msg.receivedAt.toISOString() };
        if (msg.ippSystem) body['ippSystem'] = msg.ippSystem;
        await send({ body: JSON.stringify(body), groupId: msg.groupId, deduplicationId: msg.deduplicationId });
        worker.notify();
      },
    });
    const mllpPort = await bridge.listen(config.mllp.port, config.mllp.host);
    mllpListening = true;

    const purge = async () => {
      try {
        const removed = await purgeRawMessages(archive, config.hl7.rawRetentionDays);
        if (removed) logger.info('raw HL7 messages purged', { removed, retentionDays: config.hl7.rawRetentionDays });
      } catch (err) {
        logger.warn('raw HL7 retention failed', { error: err instanceof Error ? err.name : 'unknown' });
      }
    };
    void purge();
    const purgeTimer = setInterval(() => void purge(), HOUR_MS);
    purgeTimer.unref();
    // Autovacuum refreshes planner statistics once a minute at best (never on PGlite): tables filled in seconds by
    // the MLLP bridge and the worker would be planned as if empty meanwhile.
    let refreshing = false;
    const statsTimer = setInterval(() => {
      if (refreshing) return;
      refreshing = true;
      refreshGrownTableStats(platform.db)
        .catch(() => undefined)
        .finally(() => {
          refreshing = false;
        });
    }, STATS_CHECK_MS);
    statsTimer.unref();

    return {
      platform,
      queue,
      documents,
      archive,
      worker,
      cdaWorker,
      mssanteWorker,
      auditTrail: { runNow: () => auditTrail?.runNow() ?? Promise.resolve() },
      smtpSink: smtpSink && { port: smtpSink.port, dir: config.mssante.outboxDir },
      bridge,
      sqlRoundTrips: () => platform.db.stats.roundTrips + (ingestThread?.sqlRoundTrips ?? 0),
      http,
      fhirBaseUrl: baseUrl,
      httpPort,
      mllpPort,
      async stop() {
        clearInterval(purgeTimer);
        clearInterval(statsTimer);
        await bridge.close(10_000);
        clearInterval(refusalTimer);
        logRefusals();
        await worker.stop();
        await relay.stop();
        await auditTrail?.stop();
        await Promise.all([cdaWorker.stop(), mssanteWorker.stop()]);
        sender.close();
        await smtpSink?.close();
        http.close();
        http.closeIdleConnections();
        setTimeout(() => http.closeAllConnections(), 5_000).unref();
        await new Promise<void>((r) => (http.listening ? http.once('close', () => r()) : r()));
        await platform.db.close();
      },
    };
  } catch (err) {
    for (const undo of started.reverse())
      await Promise.resolve()
        .then(undo)
        .catch(() => undefined);
    throw err;
  }
}
