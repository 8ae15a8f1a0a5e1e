/** Errors of the CDA generator. Messages never carry personal data (names, INS, NIR): only what is missing. */

/** Why a document cannot be produced from its input. */
export type CdaInputProblem =
  | 'invalid-input'
  | 'no-patient-identifier'
  | 'no-result'
  | 'no-author'
  | 'no-pdf'
  | 'bad-document-ids';

/**
 * A mandatory input is missing or unusable (no patient identifier, no result, no author with an idNat…). The
 * message names the problem only, never a value taken from the input.
 */
export class CdaInputError extends Error {
  override readonly name = 'CdaInputError';

  constructor(
    message: string,
    readonly problem: CdaInputProblem = 'invalid-input',
  ) {
    super(message);
  }
}
