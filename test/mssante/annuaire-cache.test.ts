import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryAnnuaireCache, sqlAnnuaireCache } from '../../lambdas/mssante/annuaire-cache.js';
import { executorFactories, type TestDatabase } from '../support/executors.js';

const T0 = new Date('2026-12-02T12:00:00Z');
const later = (seconds: number) => new Date(T0.getTime() + seconds * 1000);

describe.each(executorFactories.filter((f) => f.name !== 'pg' || f.available))(
  'sqlAnnuaireCache on $name',
  (factory) => {
    let t: TestDatabase;
    let wall = T0;
    beforeAll(async () => {
      t = await factory.create();
    });
    afterAll(() => t.close());

    it('stores, reads, replaces and expires entries', async () => {
      const cache = sqlAnnuaireCache(t.db, { now: () => wall });
      wall = T0;
      expect(await cache.get('k1')).toBeUndefined();
      await cache.put('k1', '{"found":true}', later(60));
      expect(await cache.get('k1')).toBe('{"found":true}');
      await cache.put('k1', '{"found":false}', later(120));
      expect(await cache.get('k1')).toBe('{"found":false}');
      wall = later(121);
      expect(await cache.get('k1')).toBeUndefined();
    });

    it('purges expired entries only', async () => {
      const cache = sqlAnnuaireCache(t.db, { now: () => wall });
      wall = T0;
      await cache.put('old-a', 'a', later(10));
      await cache.put('old-b', 'b', later(20));
      await cache.put('fresh', 'c', later(1000));
      wall = later(30);
      expect(await cache.purgeExpired()).toBeGreaterThanOrEqual(2);
      expect(await cache.get('fresh')).toBe('c');
      const left = await t.db.query<{ key: string }>("SELECT key FROM annuaire_cache WHERE key LIKE 'old-%'");
      expect(left.rows).toEqual([]);
    });

    it('deletes one key, or every entry mentioning an identifier or an address (erasure)', async () => {
      const cache = sqlAnnuaireCache(t.db, { now: () => wall });
      wall = T0;
      await cache.put(
        'annuaire:v2:Practitioner:https://rpps.esante.gouv.fr|10000000001',
        '{"mailboxes":[]}',
        later(60),
      );
      await cache.put('annuaire:v2:Organization:|990000001', '{"mailboxes":[{"address":"a@b.mssante.fr"}]}', later(60));
      await cache.put('annuaire:v2:Organization:|990000002', '{"mailboxes":[]}', later(60));
      expect(await cache.deleteMatching('10000000001')).toBe(1);
      expect(await cache.deleteMatching('a@b.mssante.fr')).toBe(1);
      expect(await cache.deleteMatching('')).toBe(0);
      expect(await cache.delete('annuaire:v2:Organization:|990000002')).toBe(1);
      expect(await cache.delete('annuaire:v2:Organization:|990000002')).toBe(0);
    });
  },
);

describe('memoryAnnuaireCache', () => {
  it('behaves like the SQL cache and stays bounded', async () => {
    let wall = T0;
    const cache = memoryAnnuaireCache({ now: () => wall, maxEntries: 2 });
    await cache.put('a', '1', later(10));
    await cache.put('b', '2', later(100));
    await cache.put('c', '3', later(100)); // evicts the oldest entry
    expect(await cache.get('a')).toBeUndefined();
    expect(await cache.get('b')).toBe('2');
    wall = later(200);
    expect(await cache.get('b')).toBeUndefined();
    expect(await cache.purgeExpired()).toBe(2);
    await cache.put('x', 'mentions 123', later(300));
    expect(await cache.deleteMatching('123')).toBe(1);
  });
});
