/**
 * Test-only: realistic inputs for the CDA generator, made by PFI's own HL7 mapping (ORU^R01 → DiagnosticReport +
 * Observations, PID → Patient) so that the generator is tested on the shapes the platform stores. Names, IPPs and
 * NIRs are fictitious (INS-NIR test OID).
 */

import type { Resource } from '../../lambdas/fhir/types.js';
import { insIdentifier, ippIdentifier, readPatientFacts } from '../../lambdas/hl7/map/patient.js';
import { readResults } from '../../lambdas/hl7/map/results.js';
import { parseHl7 } from '../../lambdas/hl7/parser.js';
import { nir, pam } from './pam.js';

export const TEST_NIR = nir('2790345234123');

export interface OruOptions {
  obx?: string[];
  /** OBR-4 (report code). */
  reportCode?: string;
  /** PID-32; default VALI. */
  status?: string;
  family?: string;
  given?: string;
  ins?: boolean;
  ipp?: string;
}

const DEFAULT_OBX = [
  'OBX|1|NM|2093-3^Cholestérol total^LN||6,2|mmol/L^mmol/L^UCUM|3.5-5.2|H|||F|||20261202081500',
  'OBX|2|SN|2571-8^Triglycérides^LN||<^0.5|mmol/L|<1.7|N|||F',
  'OBX|3|NM|2085-9^Cholestérol HDL^LN||1.950|mmol/L^mmol/L^UCUM|>1.0|N|||F',
  'OBX|4|ST|8251-1^Aspect du sérum^LN||Sérum clair||||||F',
];

/** The FHIR resources an ORU^R01 becomes in PFI (ids assigned, references resolved as the store does). */
export function oruResources(o: OruOptions = {}): { report: Resource; observations: Resource[]; patient: Resource } {
  const pid = pam({
    event: 'A01',
    controlId: 'X',
    ipp: o.ipp ?? 'IPP0001',
    ...(o.ins === false ? {} : { ins: TEST_NIR }),
    status: o.status ?? 'VALI',
    family: o.family ?? 'Lefèvre',
    given: o.given ?? 'Hélène',
    usedFamily: 'Martin',
  })
    .split('\r')
    .find((s) => s.startsWith('PID|'))!;
  const text = [
    'MSH|^~\\&|SIL|LABO|PFI|PFI|20261202103000||ORU^R01^ORU_R01|C0001|P|2.5|||||FRA|UNICODE UTF-8',
    pid,
    `OBR|1||F0001^LABO|${o.reportCode ?? '24331-1^Bilan lipidique^LN'}|||20261202080000|||||||||||||||20261202101500|||F`,
    ...(o.obx ?? DEFAULT_OBX),
  ].join('\r');
  const msg = parseHl7(text);
  const facts = readPatientFacts(msg, { senderAuthority: 'urn:oid:1.2.250.1.71.4.2.7.1.9.99' })!;
  const patient: Resource = {
    resourceType: 'Patient',
    id: 'pat-1',
    identifier: [...(facts.ipp ? [ippIdentifier(facts.ipp)] : []), ...(facts.ins ? [insIdentifier(facts.ins)] : [])],
    ...facts.demographics,
    active: true,
  };
  const [report] = readResults(msg, { system: 'urn:oid:1.2.250.1.71.4.2.7.1.9.99', value: 'C0001' });
  const observations = report!.observations.map(
    (obs, i): Resource => ({
      ...(obs.resource as Resource),
      id: `obs-${i + 1}`,
      subject: { reference: 'Patient/pat-1' },
    }),
  );
  return {
    report: {
      ...(report!.resource as Resource),
      id: 'dr-1',
      subject: { reference: 'Patient/pat-1' },
      result: observations.map((o) => ({ reference: `Observation/${o.id}` })),
    },
    observations,
    patient,
  };
}

/** A tiny valid PDF (one empty page), for level-1 documents. */
export const TINY_PDF = new TextEncoder().encode(
  '%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n' +
    '3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n',
);
