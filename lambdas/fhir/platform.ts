import type { DocumentStore } from '../adapters/documents/document-store.js';
import type { SqlExecutor } from '../adapters/sql/executor.js';
import { executorFromConfig } from '../adapters/sql/from-config.js';
import { migrate } from '../adapters/sql/migrate.js';
import { outboxAuditRecorder } from '../audit/recorder.js';
import { createTokenVerifier, type TokenVerifier } from '../auth/verify.js';
import type { Config } from '../config.js';
import type { HttpRequest, HttpResponse } from './http.js';
import { clientRateLimiter } from './rate-limit.js';
import { FhirRepository } from './repository/repository.js';
import { createRouter, type OperationHandler } from './router.js';
import { FhirService, type WriteTrigger } from './service.js';

export interface FhirPlatform {
  db: SqlExecutor;
  verifier: TokenVerifier;
  service: FhirService;
  handle: (req: HttpRequest) => Promise<HttpResponse>;
}

/**
 * Composition root of the FHIR API: executor chosen by configuration, migrations applied, token
 * verifier, service and router. `baseUrl` may depend on the request (API Gateway host).
 */
export async function createFhirPlatform(
  config: Config,
  opts: {
    baseUrl: string | ((req: HttpRequest) => string);
    db?: SqlExecutor;
    /** Document store for Binary contents kept outside the database (HL7 documents). */
    documents?: DocumentStore;
    onError?: (err: unknown, req: HttpRequest) => void;
    /** Work committed with writes (outbox rows), e.g. MSSanté sends. */
    trigger?: WriteTrigger;
    /** Instance operations (`$generate-cda`…), given the service they run on. */
    operations?: (service: FhirService) => Readonly<Record<string, OperationHandler>>;
    /** Record an AuditEvent for every interaction (default true). */
    audit?: boolean;
  },
): Promise<FhirPlatform> {
  const db = opts.db ?? (await executorFromConfig(config.database));
  let verifier: TokenVerifier;
  try {
    await migrate(db);
    verifier = await createTokenVerifier(config.auth);
  } catch (err) {
    // Do not leave an embedded database open: a retry would open the same directory twice.
    if (!opts.db) await db.close().catch(() => undefined);
    throw err;
  }
  const audit =
    opts.audit === false ? undefined : { recorder: outboxAuditRecorder(db), source: 'pfi-fhir-api' as const };
  const service = new FhirService(new FhirRepository(db, config.maxResourceBytes), opts.documents, opts.trigger, audit);
  const handle = createRouter({
    service,
    operations: opts.operations?.(service),
    verifier,
    baseUrl: opts.baseUrl,
    maxBodyBytes: config.maxBodyBytes,
    rateLimiter: config.rateLimitPerSecond ? clientRateLimiter(config.rateLimitPerSecond) : undefined,
    onError: opts.onError,
  });
  return { db, verifier, service, handle };
}
