import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqlTimeoutError } from '../../../lambdas/adapters/sql/executor.js';
import { migrate } from '../../../lambdas/adapters/sql/migrate.js';
import { FhirRepository } from '../../../lambdas/fhir/repository/repository.js';
import { runHistory, runSearch, type SearchResult } from '../../../lambdas/fhir/repository/search.js';
import { parseSearch } from '../../../lambdas/fhir/search/parse.js';
import { encodeCursor } from '../../../lambdas/fhir/search/sql.js';
import type { Resource } from '../../../lambdas/fhir/types.js';
import { executorFactories, PG_URL, pgTestDatabase, type TestDatabase } from '../../support/executors.js';
import { IPP_SYSTEM, observation, patient } from '../../support/fixtures.js';

describe.each(executorFactories)('search on $name', (factory) => {
  let t: TestDatabase;
  let repo: FhirRepository;
  const ids: Record<string, string> = {};

  const search = (type: string, q: string): Promise<SearchResult> =>
    runSearch(t.db, parseSearch(type, [...new URLSearchParams(q)]));
  const found = async (type: string, q: string) =>
    (await search(type, q)).matches.map((m) => (JSON.parse(m.json) as Resource).id).sort();
  const idsOf = (...names: string[]) => names.map((n) => ids[n]).sort();

  beforeAll(async () => {
    if (!factory.available) return;
    t = await factory.create();
    repo = new FhirRepository(t.db);
    const add = async (name: string, r: Resource) => {
      ids[name] = (await repo.create(r)).resource.id;
    };
    await add('lefevre', patient({ ipp: 'S-1', family: 'Lefèvre', given: 'Hélène', birthDate: '1979-03-05' }));
    await add(
      'lefebvre',
      patient({ ipp: 'S-2', family: 'Lefebvre', given: 'Marc', birthDate: '1979-11-20', gender: 'male' }),
    );
    await add(
      'martin',
      patient({ ipp: 'S-3', family: 'Martin', given: 'Éloïse', birthDate: '2001-07', gender: 'female' }),
    );
    const inactive = patient({ ipp: 'S-4', family: "N'Diaye", given: 'Awa', birthDate: '1990' });
    inactive.active = false;
    await add('ndiaye', inactive);
    await add('obs1', observation(ids.lefevre!, { loinc: '2345-7', value: 5.4, date: '2026-03-05T10:30:00+01:00' }));
    await add(
      'obs2',
      observation(ids.lefevre!, { loinc: '2951-2', value: 140, unit: 'mmol/L', date: '2026-03-06T08:00:00Z' }),
    );
    await add(
      'obs3',
      observation(ids.lefebvre!, { loinc: '2345-7', value: 7.1, date: '2025-12-31T23:59:59Z', status: 'amended' }),
    );
  });
  afterAll(async () => {
    await t?.close();
  });
  const run = it.skipIf(!factory.available);

  run('string: accent- and case-insensitive prefix, :exact, :contains', async () => {
    expect(await found('Patient', 'family=lefevre')).toEqual(idsOf('lefevre'));
    expect(await found('Patient', 'family=LEF')).toEqual(idsOf('lefevre', 'lefebvre'));
    expect(await found('Patient', 'given=eloise')).toEqual(idsOf('martin'));
    expect(await found('Patient', 'name=helene')).toEqual(idsOf('lefevre'));
    expect(await found('Patient', 'family:exact=Lefèvre')).toEqual(idsOf('lefevre'));
    expect(await found('Patient', 'family:exact=lefèvre')).toEqual([]);
    expect(await found('Patient', 'family:contains=febv')).toEqual(idsOf('lefebvre'));
    expect(await found('Patient', 'family=lefevre,martin')).toEqual(idsOf('lefevre', 'martin'));
    expect(await found('Patient', "family=n'd")).toEqual(idsOf('ndiaye'));
    expect(await found('Patient', 'family=%25')).toEqual([]);
  });

  run('token: system|code, |code, system|, code, :not, boolean', async () => {
    expect(await found('Patient', `identifier=${IPP_SYSTEM}|S-2`)).toEqual(idsOf('lefebvre'));
    expect(await found('Patient', 'identifier=S-2')).toEqual(idsOf('lefebvre'));
    expect(await found('Patient', 'identifier=|S-2')).toEqual([]);
    expect((await found('Patient', `identifier=${IPP_SYSTEM}|`)).length).toBe(4);
    expect(await found('Patient', 'gender=male')).toEqual(idsOf('lefebvre'));
    expect(await found('Patient', 'gender:not=female')).toEqual(idsOf('lefebvre'));
    expect(await found('Patient', 'active=false')).toEqual(idsOf('ndiaye'));
    expect(await found('Observation', 'code=http://loinc.org|2345-7')).toEqual(idsOf('obs1', 'obs3'));
    expect(await found('Observation', 'category=laboratory&status=final')).toEqual(idsOf('obs1', 'obs2'));
    expect(await found('Patient', `_id=${ids.martin},${ids.ndiaye}`)).toEqual(idsOf('martin', 'ndiaye'));
  });

  run('date: prefixes and partial-date ranges', async () => {
    expect(await found('Patient', 'birthdate=1979')).toEqual(idsOf('lefevre', 'lefebvre'));
    expect(await found('Patient', 'birthdate=1979-03')).toEqual(idsOf('lefevre'));
    expect(await found('Patient', 'birthdate=1979-03-05')).toEqual(idsOf('lefevre'));
    expect(await found('Patient', 'birthdate=gt1980')).toEqual(idsOf('martin', 'ndiaye'));
    expect(await found('Patient', 'birthdate=lt1979-06')).toEqual(idsOf('lefevre'));
    expect(await found('Patient', 'birthdate=ge2001-07-15')).toEqual(idsOf('martin'));
    expect(await found('Patient', 'birthdate=le1979-03-05')).toEqual(idsOf('lefevre'));
    expect(await found('Patient', 'birthdate=sa1989-12-31')).toEqual(idsOf('martin', 'ndiaye'));
    expect(await found('Patient', 'birthdate=eb1979-04')).toEqual(idsOf('lefevre'));
    expect(await found('Patient', 'birthdate=ne1979')).toEqual(idsOf('martin', 'ndiaye'));
    expect(await found('Patient', 'birthdate=ap1990-06-01')).toEqual(idsOf('ndiaye'));
    expect(await found('Observation', 'date=2026-03-05')).toEqual(idsOf('obs1'));
    expect(await found('Observation', 'date=ge2026-01-01&date=lt2026-03-06')).toEqual(idsOf('obs1'));
    // 10:30+01:00 is 09:30Z
    expect(await found('Observation', 'date=2026-03-05T09:30:00Z')).toEqual(idsOf('obs1'));
    expect(await found('Observation', 'date=lt2026')).toEqual(idsOf('obs3'));
  });

  run('reference: id, Type/id, :Type, one-level chaining', async () => {
    expect(await found('Observation', `patient=${ids.lefevre}`)).toEqual(idsOf('obs1', 'obs2'));
    expect(await found('Observation', `subject=Patient/${ids.lefebvre}`)).toEqual(idsOf('obs3'));
    expect(await found('Observation', `subject:Patient=${ids.lefebvre}`)).toEqual(idsOf('obs3'));
    expect(await found('Observation', `patient.identifier=${IPP_SYSTEM}|S-1`)).toEqual(idsOf('obs1', 'obs2'));
    expect(await found('Observation', 'subject:Patient.family=lefeb')).toEqual(idsOf('obs3'));
    expect(await found('Observation', `patient=${ids.lefevre}&code=2951-2`)).toEqual(idsOf('obs2'));
  });

  run('quantity: prefixes, implicit precision, units', async () => {
    expect(await found('Observation', 'value-quantity=5.4')).toEqual(idsOf('obs1'));
    expect(await found('Observation', 'value-quantity=5')).toEqual(idsOf('obs1'));
    expect(await found('Observation', 'value-quantity=gt6')).toEqual(idsOf('obs2', 'obs3'));
    expect(await found('Observation', 'value-quantity=le7.1|http://unitsofmeasure.org|mmol/L')).toEqual(
      idsOf('obs1', 'obs3'),
    );
    expect(await found('Observation', 'value-quantity=lt200||mmol/L')).toEqual(idsOf('obs1', 'obs2', 'obs3'));
    expect(await found('Observation', 'value-quantity=lt200||mg')).toEqual([]);
  });

  run(':missing, _lastUpdated, _total, _summary=count', async () => {
    expect(await found('Patient', 'active:missing=false')).toEqual(idsOf('ndiaye'));
    expect((await found('Patient', 'active:missing=true')).length).toBe(3);
    expect((await found('Patient', 'identifier=S-1&_lastUpdated=gt2000-01-01')).length).toBe(1);
    expect(await found('Patient', '_lastUpdated=lt2000-01-01')).toEqual([]);
    const counted = await search('Patient', '_count=1&_total=accurate');
    expect(counted.total).toBe(4);
    expect(counted.matches.length).toBe(1);
    expect((await search('Patient', '_summary=count')).total).toBe(4);
    expect((await search('Patient', '_count=1')).total).toBeUndefined();
  });

  run('_sort on strings, dates and _lastUpdated, descending too', async () => {
    const sorted = async (q: string) =>
      (await search('Patient', q)).matches.map((m) => (JSON.parse(m.json) as Resource).id);
    expect(await sorted('_sort=family')).toEqual([ids.lefebvre, ids.lefevre, ids.martin, ids.ndiaye]);
    expect(await sorted('_sort=-birthdate')).toEqual([ids.martin, ids.ndiaye, ids.lefebvre, ids.lefevre]);
    expect(await sorted('_sort=_lastUpdated')).toEqual([ids.lefevre, ids.lefebvre, ids.martin, ids.ndiaye]);
  });

  run('_include and _revinclude in the same round trip', async () => {
    const before = t.db.stats.roundTrips;
    const r = await search('Observation', `code=2951-2&_include=Observation:patient`);
    expect(t.db.stats.roundTrips - before).toBe(1);
    expect(r.matches.length).toBe(1);
    expect(r.included.map((i) => i.id)).toEqual([ids.lefevre]);
    const rev = await search('Patient', `_id=${ids.lefevre}&_revinclude=Observation:subject`);
    expect(rev.included.map((i) => i.id).sort()).toEqual(idsOf('obs1', 'obs2'));
  });

  run('keyset pages: next/previous stay stable while rows are inserted', async () => {
    const q = (cursor?: string) =>
      runSearch(t.db, { ...parseSearch('Patient', [...new URLSearchParams('_sort=family&_count=2')]), cursor });
    const p1 = await q();
    expect(p1.matches.map((m) => m.id)).toEqual([ids.lefebvre, ids.lefevre]);
    expect(p1.next).toBeDefined();
    expect(p1.prev).toBeUndefined();
    // A new Patient sorting before the cursor must not shift page 2.
    await repo.create(patient({ ipp: 'S-5', family: 'Aaron' }));
    const p2 = await q(encodeCursor(p1.next!));
    expect(p2.matches.map((m) => m.id)).toEqual([ids.martin, ids.ndiaye]);
    expect(p2.next).toBeUndefined();
    const back = await q(encodeCursor(p2.prev!));
    expect(back.matches.map((m) => m.id)).toEqual([ids.lefebvre, ids.lefevre]);
    expect(back.prev).toBeDefined();
  });

  run('rejects bad input with 400', async () => {
    expect(() => parseSearch('Patient', [['nope', 'x']])).toThrow(/unknown search parameter/);
    expect(parseSearch('Patient', [['nope', 'x']], true).ignored.length).toBe(1);
    expect(() => parseSearch('Patient', [['birthdate', 'yesterday']])).not.toThrow();
    await expect(search('Patient', 'birthdate=yesterday')).rejects.toMatchObject({ status: 400 });
    await expect(search('Observation', 'value-quantity=abc')).rejects.toMatchObject({ status: 400 });
    expect(() => parseSearch('Patient', [['_count', '-1']])).toThrow();
    expect(() => parseSearch('Patient', [['family:fuzzy', 'x']])).toThrow(/modifier/);
    expect(() => parseSearch('Patient', [['gender:text', 'female']])).toThrow(/modifier/);
    await expect(runSearch(t.db, { ...parseSearch('Patient', []), cursor: 'garbage' })).rejects.toMatchObject({
      status: 400,
    });
    // A well-formed cursor carrying a value PostgreSQL refuses is the client's error too.
    const crafted = encodeCursor({ d: 'n', k: ['not-a-date'], id: 'x' });
    await expect(runSearch(t.db, { ...parseSearch('Patient', []), cursor: crafted })).rejects.toMatchObject({
      status: 400,
    });
    const history = Buffer.from(JSON.stringify({ t: 'not-a-date', id: 'x', v: 1 })).toString('base64url');
    await expect(runHistory(t.db, { resourceType: 'Patient', count: 5, cursor: history })).rejects.toMatchObject({
      status: 400,
    });
    expect(parseSearch('Patient', [['_count', '5000']]).count).toBe(1000);
  });
});

describe.skipIf(!PG_URL)('search time limit on a PostgreSQL server', () => {
  it('cancels a search past the limit (SqlTimeoutError) and leaves the next one alone', async () => {
    const t = await pgTestDatabase(4, { boundedStatementMs: 300 });
    try {
      await migrate(t.db);
      const repo = new FhirRepository(t.db);
      await repo.create(patient({ ipp: 'TL-1', family: 'Durand' }));
      const search = (q: string) => runSearch(t.db, parseSearch('Patient', [...new URLSearchParams(q)]));
      // Another session holds the table (as a long migration would): the search waits, and the limit counts the wait.
      await t.db.transaction(async (tx) => {
        await tx.query('LOCK TABLE resource, resource_history IN ACCESS EXCLUSIVE MODE');
        await expect(search('family=durand')).rejects.toBeInstanceOf(SqlTimeoutError);
        await expect(search('family=durand&_summary=count')).rejects.toBeInstanceOf(SqlTimeoutError);
        await expect(runHistory(t.db, { resourceType: 'Patient', count: 5 })).rejects.toBeInstanceOf(SqlTimeoutError);
      });
      expect((await search('family=durand')).matches).toHaveLength(1);
    } finally {
      await t.close();
    }
  });
});
