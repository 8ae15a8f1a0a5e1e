/**
 * What the documents PFI generates have in common (CR-BIO lab reports, level-1 documents wrapping a PDF): a source
 * fingerprint that makes generation idempotent, a version in the document's set, ids derived from both, and one
 * write — the CDA to the document store, then its Binary, its DocumentReference and the previous version superseded
 * in one statement.
 */

import { createHash } from 'node:crypto';
import type { DocumentStore } from '../adapters/documents/document-store.js';
import { agentOf } from '../audit/audit-event.js';
import { auditOutboxMessage } from '../audit/recorder.js';
import type { AuthContext } from '../auth/verify.js';
import { BINARY_CONTENT_KEY_EXTENSION, binaryContentKey } from '../fhir/binary-content.js';
import { FhirError } from '../fhir/errors.js';
import type { StoredResource } from '../fhir/repository/repository.js';
import type { FhirService } from '../fhir/service.js';
import type { Resource } from '../fhir/types.js';
import { readCdaHeader } from '../mssante/cda-header.js';
import {
  DOCUMENT_VERSION_EXTENSION,
  documentReferenceFor,
  SOURCE_FINGERPRINT_EXTENSION,
  type StoredCda,
} from './document-reference.js';

export type Json = Record<string, unknown>;

export interface GeneratedDocument {
  documentReference: StoredResource;
  /** False when the current document was already made from this content. */
  created: boolean;
}

/** A stored resource's JSON. */
export const parseStored = (r: StoredResource): Json => JSON.parse(r.json) as Json;
/** `Type/id` of a stored resource. */
export const referenceOf = (r: { resourceType: string; id: string }): string => `${r.resourceType}/${r.id}`;

/** The current generated document, read back for its caller (nothing made this time). */
export async function existingDocument(
  service: FhirService,
  auth: AuthContext,
  current: Json,
): Promise<GeneratedDocument> {
  const stored = await service.read(auth, 'DocumentReference', String(current['id']));
  return { documentReference: stored.resource!, created: false };
}

/** The content of a resource without its server metadata, with keys sorted: what a fingerprint covers. */
function stable(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stable);
  if (value && typeof value === 'object') {
    const out: Json = {};
    for (const k of Object.keys(value).sort()) if (k !== 'meta') out[k] = stable((value as Json)[k]);
    return out;
  }
  return value;
}

/** SHA-256 over the parts (resources without their metadata, or bytes), in order. */
export function fingerprintOf(parts: readonly (Json | Uint8Array)[]): string {
  const hash = createHash('sha256');
  for (const p of parts) {
    hash.update(p instanceof Uint8Array ? p : JSON.stringify(stable(p)));
    hash.update('\n');
  }
  return hash.digest('hex');
}

const extensionOf = (d: Json, url: string) =>
  (d['extension'] as { url?: string; valueString?: string; valuePositiveInt?: number }[] | undefined)?.find(
    (e) => e.url === url,
  );

/** The source fingerprint of a DocumentReference PFI generated; undefined for any other. */
export const fingerprintOfDocument = (d: Json): string | undefined =>
  extensionOf(d, SOURCE_FINGERPRINT_EXTENSION)?.valueString;

const versionOfDocument = (d: Json): number => extensionOf(d, DOCUMENT_VERSION_EXTENSION)?.valuePositiveInt ?? 0;

/** A FHIR id (≤ 64 characters) derived from the source, the document version and the content fingerprint. */
export const generatedDocumentId = (sourceKey: string, version: number, fingerprint: string): string =>
  `${createHash('sha256').update(`${sourceKey}|${version}|${fingerprint}`).digest('hex').slice(0, 40)}.v${version}`;

export interface GenerationPlan {
  id: string;
  version: number;
  fingerprint: string;
  previous: Json | undefined;
}

/**
 * Decides what to do with the documents already generated from a source: the current one when it was made from
 * this fingerprint (nothing to do), else the next version to make.
 */
export function planGeneration(
  sourceKey: string,
  fingerprint: string,
  generated: readonly Json[],
): { current: Json } | { plan: GenerationPlan } {
  const mine = generated.filter((d) => fingerprintOfDocument(d) !== undefined);
  const current = mine.find((d) => d['status'] === 'current');
  if (current && fingerprintOfDocument(current) === fingerprint) return { current };
  const version = Math.max(0, ...mine.map(versionOfDocument)) + 1;
  return {
    plan: { id: generatedDocumentId(sourceKey, version, fingerprint), version, fingerprint, previous: current },
  };
}

/**
 * Stores `xml` and commits its Binary + DocumentReference (+ the previous version superseded) in one statement.
 * The document goes to the store first: a crash before the commit leaves an unreferenced object, never a
 * DocumentReference without its content (the retry writes the same key).
 */
export async function writeGeneratedDocument(
  deps: { service: FhirService; documents: DocumentStore },
  auth: AuthContext,
  xml: string,
  plan: GenerationPlan,
  links: Omit<StoredCda, 'id' | 'binaryId' | 'size' | 'sha1' | 'replaces' | 'source'>,
): Promise<GeneratedDocument> {
  const header = readCdaHeader(xml, { wellFormed: false });
  const bytes = Buffer.from(xml, 'utf8');
  const key = binaryContentKey(plan.id);
  await deps.documents.put(key, bytes, { contentType: 'text/xml' });
  const binary: Resource = {
    resourceType: 'Binary',
    id: plan.id,
    meta: { extension: [{ url: BINARY_CONTENT_KEY_EXTENSION, valueString: key }] },
    contentType: 'text/xml',
    securityContext: { reference: `DocumentReference/${plan.id}` },
  };
  const documentReference = documentReferenceFor(header, {
    ...links,
    id: plan.id,
    binaryId: plan.id,
    size: bytes.length,
    sha1: createHash('sha1').update(bytes).digest('base64'),
    replaces: plan.previous ? String(plan.previous['id']) : undefined,
    source: { fingerprint: plan.fingerprint, version: plan.version },
  });
  const audit = auditOutboxMessage({
    what: { kind: 'pfi', event: 'cda-document' },
    action: 'C',
    outcome: '0',
    agent: agentOf(auth, auth.address),
    source: 'pfi-cda-worker',
    entities: [
      `DocumentReference/${plan.id}`,
      `Binary/${plan.id}`,
      ...links.related,
      ...(links.transforms ? [links.transforms] : []),
    ],
    patients: [`Patient/${links.patientId}`],
    detail: header.code.code,
  });
  const items: Parameters<FhirService['updateMany']>[1] = [
    { resource: binary, expectedVersion: 0 },
    { resource: documentReference, expectedVersion: 0, outbox: [audit] },
  ];
  if (plan.previous) {
    const meta = plan.previous['meta'] as { versionId?: string } | undefined;
    items.push({
      resource: { ...(plan.previous as Resource), status: 'superseded' },
      expectedVersion: Number(meta?.versionId ?? 0) || undefined,
    });
  }
  const written = await deps.service.updateMany(auth, items);
  return { documentReference: written[1]!.resource!, created: true };
}

/**
 * Runs a generation; when a concurrent one of the same version won (same ids: 409/412), runs it once more, which
 * then finds the winner's document.
 */
export async function withGenerationRetry<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof FhirError && (err.status === 409 || err.status === 412)) return run();
    throw err;
  }
}
