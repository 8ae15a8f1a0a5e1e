/**
 * The DocumentReference of a CDA document PFI stores: its metadata come from the CDA header itself (the same reader
 * feeds the IHE XDM metadata of MSSanté messages), so FHIR, the document and the XDM archive always agree.
 *
 * Mapping (ANS "Transmission de documents CDA": XDS metadata ← CDA header): type ← code (LOINC), category ← class
 * (JDV_J57), content.format ← XDS formatCode, securityLabel ← confidentialityCode, context.practiceSetting ←
 * serviceEvent performer's standardIndustryClassCode, context.facilityType ← healthCareFacility code, context.period
 * ← serviceEvent effectiveTime, masterIdentifier ← the document id (root + extension).
 */

import type { CdaCode, CdaId } from '../cda/types.js';
import type { Resource } from '../fhir/types.js';
import { hl7Instant } from '../hl7/datatypes.js';
import type { CdaHeader } from '../mssante/cda-header.js';

/** Marks the DocumentReferences PFI generated, with the fingerprint of the source content they were made from. */
export const SOURCE_FINGERPRINT_EXTENSION = 'urn:pfi:fhir:StructureDefinition:document-source-fingerprint';
/** The CDA versionNumber of a document PFI generated (its setId stays the same from one version to the next). */
export const DOCUMENT_VERSION_EXTENSION = 'urn:pfi:fhir:StructureDefinition:document-version';

const CODE_SYSTEM_URIS: Record<string, string> = {
  '2.16.840.1.113883.6.1': 'http://loinc.org',
  '2.16.840.1.113883.5.25': 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality',
  '2.16.840.1.113883.6.8': 'http://unitsofmeasure.org',
};

/** The FHIR system URI of a CDA code system OID. */
export const codeSystemUri = (oid: string): string => CODE_SYSTEM_URIS[oid] ?? `urn:oid:${oid}`;

const concept = (c: CdaCode) => ({
  coding: [{ system: codeSystemUri(c.codeSystem), code: c.code, ...(c.displayName ? { display: c.displayName } : {}) }],
});

/** A CDA `II` as a FHIR Identifier: `urn:oid:root` + extension, or the bare OID as a URI. */
export function cdaIdentifier(id: CdaId): { system: string; value: string } {
  return id.extension
    ? { system: `urn:oid:${id.root}`, value: id.extension }
    : { system: 'urn:ietf:rfc:3986', value: `urn:oid:${id.root}` };
}

/** A CDA timestamp (`20261202134500+0100`) as a FHIR instant, or undefined when it has no time or no offset. */
export function cdaInstant(ts: string | undefined): string | undefined {
  if (!ts || !/[+-]\d{4}$/.test(ts)) return undefined;
  return hl7Instant(ts);
}

export interface StoredCda {
  /** The DocumentReference id (and the Binary's). */
  id: string;
  binaryId: string;
  size: number;
  /** SHA-1 of the document bytes, base64 (FHIR Attachment.hash). */
  sha1: string;
  patientId: string;
  encounter?: string;
  related: string[];
  authors?: string[];
  replaces?: string;
  /** The DocumentReference this document was made from (a PDF wrapped in a level-1 CDA). */
  transforms?: string;
  /** A document PFI generated: the fingerprint of its source content and its version in its set. */
  source?: { fingerprint: string; version: number };
}

/** Builds the DocumentReference of a stored CDA document from its header. */
export function documentReferenceFor(header: CdaHeader, stored: StoredCda): Resource {
  const period: Record<string, string> = {};
  const start = cdaInstant(header.serviceStart);
  const end = cdaInstant(header.serviceStop);
  if (start) period['start'] = start;
  if (end) period['end'] = end;
  const context: Record<string, unknown> = {};
  if (stored.encounter) context['encounter'] = [{ reference: stored.encounter }];
  if (Object.keys(period).length) context['period'] = period;
  if (header.facilityType) context['facilityType'] = concept(header.facilityType);
  if (header.practiceSetting) context['practiceSetting'] = concept(header.practiceSetting);
  if (stored.related.length) context['related'] = stored.related.map((reference) => ({ reference }));

  const attachment: Record<string, unknown> = {
    contentType: 'text/xml',
    url: `Binary/${stored.binaryId}`,
    size: stored.size,
    hash: stored.sha1,
    title: header.title,
  };
  if (header.languageCode) attachment['language'] = header.languageCode;
  const creation = cdaInstant(header.effectiveTime);
  if (creation) attachment['creation'] = creation;

  const resource: Resource = {
    resourceType: 'DocumentReference',
    id: stored.id,
    masterIdentifier: cdaIdentifier(header.id),
    status: 'current',
    docStatus: 'final',
    type: concept(header.code),
    subject: { reference: `Patient/${stored.patientId}` },
    securityLabel: [concept(header.confidentiality)],
    content: [{ attachment, format: { ...concept(header.formatCode).coding[0] } }],
  };
  if (header.classCode) resource['category'] = [concept(header.classCode)];
  if (creation) resource['date'] = creation;
  if (stored.authors?.length) resource['author'] = stored.authors.map((reference) => ({ reference }));
  if (header.setId) resource['identifier'] = [cdaIdentifier(header.setId)];
  const relatesTo: Record<string, unknown>[] = [];
  if (stored.replaces)
    relatesTo.push({ code: 'replaces', target: { reference: `DocumentReference/${stored.replaces}` } });
  if (stored.transforms) relatesTo.push({ code: 'transforms', target: { reference: stored.transforms } });
  if (relatesTo.length) resource['relatesTo'] = relatesTo;
  if (Object.keys(context).length) resource['context'] = context;
  if (stored.source) {
    resource['extension'] = [
      { url: SOURCE_FINGERPRINT_EXTENSION, valueString: stored.source.fingerprint },
      { url: DOCUMENT_VERSION_EXTENSION, valuePositiveInt: stored.source.version },
    ];
  }
  return resource;
}
