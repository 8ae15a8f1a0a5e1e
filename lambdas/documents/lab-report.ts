/**
 * The lab report use case (cda worker and `POST DiagnosticReport/<id>/$generate-cda`): a DiagnosticReport and its
 * Observations become a CI-SIS CR-BIO document, stored in the document store (S3 with SSE-KMS in AWS), with a Binary
 * and a DocumentReference committed together (the previous document of the report superseded and replaced).
 *
 * Idempotent: the DocumentReference remembers the fingerprint of the content it was made from (report and results,
 * without their metadata), so the same input yields the same document however often it is asked for; a changed
 * result makes the next version of the document (same setId, versionNumber + 1). See generated-document.ts.
 */

import type { DocumentStore } from '../adapters/documents/document-store.js';
import type { AuthContext } from '../auth/verify.js';
import { buildCrBio } from '../cda/cr-bio.js';
import type { CdaOrganisation } from '../cda/organisation.js';
import { notFound, unprocessable } from '../fhir/errors.js';
import type { FhirService } from '../fhir/service.js';
import type { Resource } from '../fhir/types.js';
import {
  existingDocument,
  fingerprintOf,
  type GeneratedDocument,
  type Json,
  parseStored,
  planGeneration,
  referenceOf,
  withGenerationRetry,
  writeGeneratedDocument,
} from './generated-document.js';

export interface LabReportDeps {
  service: FhirService;
  documents: DocumentStore;
  organisation: CdaOrganisation;
  /** Include the PDF copy of the results (CR-BIO requires it; default true). */
  pdf?: boolean;
  now?: () => Date;
}

export type LabReportResult = GeneratedDocument;

/** A report with what its document is made from. */
export interface LoadedLabReport {
  report: Json;
  observations: Json[];
  patient: Json | undefined;
  encounter: Json | undefined;
  practitioners: Json[];
  /** The DocumentReferences related to the report (PFI's generated ones carry a source fingerprint). */
  generated: Json[];
}

/** Reads a report, its results, patient, stay, practitioners and related documents in one search. */
export async function loadLabReport(
  service: FhirService,
  auth: AuthContext,
  reportId: string,
): Promise<LoadedLabReport> {
  const { result } = await service.search(auth, 'DiagnosticReport', [
    ['_id', reportId],
    ['_include', 'DiagnosticReport:result'],
    ['_include', 'DiagnosticReport:subject'],
    ['_include', 'DiagnosticReport:encounter'],
    ['_include', 'DiagnosticReport:performer'],
    ['_include', 'DiagnosticReport:results-interpreter'],
    ['_revinclude', 'DocumentReference:related'],
  ]);
  const match = result.matches[0];
  if (!match) throw notFound(`DiagnosticReport/${reportId} not found`);
  const report = parseStored(match);
  const byRef = new Map(result.included.map((r) => [referenceOf(r), parseStored(r)]));
  const results = ((report['result'] as { reference?: string }[] | undefined) ?? []).map((r) => r.reference);
  const observations = results.map((r) => (r ? byRef.get(r) : undefined)).filter((o): o is Json => o !== undefined);
  const subject = (report['subject'] as { reference?: string } | undefined)?.reference;
  const encounter = (report['encounter'] as { reference?: string } | undefined)?.reference;
  return {
    report,
    observations,
    patient: subject ? byRef.get(subject) : undefined,
    encounter: encounter ? byRef.get(encounter) : undefined,
    practitioners: result.included.filter((r) => r.resourceType === 'Practitioner').map(parseStored),
    generated: result.included.filter((r) => r.resourceType === 'DocumentReference').map(parseStored),
  };
}

const business = (diagnostics: string, code: 'business-rule' | 'required' = 'business-rule') =>
  unprocessable([{ severity: 'error', code, diagnostics }]);

/**
 * Generates (or finds) the CR-BIO document of `DiagnosticReport/<reportId>`.
 *
 * @throws FhirError 404 (no such report), 422 (a cancelled report, no result, no patient); CdaInputError for data the
 * document cannot do without (no author with an idNat and no configured biologist…)
 */
export function generateLabReport(deps: LabReportDeps, auth: AuthContext, reportId: string): Promise<LabReportResult> {
  return withGenerationRetry(async () => {
    const loaded = await loadLabReport(deps.service, auth, reportId);
    const { report, observations, patient, encounter, practitioners } = loaded;
    if (report['status'] === 'cancelled' || report['status'] === 'entered-in-error') {
      throw business(`The report is ${String(report['status'])}: no document`);
    }
    if (!patient) throw business('The report has no readable Patient', 'required');
    if (observations.length === 0) throw business('The report has no readable result', 'required');
    const decided = planGeneration(
      `DiagnosticReport/${reportId}`,
      fingerprintOf([report, ...sortById(observations)]),
      loaded.generated,
    );
    if ('current' in decided) return existingDocument(deps.service, auth, decided.current);
    const { plan } = decided;
    const xml = await buildCrBio({
      report: report as Resource,
      observations: observations as Resource[],
      patient: patient as Resource,
      encounter: encounter as Resource | undefined,
      practitioners: practitioners as Resource[],
      organisation: deps.organisation,
      document: {
        id: { root: deps.organisation.documentIdRoot, extension: plan.id },
        setId: { root: deps.organisation.documentIdRoot, extension: `set-${reportId}` },
        versionNumber: plan.version,
        effectiveTime: deps.now?.() ?? new Date(),
      },
      pdf: deps.pdf ?? true,
    });
    const authors = [
      ...((report['performer'] as { reference?: string }[] | undefined) ?? []),
      ...((report['resultsInterpreter'] as { reference?: string }[] | undefined) ?? []),
    ]
      .map((r) => r.reference)
      .filter((r): r is string => typeof r === 'string' && /^(Practitioner|PractitionerRole|Organization)\//.test(r));
    return writeGeneratedDocument(deps, auth, xml, plan, {
      patientId: String(patient['id']),
      encounter: encounter ? `Encounter/${String(encounter['id'])}` : undefined,
      related: [`DiagnosticReport/${reportId}`],
      authors: [...new Set(authors)],
    });
  });
}

const sortById = (resources: Json[]) => [...resources].sort((a, b) => String(a['id']).localeCompare(String(b['id'])));
