/**
 * The document jobs as the queue workers run them (in-process locally, the cda-worker and mssante-worker Lambdas in
 * AWS): reading the job body, running the use case, and telling retryable failures from those no retry can fix.
 */

import type { FailureDescription } from '../adapters/queue/queue-worker.js';
import { parseScopes } from '../auth/scopes.js';
import type { AuthContext } from '../auth/verify.js';
import { CdaInputError } from '../cda/errors.js';
import { describeCommonError } from '../fhir/describe-error.js';
import { FhirError } from '../fhir/errors.js';
import { generateLabReport, type LabReportDeps, type LabReportResult } from './lab-report.js';
import { generatePdfDocument } from './pdf-document.js';
import { JobBodyError, parseJob } from './queues.js';
import {
  type SendCommunicationDeps,
  type SendResult,
  sendCommunication,
  TemporarySendError,
} from './send-communication.js';

/** The identity the document workers read and write as (all types, system level). */
export const DOCUMENTS_AUTH: AuthContext = {
  subject: 'pfi-documents',
  clientId: 'pfi-documents',
  scopes: parseScopes('system/*.cruds'),
  internal: true,
};

export type CdaJobResult = LabReportResult | { skipped: string };

/**
 * Generates the document of a CDA job: the CR-BIO of a DiagnosticReport, or the level-1 CDA of a PDF
 * DocumentReference. A source gone, cancelled or no longer in need of a document is skipped.
 */
export async function runCdaJob(deps: LabReportDeps, body: string): Promise<CdaJobResult> {
  const pdf = /"documentReference"/.test(body);
  const job = pdf
    ? parseJob(body, 'documentReference', 'DocumentReference')
    : parseJob(body, 'diagnosticReport', 'DiagnosticReport');
  try {
    return pdf
      ? await generatePdfDocument(deps, DOCUMENTS_AUTH, job.id)
      : await generateLabReport(deps, DOCUMENTS_AUTH, job.id);
  } catch (err) {
    if (err instanceof FhirError && (err.status === 404 || err.status === 410)) return { skipped: 'source gone' };
    if (err instanceof FhirError && err.status === 422) return { skipped: 'no document to make' };
    throw err;
  }
}

/** Sends the job's Communication over MSSanté. */
export function runMssanteJob(deps: SendCommunicationDeps, body: string): Promise<SendResult> {
  const job = parseJob(body, 'communication', 'Communication');
  return sendCommunication(deps, DOCUMENTS_AUTH, job.id);
}

/** Failures no retry fixes: a body no producer writes, a document that cannot be built from the data. */
export const isDocumentPoison = (err: unknown): boolean => err instanceof JobBodyError || err instanceof CdaInputError;

/** The content-free description of a document job failure (dead-letter reason, logs). */
export function describeDocumentError(err: unknown): FailureDescription {
  if (err instanceof JobBodyError) return { name: err.name, code: 'bad-job-body', message: err.message };
  if (err instanceof CdaInputError) return { name: err.name, code: 'cda-input', message: err.message };
  if (err instanceof TemporarySendError) return { name: err.name, code: 'smtp-temporary', message: err.message };
  return describeCommonError(err);
}

/**
 * MSSanté retry delays: `baseSeconds`, then doubled at each attempt, at most `maxSeconds`
 * (`PFI_MSSANTE_RETRY_BASE_SECONDS`, `PFI_MSSANTE_RETRY_MAX_SECONDS`).
 */
export const mssanteRetryDelays =
  (baseSeconds: number, maxSeconds: number) =>
  (receiveCount: number): number =>
    Math.min(maxSeconds, baseSeconds * 2 ** Math.min(30, Math.max(0, receiveCount - 1)));

/** MSSanté retries: 30 s, 1, 2, 4, 8 minutes…, at most 15 minutes (a relay outage often lasts minutes). */
export const mssanteRetryDelaySeconds = mssanteRetryDelays(30, 900);
