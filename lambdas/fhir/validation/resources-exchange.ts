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
  reference,
  resourceBase,
  signature,
} from './datatypes.js';
import { choice, element, list, primitiveList } from './elements.js';
import * as p from './primitives.js';

/**
 * R4 schemas of the exchange and trace resources: Binary, Communication, Provenance, AuditEvent
 * (AuditEvent is written by the platform only, but validated all the same).
 */

/** Binary is a plain Resource: no text, contained or extensions. */
export const binary = element({
  ...resourceBase,
  resourceType: z.literal('Binary'),
  contentType: p.code,
  securityContext: reference.optional(),
  data: p.base64Binary.optional(),
});

export const communication = element({
  ...domainResourceBase,
  resourceType: z.literal('Communication'),
  identifier: list(identifier).optional(),
  instantiatesCanonical: primitiveList(p.canonical).optional(),
  instantiatesUri: primitiveList(p.uri).optional(),
  basedOn: list(reference).optional(),
  partOf: list(reference).optional(),
  inResponseTo: list(reference).optional(),
  status: z.enum([
    'preparation',
    'in-progress',
    'not-done',
    'on-hold',
    'stopped',
    'completed',
    'entered-in-error',
    'unknown',
  ]),
  statusReason: codeableConcept.optional(),
  category: list(codeableConcept).optional(),
  priority: z.enum(['routine', 'urgent', 'asap', 'stat']).optional(),
  medium: list(codeableConcept).optional(),
  subject: reference.optional(),
  topic: codeableConcept.optional(),
  about: list(reference).optional(),
  encounter: reference.optional(),
  sent: p.dateTime.optional(),
  received: p.dateTime.optional(),
  recipient: list(reference).optional(),
  sender: reference.optional(),
  reasonCode: list(codeableConcept).optional(),
  reasonReference: list(reference).optional(),
  payload: list(
    element(
      {
        ...backboneBase,
        ...choice('content', { String: p.fhirString, Attachment: attachment, Reference: reference }),
      },
      { requiredChoices: ['content'] },
    ),
  ).optional(),
  note: list(annotation).optional(),
});

const provenanceAgent = element({
  ...backboneBase,
  type: codeableConcept.optional(),
  role: list(codeableConcept).optional(),
  who: reference,
  onBehalfOf: reference.optional(),
});

export const provenance = element(
  {
    ...domainResourceBase,
    resourceType: z.literal('Provenance'),
    target: list(reference),
    ...choice('occurred', { Period: period, DateTime: p.dateTime }),
    recorded: p.instant,
    policy: primitiveList(p.uri).optional(),
    location: reference.optional(),
    reason: list(codeableConcept).optional(),
    activity: codeableConcept.optional(),
    agent: list(provenanceAgent),
    entity: list(
      element({
        ...backboneBase,
        role: z.enum(['derivation', 'revision', 'quotation', 'source', 'removal']),
        what: reference,
        // Same shape as Provenance.agent (a contentReference in R4).
        agent: list(provenanceAgent).optional(),
      }),
    ).optional(),
    signature: list(signature).optional(),
  },
  { choices: ['occurred'] },
);

export const auditEvent = element({
  ...domainResourceBase,
  resourceType: z.literal('AuditEvent'),
  type: coding,
  subtype: list(coding).optional(),
  action: z.enum(['C', 'R', 'U', 'D', 'E']).optional(),
  period: period.optional(),
  recorded: p.instant,
  outcome: z.enum(['0', '4', '8', '12']).optional(),
  outcomeDesc: p.fhirString.optional(),
  purposeOfEvent: list(codeableConcept).optional(),
  agent: list(
    element({
      ...backboneBase,
      type: codeableConcept.optional(),
      role: list(codeableConcept).optional(),
      who: reference.optional(),
      altId: p.fhirString.optional(),
      name: p.fhirString.optional(),
      requestor: p.boolean,
      location: reference.optional(),
      policy: primitiveList(p.uri).optional(),
      media: coding.optional(),
      network: element({
        ...backboneBase,
        address: p.fhirString.optional(),
        type: z.enum(['1', '2', '3', '4', '5']).optional(),
      }).optional(),
      purposeOfUse: list(codeableConcept).optional(),
    }),
  ),
  source: element({
    ...backboneBase,
    site: p.fhirString.optional(),
    observer: reference,
    type: list(coding).optional(),
  }),
  entity: list(
    element(
      {
        ...backboneBase,
        what: reference.optional(),
        type: coding.optional(),
        role: coding.optional(),
        lifecycle: coding.optional(),
        securityLabel: list(coding).optional(),
        name: p.fhirString.optional(),
        description: p.fhirString.optional(),
        query: p.base64Binary.optional(),
        detail: list(
          element(
            {
              ...backboneBase,
              type: p.fhirString,
              ...choice('value', { String: p.fhirString, Base64Binary: p.base64Binary }),
            },
            { requiredChoices: ['value'] },
          ),
        ).optional(),
      },
      {
        invariants: [
          (value, report) => {
            if (value['name'] !== undefined && value['query'] !== undefined) {
              report('invariant', 'an entity cannot have both name and query (sev-1)');
            }
          },
        ],
      },
    ),
  ).optional(),
});
