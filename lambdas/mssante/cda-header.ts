/**
 * Reads the header of any CI-SIS CDA R2 document (PFI's CR-BIO and level-1 documents, and CDAs received by HL7)
 * into the fields the XDM metadata and the MSSanté headers need. The body is not parsed (only its kind and
 * media type are looked at), which keeps this cheap on documents carrying a large base64 PDF.
 */

import { XMLParser, XMLValidator } from 'fast-xml-parser';
import type { CdaCode, CdaId } from '../cda/types.js';
import { deriveClassCode, deriveFormatCode } from './xds-codes.js';

export interface CdaPerson {
  family?: string;
  given?: string;
}

export interface CdaAuthor extends CdaPerson {
  time?: string;
  id?: CdaId;
  /** `assignedAuthor/code`: profession/specialty (JDV_J01, XDS authorSpecialty). */
  specialty?: CdaCode;
  /** `author/functionCode` (XDS authorRole), when present. */
  role?: CdaCode;
  organisation?: { id?: CdaId; name?: string };
}

export interface CdaHeader {
  id: CdaId;
  setId?: CdaId;
  versionNumber?: number;
  code: CdaCode;
  title: string;
  /** The CDA TS as written (e.g. `20261202134500+0100`). */
  effectiveTime: string;
  confidentiality: CdaCode;
  languageCode?: string;
  templateIds: string[];
  /** Derived XDS formatCode (see `xds-codes.ts`). */
  formatCode: CdaCode;
  /** Derived XDS classCode; undefined when the document type is not in PFI's ASS_X04 subset. */
  classCode?: CdaCode;
  practiceSetting?: CdaCode;
  facilityType?: CdaCode;
  patient: {
    ids: CdaId[];
    /** The INS, present only when the identity is qualified (INS-NIR, or its test/demo OIDs). */
    ins?: CdaId;
    insQualified: boolean;
    /** The other recordTarget id (the facility's patient identifier). */
    ipp?: CdaId;
    family?: string;
    given?: string;
    gender?: string;
    birthTime?: string;
  };
  authors: CdaAuthor[];
  legalAuthenticator?: CdaPerson & { time?: string; id?: CdaId };
  custodian?: { id?: CdaId; name?: string };
  serviceStart?: string;
  serviceStop?: string;
  encounterCode?: CdaCode;
}

/** The document is not a CDA, or lacks a mandatory header part. The message names the part, never a value. */
export class CdaHeaderError extends Error {
  override readonly name = 'CdaHeaderError';
}

/** INS OIDs allowed in a CDA recordTarget: INS-NIR, INS-NIR test, INS-NIR demo (only qualified identities). */
export const INS_OIDS: ReadonlySet<string> = new Set([
  '1.2.250.1.213.1.4.8',
  '1.2.250.1.213.1.4.10',
  '1.2.250.1.213.1.4.11',
]);
/** Every INS-family OID (NIR, NIA, test, demo, legacy INS-C): never the IPP. */
const INS_FAMILY = /^1\.2\.250\.1\.213\.1\.4\.\d+$/;

const ARRAY_TAGS: ReadonlySet<string> = new Set([
  'templateId',
  'id',
  'author',
  'name',
  'family',
  'given',
  'documentationOf',
  'performer',
]);

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  removeNSPrefix: true,
  parseTagValue: false,
  parseAttributeValue: false,
  processEntities: true,
  // Numeric character references (&#233;) are decoded by the HTML entity table.
  htmlEntities: true,
  jPath: true,
  isArray: (tagName: string) => ARRAY_TAGS.has(tagName),
  // The body is kept as raw text: the header fields never live there.
  stopNodes: ['ClinicalDocument.component'],
});

type Node = Record<string, unknown>;
const isNode = (v: unknown): v is Node => typeof v === 'object' && v !== null && !Array.isArray(v);
const child = (n: unknown, name: string): Node | undefined => {
  if (!isNode(n)) return undefined;
  const v = n[name];
  if (Array.isArray(v)) return v.find(isNode);
  return isNode(v) ? v : undefined;
};
const children = (n: unknown, name: string): Node[] => {
  if (!isNode(n)) return [];
  const v = n[name];
  return (Array.isArray(v) ? v : [v]).filter(isNode);
};
const path = (n: unknown, ...names: string[]): Node | undefined =>
  names.reduce<Node | undefined>((cur, name) => child(cur, name), isNode(n) ? n : undefined);
const attr = (n: Node | undefined, name: string): string | undefined => {
  const v = n?.[`@${name}`];
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;
};

function text(v: unknown): string | undefined {
  const raw = typeof v === 'string' ? v : isNode(v) && typeof v['#text'] === 'string' ? v['#text'] : undefined;
  const t = raw?.replace(/\s+/g, ' ').trim();
  return t ? t : undefined;
}

function readId(n: Node | undefined): CdaId | undefined {
  const root = attr(n, 'root');
  if (!root) return undefined;
  const extension = attr(n, 'extension');
  return extension ? { root, extension } : { root };
}

const firstId = (n: unknown): CdaId | undefined => {
  for (const i of children(n, 'id')) {
    const id = readId(i);
    if (id) return id;
  }
  return undefined;
};

function readCode(n: Node | undefined): CdaCode | undefined {
  const code = attr(n, 'code');
  const codeSystem = attr(n, 'codeSystem');
  if (!code || !codeSystem) return undefined;
  const displayName = attr(n, 'displayName');
  const codeSystemName = attr(n, 'codeSystemName');
  return { code, codeSystem, ...(displayName ? { displayName } : {}), ...(codeSystemName ? { codeSystemName } : {}) };
}

/** The part of a name with the given qualifier (e.g. `BR`, birth name), else the first unqualified, else the first. */
function namePart(name: Node | undefined, part: 'family' | 'given', qualifier?: string): string | undefined {
  const raw = name?.[part];
  const parts = (Array.isArray(raw) ? raw : [raw])
    .map((p) => ({ value: text(p), qualifier: isNode(p) ? attr(p, 'qualifier') : undefined }))
    .filter((p): p is { value: string; qualifier: string | undefined } => p.value !== undefined);
  const pick =
    (qualifier ? parts.find((p) => p.qualifier === qualifier) : undefined) ??
    parts.find((p) => p.qualifier === undefined) ??
    parts[0];
  return pick?.value;
}

function readPerson(person: Node | undefined, qualifier?: string): CdaPerson {
  const name = child(person, 'name');
  const family = namePart(name, 'family', qualifier);
  const given = namePart(name, 'given', qualifier);
  return { ...(family ? { family } : {}), ...(given ? { given } : {}) };
}

function readOrganisation(org: Node | undefined): { id?: CdaId; name?: string } | undefined {
  if (!org) return undefined;
  const id = firstId(org);
  const names = org.name;
  const name = text(Array.isArray(names) ? names[0] : names);
  return id || name ? { ...(id ? { id } : {}), ...(name ? { name } : {}) } : undefined;
}

const timeOf = (n: unknown): string | undefined => attr(child(n, 'time'), 'value');

function readAuthor(a: Node): CdaAuthor {
  const assigned = child(a, 'assignedAuthor');
  const id = firstId(assigned);
  const specialty = readCode(child(assigned, 'code'));
  const role = readCode(child(a, 'functionCode'));
  const organisation = readOrganisation(child(assigned, 'representedOrganization'));
  const time = timeOf(a);
  return {
    ...(time ? { time } : {}),
    ...(id ? { id } : {}),
    ...readPerson(child(assigned, 'assignedPerson')),
    ...(specialty ? { specialty } : {}),
    ...(role ? { role } : {}),
    ...(organisation ? { organisation } : {}),
  };
}

/** Kind of body, read from the raw (unparsed) `component` text. */
function bodyKind(component: unknown): { nonXml: boolean; mediaType?: string } {
  const raw = typeof component === 'string' ? component : '';
  const at = raw.search(/<(?:[\w.-]+:)?nonXMLBody[\s>/]/);
  if (at < 0) return { nonXml: false };
  const media = /<(?:[\w.-]+:)?text\b[^>]*?\smediaType\s*=\s*["']([^"']+)["']/.exec(raw.slice(at));
  return media ? { nonXml: true, mediaType: media[1]! } : { nonXml: true };
}

function required<T>(value: T | undefined, part: string): T {
  if (value === undefined) throw new CdaHeaderError(`CDA header: missing or invalid ${part}`);
  return value;
}

/**
 * Reads a CDA R2 header.
 *
 * @param opts.wellFormed - `false` skips the well-formedness check (1–7 ms on the ANS examples) for documents PFI
 * has just generated itself; without it the parser would silently stop at the first malformed element.
 * @throws {@link CdaHeaderError} when `xml` is not well-formed, is not a `ClinicalDocument` or misses `id`,
 * `code`, `title`, `effectiveTime`, `confidentialityCode` or `recordTarget/patientRole/id`. The message is
 * content-free.
 *
 * @example
 * ```ts
 * const header = readCdaHeader(xml);
 * header.code.code; // '11502-2'
 * header.patient.insQualified; // true when the recordTarget carries an INS
 * header.formatCode.code; // 'urn:ihe:lab:xd-lab:2008'
 * ```
 */
export function readCdaHeader(xml: string, opts: { wellFormed?: boolean } = {}): CdaHeader {
  // CDA never uses a DTD; refusing one rules out entity expansion tricks.
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) throw new CdaHeaderError('CDA header: a DOCTYPE is not allowed');
  if (opts.wellFormed !== false) {
    const valid = XMLValidator.validate(xml);
    if (valid !== true) {
      throw new CdaHeaderError(`CDA header: the document is not well-formed XML (line ${valid.err.line})`);
    }
  }
  let parsed: unknown;
  try {
    parsed = parser.parse(xml);
  } catch {
    throw new CdaHeaderError('CDA header: the document is not well-formed XML');
  }
  const doc = child(parsed, 'ClinicalDocument');
  if (!doc) throw new CdaHeaderError('CDA header: the root element is not ClinicalDocument');

  const id = required(firstId(doc), 'ClinicalDocument/id');
  const code = required(readCode(child(doc, 'code')), 'ClinicalDocument/code');
  const title = required(text(doc.title), 'ClinicalDocument/title');
  const effectiveTime = required(attr(child(doc, 'effectiveTime'), 'value'), 'ClinicalDocument/effectiveTime');
  const confNode = child(doc, 'confidentialityCode');
  const confCode = required(attr(confNode, 'code'), 'ClinicalDocument/confidentialityCode');
  const confidentiality: CdaCode = readCode(confNode) ?? { code: confCode, codeSystem: '2.16.840.1.113883.5.25' };

  const patientRole = path(doc, 'recordTarget', 'patientRole');
  const ids = children(patientRole, 'id')
    .map(readId)
    .filter((i): i is CdaId => i !== undefined);
  if (ids.length === 0) throw new CdaHeaderError('CDA header: missing ClinicalDocument/recordTarget/patientRole/id');
  const ins = ids.find((i) => INS_OIDS.has(i.root) && i.extension);
  const ipp = ids.find((i) => !INS_FAMILY.test(i.root) && i.extension);
  const patientNode = child(patientRole, 'patient');
  const gender = attr(child(patientNode, 'administrativeGenderCode'), 'code');
  const birthTime = attr(child(patientNode, 'birthTime'), 'value');

  const templateIds = children(doc, 'templateId')
    .map((t) => attr(t, 'root'))
    .filter((r): r is string => r !== undefined);
  const setId = readId(child(doc, 'setId'));
  const version = Number(attr(child(doc, 'versionNumber'), 'value'));
  const languageCode = attr(child(doc, 'languageCode'), 'code');

  const serviceEvents = children(doc, 'documentationOf').map((d) => child(d, 'serviceEvent'));
  const timed = serviceEvents.find((s) => child(s, 'effectiveTime'));
  const serviceStart = attr(path(timed, 'effectiveTime', 'low'), 'value');
  const serviceStop = attr(path(timed, 'effectiveTime', 'high'), 'value');
  const authors = children(doc, 'author').map(readAuthor);
  const practiceSetting =
    serviceEvents
      .flatMap((s) => children(s, 'performer'))
      .map((p) => readCode(path(p, 'assignedEntity', 'representedOrganization', 'standardIndustryClassCode')))
      .find((c) => c !== undefined) ??
    children(doc, 'author')
      .map((a) => readCode(path(a, 'assignedAuthor', 'representedOrganization', 'standardIndustryClassCode')))
      .find((c) => c !== undefined);
  const encounter = path(doc, 'componentOf', 'encompassingEncounter');
  const facilityType = readCode(path(encounter, 'location', 'healthCareFacility', 'code'));
  const encounterCode = readCode(child(encounter, 'code'));

  const legal = child(doc, 'legalAuthenticator');
  const legalEntity = child(legal, 'assignedEntity');
  const legalId = firstId(legalEntity);
  const legalTime = timeOf(legal);
  const custodian = readOrganisation(path(doc, 'custodian', 'assignedCustodian', 'representedCustodianOrganization'));
  const classCode = deriveClassCode(code);

  return {
    id,
    ...(setId ? { setId } : {}),
    ...(Number.isInteger(version) && version > 0 ? { versionNumber: version } : {}),
    code,
    title,
    effectiveTime,
    confidentiality,
    ...(languageCode ? { languageCode } : {}),
    templateIds,
    formatCode: deriveFormatCode(templateIds, bodyKind(doc.component)),
    ...(classCode ? { classCode } : {}),
    ...(practiceSetting ? { practiceSetting } : {}),
    ...(facilityType ? { facilityType } : {}),
    patient: {
      ids,
      ...(ins ? { ins } : {}),
      insQualified: ins !== undefined,
      ...(ipp ? { ipp } : {}),
      ...readPerson(patientNode, 'BR'),
      ...(gender ? { gender } : {}),
      ...(birthTime ? { birthTime } : {}),
    },
    authors,
    ...(legal
      ? {
          legalAuthenticator: {
            ...(legalTime ? { time: legalTime } : {}),
            ...(legalId ? { id: legalId } : {}),
            ...readPerson(child(legalEntity, 'assignedPerson')),
          },
        }
      : {}),
    ...(custodian ? { custodian } : {}),
    ...(serviceStart ? { serviceStart } : {}),
    ...(serviceStop ? { serviceStop } : {}),
    ...(encounterCode ? { encounterCode } : {}),
  };
}
