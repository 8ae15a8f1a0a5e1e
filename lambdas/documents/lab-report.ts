/**
 * The lab report use case (cda worker and `POST DiagnosticReport/<id>/$generate-cda`): a DiagnosticReport and its
 * Observations become a CI-SIS CR-BIO document, stored in the document store (S3 with SSE-KMS in AWS), with a Binary
 * and a DocumentReference committed together (the previous document of the report superseded and replaced).
 *
 * Idempotent: the DocumentReference remembers the fingerprint of the content it was made from (report and results,
 * without their metadata), so the same input yields the same document however often it is asked for; a changed
 * result makes the next version of the document (same setId, versionNumber + 1). Ids are derived from the report,
 * the version and the fingerprint, so two concurrent generations of the same version write the same resources and
 * the second finds the first's.
 */

import { createHash } from 'node:crypto';
import type { DocumentStore } from '../adapters/documents/document-store.js';
import type { AuthContext } from '../auth/verify.js';
import { buildCrBio } from '../cda/cr-bio.js';
import type { CdaOrganisation } from '../cda/organisation.js';
import { BINARY_CONTENT_KEY_EXTENSION, binaryContentKey } from '../fhir/binary-content.js';
import { FhirError, notFound, unprocessable } from '../fhir/errors.js';
import type { StoredResource } from '../fhir/repository/repository.js';
import type { FhirService } from '../fhir/service.js';
import type { Resource } from '../fhir/types.js';
import { readCdaHeader } from '../mssante/cda-header.js';
import {
  DOCUMENT_VERSION_EXTENSION,
  documentReferenceFor,
  SOURCE_FINGERPRINT_EXTENSION,
} from './document-reference.js';

export interface LabReportDeps {
  service: FhirService;
  documents: DocumentStore;
  organisation: CdaOrganisation;
  /** Include the PDF copy of the results (CR-BIO requires it; default true). */
  pdf?: boolean;
  now?: () => Date;
}

export interface LabReportResult {
  documentReference: StoredResource;
  /** False when the current document was already made from this content. */
  created: boolean;
}

type Json = Record<string, unknown>;

const parse = (r: StoredResource) => JSON.parse(r.json) as Json;
const refOf = (r: { resourceType: string; id: string }) => `${r.resourceType}/${r.id}`;

/** The content of a resource without its server metadata, with keys sorted: what a fingerprint covers. */
function stable(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stable);
  if (value && typeof value === 'object') {
    const out: Json = {};
    for (const k of Object.keys(value).sort()) if (k !== 'meta') out[k] = stable((value as Json)[k]);
    return out;
  }
  return value;
}

function fingerprintOf(report: Json, observations: Json[]): string {
  const hash = createHash('sha256');
  hash.update(JSON.stringify(stable(report)));
  for (const o of [...observations].sort((a, b) => String(a['id']).localeCompare(String(b['id'])))) {
    hash.update('\n').update(JSON.stringify(stable(o)));
  }
  return hash.digest('hex');
}

const fingerprintOfDocument = (d: Json): string | undefined =>
  (d['extension'] as { url?: string; valueString?: string }[] | undefined)?.find(
    (e) => e.url === SOURCE_FINGERPRINT_EXTENSION,
  )?.valueString;

const versionOfDocument = (d: Json): number =>
  (d['extension'] as { url?: string; valuePositiveInt?: number }[] | undefined)?.find(
    (e) => e.url === DOCUMENT_VERSION_EXTENSION,
  )?.valuePositiveInt ?? 0;

/** A report with what its document is made from. */
export interface LoadedLabReport {
  report: Json;
  observations: Json[];
  patient: Json | undefined;
  encounter: Json | undefined;
  practitioners: Json[];
  generated: Json[];
}

/** Reads a report, its results, patient, stay, practitioners and generated documents in one search. */
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
  const report = parse(match);
  const byRef = new Map(result.included.map((r) => [refOf(r), parse(r)]));
  const results = ((report['result'] as { reference?: string }[] | undefined) ?? []).map((r) => r.reference);
  const observations = results.map((r) => (r ? byRef.get(r) : undefined)).filter((o): o is Json => o !== undefined);
  const subject = (report['subject'] as { reference?: string } | undefined)?.reference;
  const encounter = (report['encounter'] as { reference?: string } | undefined)?.reference;
  return {
    report,
    observations,
    patient: subject ? byRef.get(subject) : undefined,
    encounter: encounter ? byRef.get(encounter) : undefined,
    practitioners: result.included.filter((r) => r.resourceType === 'Practitioner').map(parse),
    generated: result.included
      .filter((r) => r.resourceType === 'DocumentReference')
      .map(parse)
      .filter((d) => fingerprintOfDocument(d) !== undefined),
  };
}

/** A FHIR id (≤ 64 characters) derived from the report, the document version and the content fingerprint. */
const documentId = (reportId: string, version: number, fingerprint: string) =>
  `${createHash('sha256').update(`${reportId}|${version}|${fingerprint}`).digest('hex').slice(0, 40)}.v${version}`;

/**
 * Generates (or finds) the CR-BIO document of `DiagnosticReport/<reportId>`.
 *
 * @throws FhirError 404 (no such report), 422 (a cancelled report, no result, or data the document cannot do without)
 */
export async function generateLabReport(
  deps: LabReportDeps,
  auth: AuthContext,
  reportId: string,
): Promise<LabReportResult> {
  for (let attempt = 0; ; attempt++) {
    const loaded = await loadLabReport(deps.service, auth, reportId);
    const { report, observations, patient } = loaded;
    if (report['status'] === 'cancelled' || report['status'] === 'entered-in-error') {
      throw unprocessable([
        {
          severity: 'error',
          code: 'business-rule',
          diagnostics: `The report is ${String(report['status'])}: no document`,
        },
      ]);
    }
    if (!patient) {
      throw unprocessable([{ severity: 'error', code: 'required', diagnostics: 'The report has no readable Patient' }]);
    }
    if (observations.length === 0) {
      throw unprocessable([{ severity: 'error', code: 'required', diagnostics: 'The report has no readable result' }]);
    }
    const fingerprint = fingerprintOf(report, observations);
    const current = loaded.generated.find((d) => d['status'] === 'current');
    if (current && fingerprintOfDocument(current) === fingerprint) {
      const stored = await deps.service.read(auth, 'DocumentReference', String(current['id']));
      return { documentReference: stored.resource!, created: false };
    }
    const version = Math.max(0, ...loaded.generated.map(versionOfDocument)) + 1;
    const id = documentId(reportId, version, fingerprint);
    try {
      return await write(deps, auth, loaded, { id, version, fingerprint, previous: current });
    } catch (err) {
      // A concurrent generation of the same version won (same ids): the next round finds its document.
      if (attempt === 0 && err instanceof FhirError && (err.status === 409 || err.status === 412)) continue;
      throw err;
    }
  }
}

async function write(
  deps: LabReportDeps,
  auth: AuthContext,
  loaded: LoadedLabReport,
  doc: { id: string; version: number; fingerprint: string; previous: Json | undefined },
): Promise<LabReportResult> {
  const { report, observations, patient, encounter, practitioners } = loaded;
  const now = deps.now?.() ?? new Date();
  const reportId = String(report['id']);
  const xml = await buildCrBio({
    report: report as Resource,
    observations: observations as Resource[],
    patient: patient as Resource,
    encounter: encounter as Resource | undefined,
    practitioners: practitioners as Resource[],
    organisation: deps.organisation,
    document: {
      id: { root: deps.organisation.documentIdRoot, extension: doc.id },
      setId: { root: deps.organisation.documentIdRoot, extension: `set-${reportId}` },
      versionNumber: doc.version,
      effectiveTime: now,
    },
    pdf: deps.pdf ?? true,
  });
  const header = readCdaHeader(xml);
  const bytes = Buffer.from(xml, 'utf8');
  // The document goes to the store first: a crash before the commit leaves an unreferenced object, never a
  // DocumentReference without its content (the retry writes the same key).
  const key = binaryContentKey(doc.id);
  await deps.documents.put(key, bytes, { contentType: 'text/xml' });
  const binary: Resource = {
    resourceType: 'Binary',
    id: doc.id,
    meta: { extension: [{ url: BINARY_CONTENT_KEY_EXTENSION, valueString: key }] },
    contentType: 'text/xml',
    securityContext: { reference: `DocumentReference/${doc.id}` },
  };
  const authors = [
    ...((report['performer'] as { reference?: string }[] | undefined) ?? []),
    ...((report['resultsInterpreter'] as { reference?: string }[] | undefined) ?? []),
  ]
    .map((r) => r.reference)
    .filter((r): r is string => typeof r === 'string' && /^(Practitioner|PractitionerRole|Organization)\//.test(r));
  const documentReference = documentReferenceFor(header, {
    id: doc.id,
    binaryId: doc.id,
    size: bytes.length,
    sha1: createHash('sha1').update(bytes).digest('base64'),
    patientId: String(patient!['id']),
    encounter: encounter ? `Encounter/${String(encounter['id'])}` : undefined,
    related: [`DiagnosticReport/${reportId}`],
    authors: [...new Set(authors)],
    replaces: doc.previous ? String(doc.previous['id']) : undefined,
    source: { fingerprint: doc.fingerprint, version: doc.version },
  });
  const items: Parameters<FhirService['updateMany']>[1] = [
    { resource: binary, expectedVersion: 0 },
    { resource: documentReference, expectedVersion: 0 },
  ];
  if (doc.previous) {
    const meta = doc.previous['meta'] as { versionId?: string } | undefined;
    items.push({
      resource: { ...(doc.previous as Resource), status: 'superseded' },
      expectedVersion: Number(meta?.versionId ?? 0) || undefined,
    });
  }
  const written = await deps.service.updateMany(auth, items);
  return { documentReference: written[1]!.resource!, created: true };
}
