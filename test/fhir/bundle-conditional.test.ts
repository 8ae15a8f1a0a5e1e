import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../lambdas/adapters/sql/migrate.js';
import { processBundle } from '../../lambdas/fhir/bundle.js';
import { FhirRepository } from '../../lambdas/fhir/repository/repository.js';
import { runSearch } from '../../lambdas/fhir/repository/search.js';
import { parseSearch } from '../../lambdas/fhir/search/parse.js';
import { FhirService } from '../../lambdas/fhir/service.js';
import type { Bundle, Resource } from '../../lambdas/fhir/types.js';
import { executorFactories, PG_SKIP_MESSAGE, PG_URL, pgTestDatabase, type TestDatabase } from '../support/executors.js';
import { authWith, IPP_SYSTEM, patient } from '../support/fixtures.js';
import { type PausedWrites, pausedWrites, settle } from '../support/paused-writes.js';

/**
 * Transaction Bundles whose entries are conditional creates, raced by other writers of the same identifiers. Found by
 * `npm run chaos -- fhir-abuse` on PostgreSQL: such transactions answered 409 (a concurrent Bundle created the
 * Patient between this one's search and its write) and 422 (the Patient entry, searched again at write time, answered
 * another writer's Patient while the Encounter entry still referred to the id assigned at resolution).
 */
const VISIT_SYSTEM = 'urn:oid:1.2.250.1.71.4.2.7.1.9.99.1';
const BASE = 'http://pfi.test/fhir';
const auth = authWith();

const stayBundle = (ipp: string, visit: string): Resource => ({
  resourceType: 'Bundle',
  type: 'transaction',
  entry: [
    {
      fullUrl: 'urn:uuid:11111111-1111-4111-8111-111111111111',
      resource: patient({ ipp }),
      request: { method: 'POST', url: 'Patient', ifNoneExist: `identifier=${IPP_SYSTEM}|${ipp}` },
    },
    {
      resource: {
        resourceType: 'Encounter',
        identifier: [{ system: VISIT_SYSTEM, value: visit }],
        status: 'in-progress',
        class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IMP' },
        subject: { reference: 'urn:uuid:11111111-1111-4111-8111-111111111111' },
      },
      request: { method: 'POST', url: 'Encounter', ifNoneExist: `identifier=${VISIT_SYSTEM}|${visit}` },
    },
  ],
});

const subjectOf = (b: Bundle, i: number) =>
  (b.entry![i]!.resource as unknown as { subject: { reference: string } }).subject.reference;
const statusesOf = (b: Bundle) => b.entry!.map((e) => e.response!.status);

async function idsOf(db: TestDatabase['db'], type: string, identifier: string): Promise<string[]> {
  const found = await runSearch(db, parseSearch(type, [['identifier', identifier]]));
  return found.matches.map((m) => m.id);
}

describe.each(executorFactories)('conditional transaction Bundles on $name', (factory) => {
  let t: TestDatabase;
  let paused: PausedWrites;
  let service: FhirService;

  beforeAll(async () => {
    if (!factory.available) return;
    t = await factory.create();
    paused = pausedWrites(t.db);
    service = new FhirService(new FhirRepository(paused.db));
  });
  afterAll(async () => {
    await t?.close();
  });

  it.skipIf(!factory.available)(
    'a transaction arriving while another one with the same conditions is between its searches and its writes commits, reusing what the first created',
    async () => {
      const pause = paused.pauseNextWrite();
      const first = processBundle(service, auth, stayBundle('TX-RACE-1', 'VN-TX-1'), BASE);
      await pause.reached;
      const second = processBundle(service, auth, stayBundle('TX-RACE-1', 'VN-TX-1'), BASE);
      await settle();
      pause.release();
      const [a, b] = await Promise.all([first, second]);
      expect(statusesOf(a)).toEqual(['201 Created', '201 Created']);
      expect(statusesOf(b)).toEqual(['200 OK', '200 OK']);
      const patients = await idsOf(t.db, 'Patient', `${IPP_SYSTEM}|TX-RACE-1`);
      expect(patients).toHaveLength(1);
      expect(await idsOf(t.db, 'Encounter', `${VISIT_SYSTEM}|VN-TX-1`)).toHaveLength(1);
      expect(subjectOf(b, 1)).toBe(`Patient/${patients[0]}`);
    },
  );

  it.skipIf(!factory.available)('many such transactions at once all commit, creating one of each', async () => {
    const results = await Promise.all(
      Array.from({ length: 10 }, () => processBundle(service, auth, stayBundle('TX-RACE-2', 'VN-TX-2'), BASE)),
    );
    expect(results.flatMap(statusesOf).filter((s) => s === '201 Created')).toHaveLength(2);
    expect(await idsOf(t.db, 'Patient', `${IPP_SYSTEM}|TX-RACE-2`)).toHaveLength(1);
    expect(await idsOf(t.db, 'Encounter', `${VISIT_SYSTEM}|VN-TX-2`)).toHaveLength(1);
  });
});

/** Another writer committing between a transaction's resolution and its write: only a server with sessions shows it. */
describe.skipIf(!PG_URL)(
  `a conditional transaction overtaken by another writer on PostgreSQL${PG_URL ? '' : ` (skipped: ${PG_SKIP_MESSAGE})`}`,
  () => {
    let t: Awaited<ReturnType<typeof pgTestDatabase>>;
    let paused: PausedWrites;
    let service: FhirService;
    let direct: FhirRepository;

    beforeAll(async () => {
      t = await pgTestDatabase(6);
      await migrate(t.db);
      paused = pausedWrites(t.db);
      service = new FhirService(new FhirRepository(paused.db));
      direct = new FhirRepository(t.db);
    });
    afterAll(async () => {
      await t?.close();
    });

    it('runs again and answers 200 with the other writer’s Patient, its Encounter referring to it (not 409, not 422)', async () => {
      let winner = '';
      // A plain create of the same IPP (no condition, so no lock) commits just before the transaction's first write.
      paused.beforeNextWrite(async () => {
        winner = (await direct.create(patient({ ipp: 'TX-RACE-3' }))).resource.id;
      });
      const result = await processBundle(service, auth, stayBundle('TX-RACE-3', 'VN-TX-3'), BASE);
      expect(statusesOf(result)).toEqual(['200 OK', '201 Created']);
      expect(result.entry![0]!.resource!.id).toBe(winner);
      expect(subjectOf(result, 1)).toBe(`Patient/${winner}`);
      expect(await idsOf(t.db, 'Patient', `${IPP_SYSTEM}|TX-RACE-3`)).toEqual([winner]);
    });

    it('the same, the other writer using another condition for the same IPP', async () => {
      let winner = '';
      paused.beforeNextWrite(async () => {
        const other = await new FhirService(direct).create(auth, 'Patient', patient({ ipp: 'TX-RACE-4' }), {
          ifNoneExist: 'identifier=TX-RACE-4',
        });
        winner = other.resource!.id;
      });
      const result = await processBundle(service, auth, stayBundle('TX-RACE-4', 'VN-TX-4'), BASE);
      expect(statusesOf(result)).toEqual(['200 OK', '201 Created']);
      expect(result.entry![0]!.resource!.id).toBe(winner);
      expect(await idsOf(t.db, 'Patient', `${IPP_SYSTEM}|TX-RACE-4`)).toEqual([winner]);
    });
  },
);
