/** Synthetic resources (no real person) shared by the search extraction tests. */
import type { Resource } from '../../../lambdas/fhir/types.js';

export const INS_NIR = 'urn:oid:1.2.250.1.213.1.4.8';
export const IPP_SYSTEM = 'urn:oid:1.2.250.1.71.4.2.7';

export const richPatient = (): Resource => ({
  resourceType: 'Patient',
  id: 'p1',
  meta: { versionId: '1', lastUpdated: '2024-01-01T00:00:00Z', profile: ['https://example.org/fr-core-patient'] },
  identifier: [
    {
      system: INS_NIR,
      value: '280010000000000',
      type: { coding: [{ system: 'https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203', code: 'INS-NIR' }] },
    },
    { system: IPP_SYSTEM, value: '123456', use: 'usual' },
    { system: IPP_SYSTEM, value: '123456' },
  ],
  active: true,
  name: [
    { use: 'official', family: 'Lefèvre', given: ['Zoé', 'Hélène'], prefix: ['Mme'] },
    { use: 'maiden', family: 'Cœurdelion', given: ['Zoé'], text: 'Zoé  CŒURDELION' },
  ],
  telecom: [
    { system: 'phone', value: '+33 6 00 00 00 00', use: 'mobile' },
    { system: 'email', value: 'zoe@example.test' },
  ],
  gender: 'female',
  birthDate: '1980-04-12',
  deceasedBoolean: false,
  address: [
    {
      use: 'home',
      line: ['1 rue de l’Exemple', 'Bât. B'],
      city: 'Saint-Étienne',
      district: 'Loire',
      postalCode: '42000',
      country: 'FRA',
    },
  ],
  generalPractitioner: [{ reference: 'Practitioner/pr1' }],
  managingOrganization: { reference: 'https://fhir.example.test/fhir/Organization/o1' },
  communication: [{ language: { coding: [{ system: 'urn:ietf:bcp:47', code: 'fr-FR' }], text: 'Français' } }],
  link: [{ other: { reference: 'Patient/p0/_history/3' }, type: 'replaces' }],
});

export const labObservation = (): Resource => ({
  resourceType: 'Observation',
  id: 'o1',
  status: 'final',
  category: [
    { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] },
  ],
  code: { coding: [{ system: 'http://loinc.org', code: '2345-7', display: 'Glucose' }], text: 'Glucose' },
  subject: { reference: 'Patient/p1' },
  encounter: { reference: 'Encounter/e1' },
  effectiveDateTime: '2024-03-05T10:00:00+01:00',
  issued: '2024-03-05T11:00:00.123Z',
  performer: [{ reference: 'Practitioner/pr1' }, { reference: '#lab' }],
  valueQuantity: { value: 5.4, unit: 'mmol/L', system: 'http://unitsofmeasure.org', code: 'mmol/L' },
  component: [
    {
      code: { coding: [{ system: 'http://loinc.org', code: '8480-6' }] },
      valueQuantity: { value: 120, unit: 'mm[Hg]', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' },
    },
  ],
});

export const encounter = (): Resource => ({
  resourceType: 'Encounter',
  id: 'e1',
  status: 'in-progress',
  class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IMP', display: 'inpatient' },
  identifier: [{ system: 'urn:oid:1.2.250.1.71.4.2.1', value: 'V-1' }],
  subject: { reference: 'Patient/p1' },
  period: { start: '2024-03-01T08:30:00+01:00' },
  participant: [{ individual: { reference: 'Practitioner/pr1' } }, { individual: { reference: 'RelatedPerson/r1' } }],
  location: [{ location: { reference: 'Location/l1' }, period: { start: '2024-03-01', end: '2024-03-02' } }],
  length: { value: 2, unit: 'd', system: 'http://unitsofmeasure.org', code: 'd' },
});
