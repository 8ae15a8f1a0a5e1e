/**
 * XDS metadata codes derived from a CDA header, after the ANS association tables:
 * ASS_A11 (CDA template → formatCode), ASS_A12 (level-1 body media type → formatCode) and ASS_X04 (document type
 * → classCode). Only the rows PFI meets are kept here; unknown inputs get a documented fallback.
 */

import type { CdaCode } from '../cda/types.js';

/** TRE_A11-IheFormatCode. */
export const IHE_FORMAT_CODES = '1.3.6.1.4.1.19376.1.2.3';
/** TRE_A06-FormatCodeComplementaire (the `urn:asip:…`/`urn:ans:…` CI-SIS format codes). */
export const CISIS_FORMAT_CODES = '1.2.250.1.213.1.1.4.2.282';
/** TRE_A03-ClasseDocument (JDV_J06 / JDV_J57 classCode). */
export const DOCUMENT_CLASSES = '1.2.250.1.213.1.1.4.1';

/** IHE XDS-SD (scanned/level-1 document) template. */
export const XDS_SD_TEMPLATE = '1.3.6.1.4.1.19376.1.2.20';

const ihe = (code: string, displayName?: string): CdaCode => ({
  code,
  codeSystem: IHE_FORMAT_CODES,
  ...(displayName ? { displayName } : {}),
});
const cisis = (code: string): CdaCode => ({ code, codeSystem: CISIS_FORMAT_CODES });

/** ASS_A12: a level-1 body's media type → formatCode. */
const BODY_MEDIA_FORMATS: Readonly<Record<string, CdaCode>> = {
  'application/pdf': ihe('urn:ihe:iti:xds-sd:pdf:2008', 'Document à corps non structuré en Pdf/A-1'),
  'text/plain': ihe('urn:ihe:iti:xds-sd:text:2008', 'Document à corps non structuré en texte brut'),
  'text/rtf': ihe('urn:ihe:iti-fr:xds-sd:rtf:2010'),
  'image/jpeg': ihe('urn:ihe:iti-fr:xds-sd:jpeg:2010'),
  'image/tiff': ihe('urn:ihe:iti-fr:xds-sd:tiff:2010'),
};

/** ASS_A11: structured CDA template → formatCode (first matching templateId of the document wins). */
const TEMPLATE_FORMATS: ReadonlyMap<string, CdaCode> = new Map([
  ['1.3.6.1.4.1.19376.1.3.3', ihe('urn:ihe:lab:xd-lab:2008', "Compte rendu structuré d'examens de biologie médicale")],
  ['1.2.250.1.213.1.1.1.55', ihe('urn:ihe:lab:xd-lab:2008', "Compte rendu structuré d'examens de biologie médicale")],
  ['1.2.250.1.213.1.1.1.45', ihe('urn:ihe:rad:CDA:ImagingReportStructuredHeadings:2013')],
  ['1.2.250.1.213.1.1.1.57', ihe('urn:ihe:palm:apsr:2016')],
  ['1.2.250.1.213.1.1.1.51', ihe('urn:ihe:pcc:ips:2020')],
  ['1.2.250.1.213.1.1.1.39', ihe('urn:ihe:pharm:pre:2010')],
  ['1.2.250.1.213.1.1.1.54', ihe('urn:ihe:pharm:dis:2010')],
  ['1.2.250.1.213.1.1.1.13', cisis('urn:asip:ci-sis:vsm:2012')],
  ['1.2.250.1.213.1.1.1.21', cisis('urn:asip:ci-sis:ldl-ees:2017')],
  ['1.2.250.1.213.1.1.1.29', cisis('urn:asip:ci-sis:ldl-ses:2017')],
  ['1.2.250.1.213.1.1.1.22', cisis('urn:asip:ci-sis:dlu:2015')],
  ['1.2.250.1.213.1.1.1.30', cisis('urn:asip:ci-sis:sdm-mr:2017')],
  ['1.2.250.1.213.1.1.1.37', cisis('urn:asip:ci-sis:vac:2019')],
  ['1.2.250.1.213.1.1.1.40', cisis('urn:asip:ci-sis:cr-anest:2020')],
  ['1.2.250.1.213.1.1.1.41', cisis('urn:asip:ci-sis:cr-cpa:2020')],
  ['1.2.250.1.213.1.1.1.47', cisis('urn:ans:ci-sis:img-da:2022')],
  ['1.2.250.1.213.1.1.1.52', cisis('urn:ans:ci-sis:bio-ep-bio:2022')],
  ['1.2.250.1.213.1.1.1.59', cisis('urn:ans:ci-sis:trod:2024')],
]);

/**
 * Fallback for a structured document whose template is not in the table: the IHE code saying the MIME type
 * (text/xml) is all a consumer needs. Better than a wrong specific code.
 */
export const FALLBACK_FORMAT = ihe('urn:ihe:iti:xds:2017:mimeTypeSufficient');

/**
 * The XDS formatCode of a CDA: level-1 documents (XDS-SD template or a `nonXMLBody`) by their body's media type,
 * structured ones by their first known templateId, else {@link FALLBACK_FORMAT}.
 *
 * @param body - what the body is: `{ nonXml: true, mediaType }` for a level-1 document.
 */
export function deriveFormatCode(
  templateIds: readonly string[],
  body: { nonXml: boolean; mediaType?: string },
): CdaCode {
  if (body.nonXml || templateIds.includes(XDS_SD_TEMPLATE)) {
    const byMedia = BODY_MEDIA_FORMATS[(body.mediaType ?? 'text/plain').toLowerCase()];
    if (byMedia) return byMedia;
  }
  for (const t of templateIds) {
    const f = TEMPLATE_FORMATS.get(t);
    if (f) return f;
  }
  return FALLBACK_FORMAT;
}

const COMPTE_RENDU: CdaCode = { code: '10', codeSystem: DOCUMENT_CLASSES, displayName: 'Compte rendu' };
const LOINC = '2.16.840.1.113883.6.1';

/** ASS_X04 rows for the report types PFI produces or relays (all LOINC). */
const TYPE_CLASSES: ReadonlyMap<string, CdaCode> = new Map([
  ['11502-2', COMPTE_RENDU], // CR d'examens biologiques
  ['18748-4', COMPTE_RENDU], // CR d'imagerie médicale
  ['11526-1', COMPTE_RENDU], // CR d'anatomie et de cytologie pathologiques
  ['11488-4', COMPTE_RENDU], // CR de consultation
  ['34874-8', COMPTE_RENDU], // CR opératoire
]);

/** The XDS classCode of a CDA document type, or undefined when the type is not in PFI's table. */
export function deriveClassCode(typeCode: CdaCode): CdaCode | undefined {
  return typeCode.codeSystem === LOINC ? TYPE_CLASSES.get(typeCode.code) : undefined;
}
