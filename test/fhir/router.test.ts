import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IPP_SYSTEM, observation, patient } from '../support/fixtures.js';
import { createTestPlatform, type TestPlatform } from '../support/platform.js';

let t: TestPlatform;
beforeAll(async () => {
  t = await createTestPlatform({ PFI_MAX_BODY_BYTES: '65536' });
});
afterAll(async () => {
  await t?.close();
});

const expectOutcome = (
  res: { status: number; body?: string; json: () => any; headers: Record<string, string> },
  status: number,
) => {
  expect(res.status).toBe(status);
  expect(res.json().resourceType).toBe('OperationOutcome');
  expect(res.headers['x-content-type-options']).toBe('nosniff');
  expect(res.body).not.toMatch(/SELECT|INSERT|at .*\.ts:\d+/);
};

describe('metadata and security headers', () => {
  it('serves the CapabilityStatement without a token', async () => {
    const res = await t.call('GET', '/metadata', { token: null });
    expect(res.status).toBe(200);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    const cs = res.json();
    expect(cs.resourceType).toBe('CapabilityStatement');
    const patientRes = cs.rest[0].resource.find((r: { type: string }) => r.type === 'Patient');
    expect(patientRes.searchParam.map((p: { name: string }) => p.name)).toEqual(
      expect.arrayContaining(['family', 'identifier', 'birthdate', '_id']),
    );
    const audit = cs.rest[0].resource.find((r: { type: string }) => r.type === 'AuditEvent');
    expect(audit.interaction.map((i: { code: string }) => i.code)).not.toContain('create');
  });

  it('answers 401 with WWW-Authenticate for a missing, malformed or foreign token', async () => {
    const missing = await t.call('GET', '/Patient', { token: null });
    expectOutcome(missing, 401);
    expect(missing.headers['www-authenticate']).toBe('Bearer realm="pfi"');
    const bad = await t.call('GET', '/Patient', { token: 'not.a.jwt' });
    expectOutcome(bad, 401);
    expect(bad.headers['www-authenticate']).toContain('invalid_token');
    const other = await createTestPlatform();
    const foreign = await other.token();
    await other.close();
    expectOutcome(await t.call('GET', '/Patient', { token: foreign }), 401);
  });

  it('answers 403 when a scope is missing', async () => {
    const readOnly = await t.token('system/Patient.rs');
    expectOutcome(await t.call('POST', '/Patient', { token: readOnly, body: patient() }), 403);
    expect((await t.call('GET', '/Patient', { token: readOnly })).status).toBe(200);
    expectOutcome(await t.call('GET', '/Observation', { token: readOnly }), 403);
    const v1 = await t.token('system/*.read');
    expect((await t.call('GET', '/Observation', { token: v1 })).status).toBe(200);
    expectOutcome(await t.call('DELETE', '/Patient/x', { token: v1 }), 403);
  });

  it('refuses other formats (406, 415) and oversize bodies (413)', async () => {
    expectOutcome(await t.call('GET', '/Patient', { headers: { accept: 'application/fhir+xml' } }), 406);
    expectOutcome(await t.call('GET', '/Patient?_format=xml'), 406);
    expect((await t.call('GET', '/Patient', { headers: { accept: 'application/json' } })).status).toBe(200);
    expectOutcome(
      await t.call('POST', '/Patient', { body: patient(), headers: { 'content-type': 'text/plain' } }),
      415,
    );
    const big = { ...patient(), text: { status: 'generated', div: `<div>${'x'.repeat(70_000)}</div>` } };
    expectOutcome(await t.call('POST', '/Patient', { body: big }), 413);
    // Under the body limit but over what one stored resource may hold (Data API row limit).
    const wide = { ...patient(), text: { status: 'generated', div: `<div>${'x'.repeat(61_000)}</div>` } };
    const res = await t.call('POST', '/Patient', { body: wide, headers: {} });
    expectOutcome(res, 413);
    expect(res.json().issue[0].diagnostics).toContain('60000 bytes');
  });
});

describe('CRUD interactions', () => {
  it('creates with Location, ETag, Last-Modified and no-store', async () => {
    const res = await t.call('POST', '/Patient', { body: patient({ ipp: 'H-1' }) });
    expect(res.status).toBe(201);
    const body = res.json();
    expect(res.headers.location).toBe(`http://pfi.test/fhir/Patient/${body.id}/_history/1`);
    expect(res.headers.etag).toBe('W/"1"');
    expect(new Date(res.headers['last-modified']!).getTime()).toBeGreaterThan(0);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['content-type']).toBe('application/fhir+json; charset=utf-8');
    const read = await t.call('GET', `/Patient/${body.id}`);
    expect(read.status).toBe(200);
    expect(read.json()).toEqual(body);
    const notModified = await t.call('GET', `/Patient/${body.id}`, { headers: { 'if-none-match': 'W/"1"' } });
    expect(notModified.status).toBe(304);
  });

  it('honours Prefer return=minimal and return=OperationOutcome', async () => {
    const minimal = await t.call('POST', '/Patient', { body: patient(), headers: { prefer: 'return=minimal' } });
    expect(minimal.status).toBe(201);
    expect(minimal.body).toBeUndefined();
    expect(minimal.headers.location).toMatch(/\/Patient\/[^/]+\/_history\/1$/);
    const oo = await t.call('POST', '/Patient', { body: patient(), headers: { prefer: 'return=OperationOutcome' } });
    expect(oo.json().resourceType).toBe('OperationOutcome');
  });

  it('updates with If-Match, 412 on mismatch, 400 on a bad ETag, update-as-create needs the create scope', async () => {
    const created = (await t.call('POST', '/Patient', { body: patient({ ipp: 'H-2' }) })).json();
    const changed = { ...created, gender: 'male' };
    const ok = await t.call('PUT', `/Patient/${created.id}`, { body: changed, headers: { 'if-match': 'W/"1"' } });
    expect(ok.status).toBe(200);
    expect(ok.headers.etag).toBe('W/"2"');
    expectOutcome(
      await t.call('PUT', `/Patient/${created.id}`, {
        body: { ...changed, gender: 'other' },
        headers: { 'if-match': 'W/"1"' },
      }),
      412,
    );
    expectOutcome(
      await t.call('PUT', `/Patient/${created.id}`, { body: changed, headers: { 'if-match': 'abc' } }),
      400,
    );
    const asCreate = await t.call('PUT', '/Patient/my-own-id-1', { body: { ...patient(), id: 'my-own-id-1' } });
    expect(asCreate.status).toBe(201);
    const updateOnly = await t.token('system/Patient.ru');
    expectOutcome(
      await t.call('PUT', '/Patient/my-own-id-2', { token: updateOnly, body: { ...patient(), id: 'my-own-id-2' } }),
      403,
    );
    expect((await t.call('GET', '/Patient/my-own-id-2')).status).toBe(404);
  });

  it('rejects mismatching ids and types, bad JSON, missing bodies (400)', async () => {
    expectOutcome(await t.call('PUT', '/Patient/a1', { body: { ...patient(), id: 'b2' } }), 400);
    expectOutcome(await t.call('POST', '/Patient', { body: observation('x') }), 400);
    expectOutcome(await t.call('POST', '/Patient', { body: '{"resourceType": "Patient",' }), 400);
    expectOutcome(
      await t.call('POST', '/Patient', { body: '', headers: { 'content-type': 'application/fhir+json' } }),
      400,
    );
    expectOutcome(await t.call('GET', '/Unknown/1'), 404);
  });

  it('applies the French rules with 422 and an expression', async () => {
    const badKey = patient({ ins: '279035121518988' });
    const res = await t.call('POST', '/Patient', { body: badKey });
    expectOutcome(res, 422);
    expect(JSON.stringify(res.json())).not.toContain('279035121518988');
    expect(res.json().issue[0].expression[0]).toMatch(/^Patient\.identifier\[\d\]\.value$/);
    const noOfficialName = {
      ...patient({ ins: '279035121518989' }),
      name: [{ use: 'usual', family: 'X', given: ['Y'] }],
    };
    expectOutcome(await t.call('POST', '/Patient', { body: noOfficialName }), 422);
    expect((await t.call('POST', '/Patient', { body: patient({ ins: '279035121518989' }) })).status).toBe(201);
    const orphan = await t.call('POST', '/Observation', { body: observation('missing-patient') });
    expectOutcome(orphan, 422);
    expect(orphan.json().issue[0].expression).toEqual(['Observation.subject']);
    const noSubject = { ...observation('x'), subject: undefined };
    expectOutcome(await t.call('POST', '/Observation', { body: noSubject }), 422);
  });

  it('deletes (204), then reads 410 and searches exclude it; history keeps every version', async () => {
    const created = (await t.call('POST', '/Patient', { body: patient({ ipp: 'H-DEL', family: 'Effacé' }) })).json();
    expect((await t.call('DELETE', `/Patient/${created.id}`)).status).toBe(204);
    const gone = await t.call('GET', `/Patient/${created.id}`);
    expectOutcome(gone, 410);
    expect(gone.headers.etag).toBe('W/"2"');
    expect((await t.call('GET', '/Patient?identifier=H-DEL')).json().entry).toEqual([]);
    const hist = (await t.call('GET', `/Patient/${created.id}/_history`)).json();
    expect(hist.type).toBe('history');
    expect(hist.entry.map((e: { request: { method: string } }) => e.request.method)).toEqual(['DELETE', 'POST']);
    expect((await t.call('GET', `/Patient/${created.id}/_history/1`)).status).toBe(200);
    const typeHistory = (await t.call('GET', '/Patient/_history?_count=2')).json();
    expect(typeHistory.entry.length).toBe(2);
    expect(typeHistory.link.some((l: { relation: string }) => l.relation === 'next')).toBe(true);
    expectOutcome(await t.call('GET', '/Patient/_history?_foo=1'), 400);
  });

  it('never lets a client write AuditEvent (405) but lets it search them', async () => {
    expectOutcome(await t.call('POST', '/AuditEvent', { body: { resourceType: 'AuditEvent' } }), 405);
    expectOutcome(await t.call('DELETE', '/AuditEvent/x'), 405);
    expect((await t.call('GET', '/AuditEvent?date=ge2026-01-01')).status).toBe(200);
  });
});

describe('conditional interactions', () => {
  it('conditional create: 0 → 201, 1 → 200, >1 → 412', async () => {
    const headers = { 'if-none-exist': `identifier=${IPP_SYSTEM}|C-1` };
    const first = await t.call('POST', '/Patient', { body: patient({ ipp: 'C-1' }), headers });
    expect(first.status).toBe(201);
    const second = await t.call('POST', '/Patient', { body: patient({ ipp: 'C-1' }), headers });
    expect(second.status).toBe(200);
    expect(second.json().id).toBe(first.json().id);
    await t.call('POST', '/Patient', { body: patient({ family: 'Jumeau' }) });
    await t.call('POST', '/Patient', { body: patient({ family: 'Jumeau' }) });
    expectOutcome(
      await t.call('POST', '/Patient', {
        body: patient({ family: 'Jumeau' }),
        headers: { 'if-none-exist': 'family:exact=Jumeau' },
      }),
      412,
    );
  });

  it('conditional update and delete', async () => {
    const q = `identifier=${IPP_SYSTEM}|C-2`;
    const created = await t.call('PUT', `/Patient?${q}`, { body: patient({ ipp: 'C-2' }) });
    expect(created.status).toBe(201);
    const updated = await t.call('PUT', `/Patient?${q}`, { body: patient({ ipp: 'C-2', family: 'Nouveau' }) });
    expect(updated.status).toBe(200);
    expect(updated.json().id).toBe(created.json().id);
    expect(updated.json().meta.versionId).toBe('2');
    expect((await t.call('DELETE', `/Patient?${q}`)).status).toBe(204);
    expect((await t.call('GET', `/Patient/${created.json().id}`)).status).toBe(410);
    expectOutcome(await t.call('DELETE', '/Patient'), 400);
  });
});

describe('search over HTTP', () => {
  it('GET and POST _search return the same searchset with working next links', async () => {
    for (let i = 0; i < 5; i++)
      await t.call('POST', '/Patient', { body: patient({ ipp: `P-${i}`, family: 'Pagination' }) });
    const page1 = (await t.call('GET', '/Patient?family=pagination&_count=2&_total=accurate')).json();
    expect(page1.total).toBe(5);
    expect(page1.entry.length).toBe(2);
    expect(page1.entry[0].search.mode).toBe('match');
    expect(page1.entry[0].fullUrl).toMatch(/^http:\/\/pfi\.test\/fhir\/Patient\//);
    const next = page1.link.find((l: { relation: string }) => l.relation === 'next').url as string;
    const page2 = (await t.call('GET', next.replace('http://pfi.test/fhir', ''))).json();
    expect(page2.entry.length).toBe(2);
    expect(page2.entry[0].resource.id).not.toBe(page1.entry[0].resource.id);
    const posted = await t.call('POST', '/Patient/_search', {
      body: 'family=pagination&_count=2',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(posted.json().entry.map((e: { resource: { id: string } }) => e.resource.id)).toEqual(
      page1.entry.map((e: { resource: { id: string } }) => e.resource.id),
    );
    expect((await t.call('GET', '/Patient?family=pagination&_summary=count')).json().total).toBe(5);
    const elements = (await t.call('GET', '/Patient?family=pagination&_elements=gender&_count=1')).json();
    expect(Object.keys(elements.entry[0].resource).sort()).toEqual(['gender', 'id', 'meta', 'resourceType']);
  });

  it('unknown parameters are 400 unless Prefer: handling=lenient', async () => {
    expectOutcome(await t.call('GET', '/Patient?shoe-size=42'), 400);
    const lenient = await t.call('GET', '/Patient?shoe-size=42&_count=1', { headers: { prefer: 'handling=lenient' } });
    expect(lenient.status).toBe(200);
    expect(lenient.json().entry.at(-1).search.mode).toBe('outcome');
  });

  it('filters _include results by the token scopes', async () => {
    const p = (await t.call('POST', '/Patient', { body: patient({ ipp: 'INC-1' }) })).json();
    await t.call('POST', '/Observation', { body: observation(p.id, { loinc: '1234-5' }) });
    const all = (await t.call('GET', '/Observation?code=1234-5&_include=Observation:patient')).json();
    expect(all.entry.map((e: { search: { mode: string } }) => e.search.mode)).toEqual(['match', 'include']);
    const obsOnly = await t.token('system/Observation.rs');
    const filtered = (
      await t.call('GET', '/Observation?code=1234-5&_include=Observation:patient', { token: obsOnly })
    ).json();
    expect(filtered.entry.map((e: { search: { mode: string } }) => e.search.mode)).toEqual(['match']);
    expectOutcome(await t.call('GET', '/Observation?patient.identifier=INC-1', { token: obsOnly }), 403);
  });
});

describe('batch and transaction Bundles', () => {
  it('runs a transaction atomically with urn:uuid and conditional references rewritten', async () => {
    await t.call('POST', '/Practitioner', {
      body: {
        resourceType: 'Practitioner',
        identifier: [{ system: 'urn:oid:1.2.250.1.71.4.2.1', value: '810000000001' }],
        name: [{ family: 'Bio' }],
      },
    });
    const bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        {
          fullUrl: 'urn:uuid:4a0c7b52-1c1e-4f57-9f41-0a1f0c1e0001',
          resource: patient({ ipp: 'T-1', ins: '180017512345660' }),
          request: { method: 'POST', url: 'Patient', ifNoneExist: `identifier=${IPP_SYSTEM}|T-1` },
        },
        {
          fullUrl: 'urn:uuid:4a0c7b52-1c1e-4f57-9f41-0a1f0c1e0002',
          resource: {
            ...observation('placeholder'),
            subject: { reference: 'urn:uuid:4a0c7b52-1c1e-4f57-9f41-0a1f0c1e0001' },
            performer: [{ reference: 'Practitioner?identifier=urn:oid:1.2.250.1.71.4.2.1|810000000001' }],
          },
          request: { method: 'POST', url: 'Observation' },
        },
      ],
    };
    const res = await t.call('POST', '', { body: bundle });
    expect(res.status).toBe(200);
    const out = res.json();
    expect(out.type).toBe('transaction-response');
    expect(out.entry.map((e: { response: { status: string } }) => e.response.status)).toEqual([
      '201 Created',
      '201 Created',
    ]);
    const obs = out.entry[1].resource;
    expect(obs.subject.reference).toBe(`Patient/${out.entry[0].resource.id}`);
    expect(obs.performer[0].reference).toMatch(/^Practitioner\/[0-9a-f-]{36}$/);
    // Same bundle again: the conditional create matches, the Observation is new.
    const again = (await t.call('POST', '', { body: bundle })).json();
    expect(again.entry[0].response.status).toBe('200 OK');
    expect(again.entry[1].resource.subject.reference).toBe(`Patient/${out.entry[0].resource.id}`);
  });

  it('rolls the whole transaction back when one entry fails', async () => {
    const bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { resource: patient({ ipp: 'ROLLBACK-1' }), request: { method: 'POST', url: 'Patient' } },
        { resource: observation('no-such-patient'), request: { method: 'POST', url: 'Observation' } },
      ],
    };
    const res = await t.call('POST', '', { body: bundle });
    expectOutcome(res, 422);
    expect(res.json().issue[0].diagnostics).toContain('Bundle.entry[1]');
    expect((await t.call('GET', '/Patient?identifier=ROLLBACK-1')).json().entry).toEqual([]);
  });

  it("answers 409 when a transaction entry reuses another patient's INS, and writes nothing", async () => {
    const res = await t.call('POST', '', {
      body: {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          { resource: patient({ ipp: 'DUP-T' }), request: { method: 'POST', url: 'Patient' } },
          {
            resource: patient({ ipp: 'DUP-T2', ins: '279035121518989' }),
            request: { method: 'POST', url: 'Patient', ifNoneExist: 'identifier=DUP-T2' },
          },
        ],
      },
    });
    expectOutcome(res, 409);
    expect((await t.call('GET', '/Patient?identifier=DUP-T')).json().entry).toEqual([]);
  });

  it('processes batch entries independently', async () => {
    const res = await t.call('POST', '', {
      body: {
        resourceType: 'Bundle',
        type: 'batch',
        entry: [
          { resource: patient({ ipp: 'B-1' }), request: { method: 'POST', url: 'Patient' } },
          { resource: observation('nobody'), request: { method: 'POST', url: 'Observation' } },
          { request: { method: 'GET', url: 'Patient?identifier=B-1' } },
          { request: { method: 'PATCH', url: 'Patient/1' } },
        ],
      },
    });
    const out = res.json();
    expect(out.type).toBe('batch-response');
    expect(out.entry.map((e: { response: { status: string } }) => e.response.status)).toEqual([
      '201 Created',
      '422',
      '200 OK',
      '400',
    ]);
    expect(out.entry[2].resource.entry.length).toBe(1);
  });

  it('checks scopes inside Bundle entries', async () => {
    const readOnly = await t.token('system/*.rs');
    const res = await t.call('POST', '', {
      token: readOnly,
      body: {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [{ resource: patient(), request: { method: 'POST', url: 'Patient' } }],
      },
    });
    expectOutcome(res, 403);
    expectOutcome(await t.call('POST', '', { body: { resourceType: 'Bundle', type: 'collection' } }), 400);
  });
});

describe('unexpected failures', () => {
  it('answers 500 without internals and 503 when the database is unavailable', async () => {
    const { SqlTimeoutError, SqlUnavailableError } = await import('../../lambdas/adapters/sql/executor.js');
    const real = t.platform.db;
    const failing = (err: Error) => ({ ...real, query: async () => Promise.reject(err) }) as typeof real;
    const errors: unknown[] = [];
    const { createRouter } = await import('../../lambdas/fhir/router.js');
    const { FhirService } = await import('../../lambdas/fhir/service.js');
    const { FhirRepository } = await import('../../lambdas/fhir/repository/repository.js');
    const make = (db: typeof real) =>
      createRouter({
        service: new FhirService(new FhirRepository(db)),
        verifier: t.platform.verifier,
        baseUrl: 'http://x/fhir',
        maxBodyBytes: 1000,
        onError: (e) => errors.push(e),
      });
    const token = await t.token();
    const req = {
      method: 'GET',
      path: '/Patient/1',
      query: [],
      headers: { authorization: `Bearer ${token}` },
      requestId: 'r-500',
    };
    const boom = await make(failing(new Error('relation "secret_table" does not exist at SELECT ...')))(req);
    expect(boom.status).toBe(500);
    expect(boom.body).not.toContain('secret_table');
    expect(boom.body).toContain('r-500');
    expect(errors.length).toBe(1);
    const down = await make(failing(new SqlUnavailableError('down')))(req);
    expect(down.status).toBe(503);
    expect(down.headers['retry-after']).toBe('5');
    // A statement the database cancelled at its time limit: 503 too-costly, not an internal error.
    const slow = await make(failing(new SqlTimeoutError('canceling statement due to statement timeout', '57014')))(req);
    expect(slow.status).toBe(503);
    expect(JSON.parse(slow.body ?? '{}').issue[0]).toMatchObject({ severity: 'error', code: 'too-costly' });
    expect(errors.length).toBe(1);
  });
});
