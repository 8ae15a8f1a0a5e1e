/**
 * Binary contents kept in the document store rather than in the database row (the RDS Data API returns at most
 * 64 KB per row; a CDA lab report is often 200 KB or more). Such a Binary is stored without `data`, with the
 * document-store key in a `meta` extension; reads put the data back, so clients see an ordinary Binary.
 */

import type { DocumentStore } from '../adapters/documents/document-store.js';
import type { StoredResource } from './repository/repository.js';

export const BINARY_CONTENT_KEY_EXTENSION = 'urn:pfi:fhir:StructureDefinition:binary-content-key';

/** Contents up to this size stay inline (base64 grows them by 4/3: 36 KB → 48 KB, under the 60 KB row limit). */
export const MAX_INLINE_BINARY_BYTES = 36_000;

/** Document-store key of a Binary's content. */
export const binaryContentKey = (binaryId: string): string => `fhir/binary/${binaryId}`;

/** The document-store key of a stored Binary's content, or undefined when its data is inline. */
export function externalContentKey(resource: Record<string, unknown>): string | undefined {
  const meta = resource['meta'] as { extension?: { url?: string; valueString?: string }[] } | undefined;
  return meta?.extension?.find((e) => e.url === BINARY_CONTENT_KEY_EXTENSION)?.valueString;
}

/**
 * Puts the content of an externally stored Binary back into `data` (and drops the storage extension). Other
 * resources, and Binaries with inline data, are returned unchanged.
 */
export async function withBinaryContent(stored: StoredResource, documents: DocumentStore): Promise<StoredResource> {
  if (stored.resourceType !== 'Binary') return stored;
  const resource = JSON.parse(stored.json) as Record<string, unknown>;
  const key = externalContentKey(resource);
  if (!key) return stored;
  const { body } = await documents.get(key);
  const meta = { ...(resource['meta'] as Record<string, unknown>) };
  const extension = (meta['extension'] as { url?: string }[]).filter((e) => e.url !== BINARY_CONTENT_KEY_EXTENSION);
  if (extension.length) meta['extension'] = extension;
  else delete meta['extension'];
  return { ...stored, json: JSON.stringify({ ...resource, meta, data: body.toString('base64') }) };
}

/** A Binary's content type and bytes (from the row or the document store). */
export async function binaryBytes(
  stored: StoredResource,
  documents: DocumentStore | undefined,
): Promise<{ contentType: string; bytes: Buffer }> {
  const resource = JSON.parse(stored.json) as Record<string, unknown>;
  const contentType =
    typeof resource['contentType'] === 'string' ? resource['contentType'] : 'application/octet-stream';
  const key = externalContentKey(resource);
  if (key) {
    if (!documents) throw new Error('Binary content is in the document store, but none is configured');
    return { contentType, bytes: (await documents.get(key)).body };
  }
  const data = typeof resource['data'] === 'string' ? resource['data'] : '';
  return { contentType, bytes: Buffer.from(data, 'base64') };
}

/**
 * Content negotiation of a Binary read (FHIR R4 §2.1.0.x "Binary"): the raw content when the client's Accept names
 * the Binary's content type (exactly or as `type/*`) and no FHIR format; the FHIR JSON resource when Accept is absent,
 * `*\/*` or a FHIR/JSON type; `undefined` when the client accepts neither (406).
 */
export function binaryRepresentation(accept: string | undefined, contentType: string): 'raw' | 'fhir' | undefined {
  if (!accept) return 'fhir';
  const wanted = accept
    .split(',')
    .map((part) => part.split(';'))
    .filter(([, ...params]) => !params.some((p) => /^\s*q\s*=\s*0(\.0*)?\s*$/.test(p)))
    .map(([type]) => type!.trim().toLowerCase());
  const fhir = ['application/fhir+json', 'application/json', 'application/json+fhir'];
  if (wanted.some((t) => fhir.includes(t))) return 'fhir';
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  if (wanted.includes(type) || wanted.includes(`${type.split('/')[0]}/*`)) return 'raw';
  if (wanted.includes('*/*') || wanted.includes('application/*')) return 'fhir';
  return undefined;
}
