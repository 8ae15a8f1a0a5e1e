import { SqlLimitError, SqlTimeoutError, SqlUnavailableError } from '../adapters/sql/executor.js';
import { type AuditAction, agentOf, outcomeOfStatus, type RestInteraction } from '../audit/audit-event.js';
import {
  type AuthContext,
  AuthError,
  authContextFromClaims,
  type TokenVerifier,
  wwwAuthenticate,
} from '../auth/verify.js';
import { binaryBytes, binaryRepresentation } from './binary-content.js';
import { processBundle } from './bundle.js';
import { capabilityStatement } from './capability.js';
import { badRequest, FhirError, notAcceptable, notAllowed, outcome, tooLarge, unsupportedMediaType } from './errors.js';
import { FHIR_JSON, type HttpRequest, type HttpResponse } from './http.js';
import type { RateLimiter } from './rate-limit.js';
import { ResourceGoneError, type StoredResource } from './repository/repository.js';
import { historyBundle, searchBundle } from './responses.js';
import { type FhirService, type InteractionResult, parseResourceBody, queryPairs } from './service.js';

/**
 * An instance-level operation (`POST [type]/[id]/$name`), keyed `Type/$name`. It returns the resource it produced
 * (201 when it created it, 200 when it already existed) or a Bundle/Parameters body.
 */
/** 429: the client is over its request rate. */
class RateLimitedError extends FhirError {
  constructor(readonly retryAfterSeconds: number) {
    super(429, [{ severity: 'error', code: 'throttled', diagnostics: 'Too many requests: retry later' }]);
  }
}

export type OperationHandler = (call: {
  auth: AuthContext;
  type: string;
  id: string;
  req: HttpRequest;
}) => Promise<InteractionResult>;

export interface RouterOptions {
  service: FhirService;
  /** Instance operations by `Type/$name`. */
  operations?: Readonly<Record<string, OperationHandler>>;
  verifier: TokenVerifier;
  /** Public FHIR base URL without trailing slash, or a function of the request (Host header). */
  baseUrl: string | ((req: HttpRequest) => string);
  maxBodyBytes: number;
  /** Per-client rate limit (429 with Retry-After above it); none by default. */
  rateLimiter?: RateLimiter;
  /** Longest accepted query string, in characters (414 above). Default 8,192. */
  maxQueryLength?: number;
  /** Called for unexpected errors; must not log personal data (the request body is never passed). */
  onError?: (err: unknown, req: HttpRequest) => void;
}

type Prefer = 'minimal' | 'representation' | 'OperationOutcome';

const SECURITY_HEADERS = { 'x-content-type-options': 'nosniff' };

/** Parses `If-Match: W/"3"` (or `"3"`) into a version number. */
export function parseETag(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const m = /^(?:W\/)?"(\d{1,9})"$/.exec(value.trim());
  if (!m) throw badRequest('If-Match must be a version ETag like W/"3"');
  return Number(m[1]);
}

function acceptsFhirJson(req: HttpRequest): boolean {
  const format = req.query.find(([k]) => k === '_format')?.[1];
  if (format !== undefined) return /^(json|application\/(fhir\+)?json)$/.test(format);
  const accept = req.headers.accept;
  if (!accept) return true;
  return accept.split(',').some((part) => {
    const type = part.split(';')[0]!.trim().toLowerCase();
    return ['application/fhir+json', 'application/json', 'application/*', '*/*', 'application/json+fhir'].includes(
      type,
    );
  });
}

function requireJsonBody(req: HttpRequest, maxBodyBytes: number): void {
  if (req.body !== undefined && Buffer.byteLength(req.body) > maxBodyBytes) {
    throw tooLarge(`The body exceeds the ${maxBodyBytes} bytes limit`);
  }
  const type = req.headers['content-type']?.split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/fhir+json' && type !== 'application/json' && type !== 'application/json+fhir') {
    throw unsupportedMediaType('The body must be application/fhir+json');
  }
}

function preferReturn(req: HttpRequest): Prefer {
  const m = /return=(minimal|representation|OperationOutcome)/.exec(req.headers.prefer ?? '');
  return (m?.[1] as Prefer | undefined) ?? 'representation';
}

const lenient = (req: HttpRequest) => /handling=lenient/.test(req.headers.prefer ?? '');

function json(status: number, body: unknown, phi = true): HttpResponse {
  return {
    status,
    headers: { 'content-type': FHIR_JSON, ...SECURITY_HEADERS, ...(phi ? { 'cache-control': 'no-store' } : {}) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  };
}

function errorResponse(err: FhirError): HttpResponse {
  const res = json(err.status, err.outcome);
  if (err instanceof ResourceGoneError) {
    res.headers.etag = `W/"${err.versionId}"`;
  }
  return res;
}

/**
 * The FHIR REST router: plain functions from a request to a response, with no HTTP framework and no
 * database inside, so the local server, the Lambda handler and tests share it.
 */
export function createRouter(opts: RouterOptions): (req: HttpRequest) => Promise<HttpResponse> {
  const base = (req: HttpRequest) => (typeof opts.baseUrl === 'string' ? opts.baseUrl : opts.baseUrl(req));

  function resourceResponse(req: HttpRequest, status: number, r: StoredResource, prefer: Prefer): HttpResponse {
    const headers: Record<string, string> = {
      etag: `W/"${r.versionId}"`,
      'last-modified': new Date(r.lastUpdated).toUTCString(),
    };
    if (status === 201 || (req.method !== 'GET' && req.method !== 'HEAD')) {
      headers.location = `${base(req)}/${r.resourceType}/${r.id}/_history/${r.versionId}`;
    }
    if (prefer === 'minimal' && req.method !== 'GET') {
      return { status, headers: { ...headers, ...SECURITY_HEADERS, 'cache-control': 'no-store' } };
    }
    const body =
      prefer === 'OperationOutcome' && req.method !== 'GET'
        ? JSON.stringify(
            outcome('information', 'informational', `${r.resourceType}/${r.id} version ${r.versionId} saved`),
          )
        : r.json;
    const res = json(status, body);
    Object.assign(res.headers, headers);
    return res;
  }

  /** A Binary as its raw content when the client asks for its content type, else as FHIR JSON. */
  async function binaryResponse(req: HttpRequest, stored: StoredResource): Promise<HttpResponse> {
    const { contentType, bytes } = await binaryBytes(stored, undefined);
    const hasFormat = req.query.some(([k]) => k === '_format');
    const representation = hasFormat
      ? acceptsFhirJson(req)
        ? 'fhir'
        : undefined
      : binaryRepresentation(req.headers.accept, contentType);
    if (representation === undefined) {
      throw notAcceptable(`This Binary is served as ${contentType} or application/fhir+json`);
    }
    if (representation === 'fhir') return resourceResponse(req, 200, stored, 'representation');
    const securityContext = (JSON.parse(stored.json) as { securityContext?: { reference?: string } }).securityContext;
    const headers: Record<string, string> = {
      'content-type': contentType,
      'content-length': String(bytes.length),
      etag: `W/"${stored.versionId}"`,
      'last-modified': new Date(stored.lastUpdated).toUTCString(),
      'cache-control': 'no-store',
      // Stored content is not ours to run: a browser opening it gets no script, no same-origin access.
      'content-security-policy': "sandbox; default-src 'none'",
      ...SECURITY_HEADERS,
    };
    if (securityContext?.reference) headers['x-security-context'] = securityContext.reference;
    return { status: 200, headers, rawBody: bytes };
  }

  async function authenticate(req: HttpRequest): Promise<AuthContext> {
    const auth = req.authorizerClaims
      ? authContextFromClaims(req.authorizerClaims)
      : await opts.verifier.verify(req.headers.authorization);
    return req.sourceIp ? { ...auth, address: req.sourceIp } : auth;
  }

  /** What the request was, for its AuditEvent (the service audits the interactions it carries out). */
  function interactionOf(req: HttpRequest): { interaction: RestInteraction; action: AuditAction } {
    const segments = req.path.split('/').filter(Boolean);
    const method = req.method.toUpperCase();
    const [type, id, third] = segments;
    if (!type) return { interaction: 'transaction', action: 'E' };
    if (third?.startsWith('$')) return { interaction: 'operation', action: 'E' };
    if (third === '_history' || id === '_history') {
      return {
        interaction: segments.length === 4 ? 'vread' : id === '_history' ? 'history-type' : 'history-instance',
        action: 'R',
      };
    }
    if (method === 'POST')
      return id === '_search' ? { interaction: 'search-type', action: 'E' } : { interaction: 'create', action: 'C' };
    if (method === 'PUT') return { interaction: 'update', action: 'U' };
    if (method === 'DELETE') return { interaction: 'delete', action: 'D' };
    return id ? { interaction: 'read', action: 'R' } : { interaction: 'search-type', action: 'E' };
  }

  /**
   * The AuditEvent of a refused or failed request (a success is audited by the service, in the write's statement
   * or before the answer), and of a whole Bundle or operation. Content-free: status and the error's code.
   */
  async function recordRequest(
    req: HttpRequest,
    auth: AuthContext | undefined,
    status: number,
    outcomeDesc?: string,
    detail?: string,
  ): Promise<void> {
    const audit = opts.service.audit;
    if (!audit || auth?.internal) return;
    const { interaction, action } = interactionOf(req);
    const [type, id] = req.path.split('/').filter(Boolean);
    await audit.recorder
      .record({
        what: { kind: 'rest', interaction },
        action,
        outcome: outcomeOfStatus(status),
        ...(outcomeDesc ? { outcomeDesc } : {}),
        agent: auth
          ? agentOf(auth, auth.address)
          : { subject: 'unauthenticated', address: req.sourceIp, requestor: true },
        source: audit.source,
        entities: type && id && !id.startsWith('_') && /^[A-Za-z0-9.-]{1,64}$/.test(id) ? [`${type}/${id}`] : [],
        ...(detail ? { detail } : {}),
      })
      .catch((err: unknown) => opts.onError?.(err, req));
  }

  async function route(req: HttpRequest, state: { auth?: AuthContext }): Promise<HttpResponse> {
    const segments = req.path.split('/').filter(Boolean);
    const method = req.method.toUpperCase();
    // A Binary read negotiates its own representation (the raw content or the FHIR resource).
    const binaryRead =
      segments[0] === 'Binary' &&
      (method === 'GET' || method === 'HEAD') &&
      (segments.length === 2 || (segments.length === 4 && segments[2] === '_history'));
    if (!binaryRead && !acceptsFhirJson(req)) throw notAcceptable('Only application/fhir+json is supported');
    const queryLength = req.query.reduce((n, [k, v]) => n + k.length + v.length + 2, 0);
    if (queryLength > (opts.maxQueryLength ?? 8192)) {
      throw new FhirError(414, [
        { severity: 'error', code: 'too-long', diagnostics: 'The query string is too long (use POST _search)' },
      ]);
    }
    if (segments.length === 1 && segments[0] === 'metadata') {
      if (method !== 'GET') throw notAllowed('metadata is read with GET');
      return json(200, capabilityStatement(base(req)), false);
    }
    const auth = await authenticate(req);
    state.auth = auth;
    const client = auth.clientId ?? auth.subject;
    if (opts.rateLimiter && !opts.rateLimiter.take(client)) {
      throw new RateLimitedError(opts.rateLimiter.retryAfterSeconds(client));
    }
    const svc = opts.service;
    const prefer = preferReturn(req);
    const [type, id, third, vid] = segments;

    if (!type) {
      if (method !== 'POST') throw notAllowed('Only batch/transaction Bundles are accepted at the base');
      requireJsonBody(req, opts.maxBodyBytes);
      const bundle = parseResourceBody(req.body, 'Bundle');
      const result = await processBundle(svc, auth, bundle, base(req));
      await recordRequest(req, auth, 200, undefined, `Bundle ${String(bundle['type'])}`);
      return json(200, result);
    }
    if (id === '_search' && segments.length === 2 && method === 'POST') {
      const ct = req.headers['content-type']?.split(';')[0]?.trim().toLowerCase();
      if (req.body !== undefined && Buffer.byteLength(req.body) > opts.maxBodyBytes) {
        throw tooLarge(`The body exceeds the ${opts.maxBodyBytes} bytes limit`);
      }
      if (ct !== 'application/x-www-form-urlencoded')
        throw unsupportedMediaType('POST _search needs application/x-www-form-urlencoded');
      const params = [...req.query, ...queryPairs(req.body ?? '')];
      const { req: sreq, result } = await svc.search(auth, type, params, lenient(req));
      return json(200, searchBundle(base(req), sreq, params, result));
    }
    if (id === '_history' && segments.length === 2 && method === 'GET') {
      const page = await svc.history(auth, type, undefined, req.query);
      return json(200, historyBundle(base(req), `${type}/_history`, req.query, page));
    }
    if (segments.length === 1) {
      switch (method) {
        case 'GET': {
          const { req: sreq, result } = await svc.search(auth, type, req.query, lenient(req));
          return json(200, searchBundle(base(req), sreq, req.query, result));
        }
        case 'POST': {
          requireJsonBody(req, opts.maxBodyBytes);
          const resource = parseResourceBody(req.body, type);
          const r = await svc.create(auth, type, resource, { ifNoneExist: req.headers['if-none-exist'] });
          return resourceResponse(req, r.status, r.resource!, prefer);
        }
        case 'PUT': {
          requireJsonBody(req, opts.maxBodyBytes);
          if (req.query.length === 0) throw badRequest('PUT on a type needs a conditional query or an id');
          const resource = parseResourceBody(req.body, type);
          const query = new URLSearchParams(req.query).toString();
          const r = await svc.conditionalUpdate(auth, type, query, resource);
          return resourceResponse(req, r.status, r.resource!, prefer);
        }
        case 'DELETE': {
          if (req.query.length === 0) throw badRequest('DELETE on a type needs a conditional query');
          await svc.conditionalDelete(auth, type, new URLSearchParams(req.query).toString());
          return { status: 204, headers: { ...SECURITY_HEADERS } };
        }
        default:
          throw notAllowed(`${method} is not allowed on ${type}`);
      }
    }
    if (segments.length === 2 && id) {
      switch (method) {
        case 'GET':
        case 'HEAD': {
          const r = await svc.read(auth, type, id);
          if (binaryRead) return binaryResponse(req, r.resource!);
          const res = resourceResponse(req, 200, r.resource!, prefer);
          const inm = req.headers['if-none-match'];
          if (inm && inm.replace(/^W\//, '') === `"${r.resource!.versionId}"`) {
            return { status: 304, headers: { ...res.headers, 'content-type': FHIR_JSON }, body: undefined };
          }
          return res;
        }
        case 'PUT': {
          requireJsonBody(req, opts.maxBodyBytes);
          const resource = parseResourceBody(req.body, type);
          const r = await svc.update(auth, type, id, resource, { ifMatch: parseETag(req.headers['if-match']) });
          return resourceResponse(req, r.status, r.resource!, prefer);
        }
        case 'DELETE':
          await svc.delete(auth, type, id, { ifMatch: parseETag(req.headers['if-match']) });
          return { status: 204, headers: { ...SECURITY_HEADERS } };
        default:
          throw notAllowed(`${method} is not allowed on ${type}/${id}`);
      }
    }
    if (segments.length === 3 && id && third?.startsWith('$')) {
      const operation = opts.operations?.[`${type}/${third}`];
      if (!operation) {
        throw new FhirError(404, [
          { severity: 'error', code: 'not-supported', diagnostics: `Operation ${third} is not supported on ${type}` },
        ]);
      }
      if (method !== 'POST') throw notAllowed(`${third} is invoked with POST`);
      if (req.body !== undefined && req.body.trim() !== '') {
        requireJsonBody(req, opts.maxBodyBytes);
        parseResourceBody(req.body, 'Parameters');
      }
      const r = await operation({ auth, type, id, req });
      await recordRequest(req, auth, r.status, undefined, third);
      if (r.resource) return resourceResponse(req, r.status, r.resource, prefer);
      return json(r.status, r.body);
    }
    if (third === '_history' && id) {
      if (method !== 'GET') throw notAllowed('History is read with GET');
      if (segments.length === 3) {
        const page = await svc.history(auth, type, id, req.query);
        return json(200, historyBundle(base(req), `${type}/${id}/_history`, req.query, page));
      }
      if (segments.length === 4 && vid) {
        const r = await svc.vread(auth, type, id, vid);
        return binaryRead ? binaryResponse(req, r.resource!) : resourceResponse(req, 200, r.resource!, prefer);
      }
    }
    throw new FhirError(404, [
      { severity: 'error', code: 'not-found', diagnostics: `No route for ${method} ${req.path}` },
    ]);
  }

  return async (req) => {
    const state: { auth?: AuthContext } = {};
    const res = await respond(req, state);
    if (res.status >= 400 && req.path.split('/').filter(Boolean)[0] !== 'metadata') {
      const issue = /"code":"([a-z-]+)"/.exec(res.body ?? '')?.[1];
      await recordRequest(req, state.auth, res.status, `HTTP ${res.status}${issue ? ` ${issue}` : ''}`);
    }
    return res;
  };

  async function respond(req: HttpRequest, state: { auth?: AuthContext }): Promise<HttpResponse> {
    try {
      const res = await route(req, state);
      if (req.method.toUpperCase() === 'HEAD') {
        res.body = undefined;
        res.rawBody = undefined;
      }
      return res;
    } catch (err) {
      if (err instanceof RateLimitedError) {
        const res = errorResponse(err);
        res.headers['retry-after'] = String(err.retryAfterSeconds);
        return res;
      }
      if (err instanceof FhirError) return errorResponse(err);
      if (err instanceof AuthError) {
        const res = json(401, outcome('error', 'login', err.message));
        res.headers['www-authenticate'] = wwwAuthenticate(err);
        return res;
      }
      if (err instanceof SqlUnavailableError) {
        const res = json(503, outcome('error', 'transient', 'The database is unavailable; retry later'));
        res.headers['retry-after'] = '5';
        return res;
      }
      if (err instanceof SqlTimeoutError) {
        // The database cancelled the statement at its time limit: nothing was changed; the same request may pass once
        // the load or the planner's statistics change, a narrower one should.
        return json(
          503,
          outcome(
            'error',
            'too-costly',
            'The request ran past the database time limit and was cancelled; narrow the search (more criteria, a smaller _count) or retry later',
          ),
        );
      }
      opts.onError?.(err, req);
      if (err instanceof SqlLimitError) {
        return json(
          500,
          outcome('error', 'too-costly', 'The answer exceeds the database response limit; use a smaller _count'),
        );
      }
      return json(500, outcome('error', 'exception', `Internal error (request ${req.requestId})`));
    }
  }
}
