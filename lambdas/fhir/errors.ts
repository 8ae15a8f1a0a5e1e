import type { OperationOutcome, OperationOutcomeIssue } from './types.js';

/**
 * A FHIR error: an HTTP status and the OperationOutcome issues sent to the client.
 * Messages must never contain personal data (names, INS, NIR, birth dates) nor SQL.
 */
export class FhirError extends Error {
  override readonly name = 'FhirError';
  constructor(
    readonly status: number,
    readonly issues: OperationOutcomeIssue[],
    options?: ErrorOptions,
  ) {
    super(issues.map((i) => i.diagnostics ?? i.code).join('; '), options);
  }

  get outcome(): OperationOutcome {
    return { resourceType: 'OperationOutcome', issue: this.issues };
  }
}

function issue(code: string, diagnostics: string, expression?: string[]): OperationOutcomeIssue {
  return expression ? { severity: 'error', code, diagnostics, expression } : { severity: 'error', code, diagnostics };
}

export const badRequest = (msg: string, expression?: string[]) =>
  new FhirError(400, [issue('invalid', msg, expression)]);
export const unauthorized = (msg: string) => new FhirError(401, [issue('login', msg)]);
export const forbidden = (msg: string) => new FhirError(403, [issue('forbidden', msg)]);
export const notFound = (msg: string) => new FhirError(404, [issue('not-found', msg)]);
export const notAllowed = (msg: string) => new FhirError(405, [issue('not-supported', msg)]);
export const notAcceptable = (msg: string) => new FhirError(406, [issue('not-supported', msg)]);
export const conflict = (msg: string) => new FhirError(409, [issue('conflict', msg)]);
export const gone = (msg: string) => new FhirError(410, [issue('deleted', msg)]);
export const preconditionFailed = (msg: string) => new FhirError(412, [issue('conflict', msg)]);
export const tooLarge = (msg: string) => new FhirError(413, [issue('too-long', msg)]);
export const unsupportedMediaType = (msg: string) => new FhirError(415, [issue('not-supported', msg)]);
export const unprocessable = (issues: OperationOutcomeIssue[]) => new FhirError(422, issues);
export const unavailable = (msg: string) => new FhirError(503, [issue('transient', msg)]);

export function outcome(
  severity: OperationOutcomeIssue['severity'],
  code: string,
  diagnostics: string,
): OperationOutcome {
  return { resourceType: 'OperationOutcome', issue: [{ severity, code, diagnostics }] };
}
