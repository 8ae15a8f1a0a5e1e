import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadOrCreateLocalKeys, signLocalToken } from '../../lambdas/auth/local-keys.js';
import { ConfigError } from '../../lambdas/config.js';
import { HSTS } from '../../lambdas/fhir/apigateway.js';
import type { HttpRequest, HttpResponse } from '../../lambdas/fhir/http.js';
import { apiGatewayIdentity, API_HOST as HOST } from '../support/api-gateway.js';

type HandlerModule = typeof import('../../lambdas/handlers/fhir-api.js');

const PATIENT = { resourceType: 'Patient', name: [{ family: 'Test', given: ['Un'] }], gender: 'female' };

let seq = 0;

interface EmfDirective {
  Namespace: string;
  Dimensions: string[][];
  Metrics: { Name: string; Unit: string }[];
}

/** A realistic REST API proxy event for `/fhir/{proxy+}` (or `/fhir` when `path` is empty), stage `prod`. */
function apiEvent(
  method: string,
  path: string,
  opts: {
    headers?: Record<string, string>;
    query?: Record<string, string[]>;
    body?: string;
    claims?: Record<string, string>;
  } = {},
): APIGatewayProxyEvent {
  const headers: Record<string, string> = { Host: HOST, Accept: 'application/fhir+json', ...opts.headers };
  const requestId = `api-req-${++seq}`;
  return {
    httpMethod: method,
    path: `/fhir${path}`,
    resource: path === '' ? '/fhir' : '/fhir/{proxy+}',
    pathParameters: path === '' ? null : { proxy: path.slice(1) },
    queryStringParameters: opts.query
      ? Object.fromEntries(Object.entries(opts.query).map(([k, v]) => [k, v[v.length - 1] ?? '']))
      : null,
    multiValueQueryStringParameters: opts.query ?? null,
    headers,
    multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
    body: opts.body ?? null,
    isBase64Encoded: false,
    stageVariables: null,
    requestContext: {
      accountId: '123456789012',
      apiId: 'abc123',
      authorizer: opts.claims ? { claims: opts.claims } : null,
      protocol: 'HTTP/1.1',
      httpMethod: method,
      identity: apiGatewayIdentity(),
      domainName: HOST,
      path: `/prod/fhir${path}`,
      stage: 'prod',
      requestId,
      requestTimeEpoch: Date.now(),
      resourceId: 'res1',
      resourcePath: path === '' ? '/fhir' : '/fhir/{proxy+}',
    },
  };
}

function lambdaContext(): Context {
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: 'pfi-fhir-api',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:eu-west-3:123456789012:function:pfi-fhir-api',
    memoryLimitInMB: '1024',
    awsRequestId: `lambda-req-${++seq}`,
    logGroupName: '/aws/lambda/pfi-fhir-api',
    logStreamName: '2026/01/01/[$LATEST]0123456789abcdef',
    getRemainingTimeInMillis: () => 29_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** Everything Powertools prints (POWERTOOLS_DEV routes logs and metrics to the global console). */
const printed: string[] = [];
const printedJson = () =>
  printed.flatMap((line) => {
    try {
      return [JSON.parse(line) as Record<string, unknown>];
    } catch {
      return [];
    }
  });

let dir: string;
let mod: HandlerModule;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pfi-fhir-api-'));
  // The module creates its Logger and Metrics at import time: the environment must be set first.
  vi.stubEnv('PFI_DATA_DIR', dir);
  for (const name of [
    'PFI_FHIR_BASE_URL',
    'DATABASE_URL',
    'PFI_DB_CLUSTER_ARN',
    'PFI_DB_SECRET_ARN',
    'PFI_AUTH_MODE',
    'PFI_HTTP_PORT',
    'POWERTOOLS_LOG_LEVEL',
  ]) {
    vi.stubEnv(name, undefined);
  }
  vi.stubEnv('POWERTOOLS_DEV', 'true');
  vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
  vi.stubEnv('AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED', 'true');
  for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
    vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
      printed.push(args.map(String).join(' '));
    });
  }
  mod = await import('../../lambdas/handlers/fhir-api.js');
});

afterAll(async () => {
  await mod?.__closeForTests();
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
  if (dir) await rm(dir, { recursive: true, force: true });
});

beforeEach(() => {
  printed.length = 0;
});

describe('handler (end to end on PGlite, local tokens)', () => {
  let token: string;
  let patientId: string;

  beforeAll(async () => {
    const keys = await loadOrCreateLocalKeys(join(dir, 'keys'));
    token = await signLocalToken(keys, { scopes: 'system/*.cruds' });
  });

  const invoke = (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => mod.handler(event, lambdaContext());

  it('answers 503 when the configuration is invalid, logging the variable but not its value', async () => {
    vi.stubEnv('PFI_HTTP_PORT', 'not-a-port-4821');
    const event = apiEvent('GET', '/metadata');
    const res = await invoke(event);
    vi.stubEnv('PFI_HTTP_PORT', undefined);

    expect(res.statusCode).toBe(503);
    expect(res.headers?.['x-content-type-options']).toBe('nosniff');
    expect(JSON.parse(res.body)).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'transient' }] });
    expect(res.body).not.toContain('PFI_HTTP_PORT');
    const log = printedJson().find((l) => l.message === 'FHIR platform unavailable');
    // injectLambdaContext adds the Lambda context; the API Gateway request id is the correlation id.
    expect(log).toMatchObject({
      level: 'ERROR',
      error: 'ConfigError',
      service: 'pfi-fhir-api',
      function_name: 'pfi-fhir-api',
      correlation_id: event.requestContext.requestId,
      requestId: event.requestContext.requestId,
    });
    expect(String(log?.detail)).toContain('PFI_HTTP_PORT');
    expect(printed.join('\n')).not.toContain('not-a-port-4821');
    const emf = printedJson().find((l) => '_aws' in l && 'FhirServerError' in l);
    expect(emf).toMatchObject({ FhirRequest: 1, FhirServerError: 1, service: 'pfi-fhir-api' });
  });

  it('retries creating the platform on the next invocation: GET /fhir/metadata answers 200', async () => {
    const res = await invoke(apiEvent('GET', '/metadata'));
    expect(res.statusCode).toBe(200);
    expect(res.headers?.['x-content-type-options']).toBe('nosniff');
    const body = JSON.parse(res.body);
    expect(body.resourceType).toBe('CapabilityStatement');
    expect(JSON.stringify(body)).toContain(`https://${HOST}/prod/fhir`);
  });

  it('publishes FhirRequest and FhirLatency (ms) with the service as only dimension', async () => {
    await invoke(apiEvent('GET', '/metadata'));
    const emf = printedJson().find((l) => '_aws' in l && 'FhirRequest' in l);
    expect(emf).toBeDefined();
    expect(emf).toMatchObject({ FhirRequest: 1, service: 'pfi-fhir-api' });
    expect(emf).not.toHaveProperty('FhirServerError');
    expect(typeof emf?.FhirLatency).toBe('number');
    const aws = emf?._aws as { CloudWatchMetrics: EmfDirective[] } | undefined;
    const directive = aws?.CloudWatchMetrics[0];
    expect(directive?.Namespace).toBe('PFI');
    expect(directive?.Dimensions).toEqual([['service']]);
    expect(directive?.Metrics).toEqual(
      expect.arrayContaining([
        { Name: 'FhirRequest', Unit: 'Count' },
        { Name: 'FhirLatency', Unit: 'Milliseconds' },
      ]),
    );
  });

  it('creates a Patient: 201 with a Location built from the Host header and the stage', async () => {
    const res = await invoke(
      apiEvent('POST', '/Patient', {
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/fhir+json' },
        body: JSON.stringify(PATIENT),
      }),
    );
    expect(res.statusCode).toBe(201);
    const location = String(res.headers?.location);
    const m = new RegExp(`^https://${HOST.replaceAll('.', '\\.')}/prod/fhir/Patient/([^/]+)/_history/1$`).exec(
      location,
    );
    expect(m).not.toBeNull();
    patientId = m?.[1] ?? '';
    expect(JSON.parse(res.body).id).toBe(patientId);
  });

  it('reads the Patient back', async () => {
    const res = await invoke(
      apiEvent('GET', `/Patient/${patientId}`, { headers: { Authorization: `Bearer ${token}` } }),
    );
    expect(res.statusCode).toBe(200);
    expect(res.headers?.etag).toBe('W/"1"');
    expect(JSON.parse(res.body)).toMatchObject({ resourceType: 'Patient', id: patientId, gender: 'female' });
  });

  it('searches with repeated query parameters', async () => {
    const res = await invoke(
      apiEvent('GET', '/Patient', {
        headers: { Authorization: `Bearer ${token}` },
        query: { family: ['Test'], gender: ['female'] },
      }),
    );
    expect(res.statusCode).toBe(200);
    const bundle = JSON.parse(res.body);
    expect(bundle.entry.map((e: { resource: { id: string } }) => e.resource.id)).toContain(patientId);
  });

  it('refuses a request without a token: 401 with WWW-Authenticate', async () => {
    const res = await invoke(apiEvent('GET', `/Patient/${patientId}`));
    expect(res.statusCode).toBe(401);
    expect(res.headers?.['www-authenticate']).toBe('Bearer realm="pfi"');
    expect(res.body).not.toContain('Test');
  });

  it('accepts Cognito authorizer claims without a bearer token', async () => {
    const res = await invoke(
      apiEvent('GET', `/Patient/${patientId}`, {
        claims: { sub: 'svc-user', client_id: 'pfi-client', scope: 'system/*.cruds', token_use: 'access' },
      }),
    );
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body).id).toBe(patientId);
  });

  it('checks the scopes carried by authorizer claims', async () => {
    const res = await invoke(
      apiEvent('GET', `/Patient/${patientId}`, {
        claims: { sub: 'svc-user', client_id: 'pfi-client', scope: 'system/Observation.rs', token_use: 'access' },
      }),
    );
    expect(res.statusCode).toBe(403);
  });
});

describe('createFhirApiHandler', () => {
  const quietLogger = () => new Logger({ serviceName: 'test', logLevel: 'SILENT' });
  const metricsSink = () => new Metrics({ namespace: 'Test', serviceName: 'test' });
  const ok = (req: HttpRequest): HttpResponse => ({
    status: 200,
    headers: { 'content-type': 'application/fhir+json' },
    body: JSON.stringify({ path: req.path }),
  });
  const backendOf = (handle: (req: HttpRequest) => Promise<HttpResponse>, configuredBaseUrl?: string) => ({
    handle,
    configuredBaseUrl,
    close: vi.fn(async () => undefined),
  });

  it('creates the backend once and reuses it', async () => {
    const backend = backendOf(async (req) => ok(req));
    const createBackend = vi.fn(async () => backend);
    const api = mod.createFhirApiHandler({ createBackend, logger: quietLogger(), metrics: metricsSink() });
    const [a, b] = await Promise.all([
      api.base(apiEvent('GET', '/metadata'), lambdaContext()),
      api.base(apiEvent('GET', '/Patient'), lambdaContext()),
    ]);
    await api.base(apiEvent('GET', '/Patient/1'), lambdaContext());
    expect(createBackend).toHaveBeenCalledTimes(1);
    expect(JSON.parse(a.body).path).toBe('/metadata');
    expect(JSON.parse(b.body).path).toBe('/Patient');
    await api.close();
    expect(backend.close).toHaveBeenCalledTimes(1);
  });

  it('answers 503 when the backend cannot be created and retries on the next invocation', async () => {
    const logger = quietLogger();
    const error = vi.spyOn(logger, 'error');
    const metrics = metricsSink();
    const addMetric = vi.spyOn(metrics, 'addMetric');
    const createBackend = vi
      .fn<() => Promise<ReturnType<typeof backendOf>>>()
      .mockRejectedValueOnce(new Error('connect ECONNREFUSED 10.0.0.5:5432 patient Dupont'))
      .mockResolvedValueOnce(backendOf(async (req) => ok(req)));
    const api = mod.createFhirApiHandler({ createBackend, logger, metrics });

    const first = await api.base(apiEvent('GET', '/metadata'), lambdaContext());
    expect(first.statusCode).toBe(503);
    expect(first.headers?.['x-content-type-options']).toBe('nosniff');
    expect(first.headers?.['retry-after']).toBe('5');
    expect(JSON.parse(first.body).resourceType).toBe('OperationOutcome');
    expect(first.body).not.toContain('ECONNREFUSED');
    expect(error).toHaveBeenCalledWith('FHIR platform unavailable', { error: 'Error', requestId: expect.any(String) });
    expect(JSON.stringify(error.mock.calls)).not.toContain('Dupont');
    expect(addMetric).toHaveBeenCalledWith('FhirServerError', 'Count', 1);

    const second = await api.base(apiEvent('GET', '/metadata'), lambdaContext());
    expect(second.statusCode).toBe(200);
    expect(createBackend).toHaveBeenCalledTimes(2);
    await api.close();
  });

  it('logs the message of a ConfigError (variable names only)', async () => {
    const logger = quietLogger();
    const error = vi.spyOn(logger, 'error');
    const api = mod.createFhirApiHandler({
      createBackend: async () => {
        throw new ConfigError('Invalid configuration:\n  PFI_DB_NAME: too short');
      },
      logger,
      metrics: metricsSink(),
    });
    const res = await api.base(apiEvent('GET', '/metadata'), lambdaContext());
    expect(res.statusCode).toBe(503);
    expect(error).toHaveBeenCalledWith('FHIR platform unavailable', {
      error: 'ConfigError',
      requestId: expect.any(String),
      detail: 'Invalid configuration:\n  PFI_DB_NAME: too short',
    });
    await api.close();
  });

  it('answers 500 when the backend throws, logging the error name and request id only', async () => {
    const logger = quietLogger();
    const error = vi.spyOn(logger, 'error');
    const api = mod.createFhirApiHandler({
      createBackend: async () =>
        backendOf(async () => {
          throw new TypeError('cannot read name of patient Martin');
        }),
      logger,
      metrics: metricsSink(),
    });
    const event = apiEvent('POST', '/Patient', { body: JSON.stringify({ ...PATIENT, name: [{ family: 'Martin' }] }) });
    const res = await api.base(event, lambdaContext());
    expect(res.statusCode).toBe(500);
    expect(res.body).toContain(event.requestContext.requestId);
    expect(error).toHaveBeenCalledWith('Unexpected error in the FHIR API', {
      error: 'TypeError',
      requestId: event.requestContext.requestId,
    });
    expect(JSON.stringify(error.mock.calls)).not.toContain('Martin');
    await api.close();
  });

  it('gives the router the base URL of each request, or the configured one, and an onError hook', async () => {
    const logger = quietLogger();
    const error = vi.spyOn(logger, 'error');
    let hooks: Parameters<Parameters<HandlerModule['createFhirApiHandler']>[0]['createBackend']>[0] | undefined;
    const seen: string[] = [];
    const api = mod.createFhirApiHandler({
      createBackend: async (h) => {
        hooks = h;
        return backendOf(async (req) => {
          seen.push(h.baseUrl(req));
          return ok(req);
        });
      },
      logger,
      metrics: metricsSink(),
    });
    await api.base(apiEvent('GET', '/metadata'), lambdaContext());
    expect(seen).toEqual([`https://${HOST}/prod/fhir`]);
    // A request the handler did not translate has no known base URL.
    expect(hooks?.baseUrl({ method: 'GET', path: '', query: [], headers: {}, requestId: 'x' })).toBe('');
    hooks?.onError(new RangeError('value 1985-03-02 out of range'), {
      method: 'GET',
      path: '/Patient',
      query: [],
      headers: {},
      body: 'secret',
      requestId: 'req-7',
    });
    expect(error).toHaveBeenCalledWith('Unexpected error in the FHIR API', { error: 'RangeError', requestId: 'req-7' });
    expect(JSON.stringify(error.mock.calls)).not.toMatch(/1985|secret/);
    await api.close();

    const configured = mod.createFhirApiHandler({
      createBackend: async (h) =>
        backendOf(async (req) => {
          seen.push(h.baseUrl(req));
          return ok(req);
        }, 'https://fhir.hopital.example.fr/fhir'),
      logger,
      metrics: metricsSink(),
    });
    await configured.base(apiEvent('GET', '/metadata'), lambdaContext());
    expect(seen[1]).toBe('https://fhir.hopital.example.fr/fhir');
    await configured.close();
  });

  it('records FhirRequest and FhirLatency from the clock, and no FhirServerError below 500', async () => {
    const metrics = metricsSink();
    const addMetric = vi.spyOn(metrics, 'addMetric');
    const times = [1000, 1042.5];
    const api = mod.createFhirApiHandler({
      createBackend: async () => backendOf(async () => ({ status: 404, headers: {} })),
      logger: quietLogger(),
      metrics,
      now: () => times.shift() ?? 0,
    });
    const res = await api.base(apiEvent('GET', '/Patient/x'), lambdaContext());
    expect(res).toEqual({ statusCode: 404, headers: { 'strict-transport-security': HSTS }, body: '' });
    expect(addMetric.mock.calls).toEqual([
      ['FhirRequest', 'Count', 1],
      ['FhirLatency', 'Milliseconds', 42.5],
    ]);
    metrics.clearMetrics();
    await api.close();
  });

  it('uses the Lambda request id when the event has none', async () => {
    const logger = quietLogger();
    const seen: string[] = [];
    const api = mod.createFhirApiHandler({
      createBackend: async () =>
        backendOf(async (req) => {
          seen.push(req.requestId);
          return ok(req);
        }),
      logger,
      metrics: metricsSink(),
    });
    const event = apiEvent('GET', '/metadata');
    const context = lambdaContext();
    await api.base({ ...event, requestContext: { ...event.requestContext, requestId: '' } }, context);
    expect(seen).toEqual([context.awsRequestId]);
    expect(logger.getCorrelationId()).toBe(context.awsRequestId);
    await api.close();
  });

  it('close() before any invocation or after a failed creation does nothing', async () => {
    const createBackend = vi.fn(async () => {
      throw new Error('down');
    });
    const api = mod.createFhirApiHandler({ createBackend, logger: quietLogger(), metrics: metricsSink() });
    await expect(api.close()).resolves.toBeUndefined();
    const pending = api.base(apiEvent('GET', '/metadata'), lambdaContext());
    await expect(api.close()).resolves.toBeUndefined();
    expect((await pending).statusCode).toBe(503);
  });
});
