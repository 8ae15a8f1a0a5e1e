import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, type TestPlatform } from '../support/platform.js';

describe('instance operations (POST [type]/[id]/$name)', () => {
  let t: TestPlatform;
  const calls: { type: string; id: string; subject: string }[] = [];

  beforeAll(async () => {
    t = await createTestPlatform(
      {},
      {
        operations: (service) => ({
          'Patient/$touch': async ({ auth, type, id }) => {
            calls.push({ type, id, subject: auth.subject });
            return service.read(auth, type, id);
          },
        }),
      },
    );
  });
  afterAll(async () => {
    await t?.close();
  });

  it('runs the operation with the caller’s token and answers its resource', async () => {
    const created = await t.call('POST', '/Patient', { body: { resourceType: 'Patient', gender: 'female' } });
    const id = created.json().id;
    const res = await t.call('POST', `/Patient/${id}/$touch`);
    expect(res.status).toBe(200);
    expect(res.json()).toMatchObject({ resourceType: 'Patient', id });
    expect(calls.at(-1)).toMatchObject({ type: 'Patient', id });
    const withParameters = await t.call('POST', `/Patient/${id}/$touch`, {
      body: { resourceType: 'Parameters', parameter: [] },
    });
    expect(withParameters.status).toBe(200);
  });

  it('answers 404 for an unknown operation, 405 for GET, 400 for a body that is not Parameters, 401 without token', async () => {
    expect((await t.call('POST', '/Patient/x/$unknown')).status).toBe(404);
    expect((await t.call('GET', '/Patient/x/$touch')).status).toBe(405);
    expect((await t.call('POST', '/Patient/x/$touch', { body: { resourceType: 'Patient' } })).status).toBe(400);
    expect((await t.call('POST', '/Patient/x/$touch', { token: null })).status).toBe(401);
    expect((await t.call('POST', '/Patient/missing/$touch')).status).toBe(404);
  });
});
