import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS, migrate } from '../../../lambdas/adapters/sql/migrate.js';
import { createPgExecutor } from '../../../lambdas/adapters/sql/pg.js';
import type { FhirError } from '../../../lambdas/fhir/errors.js';
import { DuplicateIdentifierError, FhirRepository } from '../../../lambdas/fhir/repository/repository.js';
import { runHistory, runSearch } from '../../../lambdas/fhir/repository/search.js';
import { parseSearch } from '../../../lambdas/fhir/search/parse.js';
import { FhirService } from '../../../lambdas/fhir/service.js';
import { PG_SKIP_MESSAGE, PG_URL, pgTestDatabase } from '../../support/executors.js';
import { authWith, IPP_SYSTEM, patient } from '../../support/fixtures.js';

/**
 * Races PGlite cannot show (it has one session): many connections to a real PostgreSQL server
 * writing the same resource or identifier at once.
 */
describe.skipIf(!PG_URL)(`concurrent writers on PostgreSQL${PG_URL ? '' : ` (skipped: ${PG_SKIP_MESSAGE})`}`, () => {
  let t: Awaited<ReturnType<typeof pgTestDatabase>>;
  let repo: FhirRepository;
  let service: FhirService;
  const auth = authWith();

  beforeAll(async () => {
    t = await pgTestDatabase(20);
    await migrate(t.db);
    repo = new FhirRepository(t.db);
    service = new FhirService(repo);
  });
  afterAll(async () => {
    await t?.close();
  });

  const count = async (q: string) =>
    (await runSearch(t.db, { ...parseSearch('Patient', [...new URLSearchParams(q)]), total: 'accurate' })).total;

  it('concurrent conditional creates on one IPP create exactly one Patient', async () => {
    const query = `identifier=${IPP_SYSTEM}|RACE-1`;
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        service.create(auth, 'Patient', patient({ ipp: 'RACE-1' }), { ifNoneExist: query }),
      ),
    );
    expect(new Set(results.map((r) => r.resource!.id)).size).toBe(1);
    expect(results.filter((r) => r.status === 201).length).toBe(1);
    expect(results.filter((r) => r.status === 200).length).toBe(19);
    expect(await count(query)).toBe(1);
  });

  it('concurrent plain creates with one IPP: one wins, the others get 409', async () => {
    const settled = await Promise.allSettled(Array.from({ length: 10 }, () => repo.create(patient({ ipp: 'RACE-2' }))));
    expect(settled.filter((s) => s.status === 'fulfilled').length).toBe(1);
    for (const s of settled.filter((x) => x.status === 'rejected')) {
      expect((s as PromiseRejectedResult).reason).toBeInstanceOf(DuplicateIdentifierError);
    }
  });

  it('concurrent updates of one resource keep a gap-free history and a consistent index', async () => {
    const { resource } = await repo.create(patient({ ipp: 'RACE-3', family: 'Initial' }));
    const families = Array.from({ length: 20 }, (_, i) => `Famille${String.fromCharCode(65 + i)}`);
    const settled = await Promise.allSettled(
      families.map((family) => repo.update({ ...patient({ ipp: 'RACE-3', family }), id: resource.id })),
    );
    const versions = settled
      .filter((s): s is PromiseFulfilledResult<Awaited<ReturnType<typeof repo.update>>> => s.status === 'fulfilled')
      .map((s) => s.value.resource.versionId);
    // Every update either got its own version or was told to retry (409): none silently lost.
    for (const s of settled.filter((x) => x.status === 'rejected')) {
      expect(((s as PromiseRejectedResult).reason as FhirError).status).toBe(409);
    }
    expect(new Set(versions).size).toBe(versions.length);
    const current = await repo.read('Patient', resource.id);
    expect(current.versionId).toBe(1 + versions.length);
    const history = await runHistory(t.db, { resourceType: 'Patient', id: resource.id, count: 100 });
    expect(history.entries.map((e) => e.versionId)).toEqual(
      Array.from({ length: current.versionId }, (_, i) => current.versionId - i),
    );
    // Only the current family is searchable.
    const finalFamily = (JSON.parse(current.json) as { name: { family: string }[] }).name[0]!.family;
    for (const family of families) {
      expect(await count(`family:exact=${family}&identifier=RACE-3`)).toBe(family === finalFamily ? 1 : 0);
    }
  });

  it('If-Match races: exactly one writer of a version wins, the others get 412 (no lost update)', async () => {
    const { resource } = await repo.create(patient({ ipp: 'RACE-4' }));
    const settled = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) =>
        repo.update({ ...patient({ ipp: 'RACE-4', given: `Prénom${i}` }), id: resource.id }, { ifMatch: 1 }),
      ),
    );
    expect(settled.filter((s) => s.status === 'fulfilled').length).toBe(1);
    for (const s of settled.filter((x) => x.status === 'rejected')) {
      expect(((s as PromiseRejectedResult).reason as FhirError).status).toBe(412);
    }
    expect((await repo.read('Patient', resource.id)).versionId).toBe(2);
  });

  it('two processes migrating one empty database at once both succeed, once', async () => {
    const fresh = await pgTestDatabase(2);
    const other = createPgExecutor(fresh.url, 2);
    try {
      const [a, b] = await Promise.all([migrate(fresh.db), migrate(other)]);
      // Each migration applied exactly once, by one of the two.
      expect([...a, ...b].sort((x, y) => x - y)).toEqual(MIGRATIONS.map((m) => m.version));
      const rows = await fresh.db.query<{ n: number }>('SELECT count(*)::int AS n FROM pfi_schema_migrations');
      expect(rows.rows[0]?.n).toBe(MIGRATIONS.length);
    } finally {
      await other.close();
      await fresh.close();
    }
  });
});
