import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IPP_SYSTEM, observation, patient } from '../support/fixtures.js';
import { createTestPlatform, type TestPlatform } from '../support/platform.js';

/** Regression tests for defects found in review: each failed before its fix. */
let t: TestPlatform;
beforeAll(async () => {
  t = await createTestPlatform();
});
afterAll(async () => {
  await t?.close();
});

const family = (r: { json: () => any }) => r.json().name[0].family as string;

describe('write paths cannot reach resources they should not', () => {
  it('refuses a batch POST that names an id (no overwrite with the create scope)', async () => {
    const p = (await t.call('POST', '/Patient', { body: patient({ family: 'Original' }) })).json();
    const createOnly = await t.token('system/Patient.c');
    const res = await t.call('POST', '', {
      token: createOnly,
      body: {
        resourceType: 'Bundle',
        type: 'batch',
        entry: [{ request: { method: 'POST', url: `Patient/${p.id}` }, resource: patient({ family: 'Hijacked' }) }],
      },
    });
    expect(res.json().entry[0].response.status).toBe('400');
    expect(family(await t.call('GET', `/Patient/${p.id}`))).toBe('Original');
  });

  it('conditional update with no match and the id of an existing resource is a 409; a bad id a 400', async () => {
    const q = (await t.call('POST', '/Patient', { body: patient({ family: 'Kept' }) })).json();
    const res = await t.call('PUT', `/Patient?identifier=${IPP_SYSTEM}|NOMATCH`, {
      body: { ...patient({ family: 'Intruder' }), id: q.id },
    });
    expect(res.status).toBe(409);
    expect(family(await t.call('GET', `/Patient/${q.id}`))).toBe('Kept');
    const long = await t.call('PUT', `/Patient?identifier=${IPP_SYSTEM}|NOMATCH2`, {
      body: { ...patient(), id: 'x'.repeat(200) },
    });
    expect(long.status).toBe(400);
    const ok = await t.call('PUT', `/Patient?identifier=${IPP_SYSTEM}|NOMATCH3`, {
      body: { ...patient({ ipp: 'NOMATCH3' }), id: 'client-id-3' },
    });
    expect(ok.status).toBe(201);
    expect(ok.json().id).toBe('client-id-3');
  });

  it('refuses a stale If-Match even when the content is unchanged', async () => {
    const p = (await t.call('POST', '/Patient', { body: patient({ family: 'V1' }) })).json();
    const v2 = { ...p, name: [{ use: 'official', family: 'V2', given: ['X'] }] };
    expect((await t.call('PUT', `/Patient/${p.id}`, { body: v2 })).status).toBe(200);
    const stale = await t.call('PUT', `/Patient/${p.id}`, { body: v2, headers: { 'if-match': 'W/"1"' } });
    expect(stale.status).toBe(412);
    const current = await t.call('PUT', `/Patient/${p.id}`, { body: v2, headers: { 'if-match': 'W/"2"' } });
    expect(current.status).toBe(200);
    expect(current.headers.etag).toBe('W/"2"');
  });

  it('conditional operations need real search criteria', async () => {
    await t.call('POST', '/Organization', { body: { resourceType: 'Organization', name: 'Seule' } });
    expect((await t.call('DELETE', '/Organization?_count=5')).status).toBe(400);
    expect((await t.call('PUT', '/Organization?_format=json', { body: { resourceType: 'Organization' } })).status).toBe(
      400,
    );
    const res = await t.call('POST', '/Organization', {
      body: { resourceType: 'Organization', name: 'Autre' },
      headers: { 'if-none-exist': '_count=1' },
    });
    expect(res.status).toBe(400);
  });

  it('a transaction POST with If-None-Exist needs the create scope even when it matches', async () => {
    await t.call('POST', '/Patient', { body: patient({ ipp: 'SCOPE-1' }) });
    const searchOnly = await t.token('system/Patient.s');
    const res = await t.call('POST', '', {
      token: searchOnly,
      body: {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          {
            resource: patient({ ipp: 'SCOPE-1' }),
            request: { method: 'POST', url: 'Patient', ifNoneExist: `identifier=${IPP_SYSTEM}|SCOPE-1` },
          },
        ],
      },
    });
    expect(res.status).toBe(403);
  });
});

describe('transaction reference rewriting', () => {
  it('maps the urn:uuid of a conditional PUT, matched or not', async () => {
    const bundle = (ipp: string, fam: string) => ({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        {
          fullUrl: 'urn:uuid:7b1c1f7e-2f3a-4a4e-9c55-000000000001',
          resource: patient({ ipp, family: fam }),
          request: { method: 'PUT', url: `Patient?identifier=${IPP_SYSTEM}|${ipp}` },
        },
        {
          resource: { ...observation('x'), subject: { reference: 'urn:uuid:7b1c1f7e-2f3a-4a4e-9c55-000000000001' } },
          request: { method: 'POST', url: 'Observation' },
        },
      ],
    });
    const first = await t.call('POST', '', { body: bundle('TX-PUT-1', 'Premier') });
    expect(first.status).toBe(200);
    const out = first.json();
    expect(out.entry[0].response.status).toBe('201 Created');
    const patientId = out.entry[0].resource.id;
    expect(out.entry[1].resource.subject.reference).toBe(`Patient/${patientId}`);
    const second = (await t.call('POST', '', { body: bundle('TX-PUT-1', 'Second') })).json();
    expect(second.entry[0].response.status).toBe('200 OK');
    expect(second.entry[0].resource.id).toBe(patientId);
    expect(second.entry[0].resource.name[0].family).toBe('Second');
    expect(second.entry[1].resource.subject.reference).toBe(`Patient/${patientId}`);
  });

  it('refuses a urn:uuid reference that no entry defines', async () => {
    const p = (await t.call('POST', '/Patient', { body: patient() })).json();
    const res = await t.call('POST', '', {
      body: {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          {
            resource: {
              ...observation(p.id),
              performer: [{ reference: 'urn:uuid:00000000-0000-4000-8000-000000000000' }],
            },
            request: { method: 'POST', url: 'Observation' },
          },
        ],
      },
    });
    expect(res.status).toBe(400);
  });
});

describe('malformed input is a 4xx, never a 500', () => {
  const bundle = (type: string, entry: unknown[]) => ({ resourceType: 'Bundle', type, entry });

  it.each(['batch', 'transaction'])('malformed %s entries', async (type) => {
    for (const entry of [
      null,
      { request: { method: 'POST', url: 'Patient', ifNoneExist: 5 }, resource: patient() },
      { request: { method: 'PUT', url: 'Patient/abc', ifMatch: 5 }, resource: { ...patient(), id: 'abc' } },
      { request: { method: 'POST', url: 'Patient' }, resource: 'not a resource' },
    ]) {
      const res = await t.call('POST', '', { body: bundle(type, [entry]) });
      const statuses =
        type === 'batch'
          ? res.json().entry.map((e: { response: { status: string } }) => e.response.status)
          : [String(res.status)];
      expect(statuses).toEqual(['400']);
    }
  });

  it('a dateTime before year 1 once its offset is applied is a 422', async () => {
    const p = (await t.call('POST', '/Patient', { body: patient() })).json();
    const res = await t.call('POST', '/Observation', {
      body: { ...observation(p.id), effectiveDateTime: '0001-01-01T00:00:00+14:00' },
    });
    expect(res.status).toBe(422);
  });

  it('search errors do not echo the value; POST _search checks its content type without case and its size', async () => {
    const res = await t.call('GET', '/Patient?birthdate=1980-02-31-secret');
    expect(res.status).toBe(400);
    expect(res.body).not.toContain('secret');
    const posted = await t.call('POST', '/Patient/_search', {
      body: 'family=x',
      headers: { 'content-type': 'Application/X-WWW-Form-Urlencoded' },
    });
    expect(posted.status).toBe(200);
  });

  it('answers 404 for the history of an unknown resource, and serves history inside a batch', async () => {
    expect((await t.call('GET', '/Patient/never-existed/_history')).status).toBe(404);
    const p = (await t.call('POST', '/Patient', { body: patient() })).json();
    const res = await t.call('POST', '', {
      body: {
        resourceType: 'Bundle',
        type: 'batch',
        entry: [{ request: { method: 'GET', url: `Patient/${p.id}/_history` } }],
      },
    });
    expect(res.json().entry[0].resource.type).toBe('history');
  });

  it('refuses crafted cursors and infinite numbers with 400', async () => {
    const { encodeCursor } = await import('../../lambdas/fhir/search/sql.js');
    const bad = Buffer.from(JSON.stringify({ d: 'n', k: [true], id: 'x' })).toString('base64url');
    expect((await t.call('GET', `/Patient?_cursor=${bad}`)).status).toBe(400);
    expect(encodeCursor({ d: 'n', k: ['2026-01-01'], id: 'x' })).toBeTypeOf('string');
    expect((await t.call('GET', '/Observation?value-quantity=1e400')).status).toBe(400);
  });
});
