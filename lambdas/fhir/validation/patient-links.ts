import type { OperationOutcomeIssue } from '../types.js';
import { isPlainObject } from './elements.js';
import { fhirIssue } from './issues.js';

/**
 * Ségur rule: clinical resources must be linked to a Patient. For the types below `subject` is
 * mandatory and must be a literal `Patient/<id>` reference; the repository then checks that the
 * Patient exists, using `requiredPatientLinks`.
 */

/** Resource types whose `subject` must reference an existing Patient. */
export const PATIENT_LINKED_TYPES: ReadonlySet<string> = new Set([
  'Encounter',
  'Observation',
  'DiagnosticReport',
  'DocumentReference',
]);

const PATIENT_REFERENCE_RE = /^Patient\/[A-Za-z0-9\-.]{1,64}$/;

/** A reference the repository must resolve to an existing Patient. */
export interface PatientLink {
  /** FHIRPath-ish location, e.g. `Observation.subject`. */
  expression: string;
  /** The literal reference (`Patient/<id>`), or undefined when missing or not a string. */
  reference: string | undefined;
}

/**
 * The references of `resource` that must point to an existing Patient (Encounter, Observation,
 * DiagnosticReport and DocumentReference `subject`); empty for other types. Call it after
 * `validateResource` returned no issue: then every listed reference is `Patient/<id>`.
 */
export function requiredPatientLinks(resource: unknown): PatientLink[] {
  if (!isPlainObject(resource)) return [];
  const type = resource['resourceType'];
  if (typeof type !== 'string' || !PATIENT_LINKED_TYPES.has(type)) return [];
  const subject = resource['subject'];
  const reference = isPlainObject(subject) ? subject['reference'] : undefined;
  return [{ expression: `${type}.subject`, reference: typeof reference === 'string' ? reference : undefined }];
}

/**
 * Issues for the Ségur patient link of a linked type (none for other types). Shape errors of
 * `subject` itself (null, wrong type) are left to the schema.
 */
export function checkPatientLinks(resource: Record<string, unknown>): OperationOutcomeIssue[] {
  const type = resource['resourceType'];
  if (typeof type !== 'string' || !PATIENT_LINKED_TYPES.has(type)) return [];
  const subject = resource['subject'];
  const expression = `${type}.subject`;
  if (subject === undefined) {
    return [fhirIssue('required', 'subject is required and must reference a Patient', expression)];
  }
  if (!isPlainObject(subject)) return [];
  const issues: OperationOutcomeIssue[] = [];
  const declaredType = subject['type'];
  if (declaredType !== undefined && declaredType !== 'Patient') {
    issues.push(fhirIssue('value', 'subject must reference a Patient (type must be Patient)', `${expression}.type`));
  }
  const reference = subject['reference'];
  if (reference === undefined) {
    issues.push(
      fhirIssue(
        'required',
        'subject must be a literal reference to a Patient (Patient/<id>)',
        `${expression}.reference`,
      ),
    );
  } else if (typeof reference === 'string' && !PATIENT_REFERENCE_RE.test(reference)) {
    issues.push(fhirIssue('value', 'subject must reference a Patient as Patient/<id>', `${expression}.reference`));
  }
  return issues;
}
