/**
 * The whole platform in one process (what `npm start` runs, and what the e2e tests and the hl7 benchmark start):
 * FHIR API over HTTP, MLLP bridge → local durable queue (group commit) → HL7 ingest worker → FHIR store, documents
 * in `$PFI_DATA_DIR/documents` (or S3), retention of raw HL7 messages.
 */

import type { Server } from 'node:http';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { DocumentStore } from '../lambdas/adapters/documents/document-store.js';
import { documentStoreFromConfig } from '../lambdas/adapters/documents/from-config.js';
import { coalesce } from '../lambdas/adapters/queue/coalesce.js';
import { groupCommit } from '../lambdas/adapters/queue/group-commit.js';
import { SqlQueue } from '../lambdas/adapters/queue/sql-queue.js';
import { refreshGrownTableStats } from '../lambdas/adapters/sql/table-stats.js';
import type { Config } from '../lambdas/config.js';
import { createLocalServer, listen } from '../lambdas/fhir/local-server.js';
import { createFhirPlatform, type FhirPlatform } from '../lambdas/fhir/platform.js';
import { resolveInboundBody } from '../lambdas/hl7/inbound-body.js';
import { createCommitLock, type InboundHl7, ingestBatch, purgeRawMessages } from '../lambdas/hl7/ingest.js';
import { messageKind } from '../lambdas/hl7/map/message.js';
import { HL7_INBOUND_QUEUE } from '../lambdas/hl7/queues.js';
import { databaseArchive, documentArchive, type RawMessageArchive } from '../lambdas/hl7/raw-archive.js';
import { type Hl7Worker, startHl7Worker } from '../lambdas/hl7/worker.js';
import { loadRegistryFile, openRegistry } from '../mllp-bridge/src/registry.js';
import { createMllpServer, type MllpServer } from '../mllp-bridge/src/server.js';

export { HL7_INBOUND_QUEUE };

const HOUR_MS = 3_600_000;
const STATS_CHECK_MS = 2_000;

export interface LocalPlatform {
  platform: FhirPlatform;
  queue: SqlQueue;
  documents: DocumentStore;
  archive: RawMessageArchive;
  worker: Hl7Worker;
  bridge: MllpServer;
  http: Server;
  fhirBaseUrl: string;
  httpPort: number;
  mllpPort: number;
  stop(): Promise<void>;
}

export interface LocalPlatformOptions {
  logger: Logger;
}

export async function startLocalPlatform(config: Config, opts: LocalPlatformOptions): Promise<LocalPlatform> {
  const { logger } = opts;
  let baseUrl = config.fhirBaseUrl ?? '';
  const documents = await documentStoreFromConfig(config.documents);
  const platform = await createFhirPlatform(config, {
    baseUrl: () => baseUrl,
    documents,
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
  const http = createLocalServer({
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
  const httpPort = await listen(http, config.http.port, config.http.host);
  if (!config.fhirBaseUrl) baseUrl = `http://${config.http.host}:${httpPort}/fhir`;

  const practitioners = new Map<string, string>();
  const archive = config.hl7.rawArchive === 'database' ? databaseArchive(platform.db) : documentArchive(documents);
  const ingestDeps = { service: platform.service, documents, archive, practitioners };
  // The messages the worker received together are applied as one batch (a few statements for all of them). While
  // one batch is written, the next is read and applied in memory; their writes run one after the other.
  const commitLock = createCommitLock();
  const ingest = coalesce((inbounds: InboundHl7[]) => ingestBatch(ingestDeps, inbounds, commitLock), {
    maxBatch: config.hl7.workerConcurrency,
    maxInFlight: 2,
  });
  const worker = startHl7Worker({
    queue,
    queueName: HL7_INBOUND_QUEUE,
    concurrency: config.hl7.workerConcurrency * 2,
    maxReceives: config.hl7.maxReceives,
    resolveBody: (body) => resolveInboundBody(body, async (p) => (await documents.get(p.key)).body),
    ingest,
    events: {
      applied: (result) => {
        for (const w of result.warnings) logger.info('hl7 warning', { controlId: result.controlId, warning: w.code });
      },
      failed: (error, message, final) =>
        (final ? logger.error : logger.warn).call(logger, final ? 'hl7 message dead-lettered' : 'hl7 attempt failed', {
          queueMessageId: message.id,
          attempt: message.receiveCount,
          error: error.code,
          reason: error.message,
        }),
    },
  });

  // MLLP: AA once the message is committed in the local queue (PGlite does not fsync: a process crash keeps it, a
  // power loss may not; in AWS the durability is SQS's). Messages arriving together share one commit.
  const send = groupCommit(queue, HL7_INBOUND_QUEUE);
  const bridge = createMllpServer({
    registry: config.mllp.registryFile ? await loadRegistryFile(config.mllp.registryFile) : openRegistry(),
    accepts: (type, event) => messageKind(type, event) !== undefined,
    enqueue: async (msg) => {
      const body: Record<string, string> = { message: msg.body, receivedAt: msg.receivedAt.toISOString() };
      if (msg.ippSystem) body['ippSystem'] = msg.ippSystem;
      await send({ body: JSON.stringify(body), groupId: msg.groupId, deduplicationId: msg.deduplicationId });
      worker.notify();
    },
  });
  const mllpPort = await bridge.listen(config.mllp.port, config.mllp.host);

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
    bridge,
    http,
    fhirBaseUrl: baseUrl,
    httpPort,
    mllpPort,
    async stop() {
      clearInterval(purgeTimer);
      clearInterval(statsTimer);
      await bridge.close(10_000);
      await worker.stop();
      http.close();
      http.closeIdleConnections();
      setTimeout(() => http.closeAllConnections(), 5_000).unref();
      await new Promise<void>((r) => (http.listening ? http.once('close', () => r()) : r()));
      await platform.db.close();
    },
  };
}
