/**
 * MDM^T02 (new document), T10 (replacement), T04 (deletion) → document facts (french-interop.md §2.6).
 * TXA-12 is the document's unique id; TXA-13 the document a T10 replaces.
 */

import { codingSystem, hl7DateTime, namespaceSystem, OID_RE, readXcn, type Xcn } from '../datatypes.js';
import type { Hl7Message, Hl7Repetition, Hl7Segment } from '../parser.js';
import { type EmbeddedContent, isInstruction, readEmbeddedContent, readInstructions } from './embedded-document.js';
import type { BusinessIdentifier } from './patient.js';

type Json = Record<string, unknown>;

export type DocumentAction = 'upsert' | 'replace' | 'delete';

export interface DocumentFacts {
  identifier: BusinessIdentifier;
  action: DocumentAction;
  /** The document this one replaces (T10, CDA RPLC). */
  replaces: BusinessIdentifier | undefined;
  type: Json;
  date: string | undefined;
  docStatus: 'preliminary' | 'final' | undefined;
  contents: EmbeddedContent[];
  instructions: { code: string; value: string }[];
  /** Who wrote it: PRT `SB` (sender/author, CI-SIS volet), else TXA-9 (originator). */
  author?: Xcn;
}

/** The author of an MDM document: the PRT with participation `SB` (PRT-5), else TXA-9. */
function readAuthor(msg: Hl7Message, txa: Hl7Segment): Xcn | undefined {
  for (const prt of msg.getAll('PRT')) {
    if (prt.field(4).repetition(0).component(1).value.trim().toUpperCase() !== 'SB') continue;
    const person = readXcn(prt.field(5).repetition(0));
    if (person?.id && person.system) return person;
  }
  const originator = readXcn(txa.field(9).repetition(0));
  return originator?.id && originator.system ? originator : undefined;
}

/**
 * EI (entity identifier) → business identifier: `ext^ns^root^ISO` gives `urn:oid:root|ext`; a bare OID (the ANS
 * samples' TXA-12 `1.2.250…^Organisation-Y`) is an RFC 3986 URN; otherwise the value under its namespace.
 */
export function readEi(rep: Hl7Repetition): BusinessIdentifier | undefined {
  const id = rep.component(1).value.trim();
  if (!id) return undefined;
  const root = rep.component(3).value.trim();
  if (OID_RE.test(root)) return { system: `urn:oid:${root}`, value: id };
  if (OID_RE.test(id)) return { system: 'urn:ietf:rfc:3986', value: `urn:oid:${id}` };
  const ns = rep.component(2).value.trim() || root;
  return { system: ns ? namespaceSystem(ns) : 'urn:pfi:hl7-document-id', value: id };
}

/** The document type as a CodeableConcept from a CWE code (TXA-2 may be a bare LOINC code). */
export function documentType(code: string, display: string, system: string): Json {
  const coding: Json = { code };
  const uri = codingSystem(system || 'LN');
  if (uri) coding['system'] = uri;
  if (display) coding['display'] = display;
  return { coding: [coding], ...(display ? { text: display } : {}) };
}

const TEXT_TYPES = new Set(['TX', 'FT', 'ST']);

const DOC_STATUS: Record<string, DocumentFacts['docStatus']> = {
  AU: 'final',
  LA: 'final',
  DO: 'final',
  IP: 'preliminary',
  IN: 'preliminary',
  PA: 'preliminary',
};

/** Reads an MDM message's document. Undefined when there is no TXA or no TXA-12. */
export function readMdmDocument(msg: Hl7Message, event: string): DocumentFacts | undefined {
  const txa = msg.get('TXA');
  if (!txa) return undefined;
  const identifier = readEi(txa.field(12).repetition(0));
  if (!identifier) return undefined;
  const obxs = msg.getAll('OBX');
  const contents = obxs
    .filter((o) => !isInstruction(o))
    .map(readEmbeddedContent)
    .filter((c): c is EmbeddedContent => c !== undefined);
  if (contents.length === 0) {
    // Plain-text MDM (OBX TX/FT/ST lines, as many non-French feeds send): the lines are the document.
    const lines = obxs.filter((o) => !isInstruction(o) && TEXT_TYPES.has(o.field(2).value.trim().toUpperCase()));
    if (lines.length) {
      const code = lines[0]!.field(3).repetition(0);
      contents.push({
        contentType: 'text/plain; charset=utf-8',
        data: Buffer.from(
          lines
            .map((o) =>
              o
                .field(5)
                .repetitions.map((r) => r.value)
                .join('\n'),
            )
            .join('\n'),
          'utf8',
        ),
        title: code.component(2).value.trim() || undefined,
        code: {
          code: code.component(1).value.trim(),
          display: code.component(2).value.trim(),
          system: code.component(3).value.trim(),
        },
        status: lines[0]!.field(11).value.trim().toUpperCase(),
      });
    }
  }
  const first = contents[0];
  const typeCode = txa.field(2).repetition(0).component(1).value.trim() || first?.code.code || '';
  const action: DocumentAction = event === 'T04' ? 'delete' : event === 'T10' ? 'replace' : 'upsert';
  return {
    identifier,
    action,
    replaces: action === 'replace' ? readEi(txa.field(13).repetition(0)) : undefined,
    type: documentType(typeCode, first?.code.code === typeCode ? first.code.display : '', first?.code.system ?? 'LN'),
    date: hl7DateTime(txa.field(4).value) ?? hl7DateTime(txa.field(6).value),
    docStatus: DOC_STATUS[txa.field(17).value.trim().toUpperCase()],
    contents,
    instructions: readInstructions(obxs),
    author: readAuthor(msg, txa),
  };
}
