/**
 * Documents embedded in OBX (value type ED), as the ANS "Transmission de documents CDA en HL7v2" volet sends them
 * (french-interop.md §2.6): OBX-5 = `^TEXT^XML^Base64^<base64 CDA>`. Also the MetaDMPMSS instructions that travel
 * with them (OBX-3 coding system `MetaDMPMSS`).
 */

import { XMLParser } from 'fast-xml-parser';
import type { Hl7Segment } from '../parser.js';
import type { BusinessIdentifier } from './patient.js';

export interface EmbeddedContent {
  contentType: string;
  data: Buffer;
  /** OBX-3 text (the document type's display or the attachment's title). */
  title: string | undefined;
  /** OBX-3 code (LOINC document type for CDA documents). */
  code: { code: string; display: string; system: string };
  /** OBX-11 result status (F, C, D…). */
  status: string;
}

/** The header of a CDA document: its id, its set id and the document it replaces (relatedDocument RPLC). */
export interface CdaHeader {
  id: BusinessIdentifier | undefined;
  replaces: BusinessIdentifier | undefined;
}

export const META_DMP_MSS = 'METADMPMSS';

/** True for OBX segments that carry a DMP/MSSanté instruction rather than a result. */
export function isInstruction(obx: Hl7Segment): boolean {
  return obx.field(3).repetition(0).component(3).value.trim().toUpperCase() === META_DMP_MSS;
}

const MIME: Record<string, string> = {
  XML: 'text/xml',
  PDF: 'application/pdf',
  HTML: 'text/html',
  RTF: 'text/rtf',
  JPEG: 'image/jpeg',
  PNG: 'image/png',
  TIFF: 'image/tiff',
  PLAIN: 'text/plain',
  OCTET_STREAM: 'application/octet-stream',
};

/** Reads an ED OBX. The data is decoded from Base64 (OBX-5.4 `Base64`) or taken as text (`A`, none). */
export function readEmbeddedContent(obx: Hl7Segment): EmbeddedContent | undefined {
  if (obx.field(2).value.trim().toUpperCase() !== 'ED') return undefined;
  const ed = obx.field(5).repetition(0);
  const type = ed.component(2).value.trim().toUpperCase();
  const subtype = ed.component(3).value.trim().toUpperCase();
  const encoding = ed.component(4).value.trim().toUpperCase();
  const raw = ed.component(5).value;
  if (!raw) return undefined;
  // Buffer's base64 decoder skips characters outside the alphabet: whitespace and line breaks some feeds insert.
  const data = encoding === 'BASE64' ? Buffer.from(raw, 'base64') : Buffer.from(raw, 'utf8');
  const contentType = MIME[subtype] ?? (type === 'TEXT' || type === 'TX' ? 'text/plain' : 'application/octet-stream');
  const code = obx.field(3).repetition(0);
  return {
    contentType,
    data,
    title: code.component(2).value.trim() || undefined,
    code: {
      code: code.component(1).value.trim(),
      display: code.component(2).value.trim(),
      system: code.component(3).value.trim(),
    },
    status: obx.field(11).value.trim().toUpperCase(),
  };
}

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  removeNSPrefix: true,
  // Only the header is read; text values stay unparsed strings (no number/boolean coercion of the body).
  parseTagValue: false,
  processEntities: false,
});

function ii(node: unknown): BusinessIdentifier | undefined {
  if (!node || typeof node !== 'object') return undefined;
  const root = (node as Record<string, unknown>)['@root'];
  const extension = (node as Record<string, unknown>)['@extension'];
  if (typeof root !== 'string' || !root) return undefined;
  if (typeof extension === 'string' && extension) return { system: `urn:oid:${root}`, value: extension };
  return { system: 'urn:ietf:rfc:3986', value: `urn:oid:${root}` };
}

/** Reads the id and the replaced document of a CDA R2 document; undefined when the content is not a CDA. */
export function readCdaHeader(content: EmbeddedContent): CdaHeader | undefined {
  if (!content.contentType.includes('xml')) return undefined;
  const head = content.data.subarray(0, 512).toString('utf8');
  if (!head.includes('ClinicalDocument')) return undefined;
  try {
    const doc = parser.parse(content.data.toString('utf8')) as Record<string, unknown>;
    const cda = doc['ClinicalDocument'] as Record<string, unknown> | undefined;
    if (!cda) return undefined;
    const related = ([] as unknown[]).concat(cda['relatedDocument'] ?? []) as Record<string, unknown>[];
    const rplc = related.find((r) => r['@typeCode'] === 'RPLC');
    const parent = rplc?.['parentDocument'] as Record<string, unknown> | undefined;
    return { id: ii(cda['id']), replaces: ii(parent?.['id']) };
  } catch {
    return undefined;
  }
}

/** The DMP/MSSanté instructions of a message: code → value (`Y`/`N` flags, or text for ED bodies). */
export function readInstructions(obxs: readonly Hl7Segment[]): { code: string; value: string }[] {
  const out: { code: string; value: string }[] = [];
  for (const obx of obxs) {
    if (!isInstruction(obx)) continue;
    const code = obx.field(3).repetition(0).component(1).value.trim();
    const ed = readEmbeddedContent(obx);
    const value = ed ? ed.data.toString('utf8') : obx.field(5).repetition(0).component(1).value.trim();
    if (code) out.push({ code, value });
  }
  return out;
}
