/**
 * PDFs arriving by MDM or FHIR become CI-SIS level-1 documents: a DocumentReference whose content is a PDF (and no
 * CDA) gets a sibling DocumentReference for the CDA wrapping that PDF (nonXMLBody, IHE XDS-SD), which `transforms` it
 * and is what MSSanté and the DMP take. Same idempotence and versioning as the lab reports (generated-document.ts):
 * a new PDF in the source makes version 2, which replaces version 1.
 */

import type { DocumentStore } from '../adapters/documents/document-store.js';
import type { AuthContext } from '../auth/verify.js';
import { buildLevel1 } from '../cda/level1.js';
import type { CdaOrganisation } from '../cda/organisation.js';
import { binaryBytes } from '../fhir/binary-content.js';
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

export interface PdfDocumentDeps {
  service: FhirService;
  documents: DocumentStore;
  organisation: CdaOrganisation;
  now?: () => Date;
}

const LOINC = 'http://loinc.org';
const CONFIDENTIALITY = 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality';

type Attachment = { contentType?: string; url?: string; title?: string };
const attachmentsOf = (d: Json): Attachment[] =>
  ((d['content'] as { attachment?: Attachment }[] | undefined) ?? [])
    .map((c) => c.attachment)
    .filter((a): a is Attachment => a !== undefined);

const isPdf = (a: Attachment) => a.contentType?.split(';')[0]?.trim().toLowerCase() === 'application/pdf';
const isXml = (a: Attachment) => /xml/i.test(a.contentType ?? '');

/** Whether a DocumentReference carries a PDF as a Binary and no CDA: what a level-1 document is made for. */
export function needsLevel1(d: Json): boolean {
  if (d['status'] !== 'current') return false;
  const attachments = attachmentsOf(d);
  return attachments.some((a) => isPdf(a) && a.url?.startsWith('Binary/')) && !attachments.some(isXml);
}

const business = (diagnostics: string) => unprocessable([{ severity: 'error', code: 'business-rule', diagnostics }]);

/**
 * Generates (or finds) the level-1 CDA of the PDF in `DocumentReference/<sourceId>`.
 *
 * @throws FhirError 404 (no such DocumentReference), 422 (not a PDF document, no LOINC type, no patient);
 * CdaInputError when the document has no author with an idNat
 */
export function generatePdfDocument(
  deps: PdfDocumentDeps,
  auth: AuthContext,
  sourceId: string,
): Promise<GeneratedDocument> {
  return withGenerationRetry(async () => {
    const { result } = await deps.service.search(auth, 'DocumentReference', [
      ['_id', sourceId],
      ['_include', 'DocumentReference:subject'],
      ['_include', 'DocumentReference:author'],
      ['_include', 'DocumentReference:encounter'],
      ['_revinclude', 'DocumentReference:relatesto'],
    ]);
    const match = result.matches[0];
    if (!match) throw notFound(`DocumentReference/${sourceId} not found`);
    const source = parseStored(match);
    if (!needsLevel1(source)) throw business('The document has no PDF content to wrap, or already a CDA');
    const byRef = new Map(result.included.map((r) => [referenceOf(r), parseStored(r)]));
    const patientRef = (source['subject'] as { reference?: string } | undefined)?.reference;
    const patient = patientRef ? byRef.get(patientRef) : undefined;
    if (patient?.['resourceType'] !== 'Patient') throw business('The document has no readable Patient');
    const loinc = (
      (source['type'] as { coding?: { system?: string; code?: string; display?: string }[] } | undefined)?.coding ?? []
    ).find((c) => c.system === LOINC && c.code);
    if (!loinc) throw business('The document has no LOINC type (JDV_J07): a CI-SIS document needs one');
    const pdfAttachment = attachmentsOf(source).find(isPdf)!;
    const binary = await deps.service.read(auth, 'Binary', pdfAttachment.url!.slice('Binary/'.length));
    const pdf = (await binaryBytes(binary.resource!, undefined)).bytes;
    const authorRef = ((source['author'] as { reference?: string }[] | undefined) ?? [])
      .map((a) => a.reference)
      .find((r) => r?.startsWith('Practitioner/'));
    const author = authorRef ? byRef.get(authorRef) : undefined;
    const encounterRef = ((source['context'] as { encounter?: { reference?: string }[] } | undefined)?.encounter ??
      [])[0]?.reference;
    const encounter = encounterRef ? byRef.get(encounterRef) : undefined;
    const label = ((source['securityLabel'] as { coding?: { system?: string; code?: string }[] }[] | undefined) ?? [])
      .flatMap((l) => l.coding ?? [])
      .find((c) => c.system === CONFIDENTIALITY)?.code;
    const confidentiality = label === 'R' || label === 'V' ? label : 'N';
    const title = pdfAttachment.title ?? (source['description'] as string | undefined) ?? loinc.display ?? 'Document';

    const generated = result.included
      .filter((r) => r.resourceType === 'DocumentReference')
      .map(parseStored)
      .filter((d) =>
        ((d['relatesTo'] as { code?: string; target?: { reference?: string } }[] | undefined) ?? []).some(
          (r) => r.code === 'transforms' && r.target?.reference === `DocumentReference/${sourceId}`,
        ),
      );
    const fingerprint = fingerprintOf([pdf, { type: loinc.code, title, confidentiality, author: authorRef ?? '' }]);
    const decided = planGeneration(`DocumentReference/${sourceId}`, fingerprint, generated);
    if ('current' in decided) return existingDocument(deps.service, auth, decided.current);
    const { plan } = decided;
    const xml = buildLevel1({
      pdf,
      title,
      type: {
        code: loinc.code!,
        codeSystem: '2.16.840.1.113883.6.1',
        ...(loinc.display ? { displayName: loinc.display } : {}),
      },
      patient: patient as Resource,
      author: author as Resource | undefined,
      encounter: encounter as Resource | undefined,
      organisation: deps.organisation,
      document: {
        id: { root: deps.organisation.documentIdRoot, extension: plan.id },
        setId: { root: deps.organisation.documentIdRoot, extension: `set-${sourceId}` },
        versionNumber: plan.version,
        effectiveTime: deps.now?.() ?? new Date(),
      },
      confidentiality,
    });
    return writeGeneratedDocument(deps, auth, xml, plan, {
      patientId: String(patient['id']),
      encounter: encounter ? `Encounter/${String(encounter['id'])}` : undefined,
      related: [],
      authors: authorRef ? [authorRef] : [],
      transforms: `DocumentReference/${sourceId}`,
    });
  });
}
