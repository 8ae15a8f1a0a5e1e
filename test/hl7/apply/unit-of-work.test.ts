import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SqlExecutor } from '../../../lambdas/adapters/sql/executor.js';
import { migrate } from '../../../lambdas/adapters/sql/migrate.js';
import { createPgliteExecutor } from '../../../lambdas/adapters/sql/pglite.js';
import { FhirError } from '../../../lambdas/fhir/errors.js';
import { FhirRepository } from '../../../lambdas/fhir/repository/repository.js';
import { FhirService } from '../../../lambdas/fhir/service.js';
import { INGEST_AUTH } from '../../../lambdas/hl7/apply/context.js';
import { UnitOfWork } from '../../../lambdas/hl7/apply/unit-of-work.js';
import { IPP_SYSTEM, patient } from '../../support/fixtures.js';

let db: SqlExecutor;
let service: FhirService;
let n = 0;

beforeAll(async () => {
  db = await createPgliteExecutor();
  await migrate(db);
  service = new FhirService(new FhirRepository(db));
});
afterAll(async () => {
  await db.close();
});

const ipp = () => ({ system: IPP_SYSTEM, value: `UOW-${++n}-${randomUUID().slice(0, 8)}` });
const withIpp = (id: { system: string; value: string }) =>
  ({ ...patient(), identifier: [{ system: id.system, value: id.value }] }) as Record<string, unknown>;
const unit = () => new UnitOfWork(service, INGEST_AUTH, false);
const trips = async <T>(fn: () => Promise<T>) => {
  const before = db.stats.roundTrips;
  const value = await fn();
  return { value, trips: db.stats.roundTrips - before };
};

describe('UnitOfWork', () => {
  it('reads an identifier once, then answers from memory, its own pending writes included', async () => {
    const known = ipp();
    const [stored] = await service.updateMany(INGEST_AUTH, [
      { resource: { ...withIpp(known), id: randomUUID() } as never, expectedVersion: 0 },
    ]);
    const u = unit();
    const first = await trips(() => u.find('Patient', known));
    expect(first.trips).toBe(1);
    expect(first.value?.['id']).toBe(stored!.resource!.id);
    const again = await trips(() => u.find('Patient', known));
    expect(again.trips).toBe(0);

    // A new Patient written in the unit is found by its identifier; an identifier it no longer carries is not.
    const other = ipp();
    expect(await u.find('Patient', other)).toBeUndefined();
    const id = u.newId();
    u.write({ ...withIpp(other), id });
    expect((await u.find('Patient', other))?.['id']).toBe(id);
    const renamed = ipp();
    u.write({ ...withIpp(renamed), id });
    expect(await u.find('Patient', other)).toBeUndefined();
    expect((await u.findAny('Patient', [renamed, known])).map((p) => p['id']).sort()).toEqual(
      [id, stored!.resource!.id].sort(),
    );
  });

  it('refuses an identifier two resources carry (412), as a conditional read would', async () => {
    const shared = ipp();
    const u = unit();
    u.write({ ...withIpp(shared), id: u.newId(), resourceType: 'Observation', status: 'final', code: { text: 'x' } });
    u.write({ ...withIpp(shared), id: u.newId(), resourceType: 'Observation', status: 'final', code: { text: 'y' } });
    await expect(u.find('Observation', shared)).rejects.toMatchObject({ status: 412 });
  });

  it('flushes only what changed: same content, no write and no new version', async () => {
    const id = ipp();
    const u = unit();
    const pid = u.newId();
    u.write({ ...withIpp(id), id: pid });
    await u.flush();
    expect(u.outcome('Patient', pid)).toEqual({ versionId: 1, status: 201 });

    const v = unit();
    const found = (await v.find('Patient', id))!;
    const { meta: _meta, ...same } = found;
    v.write(same);
    const flushed = await trips(() => v.flush());
    expect(flushed.trips).toBe(0);
    expect(v.outcome('Patient', pid)).toEqual({ versionId: 1, status: 200 });
    v.write({ ...same, gender: 'male' });
    await v.flush();
    expect(v.outcome('Patient', pid)).toEqual({ versionId: 2, status: 200 });
  });

  it('fails the flush with 409 when the store changed after the read (optimistic locking)', async () => {
    const id = ipp();
    const setup = unit();
    const pid = setup.newId();
    setup.write({ ...withIpp(id), id: pid });
    await setup.flush();

    const slow = unit();
    const read = (await slow.find('Patient', id))!;
    const fast = unit();
    const { meta: _m, ...current } = (await fast.find('Patient', id))!;
    fast.write({ ...current, gender: 'male' });
    await fast.flush();

    const { meta: _n, ...stale } = read;
    slow.write({ ...stale, birthDate: '1990-01-01' });
    const err = await slow.flush().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FhirError);
    expect((err as FhirError).status).toBe(409);
    expect(JSON.parse((await service.repo.read('Patient', pid)).json)).toMatchObject({
      gender: 'male',
      birthDate: '1980-04-12',
    });
  });

  it('searches only inside a transaction, after flushing its pending writes', async () => {
    await expect(unit().search('Patient', 'gender', 'male', 10)).rejects.toThrow(/transactional/);
    const id = ipp();
    await db
      .transaction(async (tx) => {
        const bound = service.withRepository(service.repo.withExecutor(tx));
        const u = new UnitOfWork(bound, INGEST_AUTH, true);
        const pid = u.newId();
        u.write({ ...withIpp(id), id: pid, birthDate: '1901-02-03' });
        const found = await u.search('Patient', 'birthdate', '1901-02-03', 10);
        expect(found.map((p) => p['id'])).toContain(pid);
        throw new Error('roll back');
      })
      .catch(() => undefined);
    expect(await unit().find('Patient', id)).toBeUndefined();
  });
});
