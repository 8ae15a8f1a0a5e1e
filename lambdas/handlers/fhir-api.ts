/**
 * Lambda entry point of the FHIR API (API Gateway REST, Lambda proxy integration, `/fhir` and `/fhir/{proxy+}`).
 * Middy wiring and composition only: the translation is in `fhir/apigateway.ts`, the FHIR logic in the router.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { SQSClient } from '@aws-sdk/client-sqs';
import middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { documentStoreFromConfig } from '../adapters/documents/from-config.js';
import { relayOutbox } from '../adapters/queue/outbox-relay.js';
import { sqsSender } from '../adapters/queue/sqs-sender.js';
import { erasureOperations } from '../audit/expunge-operation.js';
import { ConfigError, loadConfig } from '../config.js';
import { documentOperations, loadCdaOrganisation } from '../documents/compose.js';
import { DOCUMENT_ROUTES, documentTriggers } from '../documents/queues.js';
import {
  baseUrlFor,
  internalErrorResponse,
  toHttpRequest,
  toProxyResult,
  unavailableResponse,
} from '../fhir/apigateway.js';
import type { HttpRequest, HttpResponse } from '../fhir/http.js';
import { createFhirPlatform } from '../fhir/platform.js';
import { databaseArchive, documentArchive } from '../hl7/raw-archive.js';

const SERVICE = 'pfi-fhir-api';

/** What the handler needs from the platform. */
export interface FhirApiBackend {
  handle(req: HttpRequest): Promise<HttpResponse>;
  /** PFI_FHIR_BASE_URL when configured; otherwise the base URL comes from the request (Host, stage). */
  configuredBaseUrl: string | undefined;
  close(): Promise<void>;
}

/** Hooks the backend must wire into the router. */
export interface FhirApiHooks {
  /** The public base URL of a request translated by this handler. */
  baseUrl: (req: HttpRequest) => string;
  /** Logs an unexpected error (error name and request id only). */
  onError: (err: unknown, req: HttpRequest) => void;
}

export interface FhirApiDeps {
  /** Creates the backend; called on the first invocation and again after a failure. */
  createBackend: (hooks: FhirApiHooks) => Promise<FhirApiBackend>;
  logger: Logger;
  metrics: Metrics;
  /** Clock for the latency metric, in milliseconds. */
  now?: () => number;
}

export interface FhirApi {
  /** The handler before middy wiring. */
  base: (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;
  /** Closes the backend (database) if it was created; the next invocation creates a new one. */
  close: () => Promise<void>;
}

const errorName = (err: unknown) => (err instanceof Error ? err.name : typeof err);

/**
 * Builds the FHIR API handler around a lazily created backend: created on the first invocation and reused;
 * a failed creation is not cached (the invocation answers 503 and the next one retries).
 *
 * @example
 * const api = createFhirApiHandler({ createBackend: createPlatformBackend, logger, metrics });
 * export const handler = middy(api.base).use(injectLambdaContext(logger)).use(logMetrics(metrics));
 */
export function createFhirApiHandler(deps: FhirApiDeps): FhirApi {
  const { logger, metrics } = deps;
  const now = deps.now ?? (() => performance.now());
  // The router asks for the base URL with the request it was given; the event it came from is known only here.
  const baseUrls = new WeakMap<HttpRequest, string>();
  const hooks: FhirApiHooks = {
    baseUrl: (req) => baseUrls.get(req) ?? '',
    onError: (err, req) =>
      logger.error('Unexpected error in the FHIR API', { error: errorName(err), requestId: req.requestId }),
  };
  let backend: Promise<FhirApiBackend> | undefined;

  function getBackend(): Promise<FhirApiBackend> {
    if (!backend) {
      const attempt = deps.createBackend(hooks);
      backend = attempt;
      attempt.catch(() => {
        if (backend === attempt) backend = undefined;
      });
    }
    return backend;
  }

  async function respond(event: APIGatewayProxyEvent, requestId: string): Promise<HttpResponse> {
    let ready: FhirApiBackend;
    try {
      ready = await getBackend();
    } catch (err) {
      // A ConfigError names the bad variables, never their values; other causes may quote anything.
      logger.error('FHIR platform unavailable', {
        error: errorName(err),
        requestId,
        ...(err instanceof ConfigError ? { detail: err.message } : {}),
      });
      return unavailableResponse();
    }
    let req: HttpRequest | undefined;
    try {
      req = toHttpRequest(event, requestId);
      baseUrls.set(req, baseUrlFor(event, ready.configuredBaseUrl));
      return await ready.handle(req);
    } catch (err) {
      logger.error('Unexpected error in the FHIR API', { error: errorName(err), requestId });
      return internalErrorResponse(requestId);
    }
  }

  return {
    async base(event, context) {
      const started = now();
      // The API Gateway id is the one the client sees (x-amzn-RequestId); the Lambda id is logged by the middleware.
      const requestId = event.requestContext?.requestId || context.awsRequestId;
      logger.setCorrelationId(requestId);
      const res = await respond(event, requestId);
      // No per-route dimension: ids in paths would explode the metric cardinality.
      metrics.addMetric('FhirRequest', MetricUnit.Count, 1);
      metrics.addMetric('FhirLatency', MetricUnit.Milliseconds, Math.max(0, now() - started));
      if (res.status >= 500) metrics.addMetric('FhirServerError', MetricUnit.Count, 1);
      return toProxyResult(res);
    },
    async close() {
      const current = backend;
      backend = undefined;
      if (!current) return;
      let ready: FhirApiBackend;
      try {
        ready = await current;
      } catch {
        return; // never created: nothing to close
      }
      await ready.close();
    },
  };
}

/**
 * The production backend: configuration from the environment (`loadConfig()`), then the FHIR platform
 * (Data API, PostgreSQL or PGlite; JWKS or local tokens, as configured).
 *
 * @example
 * const backend = await createPlatformBackend({ baseUrl: () => 'https://fhir.example.fr/fhir', onError: () => {} });
 */
export async function createPlatformBackend(hooks: FhirApiHooks): Promise<FhirApiBackend> {
  const config = loadConfig();
  // Binary contents of HL7 documents too large for a row are read back from the document store (S3).
  const documents = await documentStoreFromConfig(config.documents);
  const organisation = await loadCdaOrganisation(config.cda, { required: config.documents.kind === 's3' });
  const platform = await createFhirPlatform(config, {
    baseUrl: hooks.baseUrl,
    onError: hooks.onError,
    documents,
    trigger: documentTriggers,
    operations: (service) => ({
      ...documentOperations({ documents, organisation, pdf: config.cda.pdf })(service),
      ...erasureOperations({
        documents,
        archive: config.hl7.rawArchive === 'database' ? databaseArchive(service.repo.db) : documentArchive(documents),
      })(service),
    }),
  });
  const sender = config.queueUrls.mssante ? sqsSender(new SQSClient({}), config.queueUrls) : undefined;
  return {
    async handle(req) {
      const res = await platform.handle(req);
      // A write may have committed outbox rows (a Communication to send): relay them now rather than at the next
      // scheduled relay. Best effort: the schedule catches what this misses.
      if (sender && req.method !== 'GET' && req.method !== 'HEAD' && res.status < 300) {
        await relayOutbox(platform.db, DOCUMENT_ROUTES, { sender }).catch(() => undefined);
      }
      return res;
    },
    configuredBaseUrl: config.fhirBaseUrl,
    close: () => platform.db.close(),
  };
}

const logger = new Logger({ serviceName: SERVICE });
const metrics = new Metrics({ namespace: 'PFI', serviceName: SERVICE });
const api = createFhirApiHandler({ createBackend: createPlatformBackend, logger, metrics });

/** The Lambda handler. */
export const handler = middy(api.base)
  .use(injectLambdaContext(logger, { clearState: true }))
  .use(logMetrics(metrics, { captureColdStartMetric: true }));

/** Closes the database of the module-level handler so a test process can exit. */
export const __closeForTests = api.close;
