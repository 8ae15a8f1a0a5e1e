/**
 * Fuzzing the FHIR input paths with fast-check: arbitrary JSON bodies and arbitrary search queries reach the router
 * as a client would send them. Whatever comes in, the answer is a FHIR response below 500 (an OperationOutcome for
 * errors), never a crash or an internal error.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, type TestPlatform } from '../support/platform.js';

let t: TestPlatform;
beforeAll(async () => {
  t = await createTestPlatform({}, {});
});
afterAll(async () => {
  await t?.close();
});

const TYPES = ['Patient', 'Observation', 'Encounter', 'DocumentReference', 'Communication', 'Bundle'];
const expectFhirAnswer = (res: { status: number; headers: Record<string, string>; json(): unknown }) => {
  expect(res.status).toBeLessThan(500);
  if (res.status >= 400) expect((res.json() as { resourceType?: string }).resourceType).toBe('OperationOutcome');
};

describe('FHIR input fuzzing', () => {
  it('arbitrary JSON bodies on create, update and transaction never give a 500', async () => {
    const resourceLike = fc.record(
      {
        resourceType: fc.oneof(fc.constantFrom(...TYPES), fc.string()),
        id: fc.oneof(fc.string(), fc.integer()),
        name: fc.anything(),
        identifier: fc.anything(),
        subject: fc.anything(),
        entry: fc.array(fc.anything(), { maxLength: 3 }),
        type: fc.oneof(fc.constantFrom('transaction', 'batch'), fc.anything()),
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...TYPES),
        fc.oneof(resourceLike, fc.jsonValue(), fc.string()),
        async (type, body) => {
          const text = typeof body === 'string' ? body : JSON.stringify(body);
          expectFhirAnswer(await t.call('POST', type === 'Bundle' ? '/' : `/${type}`, { body: text }));
          expectFhirAnswer(await t.call('PUT', `/${type}/fuzz-1`, { body: text }));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('arbitrary search queries never give a 500', async () => {
    const name = fc.oneof(
      fc.constantFrom('_id', 'name', 'family', 'birthdate', 'identifier', 'subject', 'code', 'date', '_count', '_sort'),
      fc.string(),
    );
    const modifier = fc.constantFrom('', ':exact', ':contains', ':missing', ':not', ':above', ':Patient', ':x');
    const value = fc.oneof(
      fc.string(),
      fc.constantFrom('ge2020', 'lt', 'eq-1', 'http://loinc.org|', '|', 'Patient/', '1e400', '\u0000', '%', '_'),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('Patient', 'Observation', 'Encounter'),
        fc.array(fc.tuple(name, modifier, value), { maxLength: 4 }),
        async (type, params) => {
          const query = params.map(([n, m, v]) => `${encodeURIComponent(n + m)}=${encodeURIComponent(v)}`).join('&');
          expectFhirAnswer(await t.call('GET', `/${type}?${query}`));
        },
      ),
      { numRuns: 200 },
    );
  });
});
