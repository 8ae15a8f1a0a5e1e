import type { APIGatewayProxyEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import {
  baseUrlFor,
  internalErrorResponse,
  toHttpRequest,
  toProxyResult,
  unavailableResponse,
} from '../../lambdas/fhir/apigateway.js';
import { API_HOST, apiGatewayIdentity } from '../support/api-gateway.js';

/** A REST API proxy event for `/fhir/{proxy+}` on the execute-api domain, stage `prod`. */
function event(overrides: Partial<APIGatewayProxyEvent> = {}): APIGatewayProxyEvent {
  return {
    httpMethod: 'GET',
    path: '/fhir/Patient/1',
    resource: '/fhir/{proxy+}',
    pathParameters: { proxy: 'Patient/1' },
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    headers: { Host: API_HOST },
    multiValueHeaders: { Host: [API_HOST] },
    body: null,
    isBase64Encoded: false,
    stageVariables: null,
    requestContext: {
      accountId: '123456789012',
      apiId: 'abc123',
      authorizer: null,
      protocol: 'HTTP/1.1',
      httpMethod: 'GET',
      identity: apiGatewayIdentity(),
      domainName: API_HOST,
      path: '/prod/fhir/Patient/1',
      stage: 'prod',
      requestId: 'api-req-1',
      requestTimeEpoch: 1_767_225_600_000,
      resourceId: 'res1',
      resourcePath: '/fhir/{proxy+}',
    },
    ...overrides,
  };
}

describe('toHttpRequest', () => {
  it('takes the path below /fhir from the proxy path parameter', () => {
    const req = toHttpRequest(event({ pathParameters: { proxy: 'Patient/1/_history/2' } }), 'r1');
    expect(req.path).toBe('/Patient/1/_history/2');
    expect(req.method).toBe('GET');
    expect(req.requestId).toBe('r1');
  });

  it('derives the path from event.path when there is no proxy parameter', () => {
    expect(toHttpRequest(event({ pathParameters: null, path: '/fhir' }), 'r').path).toBe('');
    expect(toHttpRequest(event({ pathParameters: null, path: '/fhir/' }), 'r').path).toBe('/');
    expect(toHttpRequest(event({ pathParameters: null, path: '/fhir/metadata' }), 'r').path).toBe('/metadata');
    // A custom domain base path mapping comes before the /fhir segment.
    expect(toHttpRequest(event({ pathParameters: null, path: '/v1/fhir/Patient/2' }), 'r').path).toBe('/Patient/2');
    // `/fhirx` is not the /fhir segment.
    expect(toHttpRequest(event({ pathParameters: null, path: '/fhirx/Patient' }), 'r').path).toBe('/fhirx/Patient');
    expect(toHttpRequest(event({ pathParameters: {}, path: '/fhir/Patient' }), 'r').path).toBe('/Patient');
  });

  it('keeps repeated query parameters from multiValueQueryStringParameters', () => {
    const req = toHttpRequest(
      event({
        queryStringParameters: { name: 'b', _count: '10' },
        multiValueQueryStringParameters: { name: ['a', 'b'], _count: ['10'], 'birthdate:missing': ['false'] },
      }),
      'r',
    );
    expect(req.query).toEqual([
      ['name', 'a'],
      ['name', 'b'],
      ['_count', '10'],
      ['birthdate:missing', 'false'],
    ]);
  });

  it('does not decode query values again (API Gateway already did)', () => {
    const req = toHttpRequest(event({ multiValueQueryStringParameters: { identifier: ['urn:oid:1.2|100%25'] } }), 'r');
    expect(req.query).toEqual([['identifier', 'urn:oid:1.2|100%25']]);
  });

  it('falls back to queryStringParameters, and to no query at all', () => {
    expect(toHttpRequest(event({ queryStringParameters: { _id: '1' } }), 'r').query).toEqual([['_id', '1']]);
    expect(toHttpRequest(event(), 'r').query).toEqual([]);
  });

  it('lower-cases header names and joins repeated values with ", "', () => {
    const req = toHttpRequest(
      event({
        headers: { Accept: 'application/json', 'Content-Type': 'application/fhir+json' },
        multiValueHeaders: {
          Accept: ['application/fhir+json', 'application/json'],
          'Content-Type': ['application/fhir+json'],
          'X-Forwarded-For': ['198.51.100.1'],
          'x-forwarded-for': ['198.51.100.2'],
        },
      }),
      'r',
    );
    expect(req.headers).toEqual({
      accept: 'application/fhir+json, application/json',
      'content-type': 'application/fhir+json',
      'x-forwarded-for': '198.51.100.1, 198.51.100.2',
    });
  });

  it('uses the single-value headers when multiValueHeaders is absent or empty', () => {
    const headers = { Authorization: 'Bearer t', 'If-Match': 'W/"2"' };
    expect(toHttpRequest(event({ headers, multiValueHeaders: {} }), 'r').headers).toEqual({
      authorization: 'Bearer t',
      'if-match': 'W/"2"',
    });
    const noMulti = { ...event({ headers }), multiValueHeaders: undefined } as unknown as APIGatewayProxyEvent;
    expect(toHttpRequest(noMulti, 'r').headers.authorization).toBe('Bearer t');
  });

  it('passes a text body through and decodes a base64 body as UTF-8', () => {
    const json = '{"resourceType":"Patient","name":[{"family":"Lefèvre"}]}';
    expect(toHttpRequest(event({ httpMethod: 'POST', body: json }), 'r').body).toBe(json);
    const encoded = Buffer.from(json, 'utf8').toString('base64');
    const req = toHttpRequest(event({ httpMethod: 'POST', body: encoded, isBase64Encoded: true }), 'r');
    expect(req.body).toBe(json);
    expect(req.method).toBe('POST');
  });

  it('has no body when API Gateway sends null or an empty string', () => {
    expect(toHttpRequest(event({ body: null }), 'r')).not.toHaveProperty('body');
    expect(toHttpRequest(event({ body: '' }), 'r')).not.toHaveProperty('body');
  });

  it('takes the source IP from the request identity', () => {
    expect(toHttpRequest(event(), 'r').sourceIp).toBe('203.0.113.7');
  });

  it('passes Cognito authorizer claims through', () => {
    const base = event();
    const claims = { sub: 'user-1', client_id: 'app', scope: 'system/Patient.rs', token_use: 'access' };
    const req = toHttpRequest({ ...base, requestContext: { ...base.requestContext, authorizer: { claims } } }, 'r');
    expect(req.authorizerClaims).toEqual(claims);
  });

  it('has no authorizer claims without an authorizer, or with claims that are not an object or are empty', () => {
    const base = event();
    expect(toHttpRequest(base, 'r')).not.toHaveProperty('authorizerClaims');
    for (const authorizer of [
      undefined,
      {},
      { claims: null },
      { claims: 'sub=x' },
      { claims: ['x'] },
      { claims: {} },
    ]) {
      const req = toHttpRequest({ ...base, requestContext: { ...base.requestContext, authorizer } }, 'r');
      expect(req.authorizerClaims).toBeUndefined();
    }
  });
});

describe('baseUrlFor', () => {
  it('prefers the configured base URL, without a trailing slash', () => {
    expect(baseUrlFor(event(), 'https://fhir.example.fr/fhir')).toBe('https://fhir.example.fr/fhir');
    expect(baseUrlFor(event(), 'https://fhir.example.fr/fhir/')).toBe('https://fhir.example.fr/fhir');
  });

  it('adds the stage on the execute-api domain', () => {
    expect(baseUrlFor(event(), undefined)).toBe(`https://${API_HOST}/prod/fhir`);
    expect(baseUrlFor(event({ path: '/fhir' }), '')).toBe(`https://${API_HOST}/prod/fhir`);
  });

  it('adds the stage on a private API endpoint and a China region', () => {
    const host = 'abc123-vpce-0123456789abcdef0.execute-api.cn-north-1.amazonaws.com.cn';
    const base = event({ headers: { Host: host }, multiValueHeaders: { Host: [host] } });
    const e = { ...base, requestContext: { ...base.requestContext, domainName: host, stage: 'v1' } };
    expect(baseUrlFor(e, undefined)).toBe(`https://${host}/v1/fhir`);
  });

  it('has no stage on a custom domain, and keeps its base path mapping', () => {
    const host = 'api.hopital.example.fr';
    const base = event({ headers: { host }, multiValueHeaders: { host: [host] } });
    const custom = { ...base, requestContext: { ...base.requestContext, domainName: host } };
    expect(baseUrlFor(custom, undefined)).toBe(`https://${host}/fhir`);
    expect(baseUrlFor({ ...custom, path: '/v1/fhir/Patient/1' }, undefined)).toBe(`https://${host}/v1/fhir`);
  });

  it('uses the request domain name when the Host header is missing', () => {
    expect(baseUrlFor(event({ headers: {}, multiValueHeaders: {} }), undefined)).toBe(`https://${API_HOST}/prod/fhir`);
  });
});

describe('toProxyResult', () => {
  it('copies status, headers and body', () => {
    const res = { status: 201, headers: { location: 'https://x/fhir/Patient/1/_history/1' }, body: '{}' };
    expect(toProxyResult(res)).toEqual({
      statusCode: 201,
      headers: { ...res.headers, 'strict-transport-security': 'max-age=63072000; includeSubDomains' },
      body: '{}',
    });
  });

  it('sends an empty body when the response has none', () => {
    expect(toProxyResult({ status: 204, headers: {} })).toEqual({
      statusCode: 204,
      headers: { 'strict-transport-security': 'max-age=63072000; includeSubDomains' },
      body: '',
    });
  });

  it('base64-encodes raw content (a Binary served as its own type)', () => {
    const rawBody = Buffer.from([0x25, 0x50, 0x44, 0x46, 0x00, 0xff]);
    const res = toProxyResult({ status: 200, headers: { 'content-type': 'application/pdf' }, rawBody });
    expect(res).toEqual({
      statusCode: 200,
      headers: {
        'content-type': 'application/pdf',
        'strict-transport-security': 'max-age=63072000; includeSubDomains',
      },
      body: rawBody.toString('base64'),
      isBase64Encoded: true,
    });
  });
});

describe('fallback responses', () => {
  it('503 is an OperationOutcome with nosniff and retry-after, naming no cause', () => {
    const res = unavailableResponse();
    expect(res.status).toBe(503);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['retry-after']).toBe('5');
    expect(res.headers['content-type']).toMatch(/^application\/fhir\+json/);
    expect(JSON.parse(res.body ?? '')).toMatchObject({
      resourceType: 'OperationOutcome',
      issue: [{ severity: 'error', code: 'transient' }],
    });
  });

  it('500 names the request id', () => {
    const res = internalErrorResponse('api-req-9');
    expect(res.status).toBe(500);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(JSON.parse(res.body ?? '').issue[0].diagnostics).toContain('api-req-9');
  });
});
