import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { outcome } from './errors.js';
import { FHIR_JSON, type HttpRequest, type HttpResponse } from './http.js';

/**
 * Translation between API Gateway REST (Lambda proxy integration, resources `/fhir` and `/fhir/{proxy+}`) and the
 * router's request model. Pure functions: no AWS call, no logging.
 */

/** Default API Gateway endpoint (`{api}.execute-api.{region}.amazonaws.com[.cn]`, private `{api}-{vpce}…`): paths start with the stage. */
const EXECUTE_API_DOMAIN = /\.execute-api\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$/i;

/** `/fhir/Patient/1` → index just after `/fhir`, or -1 when the path has no `/fhir` segment. */
function endOfFhirSegment(path: string): number {
  const m = /\/fhir(?=\/|$)/.exec(path);
  return m ? m.index + m[0].length : -1;
}

/** The path below the FHIR base: `/Patient/1`, `/metadata`, or `` for the base itself. */
function fhirPath(event: APIGatewayProxyEvent): string {
  const proxy = event.pathParameters?.proxy;
  if (proxy !== undefined && proxy !== '') return `/${proxy}`;
  const path = event.path ?? '';
  const end = endOfFhirSegment(path);
  return end === -1 ? path : path.slice(end);
}

function queryPairs(event: APIGatewayProxyEvent): [string, string][] {
  const pairs: [string, string][] = [];
  const multi = event.multiValueQueryStringParameters;
  if (multi) {
    // API Gateway groups repeats by name (order within a name is kept) and has already URL-decoded them.
    for (const [name, values] of Object.entries(multi)) {
      for (const value of values ?? []) pairs.push([name, value]);
    }
    return pairs;
  }
  for (const [name, value] of Object.entries(event.queryStringParameters ?? {})) {
    if (value !== undefined) pairs.push([name, value]);
  }
  return pairs;
}

function lowerCaseHeaders(event: APIGatewayProxyEvent): Record<string, string | undefined> {
  const values = new Map<string, string[]>();
  const add = (name: string, value: string) => {
    const key = name.toLowerCase();
    const list = values.get(key);
    if (list) list.push(value);
    else values.set(key, [value]);
  };
  const multi = event.multiValueHeaders;
  if (multi && Object.keys(multi).length > 0) {
    for (const [name, list] of Object.entries(multi)) for (const v of list ?? []) add(name, v);
  } else {
    for (const [name, v] of Object.entries(event.headers ?? {})) if (v !== undefined) add(name, v);
  }
  const headers: Record<string, string | undefined> = {};
  for (const [name, list] of values) headers[name] = list.join(', ');
  return headers;
}

function decodedBody(event: APIGatewayProxyEvent): string | undefined {
  if (event.body === null || event.body === undefined || event.body === '') return undefined;
  return event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
}

/** Claims of a Cognito user pool authorizer; undefined when no authorizer verified the caller. */
function authorizerClaims(event: APIGatewayProxyEvent): Record<string, unknown> | undefined {
  const claims: unknown = event.requestContext?.authorizer?.claims;
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) return undefined;
  // An empty object names nobody: let the router check the bearer token instead.
  return Object.keys(claims).length > 0 ? (claims as Record<string, unknown>) : undefined;
}

/**
 * Turns an API Gateway REST proxy event into the router's request.
 *
 * @example
 * const req = toHttpRequest(event, event.requestContext.requestId);
 * const res = await platform.handle(req);
 */
export function toHttpRequest(event: APIGatewayProxyEvent, requestId: string): HttpRequest {
  const req: HttpRequest = {
    method: event.httpMethod,
    path: fhirPath(event),
    query: queryPairs(event),
    headers: lowerCaseHeaders(event),
    requestId,
  };
  const body = decodedBody(event);
  if (body !== undefined) req.body = body;
  const claims = authorizerClaims(event);
  if (claims !== undefined) req.authorizerClaims = claims;
  const sourceIp = event.requestContext?.identity?.sourceIp;
  if (sourceIp) req.sourceIp = sourceIp;
  return req;
}

/**
 * The public FHIR base URL of a request: `configured` (PFI_FHIR_BASE_URL) when set; otherwise
 * `https://<host>/<stage>/fhir` on the execute-api domain, or `https://<host>[/<base path>]/fhir` on a custom
 * domain (which has no stage in its URLs, and whose `event.path` carries the base path mapping).
 *
 * @example
 * baseUrlFor(event, undefined); // 'https://abc123.execute-api.eu-west-3.amazonaws.com/prod/fhir'
 */
export function baseUrlFor(event: APIGatewayProxyEvent, configured: string | undefined): string {
  if (configured) return configured.replace(/\/+$/, '');
  const headers = lowerCaseHeaders(event);
  const domain = event.requestContext?.domainName;
  const host = headers.host?.split(',')[0]?.trim() || domain || 'localhost';
  const path = event.path ?? '';
  const end = endOfFhirSegment(path);
  const prefix = end === -1 ? '/fhir' : path.slice(0, end);
  const onExecuteApi = EXECUTE_API_DOMAIN.test(domain || host);
  const stage = event.requestContext?.stage;
  return onExecuteApi && stage ? `https://${host}/${stage}${prefix}` : `https://${host}${prefix}`;
}

/**
 * Turns the router's response into the Lambda proxy result.
 *
 * @example
 * return toProxyResult(await platform.handle(req));
 */
/** API Gateway serves HTTPS only: browsers must keep to it (two years, subdomains included). */
export const HSTS = 'max-age=63072000; includeSubDomains';

export function toProxyResult(res: HttpResponse): APIGatewayProxyResult {
  const headers = { 'strict-transport-security': HSTS, ...res.headers };
  // Raw bytes travel base64-encoded (the REST API must list the media types as binary, or `*/*`).
  if (res.rawBody) {
    return {
      statusCode: res.status,
      headers,
      body: res.rawBody.toString('base64'),
      isBase64Encoded: true,
    };
  }
  return { statusCode: res.status, headers, body: res.body ?? '' };
}

/**
 * The 503 answered when the platform cannot be created (bad configuration, database down). The diagnostics
 * stay generic: the cause goes to the logs, not to the client.
 *
 * @example
 * return unavailableResponse();
 */
export function unavailableResponse(): HttpResponse {
  return {
    status: 503,
    headers: {
      'content-type': FHIR_JSON,
      'x-content-type-options': 'nosniff',
      'cache-control': 'no-store',
      'retry-after': '5',
    },
    body: JSON.stringify(outcome('error', 'transient', 'The FHIR service is unavailable; retry later')),
  };
}

/**
 * The 500 answered when handling fails outside the router's own error handling.
 *
 * @example
 * return internalErrorResponse(req.requestId);
 */
export function internalErrorResponse(requestId: string): HttpResponse {
  return {
    status: 500,
    headers: { 'content-type': FHIR_JSON, 'x-content-type-options': 'nosniff', 'cache-control': 'no-store' },
    body: JSON.stringify(outcome('error', 'exception', `Internal error (request ${requestId})`)),
  };
}
