import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AnnuaireClientOptions, AnnuaireError, createAnnuaireClient } from '../../lambdas/mssante/annuaire.js';
import { memoryAnnuaireCache } from '../../lambdas/mssante/annuaire-cache.js';
import type { Clock } from '../../lambdas/mssante/rate-limiter.js';
import { API_KEY, type FakeAnnuaire, IDS, MAILBOXES, startFakeAnnuaire } from '../support/annuaire-server.js';

const RPPS = 'https://rpps.esante.gouv.fr';

/** A clock whose sleeps return at once and move time forward. */
function fakeClock(): Clock & { t: number } {
  const c = {
    t: 0,
    now: () => c.t,
    sleep: async (ms: number) => {
      c.t += Math.max(0, ms);
    },
  };
  return c;
}

describe('Annuaire Santé client', () => {
  let annuaire: FakeAnnuaire;
  beforeAll(async () => {
    annuaire = await startFakeAnnuaire();
  });
  afterAll(() => annuaire.close());

  const client = (extra: Partial<AnnuaireClientOptions> = {}) =>
    createAnnuaireClient({ baseUrl: annuaire.baseUrl, apiKey: API_KEY, clock: fakeClock(), ...extra });
  const requestsFor = (value: string) => annuaire.requests.filter((r) => r.query.get('identifier')?.endsWith(value));

  it('finds the MSSanté mailboxes of a practitioner across pages, with the key and _revinclude', async () => {
    const before = annuaire.requests.length;
    const result = await client().findMailboxes({
      resourceType: 'Practitioner',
      identifier: { system: RPPS, value: IDS.paulRpps },
    });
    expect(result).toEqual({
      found: true,
      mailboxes: [
        { address: MAILBOXES.paul, type: 'PER' },
        { address: MAILBOXES.cabinet, type: 'CAB' }, // from the PractitionerRole on page 2
      ],
    });
    const sent = annuaire.requests.slice(before);
    expect(sent).toHaveLength(2);
    expect(sent.every((r) => r.apiKey === API_KEY)).toBe(true);
    expect(sent[0]!.path).toBe('/fhir/v2/Practitioner');
    expect(sent[0]!.query.get('identifier')).toBe(`${RPPS}|${IDS.paulRpps}`);
    expect(sent[0]!.query.get('_revinclude')).toBe('PractitionerRole:practitioner');
    expect(sent[1]!.query.get('_page')).toBe('2');
  });

  it('keeps only MSSanté e-mails of an organisation (ORG), not its contact address', async () => {
    const result = await client().findMailboxes({
      resourceType: 'Organization',
      identifier: { system: 'https://finess.esante.gouv.fr', value: IDS.labFiness },
    });
    expect(result).toEqual({ found: true, mailboxes: [{ address: MAILBOXES.lab, type: 'ORG' }] });
  });

  it('searches a PractitionerRole by its identifier', async () => {
    const result = await client().findMailboxes({ resourceType: 'PractitionerRole', identifier: { value: IDS.role } });
    expect(result.mailboxes).toEqual([{ address: MAILBOXES.role, type: 'CAB' }]);
    expect(requestsFor(IDS.role)[0]!.query.get('_revinclude')).toBeNull();
  });

  it('tells "known without mailbox" from "unknown"', async () => {
    const c = client();
    expect(
      await c.findMailboxes({ resourceType: 'Practitioner', identifier: { system: RPPS, value: IDS.noMailboxRpps } }),
    ).toEqual({
      found: true,
      mailboxes: [],
    });
    expect(
      await c.findMailboxes({ resourceType: 'Practitioner', identifier: { system: RPPS, value: '19999999999' } }),
    ).toEqual({
      found: false,
      mailboxes: [],
    });
  });

  it('honours Retry-After on a 429, then succeeds', async () => {
    const clock = fakeClock();
    const result = await client({ clock }).findMailboxes({
      resourceType: 'Practitioner',
      identifier: { system: RPPS, value: IDS.rateLimited },
    });
    expect(result.mailboxes).toHaveLength(1);
    expect(requestsFor(IDS.rateLimited)).toHaveLength(2);
    expect(clock.t).toBeGreaterThanOrEqual(1000);
  });

  it('gives up on a failing server after the retries, with a content-free AnnuaireError', async () => {
    const error = await client({ retries: 2 })
      .findMailboxes({ resourceType: 'Practitioner', identifier: { system: RPPS, value: IDS.broken } })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AnnuaireError);
    expect((error as AnnuaireError).status).toBe(503);
    expect((error as Error).message).toMatch(/HTTP 503 after 3 attempts/);
    expect((error as Error).message).not.toContain(API_KEY);
    expect((error as Error).message).not.toContain(IDS.broken);
    expect(requestsFor(IDS.broken)).toHaveLength(3);
  });

  it('times out a hanging request and retries it', async () => {
    const error = await client({ timeoutMs: 150, retries: 1 })
      .findMailboxes({ resourceType: 'Practitioner', identifier: { system: RPPS, value: IDS.slow } })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AnnuaireError);
    expect((error as Error).message).toMatch(/timed out after 2 attempts/);
  });

  it('does not retry a refused key, and never sends the key to another host', async () => {
    const refused = await createAnnuaireClient({ baseUrl: annuaire.baseUrl, apiKey: 'wrong', clock: fakeClock() })
      .findMailboxes({ resourceType: 'Practitioner', identifier: { system: RPPS, value: IDS.paulRpps } })
      .catch((e: unknown) => e);
    expect(refused).toMatchObject({ name: 'AnnuaireError', status: 401 });
    const evil = await client()
      .findMailboxes({ resourceType: 'Practitioner', identifier: { system: RPPS, value: IDS.evilNext } })
      .catch((e: unknown) => e);
    expect(evil).toBeInstanceOf(AnnuaireError);
    expect((evil as Error).message).toMatch(/another origin/);
  });

  it('keeps to 17 requests in any second over a burst (fake clock)', async () => {
    const clock = fakeClock();
    const stamps: number[] = [];
    const counting: typeof fetch = (input, init) => {
      stamps.push(clock.now());
      return fetch(input, init);
    };
    const c = client({ clock, fetch: counting });
    const ids = Array.from({ length: 40 }, (_, i) => `2${String(i).padStart(10, '0')}`);
    await Promise.all(
      ids.map((value) => c.findMailboxes({ resourceType: 'Practitioner', identifier: { system: RPPS, value } })),
    );
    expect(stamps).toHaveLength(40);
    for (let i = 0; i + 17 < stamps.length; i++) expect(stamps[i + 17]! - stamps[i]!).toBeGreaterThanOrEqual(1000);
    expect(clock.t).toBeGreaterThanOrEqual(2000); // 40 requests need at least three one-second windows
  });

  it('shares one request between concurrent lookups of the same identifier', async () => {
    const c = client();
    const q = { resourceType: 'Organization' as const, identifier: { value: IDS.labFiness } };
    const before = requestsFor(IDS.labFiness).length;
    const [a, b] = await Promise.all([c.findMailboxes(q), c.findMailboxes(q)]);
    expect(a).toEqual(b);
    expect(requestsFor(IDS.labFiness).length - before).toBe(1);
  });

  it('answers from the cache until the TTL expires, then refreshes', async () => {
    let wall = new Date('2026-12-02T12:00:00Z');
    const now = () => wall;
    const cache = memoryAnnuaireCache({ now });
    const c = client({ cache, ttlSeconds: 3600, now });
    const q = {
      resourceType: 'Organization' as const,
      identifier: { system: 'urn:oid:1.2.250.1.71.4.2.2', value: IDS.labIdNat },
    };
    const first = await c.findMailboxes(q);
    const calls = requestsFor(IDS.labIdNat).length;
    expect(await c.findMailboxes(q)).toEqual(first);
    expect(requestsFor(IDS.labIdNat).length).toBe(calls);
    wall = new Date(wall.getTime() + 3601_000);
    expect(await c.findMailboxes(q)).toEqual(first);
    expect(requestsFor(IDS.labIdNat).length).toBe(calls + 1);
  });
});
