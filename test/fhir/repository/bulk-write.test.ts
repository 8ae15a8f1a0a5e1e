import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FhirError } from '../../../lambdas/fhir/errors.js';
import { DuplicateIdentifierError, FhirRepository } from '../../../lambdas/fhir/repository/repository.js';
import { runSearch } from '../../../lambdas/fhir/repository/search.js';
import { parseSearch } from '../../../lambdas/fhir/search/parse.js';
import type { Resource } from '../../../lambdas/fhir/types.js';
import { executorFactories, type TestDatabase } from '../../support/executors.js';
import { INS_TEST_SYSTEM, IPP_SYSTEM, observation, patient } from '../../support/fixtures.js';

const VN_SYSTEM = 'urn:oid:1.2.250.1.71.4.2.7.1.9.98';

function encounter(id: string, patientId: string, visit: string, status = 'in-progress'): Resource {
  return {
    resourceType: 'Encounter',
    id,
    identifier: [{ system: VN_SYSTEM, value: visit }],
    status,
    class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IMP' },
    subject: { reference: `Patient/${patientId}` },
  };
}

const withId = (r: Resource, id = randomUUID()): Resource => ({ ...r, id });

describe.each(executorFactories)('FhirRepository.writeMany and findByIdentifiers on $name', (factory) => {
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

  const trips = async <T>(fn: () => Promise<T>): Promise<{ value: T; trips: number }> => {
    const before = t.db.stats.roundTrips;
    const value = await fn();
    return { value, trips: t.db.stats.roundTrips - before };
  };
  const search = async (type: string, params: [string, string][]) =>
    (await runSearch(t.db, parseSearch(type, params))).matches.map((m) => m.id);
  /** Ids of what a search for `type/id` with one `_include` or `_revinclude` brings along. */
  const included = async (type: string, id: string, inclusion: [string, string]) =>
    (await runSearch(t.db, parseSearch(type, [['_id', id], inclusion]))).included.map((r) => r.id);
  const versions = async (type: string, id: string) =>
    (
      await t.db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM resource_history WHERE resource_type = $1 AND id = $2',
        [type, id],
      )
    ).rows[0]!.n;

  it.skipIf(!factory.available)(
    'creates many resources, linked to a Patient of the same call, in one statement plus the transaction',
    async () => {
      const p = withId(patient({ ipp: 'BW-1', ins: '279035121518989' }));
      const e = encounter(randomUUID(), p.id!, 'V-BW-1');
      const o = withId(observation(p.id!));
      const { value, trips: n } = await trips(() =>
        repo.writeMany([
          { resource: e, expectedVersion: 0, patientLinks: [{ expression: 'Encounter.subject', id: p.id! }] },
          { resource: p, expectedVersion: 0 },
          { resource: o, patientLinks: [{ expression: 'Observation.subject', id: p.id! }] },
        ]),
      );
      // BEGIN, stale unique identifiers (two types with unique identifiers), the write, COMMIT; on the PostgreSQL
      // server, the transaction's generic-plan setting too (PGlite's session uses generic plans already).
      expect(n).toBe(factory.name === 'pg' ? 5 : 4);
      expect(value.map((w) => [w.resource.resourceType, w.resource.versionId, w.created, w.unchanged])).toEqual([
        ['Encounter', 1, true, false],
        ['Patient', 1, true, false],
        ['Observation', 1, true, false],
      ]);
      const stored = JSON.parse((await repo.read('Encounter', e.id!)).json);
      expect(stored.meta).toEqual({ versionId: '1', lastUpdated: value[0]!.resource.lastUpdated });
      expect(JSON.parse(value[0]!.resource.json)).toEqual(stored);
      expect(await search('Patient', [['identifier', `${INS_TEST_SYSTEM}|279035121518989`]])).toEqual([p.id]);
      expect(await search('Encounter', [['subject', `Patient/${p.id}`]])).toEqual([e.id]);
      expect(await versions('Observation', o.id!)).toBe(1);
    },
  );

  it.skipIf(!factory.available)(
    'updates at the expected version, leaves unchanged content alone, reindexes what changed',
    async () => {
      const p = withId(patient({ ipp: 'BW-2', family: 'Durand' }));
      const e = encounter(randomUUID(), p.id!, 'V-BW-2');
      await repo.writeMany([
        { resource: p, expectedVersion: 0 },
        { resource: e, expectedVersion: 0 },
      ]);
      const [pw, ew] = await repo.writeMany([
        { resource: { ...p, name: [{ family: 'Dupont', given: ['Jeanne'] }] }, expectedVersion: 1 },
        { resource: { ...e }, expectedVersion: 1 },
      ]);
      expect([pw!.resource.versionId, pw!.unchanged, ew!.resource.versionId, ew!.unchanged]).toEqual([
        2,
        false,
        1,
        true,
      ]);
      expect(await versions('Encounter', e.id!)).toBe(1);
      expect(await search('Patient', [['family', 'Durand']])).not.toContain(p.id);
      expect(await search('Patient', [['family', 'Dupont']])).toContain(p.id);
    },
  );

  it.skipIf(!factory.available)(
    'rewrites only the index categories that changed; the single-resource write and the bulk write take over from each other',
    async () => {
      const p = withId(patient({ ipp: 'BW-IDX' }));
      const e = encounter(randomUUID(), p.id!, 'V-BW-IDX');
      const rows = async (table: string) =>
        (
          await t.db.query<{ at: string; version: number }>(
            `SELECT ctid::text AS at, version FROM ${table} WHERE resource_type = 'Encounter' AND id = $1 ORDER BY 1`,
            [e.id!],
          )
        ).rows;
      const indexVersion = async () =>
        (
          await t.db.query<{ v: string | null }>(
            "SELECT index_version::text AS v FROM resource WHERE resource_type = 'Encounter' AND id = $1",
            [e.id!],
          )
        ).rows[0]!.v;
      const found = async () => ({
        byStatus: await search('Encounter', [['status', 'finished']]),
        bySubject: await search('Encounter', [['subject', `Patient/${p.id}`]]),
        byIdentifier: await search('Encounter', [['identifier', `${VN_SYSTEM}|V-BW-IDX`]]),
        lookup: (await repo.findByIdentifiers([{ type: 'Encounter', system: VN_SYSTEM, value: 'V-BW-IDX' }])).map(
          (r) => r.versionId,
        ),
        included: await included('Encounter', e.id!, ['_include', 'Encounter:subject']),
        revincluded: await included('Patient', p.id!, ['_revinclude', 'Encounter:subject']),
      });
      await repo.writeMany([
        { resource: p, expectedVersion: 0 },
        { resource: e, expectedVersion: 0 },
      ]);
      const references = await rows('sp_reference');
      expect(references.length).toBeGreaterThan(0);
      expect(await indexVersion()).toBe('{"token": 1, "reference": 1}');

      // The status changes (token rows); the subject does not (reference rows stay where they are, at version 1).
      await repo.writeMany([{ resource: encounter(e.id!, p.id!, 'V-BW-IDX', 'finished'), expectedVersion: 1 }]);
      expect(await rows('sp_reference')).toEqual(references);
      const tokens = await rows('sp_token');
      expect(tokens.map((r) => r.version)).toEqual(tokens.map(() => 2));
      expect(await indexVersion()).toBe('{"token": 2, "reference": 1}');
      const expected = {
        byStatus: [e.id],
        bySubject: [e.id],
        byIdentifier: [e.id],
        lookup: [2],
        included: [p.id],
        revincluded: [e.id],
      };
      expect(await found()).toEqual(expected);
      expect(
        await search('Encounter', [
          ['status', 'in-progress'],
          ['_id', e.id!],
        ]),
      ).toEqual([]);

      // The single-resource write rewrites every row at the resource's version and keeps no digest.
      await repo.update(encounter(e.id!, p.id!, 'V-BW-IDX', 'cancelled'));
      expect(await indexVersion()).toBeNull();
      expect(new Set((await rows('sp_reference')).map((r) => r.version))).toEqual(new Set([3]));
      expect(
        await search('Encounter', [
          ['status', 'cancelled'],
          ['subject', `Patient/${p.id}`],
        ]),
      ).toEqual([e.id]);

      // Without digests, the next bulk write rewrites every category.
      await repo.writeMany([{ resource: encounter(e.id!, p.id!, 'V-BW-IDX', 'finished'), expectedVersion: 3 }]);
      expect(new Set((await rows('sp_reference')).map((r) => r.version))).toEqual(new Set([4]));
      expect(await indexVersion()).toBe('{"token": 4, "reference": 4}');
      expect(await found()).toEqual({ ...expected, lookup: [4] });
    },
  );

  it.skipIf(!factory.available)(
    'refuses a stale expected version with 409 and writes nothing of the call',
    async () => {
      const p = withId(patient({ ipp: 'BW-3' }));
      await repo.writeMany([{ resource: p, expectedVersion: 0 }]);
      const other = withId(patient({ ipp: 'BW-3b' }));
      const err = await repo
        .writeMany([
          { resource: other, expectedVersion: 0 },
          { resource: { ...p, gender: 'male' }, expectedVersion: 5 },
        ])
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(FhirError);
      expect((err as FhirError).status).toBe(409);
      await expect(repo.read('Patient', other.id!)).rejects.toMatchObject({ status: 404 });
      // "Must not exist" on an existing resource is a conflict too.
      await expect(repo.writeMany([{ resource: { ...p, gender: 'male' }, expectedVersion: 0 }])).rejects.toMatchObject({
        status: 409,
      });
      expect(JSON.parse((await repo.read('Patient', p.id!)).json).gender).toBe('female');
    },
  );

  it.skipIf(!factory.available)('upserts a resource without expectation (created, then unchanged)', async () => {
    const o = withId(observation(randomUUID()), `blind-${randomUUID()}`);
    const [first] = await repo.writeMany([{ resource: o }]);
    const [again] = await repo.writeMany([{ resource: o }]);
    expect([first!.created, first!.resource.versionId, again!.unchanged, again!.resource.versionId]).toEqual([
      true,
      1,
      true,
      1,
    ]);
  });

  it.skipIf(!factory.available)(
    'enforces unique identifiers, and lets one move between resources of a call',
    async () => {
      const a = withId(patient({ ipp: 'BW-4a', ins: '279035121518989'.replace('2790', '2791') }));
      const ins = (a.identifier as { system: string; value: string }[])[1]!;
      await repo.writeMany([{ resource: a, expectedVersion: 0 }]);
      const clash = withId(patient({ ipp: 'BW-4b' }));
      clash.identifier = [...(clash.identifier as object[]), ins];
      await expect(repo.writeMany([{ resource: clash, expectedVersion: 0 }])).rejects.toBeInstanceOf(
        DuplicateIdentifierError,
      );
      // The INS leaves `a` and goes to `b` in the same call (an A40 merge).
      const b = withId(patient({ ipp: 'BW-4c' }));
      b.identifier = [...(b.identifier as object[]), ins];
      const aWithout = { ...a, identifier: (a.identifier as object[]).slice(0, 1) };
      await repo.writeMany([
        { resource: b, expectedVersion: 0 },
        { resource: aWithout, expectedVersion: 1 },
      ]);
      expect(await search('Patient', [['identifier', `${ins.system}|${ins.value}`]])).toEqual([b.id]);
    },
  );

  it.skipIf(!factory.available)(
    'refuses a link to a Patient that does not exist with 422, writing nothing',
    async () => {
      const e = encounter(randomUUID(), 'no-such-patient', 'V-BW-5');
      const err = await repo
        .writeMany([
          {
            resource: e,
            expectedVersion: 0,
            patientLinks: [{ expression: 'Encounter.subject', id: 'no-such-patient' }],
          },
        ])
        .catch((x: unknown) => x);
      expect((err as FhirError).status).toBe(422);
      expect((err as FhirError).issues[0]).toMatchObject({ code: 'invariant', expression: ['Encounter.subject'] });
      await expect(repo.read('Encounter', e.id!)).rejects.toMatchObject({ status: 404 });
    },
  );

  it.skipIf(!factory.available)(
    'commits outbox rows with a change only, and refuses the same resource twice',
    async () => {
      const o = withId(observation(randomUUID()));
      const outbox = [{ topic: 'bulk-test', payload: o.id! }];
      await repo.writeMany([{ resource: o, expectedVersion: 0, outbox }]);
      await repo.writeMany([{ resource: o, expectedVersion: 1, outbox }]);
      const rows = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox WHERE payload = $1', [o.id!]);
      expect(rows.rows[0]!.n).toBe(1);
      await expect(repo.writeMany([{ resource: o }, { resource: o }])).rejects.toMatchObject({ status: 400 });
    },
  );

  it.skipIf(!factory.available)('splits a call larger than a Data API request into several statements', async () => {
    const big = 'x'.repeat(40_000);
    const many = Array.from({ length: 45 }, () => ({
      resource: { ...withId(observation(randomUUID())), note: [{ text: big }] } as Resource,
      expectedVersion: 0,
    }));
    const { value, trips: n } = await trips(() => repo.writeMany(many));
    expect(value.every((w) => w.created)).toBe(true);
    expect(n).toBeGreaterThan(3);
  });

  it.skipIf(!factory.available)('finds current resources by business identifier in one statement', async () => {
    const p = withId(patient({ ipp: 'BW-6' }));
    const q = withId(patient({ ipp: 'BW-7' }));
    await repo.writeMany([
      { resource: p, expectedVersion: 0 },
      { resource: q, expectedVersion: 0 },
    ]);
    await repo.writeMany([
      { resource: { ...q, identifier: [{ system: IPP_SYSTEM, value: 'BW-7-new' }] }, expectedVersion: 1 },
    ]);
    const { value: found, trips: n } = await trips(() =>
      repo.findByIdentifiers([
        { type: 'Patient', system: IPP_SYSTEM, value: 'BW-6' },
        { type: 'Patient', system: IPP_SYSTEM, value: 'BW-7' },
        { type: 'Patient', system: IPP_SYSTEM, value: 'BW-7-new' },
        { type: 'Encounter', system: IPP_SYSTEM, value: 'BW-6' },
      ]),
    );
    expect(n).toBe(1);
    expect(found.map((r) => [r.id, r.versionId]).sort()).toEqual(
      [
        [p.id, 1],
        [q.id, 2],
      ].sort(),
    );
  });
});
