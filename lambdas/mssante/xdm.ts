/**
 * IHE XDM archive (`IHE_XDM.ZIP`) for an MSSanté message: `INDEX.HTM`, `README.TXT`,
 * `IHE_XDM/SUBSET01/METADATA.XML` (ebRIM 3.0 SubmitObjectsRequest: one submission set, one document entry per
 * CDA, HasMember associations) and the documents as `IHE_XDM/SUBSET01/DOC0001.XML`…
 *
 * Everything is deterministic for a given input (UUIDs derived from the submission uniqueId, zip timestamps
 * from the submission time), so a redelivered job rebuilds a byte-identical archive.
 */

import { createHash } from 'node:crypto';
import { XMLBuilder } from 'fast-xml-parser';
import { zipSync } from 'fflate';
import type { CdaCode } from '../cda/types.js';
import type { CdaAuthor, CdaHeader } from './cda-header.js';
import { ce, clean, cx, dtm, uniqueIdOf, uuidUrn, xcn, xdsTime, xon } from './ebrim.js';

/** ebRIM classification schemes and identification schemes of XDS (IHE ITI TF-3 §4.2.5). */
export const XDS = {
  documentEntry: 'urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1',
  submissionSet: 'urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd',
  deAuthor: 'urn:uuid:93606bcf-9494-43ec-9b4e-a7748d1a838d',
  classCode: 'urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a',
  confidentialityCode: 'urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f',
  formatCode: 'urn:uuid:a09d5840-386c-46f2-b5ad-9c3699a4309d',
  healthcareFacilityTypeCode: 'urn:uuid:f33fb8ac-18af-42cc-ae0e-ed0b0bdb91e1',
  practiceSettingCode: 'urn:uuid:cccf5598-8b07-4b77-a05e-ae952c785ead',
  typeCode: 'urn:uuid:f0306f51-975f-434e-a61c-c59651d33983',
  dePatientId: 'urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427',
  deUniqueId: 'urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab',
  ssAuthor: 'urn:uuid:a7058bb9-b4e4-4307-ba5b-e3f0ab85e12d',
  contentTypeCode: 'urn:uuid:aa543740-bdda-424e-8c96-df4873be8500',
  ssUniqueId: 'urn:uuid:96fdda7c-d067-4183-912e-bf5ee74998a8',
  ssSourceId: 'urn:uuid:554ac39e-e3fe-47fe-b233-965d2a147832',
  ssPatientId: 'urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446',
} as const;

const RIM = 'urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0';
const LCM = 'urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0';
const OT = 'urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:';

export const XDM_SUBSET = 'IHE_XDM/SUBSET01';

export interface XdmDocument {
  xml: string;
  header: CdaHeader;
  /** Overrides the header's derived classCode (needed when the document type is not in PFI's table). */
  classCode?: CdaCode;
  /** Extra confidentiality codes (e.g. `MASQUE_PS`, `INVISIBLE_PATIENT`, codeSystem 1.2.250.1.213.1.1.4.13). */
  extraConfidentiality?: CdaCode[];
}

export interface XdmSubmission {
  /** OID of the sending system. */
  sourceId: string;
  /** OID of this submission set (unique per message). */
  uniqueId: string;
  submissionTime: Date;
  /** Submission set author; default: the first document's first author. */
  author?: CdaAuthor;
  /** JDV_J59 contentTypeCode (codeSystem 1.2.250.1.213.2.2); omitted when not given. */
  contentTypeCode?: CdaCode;
  /** Recipient mailbox addresses (XDM `intendedRecipient`). */
  intendedRecipients?: string[];
  /** Submission set title; default: the first document's title. */
  title?: string;
}

export interface XdmEntry {
  fileName: string;
  /** SHA-1 of the file, lower-case hex. */
  sha1: string;
  size: number;
}

export interface XdmArchive {
  zip: Uint8Array;
  metadataXml: string;
  entries: XdmEntry[];
  /** Metadata that could not be filled (e.g. no classCode for an unknown document type): content-free. */
  warnings: string[];
}

/** The input cannot make a valid archive (no document…). Content-free message. */
export class XdmError extends Error {
  override readonly name = 'XdmError';
}

const builder = new XMLBuilder({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  suppressEmptyNode: true,
  format: true,
  indentBy: '  ',
});

type El = Record<string, unknown>;

const slot = (name: string, values: (string | undefined)[]): El | undefined => {
  const v = values.filter((x): x is string => x !== undefined && x !== '').map(clean);
  return v.length ? { '@name': name, 'rim:ValueList': { 'rim:Value': v } } : undefined;
};
const localized = (value: string): El => ({ 'rim:LocalizedString': { '@value': clean(value) } });
const present = <T>(xs: (T | undefined)[]): T[] => xs.filter((x): x is T => x !== undefined);

function codeClassification(id: string, scheme: string, object: string, code: CdaCode): El {
  return {
    '@id': id,
    '@classificationScheme': scheme,
    '@classifiedObject': object,
    '@nodeRepresentation': clean(code.code),
    '@objectType': `${OT}Classification`,
    'rim:Slot': slot('codingScheme', [code.codeSystem]),
    'rim:Name': localized(code.displayName ?? code.code),
  };
}

function authorClassification(id: string, scheme: string, object: string, a: CdaAuthor): El {
  return {
    '@id': id,
    '@classificationScheme': scheme,
    '@classifiedObject': object,
    '@nodeRepresentation': '',
    '@objectType': `${OT}Classification`,
    'rim:Slot': present([
      a.organisation ? slot('authorInstitution', [xon(a.organisation)]) : undefined,
      a.id || a.family || a.given ? slot('authorPerson', [xcn(a)]) : undefined,
      a.role ? slot('authorRole', [ce(a.role)]) : undefined,
      a.specialty ? slot('authorSpecialty', [ce(a.specialty)]) : undefined,
    ]),
  };
}

function externalId(id: string, scheme: string, object: string, value: string, name: string): El {
  return {
    '@id': id,
    '@identificationScheme': scheme,
    '@objectType': `${OT}ExternalIdentifier`,
    '@registryObject': object,
    '@value': clean(value),
    'rim:Name': localized(name),
  };
}

/** XDS patientId: the INS (`…^^^&1.2.250.1.213.1.4.10&ISO^NH`), else the IPP (`^PI`), else the first id. */
function patientIdOf(h: CdaHeader): string {
  if (h.patient.ins) return cx(h.patient.ins, 'NH');
  if (h.patient.ipp) return cx(h.patient.ipp, 'PI');
  return cx(h.patient.ids[0]!, 'PI');
}

function sourcePatientInfo(h: CdaHeader): string[] {
  const p = h.patient;
  const out: string[] = [];
  if (p.family || p.given) out.push(`PID-5|${xcnName(p.family, p.given)}`);
  if (p.birthTime) out.push(`PID-7|${p.birthTime.slice(0, 8)}`);
  if (p.gender) out.push(`PID-8|${p.gender}`);
  return out;
}
const xcnName = (family?: string, given?: string) => `${xcn({ family, given }).slice(1)}^^^^^L`;

function documentEntry(doc: XdmDocument, index: number, ids: Ids, sha1: string, size: number, warnings: string[]) {
  const h = doc.header;
  const de = ids.de(index);
  const n = (k: string) => ids.of(`de${index}-${k}`);
  const classCode = doc.classCode ?? h.classCode;
  if (!classCode) warnings.push(`document ${index + 1}: no classCode for its type, classification omitted`);
  if (!h.practiceSetting) warnings.push(`document ${index + 1}: no practiceSettingCode in the CDA header`);
  if (!h.facilityType) warnings.push(`document ${index + 1}: no healthcareFacilityTypeCode in the CDA header`);
  const la = h.legalAuthenticator;
  const sourcePatient = h.patient.ipp ? cx(h.patient.ipp, 'PI') : patientIdOf(h);
  return {
    '@id': de,
    '@mimeType': 'text/xml',
    '@objectType': XDS.documentEntry,
    '@status': 'urn:oasis:names:tc:ebxml-regrep:StatusType:Approved',
    'rim:Slot': present([
      slot('creationTime', [xdsTime(h.effectiveTime)]),
      slot('hash', [sha1]),
      slot('languageCode', [h.languageCode ?? 'fr-FR']),
      la && (la.id || la.family) ? slot('legalAuthenticator', [xcn(la)]) : undefined,
      slot('serviceStartTime', [xdsTime(h.serviceStart)]),
      slot('serviceStopTime', [xdsTime(h.serviceStop)]),
      slot('size', [String(size)]),
      slot('sourcePatientId', [sourcePatient]),
      slot('sourcePatientInfo', sourcePatientInfo(h)),
      slot('URI', [docFileName(index)]),
    ]),
    'rim:Name': localized(h.title),
    'rim:Classification': present([
      ...h.authors.map((a, i) => authorClassification(n(`author${i}`), XDS.deAuthor, de, a)),
      classCode ? codeClassification(n('class'), XDS.classCode, de, classCode) : undefined,
      ...[h.confidentiality, ...(doc.extraConfidentiality ?? [])].map((c, i) =>
        codeClassification(n(`conf${i}`), XDS.confidentialityCode, de, c),
      ),
      codeClassification(n('format'), XDS.formatCode, de, h.formatCode),
      h.facilityType
        ? codeClassification(n('facility'), XDS.healthcareFacilityTypeCode, de, h.facilityType)
        : undefined,
      h.practiceSetting ? codeClassification(n('practice'), XDS.practiceSettingCode, de, h.practiceSetting) : undefined,
      codeClassification(n('type'), XDS.typeCode, de, h.code),
    ]),
    'rim:ExternalIdentifier': [
      externalId(n('patientId'), XDS.dePatientId, de, patientIdOf(h), 'XDSDocumentEntry.patientId'),
      externalId(n('uniqueId'), XDS.deUniqueId, de, uniqueIdOf(h.id), 'XDSDocumentEntry.uniqueId'),
    ],
  };
}

interface Ids {
  ss: string;
  de(i: number): string;
  of(key: string): string;
}

const docFileName = (index: number) => `DOC${String(index + 1).padStart(4, '0')}.XML`;

/** The METADATA.XML text for documents whose hash and size are known. */
function metadataXml(input: BuildXdmInput, digests: { sha1: string; size: number }[], warnings: string[]): string {
  const { submission: s, documents } = input;
  const seed = `pfi-xdm|${s.uniqueId}`;
  const ids: Ids = {
    ss: uuidUrn(`${seed}|ss`),
    de: (i) => uuidUrn(`${seed}|de|${i}`),
    of: (key) => uuidUrn(`${seed}|${key}`),
  };
  const first = documents[0]!.header;
  const author = s.author ?? first.authors[0];
  const recipients = (s.intendedRecipients ?? []).map((a) => `||^^Internet^${a}`);
  const registryPackage = {
    '@id': ids.ss,
    '@objectType': `${OT}RegistryPackage`,
    'rim:Slot': present([slot('submissionTime', [dtm(s.submissionTime)]), slot('intendedRecipient', recipients)]),
    'rim:Name': localized(s.title ?? first.title),
    'rim:Classification': present([
      author ? authorClassification(ids.of('ss-author'), XDS.ssAuthor, ids.ss, author) : undefined,
      s.contentTypeCode
        ? codeClassification(ids.of('ss-content'), XDS.contentTypeCode, ids.ss, s.contentTypeCode)
        : undefined,
    ]),
    'rim:ExternalIdentifier': [
      externalId(ids.of('ss-uniqueId'), XDS.ssUniqueId, ids.ss, s.uniqueId, 'XDSSubmissionSet.uniqueId'),
      externalId(ids.of('ss-sourceId'), XDS.ssSourceId, ids.ss, s.sourceId, 'XDSSubmissionSet.sourceId'),
      externalId(ids.of('ss-patientId'), XDS.ssPatientId, ids.ss, patientIdOf(first), 'XDSSubmissionSet.patientId'),
    ],
  };
  const request = {
    'lcm:SubmitObjectsRequest': {
      '@xmlns:lcm': LCM,
      '@xmlns:rim': RIM,
      'rim:RegistryObjectList': {
        'rim:RegistryPackage': registryPackage,
        'rim:Classification': {
          '@id': ids.of('ss-node'),
          '@classifiedObject': ids.ss,
          '@classificationNode': XDS.submissionSet,
          '@objectType': `${OT}Classification`,
        },
        'rim:ExtrinsicObject': documents.map((d, i) =>
          documentEntry(d, i, ids, digests[i]!.sha1, digests[i]!.size, warnings),
        ),
        'rim:Association': documents.map((_, i) => ({
          '@id': ids.of(`assoc${i}`),
          '@associationType': 'urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember',
          '@objectType': `${OT}Association`,
          '@sourceObject': ids.ss,
          '@targetObject': ids.de(i),
          'rim:Slot': slot('SubmissionSetStatus', ['Original']),
        })),
      },
    },
  };
  return `<?xml version="1.0" encoding="UTF-8"?>\n${builder.build(request)}`;
}

const html = (s: string) =>
  clean(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function indexHtm(input: BuildXdmInput): string {
  const items = input.documents
    .map((d, i) => `<li><a href="${XDM_SUBSET}/${docFileName(i)}">${html(d.header.title)}</a></li>`)
    .join('\n');
  return `<!DOCTYPE html>
<html lang="fr"><head><meta charset="utf-8"><title>IHE XDM</title></head>
<body>
<h1>Documents de santé (IHE XDM)</h1>
<p>Archive produite par PFI (Plateforme de Flux Interopérable). Voir <a href="README.TXT">README.TXT</a>.</p>
<ul>
${items}
</ul>
<p>Métadonnées : <a href="${XDM_SUBSET}/METADATA.XML">${XDM_SUBSET}/METADATA.XML</a></p>
</body></html>
`;
}

function readmeTxt(input: BuildXdmInput): string {
  const s = input.submission;
  return [
    'IHE XDM - Distribute Document Set on Media',
    '',
    'Application : PFI (Plateforme de Flux Interopérable)',
    `Système émetteur (sourceId) : ${clean(s.sourceId)}`,
    `Lot de soumission (uniqueId) : ${clean(s.uniqueId)}`,
    `Date de soumission (UTC) : ${s.submissionTime.toISOString()}`,
    '',
    'Contenu :',
    '  INDEX.HTM - sommaire',
    '  README.TXT - ce fichier',
    `  ${XDM_SUBSET}/METADATA.XML - métadonnées XDS (ebRIM 3.0)`,
    ...input.documents.map((_, i) => `  ${XDM_SUBSET}/${docFileName(i)} - document CDA R2`),
    '',
  ].join('\r\n');
}

export interface BuildXdmInput {
  documents: XdmDocument[];
  submission: XdmSubmission;
}

const encoder = new TextEncoder();
const sha1Hex = (b: Uint8Array) => createHash('sha1').update(b).digest('hex');

/**
 * Builds the `IHE_XDM.ZIP` of an MSSanté message.
 *
 * @throws {@link XdmError} without documents.
 *
 * @example
 * ```ts
 * const xdm = buildXdmArchive({
 *   documents: [{ xml, header: readCdaHeader(xml) }],
 *   submission: { sourceId: '1.2.250.1.999.1', uniqueId: '1.2.250.1.999.1.2.42', submissionTime: new Date() },
 * });
 * await transport.sendMail(composeMssanteMail({ …, xdmZip: xdm.zip }));
 * ```
 */
export function buildXdmArchive(input: BuildXdmInput): XdmArchive {
  if (input.documents.length === 0) throw new XdmError('an XDM archive needs at least one document');
  const docs = input.documents.map((d) => encoder.encode(d.xml));
  const digests = docs.map((b) => ({ sha1: sha1Hex(b), size: b.length }));
  const warnings: string[] = [];
  const metadata = metadataXml(input, digests, warnings);
  const files: [string, Uint8Array][] = [
    ['INDEX.HTM', encoder.encode(indexHtm(input))],
    ['README.TXT', encoder.encode(readmeTxt(input))],
    [`${XDM_SUBSET}/METADATA.XML`, encoder.encode(metadata)],
    ...docs.map((b, i): [string, Uint8Array] => [`${XDM_SUBSET}/${docFileName(i)}`, b]),
  ];
  const mtime = input.submission.submissionTime;
  const zip = zipSync(Object.fromEntries(files.map(([name, bytes]) => [name, [bytes, { mtime }]])), {
    level: 6,
    mtime,
  });
  const entries = files.map(([fileName, bytes], i) => {
    const known = i >= 3 ? digests[i - 3]! : { sha1: sha1Hex(bytes), size: bytes.length };
    return { fileName, ...known };
  });
  return { zip, metadataXml: metadata, entries, warnings };
}
