import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { binaryRepresentation } from '../../lambdas/fhir/binary-content.js';
import { createTestPlatform, type TestPlatform } from '../support/platform.js';

describe('binaryRepresentation', () => {
  it.each([
    [undefined, 'application/pdf', 'fhir'],
    ['*/*', 'application/pdf', 'fhir'],
    ['application/fhir+json', 'application/pdf', 'fhir'],
    ['application/pdf', 'application/pdf', 'raw'],
    ['application/pdf, application/fhir+json', 'application/pdf', 'fhir'],
    ['text/xml;q=0.9, */*;q=0.1', 'text/xml', 'raw'],
    ['text/*', 'text/xml; charset=utf-8', 'raw'],
    ['application/pdf;q=0', 'application/pdf', undefined],
    ['text/html', 'application/pdf', undefined],
  ] as const)('Accept %s for %s → %s', (accept, type, expected) => {
    expect(binaryRepresentation(accept, type)).toBe(expected);
  });
});

describe('GET /fhir/Binary/<id>', () => {
  let t: TestPlatform;
  let id: string;
  const pdf = Buffer.from('%PDF-1.4\n% PFI test\n%%EOF\n', 'latin1');

  beforeAll(async () => {
    t = await createTestPlatform();
    const res = await t.call('POST', '/Binary', {
      body: { resourceType: 'Binary', contentType: 'application/pdf', data: pdf.toString('base64') },
    });
    expect(res.status).toBe(201);
    id = res.json().id;
  });
  afterAll(async () => {
    await t?.close();
  });

  it('serves the raw bytes with the Binary content type when the client asks for it', async () => {
    const res = await t.call('GET', `/Binary/${id}`, { headers: { accept: 'application/pdf' } });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/pdf');
    expect(res.headers['content-length']).toBe(String(pdf.length));
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['content-security-policy']).toContain('sandbox');
    expect(res.headers.etag).toBe('W/"1"');
    expect(res.rawBody?.equals(pdf)).toBe(true);
    expect(res.body).toBeUndefined();
  });

  it('serves the FHIR Binary otherwise, and for a version read', async () => {
    for (const headers of [{}, { accept: 'application/fhir+json' }, { accept: '*/*' }] as Record<string, string>[]) {
      const res = await t.call('GET', `/Binary/${id}`, { headers });
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/fhir\+json/);
      expect(res.json()).toMatchObject({ resourceType: 'Binary', contentType: 'application/pdf' });
    }
    const raw = await t.call('GET', `/Binary/${id}/_history/1`, { headers: { accept: 'application/pdf' } });
    expect(raw.rawBody?.equals(pdf)).toBe(true);
    const json = await t.call('GET', `/Binary/${id}?_format=json`, { headers: { accept: 'application/pdf' } });
    expect(json.json().resourceType).toBe('Binary');
  });

  it('answers 406 when the client accepts neither, and still needs a token', async () => {
    const res = await t.call('GET', `/Binary/${id}`, { headers: { accept: 'text/html' } });
    expect(res.status).toBe(406);
    expect(res.json().resourceType).toBe('OperationOutcome');
    const anonymous = await t.call('GET', `/Binary/${id}`, { token: null, headers: { accept: 'application/pdf' } });
    expect(anonymous.status).toBe(401);
    const other = await t.call('GET', `/Patient/${id}`, { headers: { accept: 'application/pdf' } });
    expect(other.status).toBe(406);
  });

  it('HEAD sends the headers without the bytes', async () => {
    const res = await t.call('HEAD', `/Binary/${id}`, { headers: { accept: 'application/pdf' } });
    expect(res.status).toBe(200);
    expect(res.headers['content-length']).toBe(String(pdf.length));
    expect(res.rawBody).toBeUndefined();
  });
});
