import type { z } from 'zod';
import type { OperationOutcomeIssue } from '../types.js';
import { isSupportedType, type SupportedType } from '../types.js';
import { isPlainObject } from './elements.js';
import { checkInsRules } from './ins.js';
import { fhirIssue, toOperationOutcomeIssues } from './issues.js';
import { checkPatientLinks } from './patient-links.js';
import { location, organization, patient, practitioner, practitionerRole } from './resources-admin.js';
import { diagnosticReport, documentReference, encounter, observation } from './resources-clinical.js';
import { auditEvent, binary, communication, provenance } from './resources-exchange.js';

/**
 * Resource validation for writes: FHIR R4 structure (zod schemas built once at module load), then
 * the French rules (INS key and official name, Ségur patient link). Pure: no database access.
 */

export { checkNirKey, isInsSystem } from './ins.js';
export { type PatientLink, requiredPatientLinks } from './patient-links.js';

const SCHEMAS: Record<SupportedType, z.ZodType> = {
  Patient: patient,
  Practitioner: practitioner,
  PractitionerRole: practitionerRole,
  Organization: organization,
  Location: location,
  Encounter: encounter,
  Observation: observation,
  DiagnosticReport: diagnosticReport,
  DocumentReference: documentReference,
  Binary: binary,
  Communication: communication,
  Provenance: provenance,
  AuditEvent: auditEvent,
};

/** Upper bound on returned issues, so a huge malformed payload cannot produce a huge OperationOutcome. */
export const MAX_ISSUES = 100;

/**
 * Validates a resource about to be written. Returns the issues (severity `error`, code `structure`,
 * `required`, `value`, `invariant` or `not-supported`, `expression` = FHIRPath-ish location); an empty
 * array means valid. At most MAX_ISSUES are returned. Diagnostics never contain element values.
 *
 * @param resource parsed JSON body
 * @param expectedType the type from the URL (`/Patient/...`), when there is one
 */
export function validateResource(resource: unknown, expectedType?: string): OperationOutcomeIssue[] {
  // expectedType comes from routing, but only a supported type name is echoed in expressions.
  const root = expectedType !== undefined && isSupportedType(expectedType) ? expectedType : 'Resource';
  if (!isPlainObject(resource)) return [fhirIssue('structure', 'a resource must be a JSON object', root)];
  const type = resource['resourceType'];
  if (type === undefined) return [fhirIssue('required', 'resourceType is required', `${root}.resourceType`)];
  if (typeof type !== 'string') {
    return [fhirIssue('structure', 'resourceType must be a string', `${root}.resourceType`)];
  }
  if (expectedType !== undefined && type !== expectedType) {
    const expected = root === expectedType ? ` (expected ${expectedType})` : '';
    return [
      fhirIssue('value', `resourceType does not match the type of the request${expected}`, `${root}.resourceType`),
    ];
  }
  if (!isSupportedType(type)) {
    return [fhirIssue('not-supported', 'resourceType is not a supported resource type', `${root}.resourceType`)];
  }

  const result = SCHEMAS[type].safeParse(resource, { reportInput: true });
  const issues = result.success ? [] : toOperationOutcomeIssues(type, result.error.issues);
  if (type === 'Patient') issues.push(...checkInsRules(resource));
  issues.push(...checkPatientLinks(resource));
  return issues.length > MAX_ISSUES ? issues.slice(0, MAX_ISSUES) : issues;
}
