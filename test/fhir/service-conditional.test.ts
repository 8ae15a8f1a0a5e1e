import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FhirRepository } from '../../lambdas/fhir/repository/repository.js';
import { runSearch } from '../../lambdas/fhir/repository/search.js';
import { parseSearch } from '../../lambdas/fhir/search/parse.js';
import { FhirService } from '../../lambdas/fhir/service.js';
import type { Resource } from '../../lambdas/fhir/types.js';
import { executorFactories, type TestDatabase } from '../support/executors.js';
import { authWith, observation, patient } from '../support/fixtures.js';
import { type PausedWrites, pausedWrites, settle } from '../support/paused-writes.js';

/**
 * Conditional interactions racing on one condition for a type whose identifiers the database does not keep unique
 * (Observation): only the condition's lock stops the second client from creating a duplicate. Found by
 * `npm run chaos -- fhir-abuse` (two Observations per identifier raced on, each answered 201).
 */
const OBS_SYSTEM = 'urn:oid:1.2.250.1.71.4.2.7.1.9.99.2';

describe.each(executorFactories)('conditional interactions on $name', (factory) => {
  let t: TestDatabase;
  let paused: PausedWrites;
  let service: FhirService;
  let patientId: string;
  const auth = authWith();

  beforeAll(async () => {
    if (!factory.available) return;
    t = await factory.create();
    paused = pausedWrites(t.db);
    service = new FhirService(new FhirRepository(paused.db));
    patientId = (await new FhirRepository(t.db).create(patient({ ipp: 'COND-1' }))).resource.id;
  });
  afterAll(async () => {
    await t?.close();
  });

  const withIdentifier = (value: string): Resource => ({
    ...observation(patientId),
    identifier: [{ system: OBS_SYSTEM, value }],
  });
  const count = async (value: string) =>
    (
      await runSearch(t.db, {
        ...parseSearch('Observation', [['identifier', `${OBS_SYSTEM}|${value}`]]),
        total: 'accurate',
      })
    ).total;

  it.skipIf(!factory.available)(
    'a conditional create arriving while another one on the same condition is between its search and its write creates nothing',
    async () => {
      const query = `identifier=${OBS_SYSTEM}|OBS-RACE-1`;
      const pause = paused.pauseNextWrite();
      const first = service.create(auth, 'Observation', withIdentifier('OBS-RACE-1'), { ifNoneExist: query });
      await pause.reached;
      const second = service.create(auth, 'Observation', withIdentifier('OBS-RACE-1'), { ifNoneExist: query });
      await settle();
      pause.release();
      const [a, b] = await Promise.all([first, second]);
      expect([a.status, b.status]).toEqual([201, 200]);
      expect(b.resource!.id).toBe(a.resource!.id);
      expect(await count('OBS-RACE-1')).toBe(1);
    },
  );

  it.skipIf(!factory.available)(
    'the same condition written with its parameters in another order waits for the same lock',
    async () => {
      const value = 'OBS-RACE-2';
      const pause = paused.pauseNextWrite();
      const first = service.create(auth, 'Observation', withIdentifier(value), {
        ifNoneExist: `identifier=${OBS_SYSTEM}|${value}&subject=Patient/${patientId}`,
      });
      await pause.reached;
      const second = service.create(auth, 'Observation', withIdentifier(value), {
        ifNoneExist: `subject=Patient/${patientId}&identifier=${OBS_SYSTEM}|${value}`,
      });
      await settle();
      pause.release();
      const [a, b] = await Promise.all([first, second]);
      expect([a.status, b.status]).toEqual([201, 200]);
      expect(await count(value)).toBe(1);
    },
  );

  it.skipIf(!factory.available)(
    'a conditional update that finds nothing and races another one on the same condition creates one resource, then updates it',
    async () => {
      const value = 'OBS-RACE-3';
      const query = `identifier=${OBS_SYSTEM}|${value}`;
      const pause = paused.pauseNextWrite();
      const first = service.conditionalUpdate(auth, 'Observation', query, withIdentifier(value));
      await pause.reached;
      const second = service.conditionalUpdate(auth, 'Observation', query, {
        ...withIdentifier(value),
        status: 'amended',
      });
      await settle();
      pause.release();
      const [a, b] = await Promise.all([first, second]);
      expect([a.status, b.status]).toEqual([201, 200]);
      expect(b.resource!.id).toBe(a.resource!.id);
      expect(b.resource!.versionId).toBe(2);
      expect(await count(value)).toBe(1);
    },
  );

  it.skipIf(!factory.available)('many conditional creates at once on one condition create one resource', async () => {
    const value = 'OBS-RACE-4';
    const results = await Promise.all(
      Array.from({ length: 12 }, () =>
        service.create(auth, 'Observation', withIdentifier(value), {
          ifNoneExist: `identifier=${OBS_SYSTEM}|${value}`,
        }),
      ),
    );
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    expect(new Set(results.map((r) => r.resource!.id)).size).toBe(1);
    expect(await count(value)).toBe(1);
  });
});
