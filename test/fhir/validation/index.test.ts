import { describe, expect, it } from 'vitest';
import type { OperationOutcomeIssue, SupportedType } from '../../../lambdas/fhir/types.js';
import { SUPPORTED_TYPES } from '../../../lambdas/fhir/types.js';
import {
  checkNirKey,
  isInsSystem,
  MAX_ISSUES,
  requiredPatientLinks,
  validateResource,
} from '../../../lambdas/fhir/validation/index.js';

type Json = Record<string, unknown>;

// Fictitious identity traits; the tests assert they never appear in diagnostics.
const NIR = '279035121518989';
const FAMILY = 'Confidentielle';
const GIVEN = 'Zoéline';
const BIRTH_DATE = '1979-03-12';

const ref = (reference: string) => ({ reference });
const cc = (code: string, system = 'http://loinc.org') => ({ coding: [{ system, code }] });

const MINIMAL: Record<SupportedType, Json> = {
  Patient: { resourceType: 'Patient' },
  Practitioner: { resourceType: 'Practitioner' },
  PractitionerRole: { resourceType: 'PractitionerRole' },
  Organization: { resourceType: 'Organization', name: 'CHU Test' },
  Location: { resourceType: 'Location' },
  Encounter: {
    resourceType: 'Encounter',
    status: 'finished',
    class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IMP' },
    subject: ref('Patient/p1'),
  },
  Observation: { resourceType: 'Observation', status: 'final', code: cc('8867-4'), subject: ref('Patient/p1') },
  DiagnosticReport: {
    resourceType: 'DiagnosticReport',
    status: 'final',
    code: cc('11502-2'),
    subject: ref('Patient/p1'),
  },
  DocumentReference: {
    resourceType: 'DocumentReference',
    status: 'current',
    subject: ref('Patient/p1'),
    content: [{ attachment: { url: 'Binary/b1' } }],
  },
  Binary: { resourceType: 'Binary', contentType: 'application/pdf' },
  Communication: { resourceType: 'Communication', status: 'completed' },
  Provenance: {
    resourceType: 'Provenance',
    target: [ref('Observation/o1')],
    recorded: '2024-03-06T11:00:00+01:00',
    agent: [{ who: ref('Device/d1') }],
  },
  AuditEvent: {
    resourceType: 'AuditEvent',
    type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest' },
    recorded: '2024-03-06T10:00:00.123Z',
    agent: [{ requestor: true }],
    source: { observer: { display: 'PFI' } },
  },
};

const meta = {
  versionId: '3',
  lastUpdated: '2024-03-06T10:00:00.000Z',
  source: 'urn:oid:1.2.250.1.71.4.2.2',
  profile: ['https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-patient-ins'],
  tag: [{ system: 'urn:pfi:tag', code: 'hl7v2' }],
  security: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', code: 'N' }],
};
const text = { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">Résumé</div>' };
const period = { start: '2024-03-06T11:00:00+01:00', end: '2024-03-08' };
const address = { use: 'work', line: ['1 rue de la Paix'], city: 'Lyon', postalCode: '69001', country: 'FR' };
const telecom = [{ system: 'phone', value: '0102030405', use: 'work', rank: 1 }];

const RICH: Record<SupportedType, Json> = {
  Patient: {
    resourceType: 'Patient',
    id: 'pat-1.a',
    meta,
    text,
    language: 'fr-FR',
    contained: [{ resourceType: 'Organization', id: 'org1', name: 'Cabinet' }],
    extension: [
      {
        url: 'http://hl7.org/fhir/StructureDefinition/patient-birthPlace',
        valueAddress: {
          extension: [
            {
              url: 'https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-address-insee-code',
              valueCoding: {
                system: 'https://mos.esante.gouv.fr/NOS/TRE_R13-CommuneOM/FHIR/TRE-R13-CommuneOM',
                code: '63220',
              },
            },
          ],
          city: 'Clermont',
        },
      },
      {
        url: 'https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-identity-reliability',
        extension: [
          { url: 'identityStatus', valueCoding: { code: 'VALI' } },
          { url: 'validationDate', valueDate: '2024-01' },
        ],
      },
    ],
    identifier: [
      {
        use: 'official',
        type: cc('INS-NIR-TEST', 'https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203'),
        system: 'urn:oid:1.2.250.1.213.1.4.10',
        value: NIR,
      },
      { use: 'usual', system: 'urn:oid:1.2.250.1.71.4.2.7', value: '000003', assigner: { display: 'CHU-X' } },
    ],
    active: true,
    name: [
      { use: 'official', family: FAMILY, given: [GIVEN, 'Marie'], _given: [null, { id: 'g1' }] },
      { use: 'usual', family: 'Usage', given: [null], _given: [{ extension: [{ url: 'u', valueString: 'x' }] }] },
    ],
    telecom: [{ system: 'email', value: 'a@b.fr' }],
    gender: 'female',
    birthDate: BIRTH_DATE,
    deceasedBoolean: false,
    address: [{ ...address, use: 'home', period: { start: '2018-06-01' } }],
    maritalStatus: cc('M', 'http://terminology.hl7.org/CodeSystem/v3-MaritalStatus'),
    multipleBirthInteger: 2,
    photo: [{ contentType: 'image/png', data: 'iVBORw0KGgo=' }],
    contact: [{ relationship: [cc('MTH')], name: { family: 'Contact' }, telecom }],
    communication: [{ language: cc('fr', 'urn:ietf:bcp:47'), preferred: true }],
    generalPractitioner: [ref('Practitioner/pr1')],
    managingOrganization: ref('#org1'),
    link: [{ other: ref('Patient/old'), type: 'replaces' }],
  },
  Practitioner: {
    resourceType: 'Practitioner',
    identifier: [{ system: 'urn:oid:1.2.250.1.71.4.2.1', value: '810000000001' }],
    active: true,
    name: [{ prefix: ['Dr'], family: 'Médecin', given: ['Paul'] }],
    telecom: [{ system: 'email', value: 'dr@test.mssante.fr' }],
    address: [address],
    gender: 'male',
    birthDate: '1970',
    qualification: [
      { code: cc('SM26', 'https://mos.esante.gouv.fr/NOS/TRE_R38'), period, issuer: ref('Organization/o') },
    ],
    communication: [cc('fr', 'urn:ietf:bcp:47')],
  },
  PractitionerRole: {
    resourceType: 'PractitionerRole',
    active: true,
    period,
    practitioner: ref('Practitioner/pr1'),
    organization: ref('Organization/o1'),
    code: [cc('10')],
    specialty: [cc('SM26')],
    location: [ref('Location/l1')],
    telecom,
    availableTime: [{ daysOfWeek: ['mon', 'tue'], availableStartTime: '08:00:00', availableEndTime: '18:30:00' }],
    notAvailable: [{ description: 'Congés', during: period }],
    availabilityExceptions: 'Jours fériés',
  },
  Organization: {
    resourceType: 'Organization',
    identifier: [{ system: 'urn:oid:1.2.250.1.71.4.2.2', value: '1350005179' }],
    active: true,
    type: [cc('GEOGRAPHICAL-ENTITY')],
    name: 'Hôpital Test',
    alias: ['HT'],
    telecom,
    address: [address],
    partOf: ref('Organization/parent'),
    contact: [{ purpose: cc('ADMIN'), name: { text: 'Accueil' }, telecom }],
  },
  Location: {
    resourceType: 'Location',
    status: 'active',
    operationalStatus: { code: 'O' },
    name: 'Chambre 4 lit F',
    mode: 'instance',
    type: [cc('HOSP')],
    address,
    physicalType: cc('bd'),
    position: { longitude: 4.85, latitude: 45.75, altitude: 170 },
    managingOrganization: ref('Organization/o1'),
    partOf: ref('Location/l0'),
    hoursOfOperation: [{ daysOfWeek: ['sat'], allDay: true }],
  },
  Encounter: {
    resourceType: 'Encounter',
    identifier: [{ system: 'urn:oid:1.2.250.1.71.4.2.7.2', value: 'VN1' }],
    status: 'in-progress',
    statusHistory: [{ status: 'arrived', period }],
    class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IMP' },
    classHistory: [{ class: { code: 'EMER' }, period }],
    type: [cc('ADM')],
    priority: cc('UR'),
    subject: { reference: 'Patient/p1', type: 'Patient' },
    participant: [{ type: [cc('ATND')], period, individual: ref('Practitioner/pr1') }],
    period,
    length: { value: 2, unit: 'd', system: 'http://unitsofmeasure.org', code: 'd' },
    reasonCode: [cc('R10')],
    diagnosis: [{ condition: ref('Condition/c1'), rank: 1 }],
    hospitalization: { admitSource: cc('8'), dischargeDisposition: cc('home') },
    location: [{ location: ref('Location/l1'), status: 'active', period }],
    serviceProvider: ref('Organization/o1'),
  },
  Observation: {
    resourceType: 'Observation',
    meta,
    identifier: [{ value: 'obs-1' }],
    status: 'final',
    category: [cc('laboratory', 'http://terminology.hl7.org/CodeSystem/observation-category')],
    code: cc('14749-6'),
    subject: ref('Patient/p1'),
    encounter: ref('Encounter/e1'),
    effectiveDateTime: '2024-03-06T08:30:00.000+01:00',
    issued: '2024-03-06T10:00:00Z',
    performer: [ref('Organization/lab')],
    valueQuantity: { value: 5.4, comparator: '<', unit: 'mmol/L', system: 'http://unitsofmeasure.org', code: 'mmol/L' },
    interpretation: [cc('N')],
    note: [{ authorString: 'Biologiste', time: '2024-03-06', text: 'RAS' }],
    referenceRange: [{ low: { value: 3.9, unit: 'mmol/L' }, high: { value: 6.1, unit: 'mmol/L' } }, { text: 'adulte' }],
    component: [
      { code: cc('8480-6'), valueQuantity: { value: 120 } },
      { code: cc('8462-4'), dataAbsentReason: cc('not-performed') },
      { code: cc('x'), valueRange: { low: { value: 1 } } },
    ],
  },
  DiagnosticReport: {
    resourceType: 'DiagnosticReport',
    status: 'final',
    category: [cc('LAB')],
    code: cc('11502-2'),
    subject: ref('Patient/p1'),
    encounter: ref('Encounter/e1'),
    effectivePeriod: period,
    issued: '2024-03-06T10:00:00+01:00',
    performer: [ref('Organization/lab')],
    result: [ref('Observation/o1')],
    media: [{ link: ref('Media/m1'), comment: 'image' }],
    conclusion: 'Normal',
    presentedForm: [{ contentType: 'application/pdf', data: 'JVBERi0xLjQK', title: 'CR' }],
  },
  DocumentReference: {
    resourceType: 'DocumentReference',
    masterIdentifier: { system: 'urn:ietf:rfc:3986', value: 'urn:oid:1.2.3.4' },
    status: 'current',
    docStatus: 'final',
    type: cc('11502-2'),
    category: [cc('REPORTS')],
    subject: ref('Patient/p1'),
    date: '2024-03-06T10:00:00+01:00',
    author: [ref('Practitioner/pr1')],
    custodian: ref('Organization/o1'),
    relatesTo: [{ code: 'replaces', target: ref('DocumentReference/old') }],
    description: 'Compte rendu',
    securityLabel: [cc('N')],
    content: [
      {
        attachment: { contentType: 'text/xml', url: 'Binary/b1', size: 1024, hash: 'q83vEjRWeJA=', creation: '2024' },
        format: { system: 'http://ihe.net/fhir/ValueSet/IHE.FormatCode.codesystem', code: 'urn:ihe:lab:xd-lab:2008' },
      },
    ],
    context: { encounter: [ref('Encounter/e1')], period, practiceSetting: cc('AMBULATOIRE') },
  },
  Binary: {
    resourceType: 'Binary',
    id: 'b1',
    meta: { versionId: '1' },
    contentType: 'application/pdf',
    securityContext: ref('DocumentReference/d1'),
    data: 'JVBERi0xLjQK\nJVBERi0xLjQK',
  },
  Communication: {
    resourceType: 'Communication',
    status: 'in-progress',
    category: [cc('notification')],
    priority: 'routine',
    medium: [cc('EMAILWRIT')],
    subject: ref('Patient/p1'),
    about: [ref('DocumentReference/d1')],
    sent: '2024-03-06T10:00:00+01:00',
    recipient: [ref('Practitioner/pr1')],
    sender: ref('Organization/o1'),
    payload: [
      { contentString: 'Bonjour' },
      { contentAttachment: { contentType: 'application/pdf', data: 'JVBERi0xLjQK' } },
      { contentReference: ref('DocumentReference/d1') },
    ],
    note: [{ authorReference: ref('Practitioner/pr1'), text: 'urgent' }],
  },
  Provenance: {
    resourceType: 'Provenance',
    target: [ref('Observation/o1'), ref('DiagnosticReport/r1')],
    occurredDateTime: '2024-03-06',
    recorded: '2024-03-06T11:00:00+01:00',
    policy: ['urn:pfi:policy'],
    activity: cc('CREATE'),
    agent: [{ type: cc('author'), who: ref('Device/mllp'), onBehalfOf: ref('Organization/o1') }],
    entity: [{ role: 'source', what: { identifier: { value: 'MSG0001' } }, agent: [{ who: ref('Device/sih') }] }],
    signature: [{ type: [{ code: '1.2.840.10065.1.12.1.1' }], when: '2024-03-06T11:00:00Z', who: ref('Device/mllp') }],
  },
  AuditEvent: {
    resourceType: 'AuditEvent',
    type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest' },
    subtype: [{ code: 'read' }],
    action: 'R',
    period: { start: '2024-03-06T10:00:00Z' },
    recorded: '2024-03-06T10:00:00.123Z',
    outcome: '0',
    purposeOfEvent: [cc('TREAT')],
    agent: [
      {
        type: cc('110153'),
        who: { identifier: { value: 'client-1' } },
        requestor: true,
        network: { address: '10.0.0.1', type: '2' },
        policy: ['urn:pfi:scope'],
      },
    ],
    source: { site: 'eu-west-3', observer: { display: 'PFI' }, type: [{ code: '3' }] },
    entity: [
      {
        what: ref('Patient/p1'),
        type: { code: '1' },
        role: { code: '1' },
        detail: [
          { type: 'query', valueString: 'name=x' },
          { type: 'raw', valueBase64Binary: 'YWJj' },
        ],
      },
      { query: 'X19fYQ==' },
    ],
  },
};

function clone<T>(value: T): T {
  return structuredClone(value);
}

/** The issues as [code, expression] pairs, for compact assertions. */
function summary(issues: OperationOutcomeIssue[]): [string, string | undefined][] {
  return issues.map((issue) => [issue.code, issue.expression?.[0]]);
}

describe('validateResource: valid resources', () => {
  it('covers every supported type', () => {
    expect(Object.keys(MINIMAL).sort()).toEqual([...SUPPORTED_TYPES].sort());
    expect(Object.keys(RICH).sort()).toEqual([...SUPPORTED_TYPES].sort());
  });

  for (const type of SUPPORTED_TYPES) {
    it(`accepts a minimal ${type}`, () => {
      expect(validateResource(clone(MINIMAL[type]), type)).toEqual([]);
    });
    it(`accepts a rich ${type}`, () => {
      expect(validateResource(clone(RICH[type]), type)).toEqual([]);
    });
  }

  it('tolerates unknown elements and primitive extensions (_element)', () => {
    const patient = {
      ...RICH.Patient,
      futureElement: { a: 1 },
      _birthDate: { extension: [{ url: 'x', valueString: 'y' }] },
    };
    expect(validateResource(patient)).toEqual([]);
  });
});

describe('validateResource: resourceType', () => {
  it('rejects non-objects', () => {
    for (const value of [null, 'Patient', 42, [MINIMAL.Patient]]) {
      expect(summary(validateResource(value, 'Patient'))).toEqual([['structure', 'Patient']]);
    }
    expect(summary(validateResource(undefined))).toEqual([['structure', 'Resource']]);
  });

  it('requires a string resourceType', () => {
    expect(summary(validateResource({ id: 'x' }))).toEqual([['required', 'Resource.resourceType']]);
    expect(summary(validateResource({ resourceType: 3 }, 'Patient'))).toEqual([['structure', 'Patient.resourceType']]);
  });

  it('rejects a type that differs from the expected one', () => {
    const issues = validateResource(MINIMAL.Observation, 'Patient');
    expect(summary(issues)).toEqual([['value', 'Patient.resourceType']]);
    expect(issues[0]?.diagnostics).toContain('expected Patient');
  });

  it('does not echo an unexpected type name chosen by the caller', () => {
    const issues = validateResource(MINIMAL.Observation, 'Evil<script>');
    expect(issues[0]?.diagnostics).not.toContain('Evil');
    expect(issues[0]?.diagnostics).not.toContain('Observation');
  });

  it('rejects unsupported types without echoing them', () => {
    const issues = validateResource({ resourceType: 'Appointment' });
    expect(summary(issues)).toEqual([['not-supported', 'Resource.resourceType']]);
    expect(issues[0]?.diagnostics).not.toContain('Appointment');
  });
});

/** Applies `mutate` to a copy of `base` and returns the [code, expression] pairs of the issues. */
function issuesAfter(base: Json, mutate: (r: Json) => void): [string, string | undefined][] {
  const resource = clone(base);
  mutate(resource);
  return summary(validateResource(resource));
}

describe('validateResource: required elements and required bindings', () => {
  const cases: [string, Json, (r: Json) => void, [string, string][]][] = [
    ['Patient.gender binding', MINIMAL.Patient, (r) => (r.gender = 'M'), [['value', 'Patient.gender']]],
    ['Observation.status', MINIMAL.Observation, (r) => delete r.status, [['required', 'Observation.status']]],
    ['Observation.status binding', MINIMAL.Observation, (r) => (r.status = 'done'), [['value', 'Observation.status']]],
    ['Observation.code', MINIMAL.Observation, (r) => delete r.code, [['required', 'Observation.code']]],
    [
      'Observation.component.code',
      MINIMAL.Observation,
      (r) => (r.component = [{ valueString: 'x' }]),
      [['required', 'Observation.component[0].code']],
    ],
    ['Encounter.status', MINIMAL.Encounter, (r) => delete r.status, [['required', 'Encounter.status']]],
    ['Encounter.class', MINIMAL.Encounter, (r) => delete r.class, [['required', 'Encounter.class']]],
    [
      'Encounter.class type',
      MINIMAL.Encounter,
      (r) => (r.class = [{ code: 'IMP' }]),
      [['structure', 'Encounter.class']],
    ],
    [
      'Encounter.location.location',
      MINIMAL.Encounter,
      (r) => (r.location = [{ status: 'active' }]),
      [['required', 'Encounter.location[0].location']],
    ],
    [
      'DiagnosticReport.status',
      MINIMAL.DiagnosticReport,
      (r) => delete r.status,
      [['required', 'DiagnosticReport.status']],
    ],
    ['DiagnosticReport.code', MINIMAL.DiagnosticReport, (r) => delete r.code, [['required', 'DiagnosticReport.code']]],
    [
      'DocumentReference.status binding',
      MINIMAL.DocumentReference,
      (r) => (r.status = 'final'),
      [['value', 'DocumentReference.status']],
    ],
    [
      'DocumentReference.content',
      MINIMAL.DocumentReference,
      (r) => delete r.content,
      [['required', 'DocumentReference.content']],
    ],
    [
      'DocumentReference.content empty',
      MINIMAL.DocumentReference,
      (r) => (r.content = []),
      [['structure', 'DocumentReference.content']],
    ],
    [
      'DocumentReference.content.attachment',
      MINIMAL.DocumentReference,
      (r) => (r.content = [{ format: { code: 'x' } }]),
      [['required', 'DocumentReference.content[0].attachment']],
    ],
    ['Communication.status', MINIMAL.Communication, (r) => delete r.status, [['required', 'Communication.status']]],
    [
      'Communication.payload.content[x]',
      MINIMAL.Communication,
      (r) => (r.payload = [{ id: 'p' }]),
      [['required', 'Communication.payload[0].content[x]']],
    ],
    [
      'Communication.payload two contents',
      MINIMAL.Communication,
      (r) => (r.payload = [{ contentString: 'a', contentReference: ref('Binary/b') }]),
      [['structure', 'Communication.payload[0].content[x]']],
    ],
    ['Provenance.target', MINIMAL.Provenance, (r) => delete r.target, [['required', 'Provenance.target']]],
    ['Provenance.recorded', MINIMAL.Provenance, (r) => delete r.recorded, [['required', 'Provenance.recorded']]],
    [
      'Provenance.recorded without timezone',
      MINIMAL.Provenance,
      (r) => (r.recorded = '2024-03-06T11:00:00'),
      [['value', 'Provenance.recorded']],
    ],
    ['Provenance.agent', MINIMAL.Provenance, (r) => delete r.agent, [['required', 'Provenance.agent']]],
    [
      'Provenance.agent.who',
      MINIMAL.Provenance,
      (r) => (r.agent = [{ type: cc('x') }]),
      [['required', 'Provenance.agent[0].who']],
    ],
    [
      'Provenance.entity.role binding',
      MINIMAL.Provenance,
      (r) => (r.entity = [{ role: 'origin', what: ref('Binary/b') }]),
      [['value', 'Provenance.entity[0].role']],
    ],
    ['Binary.contentType', MINIMAL.Binary, (r) => delete r.contentType, [['required', 'Binary.contentType']]],
    ['Binary.data base64', MINIMAL.Binary, (r) => (r.data = 'not base64!'), [['value', 'Binary.data']]],
    ['AuditEvent.type', MINIMAL.AuditEvent, (r) => delete r.type, [['required', 'AuditEvent.type']]],
    ['AuditEvent.recorded', MINIMAL.AuditEvent, (r) => delete r.recorded, [['required', 'AuditEvent.recorded']]],
    ['AuditEvent.agent', MINIMAL.AuditEvent, (r) => delete r.agent, [['required', 'AuditEvent.agent']]],
    [
      'AuditEvent.agent.requestor',
      MINIMAL.AuditEvent,
      (r) => (r.agent = [{}]),
      [['required', 'AuditEvent.agent[0].requestor']],
    ],
    ['AuditEvent.source', MINIMAL.AuditEvent, (r) => delete r.source, [['required', 'AuditEvent.source']]],
    [
      'AuditEvent.source.observer',
      MINIMAL.AuditEvent,
      (r) => (r.source = { site: 's' }),
      [['required', 'AuditEvent.source.observer']],
    ],
    ['AuditEvent.action binding', MINIMAL.AuditEvent, (r) => (r.action = 'X'), [['value', 'AuditEvent.action']]],
    [
      'AuditEvent.entity.detail.value[x]',
      MINIMAL.AuditEvent,
      (r) => (r.entity = [{ detail: [{ type: 't' }] }]),
      [['required', 'AuditEvent.entity[0].detail[0].value[x]']],
    ],
    [
      'AuditEvent sev-1',
      MINIMAL.AuditEvent,
      (r) => (r.entity = [{ name: 'n', query: 'YWJj' }]),
      [['invariant', 'AuditEvent.entity[0]']],
    ],
    [
      'Practitioner.qualification.code',
      MINIMAL.Practitioner,
      (r) => (r.qualification = [{ period }]),
      [['required', 'Practitioner.qualification[0].code']],
    ],
    [
      'PractitionerRole.notAvailable.description',
      MINIMAL.PractitionerRole,
      (r) => (r.notAvailable = [{ during: period }]),
      [['required', 'PractitionerRole.notAvailable[0].description']],
    ],
    [
      'PractitionerRole.availableTime.daysOfWeek binding',
      MINIMAL.PractitionerRole,
      (r) => (r.availableTime = [{ daysOfWeek: ['monday'] }]),
      [['value', 'PractitionerRole.availableTime[0].daysOfWeek[0]']],
    ],
    ['Organization org-1', MINIMAL.Organization, (r) => delete r.name, [['invariant', 'Organization']]],
    [
      'Organization org-2',
      MINIMAL.Organization,
      (r) => (r.address = [{ ...address, use: 'home' }]),
      [['invariant', 'Organization.address[0].use']],
    ],
    [
      'Organization org-3',
      MINIMAL.Organization,
      (r) => (r.telecom = [{ system: 'phone', value: '1', use: 'home' }]),
      [['invariant', 'Organization.telecom[0].use']],
    ],
    ['Location.status binding', MINIMAL.Location, (r) => (r.status = 'open'), [['value', 'Location.status']]],
    [
      'Location.position.latitude',
      MINIMAL.Location,
      (r) => (r.position = { longitude: 1 }),
      [['required', 'Location.position.latitude']],
    ],
    [
      'Patient.link.type',
      MINIMAL.Patient,
      (r) => (r.link = [{ other: ref('Patient/x') }]),
      [['required', 'Patient.link[0].type']],
    ],
    [
      'Patient pat-1',
      MINIMAL.Patient,
      (r) => (r.contact = [{ relationship: [cc('MTH')] }]),
      [['invariant', 'Patient.contact[0]']],
    ],
    [
      'Patient.communication.language',
      MINIMAL.Patient,
      (r) => (r.communication = [{ preferred: true }]),
      [['required', 'Patient.communication[0].language']],
    ],
  ];

  for (const [name, base, mutate, expected] of cases) {
    it(name, () => {
      expect(issuesAfter(base, mutate)).toEqual(expected);
    });
  }
});

describe('validateResource: primitives, datatypes and JSON rules', () => {
  const cases: [string, Json, (r: Json) => void, [string, string][]][] = [
    ['id pattern', MINIMAL.Patient, (r) => (r.id = 'bad id!'), [['value', 'Patient.id']]],
    ['id length', MINIMAL.Patient, (r) => (r.id = 'a'.repeat(65)), [['value', 'Patient.id']]],
    [
      'meta.lastUpdated instant',
      MINIMAL.Patient,
      (r) => (r.meta = { lastUpdated: '2024-01-01' }),
      [['value', 'Patient.meta.lastUpdated']],
    ],
    ['meta.profile empty', MINIMAL.Patient, (r) => (r.meta = { profile: [] }), [['structure', 'Patient.meta.profile']]],
    [
      'meta.versionId id',
      MINIMAL.Patient,
      (r) => (r.meta = { versionId: 'v 1' }),
      [['value', 'Patient.meta.versionId']],
    ],
    ['meta empty', MINIMAL.Patient, (r) => (r.meta = {}), [['structure', 'Patient.meta']]],
    [
      'dateTime with time but no timezone',
      MINIMAL.Observation,
      (r) => (r.effectiveDateTime = '2024-03-06T08:30:00'),
      [['value', 'Observation.effectiveDateTime']],
    ],
    [
      'date with a time',
      MINIMAL.Patient,
      (r) => (r.birthDate = '1979-03-12T00:00:00Z'),
      [['value', 'Patient.birthDate']],
    ],
    [
      'date on a non-existing day',
      MINIMAL.Patient,
      (r) => (r.birthDate = '1979-02-29'),
      [['value', 'Patient.birthDate']],
    ],
    ['boolean as string', MINIMAL.Patient, (r) => (r.active = 'true'), [['structure', 'Patient.active']]],
    [
      'integer with decimals',
      MINIMAL.Patient,
      (r) => (r.multipleBirthInteger = 1.5),
      [['value', 'Patient.multipleBirthInteger']],
    ],
    [
      'decimal as string',
      MINIMAL.Observation,
      (r) => (r.valueQuantity = { value: '5.4' }),
      [['structure', 'Observation.valueQuantity.value']],
    ],
    [
      'code with trailing space',
      MINIMAL.Binary,
      (r) => (r.contentType = 'text/plain '),
      [['value', 'Binary.contentType']],
    ],
    [
      'uri with whitespace',
      MINIMAL.Patient,
      (r) => (r.identifier = [{ system: 'urn:oid: 1.2', value: 'x' }]),
      [['value', 'Patient.identifier[0].system']],
    ],
    ['implicitRules uri', MINIMAL.Patient, (r) => (r.implicitRules = ''), [['structure', 'Patient.implicitRules']]],
    [
      'Identifier.use binding',
      MINIMAL.Patient,
      (r) => (r.identifier = [{ use: 'main', value: 'x' }]),
      [['value', 'Patient.identifier[0].use']],
    ],
    [
      'HumanName.use binding',
      MINIMAL.Patient,
      (r) => (r.name = [{ use: 'legal', family: 'x' }]),
      [['value', 'Patient.name[0].use']],
    ],
    [
      'Address.type binding',
      MINIMAL.Patient,
      (r) => (r.address = [{ type: 'mail', city: 'x' }]),
      [['value', 'Patient.address[0].type']],
    ],
    [
      'ContactPoint.system binding',
      MINIMAL.Patient,
      (r) => (r.telecom = [{ system: 'tel', value: '1' }]),
      [['value', 'Patient.telecom[0].system']],
    ],
    [
      'ContactPoint cpt-2',
      MINIMAL.Patient,
      (r) => (r.telecom = [{ value: '1' }]),
      [['invariant', 'Patient.telecom[0].system']],
    ],
    [
      'ContactPoint.rank positiveInt',
      MINIMAL.Patient,
      (r) => (r.telecom = [{ system: 'phone', rank: 0 }]),
      [['value', 'Patient.telecom[0].rank']],
    ],
    [
      'Quantity.comparator binding',
      MINIMAL.Observation,
      (r) => (r.valueQuantity = { value: 1, comparator: '!=' }),
      [['value', 'Observation.valueQuantity.comparator']],
    ],
    [
      'Quantity qty-3',
      MINIMAL.Observation,
      (r) => (r.valueQuantity = { value: 1, code: 'mg' }),
      [['invariant', 'Observation.valueQuantity.system']],
    ],
    [
      'SimpleQuantity sqty-1',
      MINIMAL.Observation,
      (r) => (r.referenceRange = [{ low: { value: 1, comparator: '<' } }]),
      [['invariant', 'Observation.referenceRange[0].low.comparator']],
    ],
    [
      'obs-3',
      MINIMAL.Observation,
      (r) => (r.referenceRange = [{ type: cc('normal') }]),
      [['invariant', 'Observation.referenceRange[0]']],
    ],
    [
      'obs-6',
      MINIMAL.Observation,
      (r) => {
        r.valueString = 'x';
        r.dataAbsentReason = cc('unknown');
      },
      [['invariant', 'Observation.dataAbsentReason']],
    ],
    [
      'Coding.code',
      MINIMAL.Observation,
      (r) => (r.code = { coding: [{ code: ' x' }] }),
      [['value', 'Observation.code.coding[0].code']],
    ],
    ['CodeableConcept empty', MINIMAL.Observation, (r) => (r.code = {}), [['structure', 'Observation.code']]],
    [
      'Coding.userSelected boolean',
      MINIMAL.Observation,
      (r) => (r.code = { coding: [{ userSelected: 1 }] }),
      [['structure', 'Observation.code.coding[0].userSelected']],
    ],
    [
      'Period.start dateTime',
      MINIMAL.Encounter,
      (r) => (r.period = { start: 'yesterday' }),
      [['value', 'Encounter.period.start']],
    ],
    [
      'Reference empty',
      MINIMAL.Encounter,
      (r) => (r.serviceProvider = {}),
      [['structure', 'Encounter.serviceProvider']],
    ],
    [
      'Reference.reference empty string',
      MINIMAL.Encounter,
      (r) => (r.serviceProvider = { reference: '' }),
      [['structure', 'Encounter.serviceProvider.reference']],
    ],
    [
      'Attachment att-1',
      MINIMAL.DocumentReference,
      (r) => (r.content = [{ attachment: { data: 'YWJj' } }]),
      [['invariant', 'DocumentReference.content[0].attachment.contentType']],
    ],
    [
      'Attachment.size unsignedInt',
      MINIMAL.DocumentReference,
      (r) => (r.content = [{ attachment: { url: 'Binary/b', size: -1 } }]),
      [['value', 'DocumentReference.content[0].attachment.size']],
    ],
    [
      'Annotation.text',
      MINIMAL.Observation,
      (r) => (r.note = [{ time: '2024' }]),
      [['required', 'Observation.note[0].text']],
    ],
    [
      'Annotation.author[x]',
      MINIMAL.Observation,
      (r) => (r.note = [{ text: 't', authorString: 'a', authorReference: ref('Practitioner/1') }]),
      [['structure', 'Observation.note[0].author[x]']],
    ],
    [
      'Narrative.div required',
      MINIMAL.Patient,
      (r) => (r.text = { status: 'generated' }),
      [['required', 'Patient.text.div']],
    ],
    [
      'Narrative.div element',
      MINIMAL.Patient,
      (r) => (r.text = { status: 'generated', div: '<p>x</p>' }),
      [['value', 'Patient.text.div']],
    ],
    [
      'Narrative.status binding',
      MINIMAL.Patient,
      (r) => (r.text = { ...text, status: 'done' }),
      [['value', 'Patient.text.status']],
    ],
    [
      'contained without resourceType',
      MINIMAL.Patient,
      (r) => (r.contained = [{ id: 'x' }]),
      [['required', 'Patient.contained[0].resourceType']],
    ],
  ];
  for (const [name, base, mutate, expected] of cases) {
    it(name, () => {
      expect(issuesAfter(base, mutate)).toEqual(expected);
    });
  }
});

describe('validateResource: extensions', () => {
  it('requires url on extension and modifierExtension, on resources and datatypes', () => {
    expect(issuesAfter(MINIMAL.Patient, (r) => (r.extension = [{ valueString: 'x' }]))).toEqual([
      ['required', 'Patient.extension[0].url'],
    ]);
    expect(issuesAfter(MINIMAL.Patient, (r) => (r.modifierExtension = [{ valueBoolean: true }]))).toEqual([
      ['required', 'Patient.modifierExtension[0].url'],
    ]);
    expect(
      issuesAfter(MINIMAL.Patient, (r) => (r.name = [{ family: 'x', extension: [{ valueString: 'y' }] }])),
    ).toEqual([['required', 'Patient.name[0].extension[0].url']]);
    expect(
      issuesAfter(
        MINIMAL.Observation,
        (r) => (r.component = [{ code: cc('x'), modifierExtension: [{ valueCode: 'a' }] }]),
      ),
    ).toEqual([['required', 'Observation.component[0].modifierExtension[0].url']]);
  });

  it('validates nested extensions and their values', () => {
    expect(
      issuesAfter(
        MINIMAL.Patient,
        (r) => (r.extension = [{ url: 'a', extension: [{ url: 'b', valueDate: '2024-13' }] }]),
      ),
    ).toEqual([['value', 'Patient.extension[0].extension[0].valueDate']]);
    expect(issuesAfter(MINIMAL.Patient, (r) => (r.extension = [{ url: 'a', valueCoding: { code: '' } }]))).toEqual([
      ['structure', 'Patient.extension[0].valueCoding.code'],
    ]);
  });

  it('allows one value[x] and applies ext-1', () => {
    expect(
      issuesAfter(MINIMAL.Patient, (r) => (r.extension = [{ url: 'a', valueString: 'x', valueCode: 'y' }])),
    ).toEqual([['structure', 'Patient.extension[0].value[x]']]);
    expect(issuesAfter(MINIMAL.Patient, (r) => (r.extension = [{ url: 'a' }]))).toEqual([
      ['invariant', 'Patient.extension[0]'],
    ]);
    expect(
      issuesAfter(
        MINIMAL.Patient,
        (r) => (r.extension = [{ url: 'a', valueString: 'x', extension: [{ url: 'b', valueString: 'y' }] }]),
      ),
    ).toEqual([['invariant', 'Patient.extension[0]']]);
  });

  it('rejects an empty extension array', () => {
    expect(issuesAfter(MINIMAL.Patient, (r) => (r.extension = []))).toEqual([['structure', 'Patient.extension']]);
  });
});

describe('validateResource: FHIR JSON nulls, empties and choice types', () => {
  it('rejects nulls on modeled and unmodeled elements', () => {
    expect(issuesAfter(MINIMAL.Patient, (r) => (r.birthDate = null))).toEqual([['structure', 'Patient.birthDate']]);
    expect(issuesAfter(MINIMAL.Patient, (r) => (r.name = [null]))).toEqual([['structure', 'Patient.name[0]']]);
    expect(issuesAfter(MINIMAL.Patient, (r) => (r.unknownThing = null))).toEqual([
      ['structure', 'Patient.unknownThing'],
    ]);
    expect(issuesAfter(MINIMAL.Patient, (r) => (r.name = [{ family: 'x', other: null }]))).toEqual([
      ['structure', 'Patient.name[0].other'],
    ]);
  });

  it('accepts a null primitive array item only with a matching _element entry', () => {
    expect(issuesAfter(MINIMAL.Patient, (r) => (r.name = [{ given: ['a', null] }]))).toEqual([
      ['structure', 'Patient.name[0].given[1]'],
    ]);
    expect(issuesAfter(MINIMAL.Patient, (r) => (r.name = [{ given: ['a', null], _given: [null, null] }]))).toEqual([
      ['structure', 'Patient.name[0].given[1]'],
    ]);
    expect(
      issuesAfter(MINIMAL.Patient, (r) => (r.name = [{ given: ['a', null], _given: [null, { id: 'g' }] }])),
    ).toEqual([]);
  });

  it('rejects empty strings, arrays and objects', () => {
    expect(issuesAfter(MINIMAL.Patient, (r) => (r.name = [{ family: '' }]))).toEqual([
      ['structure', 'Patient.name[0].family'],
    ]);
    expect(issuesAfter(MINIMAL.Patient, (r) => (r.telecom = []))).toEqual([['structure', 'Patient.telecom']]);
    expect(issuesAfter(MINIMAL.Patient, (r) => (r.name = [{}]))).toEqual([['structure', 'Patient.name[0]']]);
    expect(issuesAfter(MINIMAL.Patient, (r) => (r.name = [{ id: 'only-id' }]))).toEqual([
      ['structure', 'Patient.name[0]'],
    ]);
    expect(issuesAfter(MINIMAL.Patient, (r) => (r.address = [{ line: [] }]))).toEqual([
      ['structure', 'Patient.address[0].line'],
    ]);
  });

  it('allows at most one variant of each choice type', () => {
    expect(
      issuesAfter(MINIMAL.Observation, (r) => {
        r.valueQuantity = { value: 1 };
        r.valueString = 'x';
      }),
    ).toEqual([['structure', 'Observation.value[x]']]);
    expect(
      issuesAfter(MINIMAL.Observation, (r) => {
        r.effectiveDateTime = '2024';
        r.effectivePeriod = { start: '2024' };
      }),
    ).toEqual([['structure', 'Observation.effective[x]']]);
    expect(
      issuesAfter(MINIMAL.Patient, (r) => {
        r.deceasedBoolean = true;
        r.deceasedDateTime = '2024';
      }),
    ).toEqual([['structure', 'Patient.deceased[x]']]);
    expect(
      issuesAfter(MINIMAL.Patient, (r) => {
        r.multipleBirthBoolean = true;
        r.multipleBirthInteger = 2;
      }),
    ).toEqual([['structure', 'Patient.multipleBirth[x]']]);
    expect(
      issuesAfter(
        MINIMAL.Observation,
        (r) => (r.component = [{ code: cc('x'), valueString: 'a', valueBoolean: true }]),
      ),
    ).toEqual([['structure', 'Observation.component[0].value[x]']]);
  });

  it('reports choice-type conflicts even when a variant is itself invalid', () => {
    expect(
      issuesAfter(MINIMAL.Observation, (r) => {
        r.valueQuantity = { value: 'x' };
        r.valueString = 'x';
      }),
    ).toEqual([
      ['structure', 'Observation.valueQuantity.value'],
      ['structure', 'Observation.value[x]'],
    ]);
  });

  it(`returns at most ${MAX_ISSUES} issues`, () => {
    const identifier = Array.from({ length: 300 }, () => ({ value: 1 }));
    expect(validateResource({ resourceType: 'Patient', identifier })).toHaveLength(MAX_ISSUES);
  });
});

describe('validateResource: French rules', () => {
  it('checks the NIR key of INS identifiers', () => {
    const issues = validateResource({
      ...RICH.Patient,
      identifier: [{ system: 'urn:oid:1.2.250.1.213.1.4.8', value: '279035121518988' }],
    });
    expect(summary(issues)).toEqual([['value', 'Patient.identifier[0].value']]);
    expect(issues[0]?.diagnostics).toContain('invalid NIR/NIA key');
  });

  it('requires an official name with family and given when an INS is present', () => {
    const noOfficial = issuesAfter(RICH.Patient, (r) => (r.name = [{ use: 'usual', family: FAMILY, given: [GIVEN] }]));
    expect(noOfficial).toEqual([['required', 'Patient.name']]);
    // Without INS the same names are fine.
    const withoutIns = issuesAfter(RICH.Patient, (r) => {
      r.identifier = [{ system: 'urn:oid:1.2.250.1.71.4.2.7', value: '000003' }];
      r.name = [{ use: 'usual', family: FAMILY }];
    });
    expect(withoutIns).toEqual([]);
  });

  it('requires a Patient subject on linked types', () => {
    expect(issuesAfter(MINIMAL.Observation, (r) => delete r.subject)).toEqual([['required', 'Observation.subject']]);
    expect(issuesAfter(MINIMAL.DocumentReference, (r) => (r.subject = ref('Group/1')))).toEqual([
      ['value', 'DocumentReference.subject.reference'],
    ]);
  });

  it('never puts identifier values, names or dates in diagnostics', () => {
    const badKey = '279035121518988';
    const patient = {
      resourceType: 'Patient',
      identifier: [
        { system: 'urn:oid:1.2.250.1.213.1.4.10', value: badKey },
        { system: 'urn:oid:1.2.250.1.213.1.4.9', value: `${NIR}0` },
        { system: 'urn:oid:1.2.250.1.213.1.4.11', value: 'ABCDEFGHIJKLMNO' },
        { use: FAMILY, value: 12345 },
      ],
      name: [{ use: GIVEN, family: ` ${FAMILY}`, given: [GIVEN, 42] }],
      gender: GIVEN,
      birthDate: '1979-02-30',
      deceasedDateTime: `${BIRTH_DATE}T10:00:00`,
      telecom: [{ system: 'email', value: `${GIVEN}@x.fr`, use: FAMILY }],
      address: [{ city: '', line: [FAMILY, 7] }],
    };
    const issues = validateResource(patient);
    expect(issues.length).toBeGreaterThanOrEqual(10);
    const text = JSON.stringify(issues);
    for (const secret of [badKey, NIR, 'ABCDEFGHIJKLMNO', FAMILY, GIVEN, '1979-02-30', BIRTH_DATE, '12345']) {
      expect(text).not.toContain(secret);
    }
  });
});

describe('re-exports', () => {
  it('exposes the INS helpers and the patient links', () => {
    expect(checkNirKey(NIR)).toBe(true);
    expect(isInsSystem('urn:oid:1.2.250.1.213.1.4.8')).toBe(true);
    expect(requiredPatientLinks(MINIMAL.Observation)).toEqual([
      { expression: 'Observation.subject', reference: 'Patient/p1' },
    ]);
  });
});

describe('performance', () => {
  it('validates a rich resource in well under a millisecond on average', () => {
    const resource = clone(RICH.Observation);
    validateResource(resource);
    const rounds = 500;
    const start = performance.now();
    for (let i = 0; i < rounds; i++) validateResource(resource);
    const perCall = (performance.now() - start) / rounds;
    // Generous bound for slow CI machines; catches per-call schema building (tens of ms).
    expect(perCall).toBeLessThan(2);
  });
});
