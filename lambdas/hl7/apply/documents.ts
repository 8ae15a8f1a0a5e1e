/**
 * Applies a document (MDM, or an ORU's embedded CDA) as a DocumentReference plus one Binary per content.
 * T02/INIT upserts by the document's id, T10/RPLC marks the replaced document superseded and links it, T04/DEL marks
 * the document entered-in-error. Contents too large for a database row go to the document store; their Binary keeps
 * the key (meta extension) and the FHIR API serves the bytes from the store (see lambdas/fhir/binary-content.ts).
 */

import { createHash } from 'node:crypto';
import { BINARY_CONTENT_KEY_EXTENSION, binaryContentKey, MAX_INLINE_BINARY_BYTES } from '../../fhir/binary-content.js';
import { hl7Instant } from '../datatypes.js';
import type { DocumentFacts } from '../map/documents.js';
import type { EmbeddedContent } from '../map/embedded-document.js';
import type { ApplyContext, Json } from './context.js';
import { practitionerRef } from './encounter.js';

export const INSTRUCTION_EXTENSION = 'urn:pfi:fhir:StructureDefinition:dmp-mss-instruction';

function identifierFields(doc: DocumentFacts): Json {
  const id = { system: doc.identifier.system, value: doc.identifier.value };
  // A bare OID document id (TXA-12 of the ANS samples) is the document's master identifier, as in XDS.
  return id.system === 'urn:ietf:rfc:3986' ? { masterIdentifier: id } : { masterIdentifier: id, identifier: [id] };
}

/** Writes the Binary of one content (reusing `binaryId` when the document already had one). */
async function writeBinary(ctx: ApplyContext, content: EmbeddedContent, binaryId: string, documentId: string) {
  const binary: Json = {
    resourceType: 'Binary',
    id: binaryId,
    contentType: content.contentType,
    securityContext: { reference: `DocumentReference/${documentId}` },
  };
  if (content.data.length <= MAX_INLINE_BINARY_BYTES) {
    binary['data'] = content.data.toString('base64');
  } else {
    const key = binaryContentKey(binaryId);
    await ctx.documents.put(key, content.data, { contentType: content.contentType });
    binary['meta'] = { extension: [{ url: BINARY_CONTENT_KEY_EXTENSION, valueString: key }] };
  }
  ctx.write(binary);
}

function binaryIdsOf(existing: Json | undefined): string[] {
  const contents = Array.isArray(existing?.['content']) ? (existing['content'] as Json[]) : [];
  return contents
    .map((c) => (c['attachment'] as Json | undefined)?.['url'])
    .filter((u): u is string => typeof u === 'string' && u.startsWith('Binary/'))
    .map((u) => u.slice('Binary/'.length));
}

/**
 * Applies `doc` for the Patient `patientId` (and its stay, when known). Returns the DocumentReference reference and
 * its attachments, or undefined when a deletion designates a document PFI never received and carries no content to record it with.
 */
export async function applyDocument(
  ctx: ApplyContext,
  doc: DocumentFacts,
  patientId: string,
  encounterRef: string | undefined,
): Promise<{ reference: string; attachments: Json[] } | undefined> {
  const existing = await ctx.find('DocumentReference', doc.identifier);
  if (doc.action === 'delete' && existing) {
    ctx.write({ ...existing, status: 'entered-in-error' });
    const attachments = (existing['content'] as Json[]).map((c) => c['attachment'] as Json);
    return { reference: `DocumentReference/${existing['id']}`, attachments };
  }
  if (doc.contents.length === 0) {
    ctx.warn('document-without-content', 'the document has no embedded content (OBX ED): nothing recorded');
    return undefined;
  }
  if (doc.action === 'delete') {
    ctx.warn('delete-unknown-document', 'deletion of a document PFI never received: recorded as entered-in-error');
  }
  const id = (existing?.['id'] as string | undefined) ?? ctx.newId();
  const binaryIds = binaryIdsOf(existing);
  const content: Json[] = [];
  for (const [i, c] of doc.contents.entries()) {
    const binaryId = binaryIds[i] ?? ctx.newId();
    await writeBinary(ctx, c, binaryId, id);
    const attachment: Json = {
      contentType: c.contentType,
      url: `Binary/${binaryId}`,
      size: c.data.length,
      // FHIR Attachment.hash is the SHA-1 of the data, base64.
      hash: createHash('sha1').update(c.data).digest('base64'),
    };
    if (c.title) attachment['title'] = c.title;
    content.push({ attachment });
  }
  let relatesTo: Json[] | undefined;
  if (doc.action === 'replace' && doc.replaces) {
    const old = await ctx.find('DocumentReference', doc.replaces);
    if (old && old['id'] !== id) {
      ctx.write({ ...old, status: 'superseded' });
      relatesTo = [{ code: 'replaces', target: { reference: `DocumentReference/${old['id']}` } }];
    } else if (!old) {
      ctx.warn('replace-unknown-document', 'the replaced document (TXA-13 / CDA RPLC) is unknown: recorded as new');
    }
  }
  const reference: Json = {
    resourceType: 'DocumentReference',
    id,
    ...identifierFields(doc),
    status: doc.action === 'delete' ? 'entered-in-error' : 'current',
    type: doc.type,
    subject: { reference: `Patient/${patientId}` },
    content,
  };
  if (doc.docStatus) reference['docStatus'] = doc.docStatus;
  const date = doc.date ? hl7InstantFromFhir(doc.date) : undefined;
  if (date) reference['date'] = date;
  if (encounterRef) reference['context'] = { encounter: [{ reference: encounterRef }] };
  const author = doc.author ? await practitionerRef(ctx, doc.author) : undefined;
  if (author) reference['author'] = [author];
  if (relatesTo) reference['relatesTo'] = relatesTo;
  if (doc.instructions.length) {
    reference['extension'] = doc.instructions.map((i) => ({
      url: INSTRUCTION_EXTENSION,
      extension: [
        { url: 'code', valueCode: i.code },
        { url: 'value', valueString: i.value },
      ],
    }));
  }
  ctx.write(reference);
  return { reference: `DocumentReference/${id}`, attachments: content.map((c) => c['attachment'] as Json) };
}

/** DocumentReference.date is an instant: a date-only value is dropped rather than invented. */
function hl7InstantFromFhir(dateTime: string): string | undefined {
  return dateTime.length > 10 ? dateTime : hl7Instant(dateTime);
}
