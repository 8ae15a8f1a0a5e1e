import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FhirError } from '../../../lambdas/fhir/errors.js';
import {
  DuplicateIdentifierError,
  FhirRepository,
  ResourceGoneError,
} from '../../../lambdas/fhir/repository/repository.js';
import { runHistory } from '../../../lambdas/fhir/repository/search.js';
import { executorFactories, type TestDatabase } from '../../support/executors.js';
import { IPP_SYSTEM, observation, patient } from '../../support/fixtures.js';

describe.each(executorFactories)('FhirRepository on $name', (factory) => {
  let t: TestDatabase;
  let repo: FhirRepository;

  beforeAll(async () => {
    if (!factory.available) return;
    t = await factory.create();
    repo = new FhirRepository(t.db);
  });
  afterAll(async () => {
    await t?.close();
  });

  const roundTrips = async <T>(fn: () => Promise<T>): Promise<{ value: T; trips: number }> => {
    const before = t.db.stats.roundTrips;
    const value = await fn();
    return { value, trips: t.db.stats.roundTrips - before };
  };

  it.skipIf(!factory.available)('creates, reads and vreads a resource in one round trip each', async () => {
    const { value: created, trips } = await roundTrips(() => repo.create(patient({ ipp: 'R-1' })));
    expect(trips).toBe(1);
    expect(created.created).toBe(true);
    expect(created.resource.versionId).toBe(1);
    const json = JSON.parse(created.resource.json);
    expect(json.meta.versionId).toBe('1');
    expect(json.meta.lastUpdated).toBe(created.resource.lastUpdated);
    expect(json.id).toBe(created.resource.id);

    const { value: read, trips: readTrips } = await roundTrips(() => repo.read('Patient', created.resource.id));
    expect(readTrips).toBe(1);
    expect(read.json).toBe(created.resource.json);
    const v1 = await repo.vread('Patient', created.resource.id, '1');
    expect(v1.versionId).toBe(1);
  });

  it.skipIf(!factory.available)('updates with a new version, skips no-op updates, enforces If-Match', async () => {
    const { resource } = await repo.create(patient({ ipp: 'R-2', family: 'Durand' }));
    const body = { ...patient({ ipp: 'R-2', family: 'Dupont' }), id: resource.id };
    const { value: updated, trips } = await roundTrips(() => repo.update(body));
    expect(trips).toBe(1);
    expect(updated.resource.versionId).toBe(2);
    expect(updated.created).toBe(false);

    // Same content again (different key order): no new version.
    const reordered = Object.fromEntries(Object.entries(body).reverse()) as typeof body;
    const again = await repo.update(reordered);
    expect(again.unchanged).toBe(true);
    expect(again.resource.versionId).toBe(2);

    await expect(repo.update({ ...body, gender: 'male' }, { ifMatch: 1 })).rejects.toMatchObject({ status: 412 });
    const ok = await repo.update({ ...body, gender: 'male' }, { ifMatch: 2 });
    expect(ok.resource.versionId).toBe(3);
    const history = await runHistory(t.db, { resourceType: 'Patient', id: resource.id, count: 10 });
    expect(history.entries.map((e) => e.versionId)).toEqual([3, 2, 1]);
  });

  it.skipIf(!factory.available)('creates on update with a client id', async () => {
    const res = await repo.update({ ...patient({ ipp: 'R-3' }), id: 'client-chosen-1' });
    expect(res.created).toBe(true);
    expect(res.resource.id).toBe('client-chosen-1');
    await expect(repo.update({ ...patient(), id: 'missing-x' }, { ifMatch: 1 })).rejects.toMatchObject({ status: 412 });
  });

  it.skipIf(!factory.available)(
    'deletes: read gives 410, search excludes it, vread of the old version still works',
    async () => {
      const { resource } = await repo.create(patient({ ipp: 'R-4', family: 'Supprimé' }));
      const version = await repo.delete('Patient', resource.id);
      expect(version).toBe(2);
      const err = await repo.read('Patient', resource.id).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ResourceGoneError);
      expect((err as ResourceGoneError).status).toBe(410);
      expect(await repo.delete('Patient', resource.id)).toBeUndefined();
      expect((await repo.vread('Patient', resource.id, '1')).versionId).toBe(1);
      await expect(repo.vread('Patient', resource.id, '2')).rejects.toMatchObject({ status: 410 });
      await expect(repo.read('Patient', 'does-not-exist')).rejects.toMatchObject({ status: 404 });
      // Re-creating with the same IPP is allowed once the first is deleted.
      const again = await repo.create(patient({ ipp: 'R-4' }));
      expect(again.created).toBe(true);
      // Undelete by update: a new version, no longer deleted.
      const revived = await repo.update({ ...patient({ ipp: 'R-4b' }), id: resource.id });
      expect(revived.resource.versionId).toBe(3);
      expect((await repo.read('Patient', resource.id)).versionId).toBe(3);
    },
  );

  it.skipIf(!factory.available)('keeps business identifiers unique in the database', async () => {
    await repo.create(patient({ ipp: 'DUP-1' }));
    const err = await repo.create(patient({ ipp: 'DUP-1', family: 'Autre' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DuplicateIdentifierError);
    expect((err as FhirError).status).toBe(409);
    expect((err as FhirError).message).not.toContain('DUP-1');
    // An update that keeps its own identifier is fine; one that takes another's is refused.
    const other = await repo.create(patient({ ipp: 'DUP-2' }));
    await expect(
      repo.update({ ...patient({ ipp: 'DUP-2', family: 'Changé' }), id: other.resource.id }),
    ).resolves.toMatchObject({ created: false });
    await expect(repo.update({ ...patient({ ipp: 'DUP-1' }), id: other.resource.id })).rejects.toBeInstanceOf(
      DuplicateIdentifierError,
    );
    // Dropping an identifier frees it.
    await repo.update({ ...patient({ ipp: 'DUP-3' }), id: other.resource.id });
    await expect(repo.create(patient({ ipp: 'DUP-2' }))).resolves.toMatchObject({ created: true });
  });

  it.skipIf(!factory.available)(
    'refuses a write whose Patient link does not exist, in the same round trip',
    async () => {
      const { value: err, trips } = await roundTrips(() =>
        repo
          .create(observation('no-such-patient'), {
            patientLinks: [{ expression: 'Observation.subject', id: 'no-such-patient' }],
          })
          .catch((e: unknown) => e),
      );
      expect(trips).toBe(1);
      expect(err).toBeInstanceOf(FhirError);
      expect((err as FhirError).status).toBe(422);
      expect((err as FhirError).issues[0]?.expression).toEqual(['Observation.subject']);
      const p = await repo.create(patient({ ipp: 'LINK-1' }));
      const ok = await repo.create(observation(p.resource.id), {
        patientLinks: [{ expression: 'Observation.subject', id: p.resource.id }],
      });
      expect(ok.created).toBe(true);
    },
  );

  it.skipIf(!factory.available)('writes outbox rows in the same statement as the resource', async () => {
    const { trips } = await roundTrips(() =>
      repo.create(patient({ ipp: 'OUT-1' }), { outbox: [{ topic: 'test-topic', payload: '{"k":1}' }] }),
    );
    expect(trips).toBe(1);
    const rows = await t.db.query<{ n: number }>("SELECT count(*)::int AS n FROM outbox WHERE topic = 'test-topic'");
    expect(rows.rows[0]?.n).toBe(1);
  });

  it.skipIf(!factory.available)(
    'stores identifiers case-sensitively and ignores secondary ones for uniqueness',
    async () => {
      const a = patient();
      a.identifier = [{ system: IPP_SYSTEM, value: 'SEC-1', use: 'secondary' }];
      await repo.create(a);
      await expect(repo.create(a)).resolves.toMatchObject({ created: true });
    },
  );
});
