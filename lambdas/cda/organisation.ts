/**
 * The platform organisation's configured defaults: who keeps the documents PFI produces (custodian), the laboratory
 * and its biologist when a result message names none, and the OID under which PFI numbers its documents.
 */

import { z } from 'zod';
import type { CdaCode } from './types.js';

/** The platform organisation, as the CDA header needs it. */
export interface CdaOrganisation {
  /** idNat_Struct (OID 1.2.250.1.71.4.2.2): '1'+FINESS, '3'+SIRET… */
  idNatStruct: string;
  name: string;
  /** e.g. 'tel:0102030405' */
  telecom?: string;
  address?: { lines: string[]; postalCode?: string; city?: string };
  /** JDV_J02 (codeSystem 1.2.250.1.71.4.2.4): SA01 for a public hospital, SA25 for a medical laboratory… */
  facilityType: CdaCode;
  /** JDV_J04 (1.2.250.1.213.1.1.4.9), e.g. ETABLISSEMENT. */
  practiceSetting: CdaCode;
  /** The laboratory's biologist used when the ORU names none (never invented). */
  biologist?: { idNat: string /* '8'+RPPS */; family: string; given?: string; specialty?: CdaCode };
  /**
   * JDV_J01 profession/specialty (1.2.250.1.213.1.1.4.5) of an author whose qualification the data do not carry — a
   * Practitioner known from an HL7 message by its idNat only. What the organisation declares for its feeds (e.g.
   * G15_10 Médecin); without it such an author's profession is sent as unknown, which the CI-SIS schematron refuses.
   */
  defaultAuthorSpecialty?: CdaCode;
  /** OID root under which PFI numbers the documents it produces. */
  documentIdRoot: string;
}

const OID = /^[0-2](\.(0|[1-9]\d*))+$/;

const code = z.object({
  code: z.string().min(1),
  codeSystem: z.string().regex(OID, 'must be an OID'),
  displayName: z.string().min(1).optional(),
  codeSystemName: z.string().min(1).optional(),
});

/** Validates a {@link CdaOrganisation} read from configuration (JSON or mapped environment variables). */
export const cdaOrganisationSchema = z.object({
  idNatStruct: z.string().regex(/^[0-4][0-9A-Za-z]{5,20}$/, "must be an idNat_Struct ('1'+FINESS, '3'+SIRET…)"),
  name: z.string().min(1),
  telecom: z
    .string()
    .regex(/^(tel|fax|mailto|https?):/, 'must be a URL (tel:, mailto:…)')
    .optional(),
  address: z
    .object({
      lines: z.array(z.string().min(1)),
      postalCode: z.string().min(1).optional(),
      city: z.string().min(1).optional(),
    })
    .optional(),
  facilityType: code.extend({ codeSystem: z.literal('1.2.250.1.71.4.2.4') }),
  practiceSetting: code.extend({ codeSystem: z.literal('1.2.250.1.213.1.1.4.9') }),
  biologist: z
    .object({
      idNat: z.string().regex(/^[0-9][0-9A-Za-z]{5,20}$/, "must be an idNat_PS ('8'+RPPS…)"),
      family: z.string().min(1),
      given: z.string().min(1).optional(),
      specialty: code.optional(),
    })
    .optional(),
  defaultAuthorSpecialty: code.extend({ codeSystem: z.literal('1.2.250.1.213.1.1.4.5') }).optional(),
  documentIdRoot: z.string().regex(OID, 'must be an OID'),
}) satisfies z.ZodType<CdaOrganisation>;

/**
 * A fictitious but well-formed organisation for local mode and tests: FINESS 990000002 (department 99 does not
 * exist), a biologist in the RPPS test range 997…, document ids under 2.999 (the OID arc reserved for examples).
 */
export const EXAMPLE_CDA_ORGANISATION: CdaOrganisation = {
  idNatStruct: '1990000002',
  name: 'Centre hospitalier PFI (exemple)',
  telecom: 'tel:0102030405',
  address: { lines: ["1 rue de l'Exemple"], postalCode: '75000', city: 'PARIS' },
  facilityType: { code: 'SA01', displayName: 'Etablissement public de santé', codeSystem: '1.2.250.1.71.4.2.4' },
  practiceSetting: {
    code: 'ETABLISSEMENT',
    displayName: 'Etablissement de santé',
    codeSystem: '1.2.250.1.213.1.1.4.9',
  },
  biologist: {
    idNat: '899700000007',
    family: 'BIOLOGISTE',
    given: 'Exemple',
    specialty: {
      code: 'G15_10/SM03',
      displayName: 'Médecin - Biologie médicale (SM)',
      codeSystem: '1.2.250.1.213.1.1.4.5',
    },
  },
  defaultAuthorSpecialty: { code: 'G15_10', displayName: 'Médecin', codeSystem: '1.2.250.1.213.1.1.4.5' },
  documentIdRoot: '2.999.250.1',
};
