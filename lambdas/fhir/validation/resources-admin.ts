import { z } from 'zod';
import {
  address,
  attachment,
  backboneBase,
  codeableConcept,
  coding,
  contactPoint,
  domainResourceBase,
  humanName,
  identifier,
  period,
  reference,
} from './datatypes.js';
import { choice, element, type Invariant, list, primitiveList } from './elements.js';
import * as p from './primitives.js';

/**
 * R4 schemas of the administrative resources: Patient, Practitioner, PractitionerRole, Organization,
 * Location. French INS rules on Patient are separate (see `ins.ts`).
 */

const gender = z.enum(['male', 'female', 'other', 'unknown']);
const daysOfWeek = primitiveList(z.enum(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']));

export const patient = element(
  {
    ...domainResourceBase,
    resourceType: z.literal('Patient'),
    identifier: list(identifier).optional(),
    active: p.boolean.optional(),
    name: list(humanName).optional(),
    telecom: list(contactPoint).optional(),
    gender: gender.optional(),
    birthDate: p.date.optional(),
    ...choice('deceased', { Boolean: p.boolean, DateTime: p.dateTime }),
    address: list(address).optional(),
    maritalStatus: codeableConcept.optional(),
    ...choice('multipleBirth', { Boolean: p.boolean, Integer: p.integer }),
    photo: list(attachment).optional(),
    contact: list(
      element(
        {
          ...backboneBase,
          relationship: list(codeableConcept).optional(),
          name: humanName.optional(),
          telecom: list(contactPoint).optional(),
          address: address.optional(),
          gender: gender.optional(),
          organization: reference.optional(),
          period: period.optional(),
        },
        {
          invariants: [
            (value, report) => {
              const keys = ['name', 'telecom', 'address', 'organization'];
              if (!keys.some((key) => value[key] !== undefined)) {
                report('invariant', 'a contact needs a name, telecom, address or organization (pat-1)');
              }
            },
          ],
        },
      ),
    ).optional(),
    communication: list(
      element({ ...backboneBase, language: codeableConcept, preferred: p.boolean.optional() }),
    ).optional(),
    generalPractitioner: list(reference).optional(),
    managingOrganization: reference.optional(),
    link: list(
      element({ ...backboneBase, other: reference, type: z.enum(['replaced-by', 'replaces', 'refer', 'seealso']) }),
    ).optional(),
  },
  { choices: ['deceased', 'multipleBirth'] },
);

export const practitioner = element({
  ...domainResourceBase,
  resourceType: z.literal('Practitioner'),
  identifier: list(identifier).optional(),
  active: p.boolean.optional(),
  name: list(humanName).optional(),
  telecom: list(contactPoint).optional(),
  address: list(address).optional(),
  gender: gender.optional(),
  birthDate: p.date.optional(),
  photo: list(attachment).optional(),
  qualification: list(
    element({
      ...backboneBase,
      identifier: list(identifier).optional(),
      code: codeableConcept,
      period: period.optional(),
      issuer: reference.optional(),
    }),
  ).optional(),
  communication: list(codeableConcept).optional(),
});

export const practitionerRole = element({
  ...domainResourceBase,
  resourceType: z.literal('PractitionerRole'),
  identifier: list(identifier).optional(),
  active: p.boolean.optional(),
  period: period.optional(),
  practitioner: reference.optional(),
  organization: reference.optional(),
  code: list(codeableConcept).optional(),
  specialty: list(codeableConcept).optional(),
  location: list(reference).optional(),
  healthcareService: list(reference).optional(),
  telecom: list(contactPoint).optional(),
  availableTime: list(
    element({
      ...backboneBase,
      daysOfWeek: daysOfWeek.optional(),
      allDay: p.boolean.optional(),
      availableStartTime: p.time.optional(),
      availableEndTime: p.time.optional(),
    }),
  ).optional(),
  notAvailable: list(element({ ...backboneBase, description: p.fhirString, during: period.optional() })).optional(),
  availabilityExceptions: p.fhirString.optional(),
  endpoint: list(reference).optional(),
});

/** org-2 / org-3: an organization's address and telecom cannot be of use `home`. */
function noHomeUse(field: string, rule: string): Invariant {
  return (value, report) => {
    const items = value[field];
    if (!Array.isArray(items)) return;
    items.forEach((item: unknown, index) => {
      if (typeof item === 'object' && item !== null && (item as { use?: unknown }).use === 'home') {
        report('invariant', `an organization ${field} cannot have use 'home' (${rule})`, [field, index, 'use']);
      }
    });
  };
}

export const organization = element(
  {
    ...domainResourceBase,
    resourceType: z.literal('Organization'),
    identifier: list(identifier).optional(),
    active: p.boolean.optional(),
    type: list(codeableConcept).optional(),
    name: p.fhirString.optional(),
    alias: primitiveList(p.fhirString).optional(),
    telecom: list(contactPoint).optional(),
    address: list(address).optional(),
    partOf: reference.optional(),
    contact: list(
      element({
        ...backboneBase,
        purpose: codeableConcept.optional(),
        name: humanName.optional(),
        telecom: list(contactPoint).optional(),
        address: address.optional(),
      }),
    ).optional(),
    endpoint: list(reference).optional(),
  },
  {
    invariants: [
      (value, report) => {
        if (value['name'] === undefined && value['identifier'] === undefined) {
          report('invariant', 'an organization needs a name or an identifier (org-1)');
        }
      },
      noHomeUse('address', 'org-2'),
      noHomeUse('telecom', 'org-3'),
    ],
  },
);

export const location = element({
  ...domainResourceBase,
  resourceType: z.literal('Location'),
  identifier: list(identifier).optional(),
  status: z.enum(['active', 'suspended', 'inactive']).optional(),
  operationalStatus: coding.optional(),
  name: p.fhirString.optional(),
  alias: primitiveList(p.fhirString).optional(),
  description: p.fhirString.optional(),
  mode: z.enum(['instance', 'kind']).optional(),
  type: list(codeableConcept).optional(),
  telecom: list(contactPoint).optional(),
  address: address.optional(),
  physicalType: codeableConcept.optional(),
  position: element({
    ...backboneBase,
    longitude: p.decimal,
    latitude: p.decimal,
    altitude: p.decimal.optional(),
  }).optional(),
  managingOrganization: reference.optional(),
  partOf: reference.optional(),
  hoursOfOperation: list(
    element({
      ...backboneBase,
      daysOfWeek: daysOfWeek.optional(),
      allDay: p.boolean.optional(),
      openingTime: p.time.optional(),
      closingTime: p.time.optional(),
    }),
  ).optional(),
  availabilityExceptions: p.fhirString.optional(),
  endpoint: list(reference).optional(),
});
