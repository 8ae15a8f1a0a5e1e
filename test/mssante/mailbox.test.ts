import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Resource } from '../../lambdas/fhir/types.js';
import { AnnuaireError, createAnnuaireClient } from '../../lambdas/mssante/annuaire.js';
import { resolveMailboxes } from '../../lambdas/mssante/mailbox.js';
import { API_KEY, type FakeAnnuaire, IDS, MAILBOXES, startFakeAnnuaire } from '../support/annuaire-server.js';

const EMAIL_TYPE = 'https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-contact-point-email-type';
const mssanteTyped = (value: string) => ({
  system: 'email',
  value,
  extension: [{ url: EMAIL_TYPE, valueCoding: { code: 'MSSANTE' } }],
});

const practitioner = (extra: Partial<Resource> = {}): Resource => ({
  resourceType: 'Practitioner',
  id: 'p1',
  name: [{ family: 'Lefèvre', given: ['Hélène'] }],
  ...extra,
});

describe('resolveMailboxes', () => {
  let annuaire: FakeAnnuaire;
  const instant = { now: () => 0, sleep: async () => {} };
  beforeAll(async () => {
    annuaire = await startFakeAnnuaire();
  });
  afterAll(() => annuaire.close());
  const client = () => createAnnuaireClient({ baseUrl: annuaire.baseUrl, apiKey: API_KEY, clock: instant });

  it("takes the recipient's telecom typed MSSANTE first, without asking the annuaire", async () => {
    const before = annuaire.requests.length;
    const r = await resolveMailboxes(
      practitioner({
        telecom: [
          { system: 'email', value: 'helene@example.org' },
          mssanteTyped('helene.lefevre@hopital.example.fr'),
          { system: 'phone', value: '0102030405' },
        ],
        identifier: [{ system: 'https://rpps.esante.gouv.fr', value: IDS.paulRpps }],
      }),
      { annuaire: client() },
    );
    expect(r).toEqual({ addresses: ['helene.lefevre@hopital.example.fr'], source: 'resource' });
    expect(annuaire.requests.length).toBe(before);
  });

  it('recognises an mssante.fr domain without the extension, and skips ended contact points', async () => {
    const r = await resolveMailboxes(
      practitioner({
        telecom: [
          { system: 'email', value: 'old@medecin.mssante.fr', period: { end: '2020-01-01' } },
          { system: 'email', value: 'Helene.Lefevre@Medecin.MSSante.fr' },
        ],
      }),
    );
    expect(r).toEqual({ addresses: ['Helene.Lefevre@medecin.mssante.fr'], source: 'resource' });
  });

  it("uses a PractitionerRole's Practitioner telecom", async () => {
    const seen: string[] = [];
    const r = await resolveMailboxes(
      { resourceType: 'PractitionerRole', practitioner: { reference: 'Practitioner/p1' } },
      {
        practitionerOf: async (ref) => {
          seen.push(ref);
          return practitioner({ telecom: [mssanteTyped('helene.lefevre@medecin.mssante.fr')] });
        },
      },
    );
    expect(seen).toEqual(['Practitioner/p1']);
    expect(r).toEqual({ addresses: ['helene.lefevre@medecin.mssante.fr'], source: 'resource' });
  });

  it('falls back to the annuaire by RPPS', async () => {
    const r = await resolveMailboxes(
      practitioner({
        telecom: [{ system: 'email', value: 'helene@example.org' }],
        identifier: [{ system: 'https://rpps.esante.gouv.fr', value: IDS.paulRpps }],
      }),
      { annuaire: client() },
    );
    expect(r).toEqual({ addresses: [MAILBOXES.paul, MAILBOXES.cabinet], source: 'annuaire' });
  });

  it("a PractitionerRole: its own identifier, then its practitioner's", async () => {
    const own = await resolveMailboxes(
      { resourceType: 'PractitionerRole', identifier: [{ value: IDS.role }] },
      { annuaire: client() },
    );
    expect(own).toEqual({ addresses: [MAILBOXES.role], source: 'annuaire' });
    const viaPractitioner = await resolveMailboxes(
      {
        resourceType: 'PractitionerRole',
        identifier: [{ value: 'ROLE-UNKNOWN' }],
        practitioner: { reference: 'Practitioner/p1' },
      },
      {
        annuaire: client(),
        practitionerOf: async () =>
          practitioner({ identifier: [{ system: 'urn:oid:1.2.250.1.71.4.2.1', value: IDS.paulIdNat }] }),
      },
    );
    expect(viaPractitioner).toEqual({ addresses: [MAILBOXES.paul, MAILBOXES.cabinet], source: 'annuaire' });
  });

  it('an Organization by FINESS', async () => {
    const r = await resolveMailboxes(
      {
        resourceType: 'Organization',
        identifier: [{ system: 'https://finess.esante.gouv.fr', value: IDS.labFiness }],
        telecom: [{ system: 'email', value: 'contact@hopital-test.fr' }],
      },
      { annuaire: client() },
    );
    expect(r).toEqual({ addresses: [MAILBOXES.lab], source: 'annuaire' });
  });

  it('asks the annuaire once per resource even with several identifiers', async () => {
    const before = annuaire.requests.length;
    const r = await resolveMailboxes(
      practitioner({
        identifier: [
          { system: 'urn:oid:1.2.250.1.71.4.2.1', value: `8${IDS.noMailboxRpps}` },
          { system: 'https://rpps.esante.gouv.fr', value: IDS.noMailboxRpps },
        ],
      }),
      { annuaire: client() },
    );
    expect(r).toEqual({
      addresses: [],
      reason: 'the Annuaire Santé lists the Practitioner without an MSSanté mailbox',
    });
    expect(annuaire.requests.length - before).toBe(1);
  });

  it('gives a clear reason without personal data when nothing is found', async () => {
    const helene = practitioner({
      telecom: [{ system: 'email', value: 'helene@example.org' }],
      identifier: [{ system: 'https://rpps.esante.gouv.fr', value: '19999999999' }],
    });
    const cases = [
      await resolveMailboxes(helene, { annuaire: client() }),
      await resolveMailboxes(helene),
      await resolveMailboxes(practitioner({ telecom: [{ system: 'email', value: 'helene@example.org' }] }), {
        annuaire: client(),
      }),
      await resolveMailboxes({ resourceType: 'Patient', name: [{ family: 'MARTIN' }] }, { annuaire: client() }),
    ];
    expect(cases.map((c) => ('reason' in c ? c.reason : 'found'))).toEqual([
      "the Practitioner's identifier is unknown to the Annuaire Santé",
      "no MSSanté mailbox in the Practitioner's telecom (Annuaire Santé not configured)",
      "no MSSanté mailbox in the Practitioner's telecom and no business identifier (idNatPs/RPPS, idNatSt/FINESS) to search the Annuaire Santé with",
      "no MSSanté mailbox in the Patient's telecom and no business identifier (idNatPs/RPPS, idNatSt/FINESS) to search the Annuaire Santé with",
    ]);
    for (const c of cases) {
      expect(c.addresses).toEqual([]);
      for (const secret of ['Lefèvre', 'Hélène', 'helene', 'MARTIN', '19999999999']) {
        expect(JSON.stringify(c)).not.toContain(secret);
      }
    }
  });

  it('takes an explicit address after checking it', async () => {
    expect(await resolveMailboxes({ address: ' dr.x@Test-CI-SIS.mssante.fr ' })).toEqual({
      addresses: ['dr.x@test-ci-sis.mssante.fr'],
      source: 'resource',
    });
    expect(await resolveMailboxes({ address: 'Dr X <dr.x@test-ci-sis.mssante.fr>' })).toEqual({
      addresses: [],
      reason: 'the recipient address is not a valid e-mail address',
    });
  });

  it('lets an annuaire outage through as an AnnuaireError (retry the job)', async () => {
    await expect(
      resolveMailboxes(practitioner({ identifier: [{ system: 'https://rpps.esante.gouv.fr', value: IDS.broken }] }), {
        annuaire: createAnnuaireClient({ baseUrl: annuaire.baseUrl, apiKey: API_KEY, clock: instant, retries: 0 }),
      }),
    ).rejects.toBeInstanceOf(AnnuaireError);
  });
});
