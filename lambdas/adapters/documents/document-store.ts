/**
 * Document store port: raw HL7 messages (kept for replay and audit) and document contents too big for a database
 * row (CDA documents, Binary contents).
 *
 * Production uses S3 with SSE-KMS ({@link ./s3-store.ts}); the embedded adapter ({@link ./file-store.ts}) keeps
 * files under `$PFI_DATA_DIR/documents`. Keys are validated the same way on both, so a key that works locally
 * works in AWS.
 */

export interface StoredDocument {
  key: string;
  /** Size of the stored body in bytes. */
  bytes: number;
  /** SHA-256 of the stored body, lowercase hex. */
  sha256: string;
  contentType: string;
}

export interface DocumentStore {
  readonly kind: 'file' | 's3';
  /** Durable when it resolves. Overwrites an existing key. */
  put(key: string, body: Uint8Array | string, opts: { contentType: string }): Promise<StoredDocument>;
  /** Throws {@link DocumentNotFoundError} when absent. */
  get(key: string): Promise<{ body: Buffer; contentType: string }>;
  /** No error when absent. */
  delete(key: string): Promise<void>;
  /**
   * Removes the document for good, every stored version included (a versioned S3 bucket keeps the old versions and
   * a delete marker after `delete`): RGPD erasure. No error when absent.
   */
  erase(key: string): Promise<void>;
  /** The keys under `prefix` (whole segments, as {@link DocumentStore.deleteOlderThan}), in key order. */
  list(prefix: string): Promise<string[]>;
  /**
   * Deletes the documents under `prefix` (whole segments: `hl7/inbound` covers `hl7/inbound/…`, not
   * `hl7/inbound-old/…`; `''` covers the whole store) stored before `cutoff`; returns how many.
   * (Retention of raw HL7 messages.)
   */
  deleteOlderThan(prefix: string, cutoff: Date): Promise<number>;
}

/** Longest accepted key, in characters (S3 allows 1,024 bytes; the margin leaves room for a store prefix). */
export const MAX_DOCUMENT_KEY_LENGTH = 512;

const SEGMENT = /^[A-Za-z0-9._=-]+$/;

/** Base of the errors raised by document store adapters. Messages never hold document content. */
export class DocumentStoreError extends Error {
  override readonly name: string = 'DocumentStoreError';
}

/** No document has this key. */
export class DocumentNotFoundError extends DocumentStoreError {
  override readonly name = 'DocumentNotFoundError';
  constructor(readonly key: string) {
    super(`document not found: ${key}`);
  }
}

/** The key breaks the key rules of {@link validateDocumentKey}. */
export class InvalidDocumentKeyError extends DocumentStoreError {
  override readonly name = 'InvalidDocumentKeyError';
}

/**
 * Checks a document key: `/`-separated segments of `[A-Za-z0-9._=-]`, no empty segment (so no leading, trailing
 * or doubled `/`), no `.` or `..` segment, at most {@link MAX_DOCUMENT_KEY_LENGTH} characters. The rules keep keys
 * safe as relative file paths and as S3 keys alike.
 *
 * @example
 * ```ts
 * validateDocumentKey('hl7/inbound/2026/11/25/ab12.hl7'); // ok
 * validateDocumentKey('../etc/passwd'); // throws InvalidDocumentKeyError
 * ```
 * @throws {@link InvalidDocumentKeyError} naming the broken rule (the key itself is not echoed).
 */
export function validateDocumentKey(key: string): void {
  if (key.length === 0) throw new InvalidDocumentKeyError('document key is empty');
  if (key.length > MAX_DOCUMENT_KEY_LENGTH) {
    throw new InvalidDocumentKeyError(`document key is longer than ${MAX_DOCUMENT_KEY_LENGTH} characters`);
  }
  for (const segment of key.split('/')) {
    if (segment === '') throw new InvalidDocumentKeyError('document key has an empty segment');
    if (segment === '.' || segment === '..') throw new InvalidDocumentKeyError('document key has a . or .. segment');
    if (!SEGMENT.test(segment)) {
      throw new InvalidDocumentKeyError('document key has a character outside [A-Za-z0-9._=-/]');
    }
  }
}

/**
 * Checks the `prefix` of {@link DocumentStore.deleteOlderThan} and returns it without a trailing `/`:
 * `''` (the whole store) or a valid key.
 *
 * @throws {@link InvalidDocumentKeyError}
 */
export function normalizeDocumentPrefix(prefix: string): string {
  // Only the empty string means the whole store: a stray `/` must not widen a purge to everything.
  if (prefix === '') return '';
  const trimmed = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  validateDocumentKey(trimmed);
  return trimmed;
}
