import { z } from 'zod';
import {
  annotation,
  attachment,
  backboneBase,
  codeableConcept,
  coding,
  domainResourceBase,
  identifier,
  period,
  quantity,
  range,
  ratio,
  reference,
  sampledData,
  simpleQuantity,
  timing,
} from './datatypes.js';
import { choice, countVariants, element, type Invariant, list } from './elements.js';
import * as p from './primitives.js';

/**
 * R4 schemas of the clinical resources: Encounter, Observation, DiagnosticReport, DocumentReference.
 * The Ségur patient link (subject mandatory, pointing to a Patient) is checked in `patient-links.ts`.
 */

const encounterStatus = z.enum([
  'planned',
  'arrived',
  'triaged',
  'in-progress',
  'onleave',
  'finished',
  'cancelled',
  'entered-in-error',
  'unknown',
]);

export const encounter = element({
  ...domainResourceBase,
  resourceType: z.literal('Encounter'),
  identifier: list(identifier).optional(),
  status: encounterStatus,
  statusHistory: list(
    element({
      ...backboneBase,
      status: encounterStatus,
      period,
    }),
  ).optional(),
  class: coding,
  classHistory: list(element({ ...backboneBase, class: coding, period })).optional(),
  type: list(codeableConcept).optional(),
  serviceType: codeableConcept.optional(),
  priority: codeableConcept.optional(),
  subject: reference.optional(),
  episodeOfCare: list(reference).optional(),
  basedOn: list(reference).optional(),
  participant: list(
    element({
      ...backboneBase,
      type: list(codeableConcept).optional(),
      period: period.optional(),
      individual: reference.optional(),
    }),
  ).optional(),
  appointment: list(reference).optional(),
  period: period.optional(),
  length: quantity.optional(),
  reasonCode: list(codeableConcept).optional(),
  reasonReference: list(reference).optional(),
  diagnosis: list(
    element({
      ...backboneBase,
      condition: reference,
      use: codeableConcept.optional(),
      rank: p.positiveInt.optional(),
    }),
  ).optional(),
  account: list(reference).optional(),
  hospitalization: element({
    ...backboneBase,
    preAdmissionIdentifier: identifier.optional(),
    origin: reference.optional(),
    admitSource: codeableConcept.optional(),
    reAdmission: codeableConcept.optional(),
    dietPreference: list(codeableConcept).optional(),
    specialCourtesy: list(codeableConcept).optional(),
    specialArrangement: list(codeableConcept).optional(),
    destination: reference.optional(),
    dischargeDisposition: codeableConcept.optional(),
  }).optional(),
  location: list(
    element({
      ...backboneBase,
      location: reference,
      status: z.enum(['planned', 'active', 'reserved', 'completed']).optional(),
      physicalType: codeableConcept.optional(),
      period: period.optional(),
    }),
  ).optional(),
  serviceProvider: reference.optional(),
  partOf: reference.optional(),
});

/** Observation.value[x] and Observation.component.value[x]. */
const observationValue = choice('value', {
  Quantity: quantity,
  CodeableConcept: codeableConcept,
  String: p.fhirString,
  Boolean: p.boolean,
  Integer: p.integer,
  Range: range,
  Ratio: ratio,
  SampledData: sampledData,
  Time: p.time,
  DateTime: p.dateTime,
  Period: period,
});

const referenceRange = element(
  {
    ...backboneBase,
    low: simpleQuantity.optional(),
    high: simpleQuantity.optional(),
    type: codeableConcept.optional(),
    appliesTo: list(codeableConcept).optional(),
    age: range.optional(),
    text: p.fhirString.optional(),
  },
  {
    invariants: [
      (value, report) => {
        if (value['low'] === undefined && value['high'] === undefined && value['text'] === undefined) {
          report('invariant', 'a reference range needs low, high or text (obs-3)');
        }
      },
    ],
  },
);

/** obs-6: dataAbsentReason only when there is no value[x]. */
const valueOrAbsentReason: Invariant = (value, report) => {
  if (value['dataAbsentReason'] !== undefined && countVariants(value, 'value') > 0) {
    report('invariant', 'dataAbsentReason is only allowed when value[x] is absent (obs-6)', ['dataAbsentReason']);
  }
};

export const observation = element(
  {
    ...domainResourceBase,
    resourceType: z.literal('Observation'),
    identifier: list(identifier).optional(),
    basedOn: list(reference).optional(),
    partOf: list(reference).optional(),
    status: z.enum([
      'registered',
      'preliminary',
      'final',
      'amended',
      'corrected',
      'cancelled',
      'entered-in-error',
      'unknown',
    ]),
    category: list(codeableConcept).optional(),
    code: codeableConcept,
    subject: reference.optional(),
    focus: list(reference).optional(),
    encounter: reference.optional(),
    ...choice('effective', { DateTime: p.dateTime, Period: period, Timing: timing, Instant: p.instant }),
    issued: p.instant.optional(),
    performer: list(reference).optional(),
    ...observationValue,
    dataAbsentReason: codeableConcept.optional(),
    interpretation: list(codeableConcept).optional(),
    note: list(annotation).optional(),
    bodySite: codeableConcept.optional(),
    method: codeableConcept.optional(),
    specimen: reference.optional(),
    device: reference.optional(),
    referenceRange: list(referenceRange).optional(),
    hasMember: list(reference).optional(),
    derivedFrom: list(reference).optional(),
    component: list(
      element(
        {
          ...backboneBase,
          code: codeableConcept,
          ...observationValue,
          dataAbsentReason: codeableConcept.optional(),
          interpretation: list(codeableConcept).optional(),
          referenceRange: list(referenceRange).optional(),
        },
        { choices: ['value'], invariants: [valueOrAbsentReason] },
      ),
    ).optional(),
  },
  { choices: ['effective', 'value'], invariants: [valueOrAbsentReason] },
);

export const diagnosticReport = element(
  {
    ...domainResourceBase,
    resourceType: z.literal('DiagnosticReport'),
    identifier: list(identifier).optional(),
    basedOn: list(reference).optional(),
    status: z.enum([
      'registered',
      'partial',
      'preliminary',
      'final',
      'amended',
      'corrected',
      'appended',
      'cancelled',
      'entered-in-error',
      'unknown',
    ]),
    category: list(codeableConcept).optional(),
    code: codeableConcept,
    subject: reference.optional(),
    encounter: reference.optional(),
    ...choice('effective', { DateTime: p.dateTime, Period: period }),
    issued: p.instant.optional(),
    performer: list(reference).optional(),
    resultsInterpreter: list(reference).optional(),
    specimen: list(reference).optional(),
    result: list(reference).optional(),
    imagingStudy: list(reference).optional(),
    media: list(element({ ...backboneBase, comment: p.fhirString.optional(), link: reference })).optional(),
    conclusion: p.fhirString.optional(),
    conclusionCode: list(codeableConcept).optional(),
    presentedForm: list(attachment).optional(),
  },
  { choices: ['effective'] },
);

export const documentReference = element({
  ...domainResourceBase,
  resourceType: z.literal('DocumentReference'),
  masterIdentifier: identifier.optional(),
  identifier: list(identifier).optional(),
  status: z.enum(['current', 'superseded', 'entered-in-error']),
  docStatus: z.enum(['preliminary', 'final', 'amended', 'entered-in-error']).optional(),
  type: codeableConcept.optional(),
  category: list(codeableConcept).optional(),
  subject: reference.optional(),
  date: p.instant.optional(),
  author: list(reference).optional(),
  authenticator: reference.optional(),
  custodian: reference.optional(),
  relatesTo: list(
    element({
      ...backboneBase,
      code: z.enum(['replaces', 'transforms', 'signs', 'appends']),
      target: reference,
    }),
  ).optional(),
  description: p.fhirString.optional(),
  securityLabel: list(codeableConcept).optional(),
  content: list(element({ ...backboneBase, attachment, format: coding.optional() })),
  context: element({
    ...backboneBase,
    encounter: list(reference).optional(),
    event: list(codeableConcept).optional(),
    period: period.optional(),
    facilityType: codeableConcept.optional(),
    practiceSetting: codeableConcept.optional(),
    sourcePatientInfo: reference.optional(),
    related: list(reference).optional(),
  }).optional(),
});
