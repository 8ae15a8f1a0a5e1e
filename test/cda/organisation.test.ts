import { describe, expect, it } from 'vitest';
import { cdaOrganisationSchema, EXAMPLE_CDA_ORGANISATION } from '../../lambdas/cda/organisation.js';

describe('cdaOrganisationSchema', () => {
  it('accepts the example organisation', () => {
    expect(cdaOrganisationSchema.parse(EXAMPLE_CDA_ORGANISATION)).toEqual(EXAMPLE_CDA_ORGANISATION);
  });

  it('refuses a bad idNat_Struct, a facility type from another code system, a non-OID document root', () => {
    const bad = [
      { ...EXAMPLE_CDA_ORGANISATION, idNatStruct: 'FINESS123' },
      { ...EXAMPLE_CDA_ORGANISATION, facilityType: { code: 'SA25', codeSystem: '1.2.3' } },
      { ...EXAMPLE_CDA_ORGANISATION, documentIdRoot: 'urn:pfi:documents' },
      { ...EXAMPLE_CDA_ORGANISATION, telecom: '0102030405' },
    ];
    for (const org of bad) expect(cdaOrganisationSchema.safeParse(org).success).toBe(false);
  });

  it('keeps the biologist optional (then a report must name one)', () => {
    const { biologist: _, ...withoutBiologist } = EXAMPLE_CDA_ORGANISATION;
    expect(cdaOrganisationSchema.safeParse(withoutBiologist).success).toBe(true);
  });
});
