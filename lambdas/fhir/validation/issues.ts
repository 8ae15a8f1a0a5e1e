import type { z } from 'zod';
import type { OperationOutcomeIssue } from '../types.js';
import type { FhirIssueCode } from './elements.js';

/**
 * Turns zod issues into OperationOutcome issues. Diagnostics are rebuilt here from the issue kind
 * and schema metadata only: the offending input (which may be a name, an INS or a birth date) is
 * never copied into them, whatever zod puts in its own messages.
 */

/** `Patient` + `['identifier', 0, 'value']` -> `Patient.identifier[0].value`. */
export function formatPath(root: string, path: readonly PropertyKey[]): string {
  let out = root;
  for (const segment of path) out += typeof segment === 'number' ? `[${segment}]` : `.${String(segment)}`;
  return out;
}

/** One error issue; the expression is repeated at the start of the diagnostics for clients that show only those. */
export function fhirIssue(
  code: FhirIssueCode | 'not-supported',
  message: string,
  expression: string,
): OperationOutcomeIssue {
  return { severity: 'error', code, diagnostics: `${expression}: ${message}`, expression: [expression] };
}

/** The JSON type of a value, for "expected X, got Y" messages. */
function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

const FHIR_CODES = new Set<string>(['structure', 'required', 'value', 'invariant']);

function describe(issue: z.core.$ZodIssue): { code: FhirIssueCode; message: string } {
  // Parsed with `reportInput`: `input` is present (possibly undefined) on every zod-raised issue.
  if ((issue.code === 'invalid_type' || issue.code === 'invalid_value') && issue.input === undefined) {
    return { code: 'required', message: 'required element is missing' };
  }
  switch (issue.code) {
    case 'invalid_type': {
      if (issue.input === null) return { code: 'structure', message: 'null is not allowed in FHIR JSON' };
      if (issue.expected === 'int') return { code: 'value', message: 'must be an integer' };
      return { code: 'structure', message: `wrong type: expected ${issue.expected}, got ${jsonType(issue.input)}` };
    }
    case 'too_small':
      if (issue.origin === 'array' || issue.origin === 'string') return { code: 'structure', message: issue.message };
      return { code: 'value', message: `must be ${issue.inclusive ? 'at least' : 'greater than'} ${issue.minimum}` };
    case 'too_big':
      return {
        code: 'value',
        message: `must be ${issue.inclusive ? 'at most' : 'less than'} ${issue.maximum}${issue.origin === 'string' ? ' characters' : ''}`,
      };
    case 'invalid_value':
      // Enumerations are the required code bindings: listing the allowed codes is safe and useful.
      return { code: 'value', message: `not in the required value set (${issue.values.map(String).join(' | ')})` };
    case 'invalid_format':
      return { code: 'value', message: `invalid ${issue.format} format` };
    case 'custom': {
      // Custom issues are raised by our own schemas with static, value-free messages.
      const fhirCode = issue.params?.['fhirCode'];
      return {
        code: typeof fhirCode === 'string' && FHIR_CODES.has(fhirCode) ? (fhirCode as FhirIssueCode) : 'invariant',
        message: issue.message,
      };
    }
    default:
      return { code: 'structure', message: 'invalid element' };
  }
}

/** Maps zod issues (from a parse with `reportInput: true`) to OperationOutcome issues rooted at `root`. */
export function toOperationOutcomeIssues(root: string, issues: readonly z.core.$ZodIssue[]): OperationOutcomeIssue[] {
  return issues.map((issue) => {
    const { code, message } = describe(issue);
    return fhirIssue(code, message, formatPath(root, issue.path));
  });
}
