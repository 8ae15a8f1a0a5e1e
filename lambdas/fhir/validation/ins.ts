import type { OperationOutcomeIssue } from '../types.js';
import { isPlainObject } from './elements.js';
import { fhirIssue } from './issues.js';

/**
 * French INS (Identité Nationale de Santé) rules on Patient (spec: french-interop.md §1):
 * the matricule of an INS identifier carries a valid NIR/NIA key, and a Patient with an INS has an
 * official name (birth name + first given name). Messages never include the matricule or the name.
 */

/** INS-NIR (production), INS-NIA, INS-NIR test and INS-NIR demo. INS-C (`.2`) is legacy, not an INS matricule. */
const INS_SYSTEMS = new Set([
  'urn:oid:1.2.250.1.213.1.4.8',
  'urn:oid:1.2.250.1.213.1.4.9',
  'urn:oid:1.2.250.1.213.1.4.10',
  'urn:oid:1.2.250.1.213.1.4.11',
]);

/** True when `system` is the identifier system of an INS matricule (NIR or NIA, production, test or demo). */
export function isInsSystem(system: string): boolean {
  return INS_SYSTEMS.has(system);
}

/** Why a matricule is not a valid NIR/NIA, or undefined when it is. */
export type NirProblem = 'length' | 'characters' | 'key';

// 13 characters (department at positions 6-7 may be 2A/2B for Corsica) then the 2-digit key.
const MATRICULE_RE = /^[0-9]{5}(?:[0-9]{2}|2A|2B)[0-9]{8}$/;

/** Classifies what is wrong with a matricule; undefined when it is valid. */
export function nirProblem(matricule: string): NirProblem | undefined {
  if (matricule.length !== 15) return 'length';
  if (!MATRICULE_RE.test(matricule)) return 'characters';
  // Corsica: 2A counts as 19 and 2B as 18 for the key computation.
  const department = matricule.slice(5, 7);
  const numeric =
    matricule.slice(0, 5) +
    (department === '2A' ? '19' : department === '2B' ? '18' : department) +
    matricule.slice(7, 13);
  // Digit-by-digit mod 97: exact without relying on the 13-digit number fitting in a double.
  let remainder = 0;
  for (let i = 0; i < numeric.length; i++) remainder = (remainder * 10 + (numeric.charCodeAt(i) - 48)) % 97;
  const key = 97 - remainder;
  return Number(matricule.slice(13)) === key ? undefined : 'key';
}

/**
 * True when `matricule` is a 15-character NIR/NIA whose 2-digit key equals 97 - (first 13 digits mod 97),
 * with the Corsican departments 2A/2B read as 19/18.
 */
export function checkNirKey(matricule: string): boolean {
  return nirProblem(matricule) === undefined;
}

const PROBLEM_MESSAGES: Record<NirProblem, string> = {
  length: 'INS identifier value must have 15 characters (13 + a 2-digit key)',
  characters: 'INS identifier value must be digits only (2A/2B allowed as the Corsican department)',
  key: 'INS identifier has an invalid NIR/NIA key',
};

const nonBlank = (value: unknown): boolean => typeof value === 'string' && value.trim() !== '';

/** True when one name has use=official, a non-blank family and at least one non-blank given. */
function hasOfficialName(names: unknown): boolean {
  if (!Array.isArray(names)) return false;
  return names.some(
    (name) =>
      isPlainObject(name) &&
      name['use'] === 'official' &&
      nonBlank(name['family']) &&
      Array.isArray(name['given']) &&
      name['given'].some(nonBlank),
  );
}

/**
 * INS rules for a Patient (read defensively: the resource may be structurally invalid, whose issues
 * are reported by the schema). Returns one issue per invalid INS matricule, and one on `Patient.name`
 * when an INS is present without an official name.
 */
export function checkInsRules(patient: Record<string, unknown>): OperationOutcomeIssue[] {
  const identifiers = patient['identifier'];
  if (!Array.isArray(identifiers)) return [];
  const issues: OperationOutcomeIssue[] = [];
  let hasIns = false;
  identifiers.forEach((identifier: unknown, index) => {
    if (!isPlainObject(identifier)) return;
    const system = identifier['system'];
    if (typeof system !== 'string' || !isInsSystem(system)) return;
    hasIns = true;
    const value = identifier['value'];
    const expression = `Patient.identifier[${index}].value`;
    if (value === undefined) {
      issues.push(fhirIssue('required', 'INS identifier has no value', expression));
    } else if (typeof value === 'string') {
      const problem = nirProblem(value);
      if (problem !== undefined) issues.push(fhirIssue('value', PROBLEM_MESSAGES[problem], expression));
    }
  });
  if (hasIns && !hasOfficialName(patient['name'])) {
    issues.push(
      fhirIssue(
        'required',
        'a Patient with an INS identifier must have an official name (use=official) with a family name and a given name',
        'Patient.name',
      ),
    );
  }
  return issues;
}
