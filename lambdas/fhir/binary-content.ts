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
