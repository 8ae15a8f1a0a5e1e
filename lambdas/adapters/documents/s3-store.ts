/**
 * Document store on S3, encrypted with SSE-KMS. Every put carries its SHA-256 (`ChecksumSHA256`) so S3 refuses a
 * body altered in transit, and gets ask S3 to return that checksum so the SDK verifies it on the way back.
 */

import { createHash } from 'node:crypto';
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  type DeleteObjectsCommandOutput,
  GetObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  ListObjectVersionsCommand,
  NoSuchKey,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import {
  DocumentNotFoundError,
  type DocumentStore,
  DocumentStoreError,
  normalizeDocumentPrefix,
  type StoredDocument,
  validateDocumentKey,
} from './document-store.js';

/** Most keys one `DeleteObjects` call accepts. */
export const S3_DELETE_BATCH = 1000;

export interface S3DocumentStoreOptions {
  client: S3Client;
  bucket: string;
  /** KMS key (id, ARN or alias ARN) for SSE-KMS; unset = the bucket's default KMS key. */
  kmsKeyId?: string | undefined;
  /** Put before every key (`documents` → `documents/<key>`), to share a bucket; unset = keys as given. */
  prefix?: string | undefined;
}

/** Wraps an SDK error; the message names the operation and the error name (`AccessDenied`…), never content. */
function s3Error(operation: string, err: unknown): DocumentStoreError {
  const name = err instanceof Error ? err.name : 'unknown error';
  return new DocumentStoreError(`S3 ${operation} failed (${name})`, { cause: err });
}

/**
 * {@link DocumentStore} on an S3 bucket with SSE-KMS and S3 Bucket Keys (fewer KMS calls).
 *
 * @example
 * ```ts
 * const store = new S3DocumentStore({ client: new S3Client({}), bucket: 'pfi-documents', kmsKeyId: keyArn });
 * const doc = await store.put('cda/2026/doc-1.xml', xml, { contentType: 'text/xml' });
 * ```
 */
export class S3DocumentStore implements DocumentStore {
  readonly kind = 's3' as const;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly kmsKeyId: string | undefined;
  private readonly prefix: string;

  constructor(opts: S3DocumentStoreOptions) {
    this.client = opts.client;
    this.bucket = opts.bucket;
    this.kmsKeyId = opts.kmsKeyId;
    const trimmed = (opts.prefix ?? '').replace(/^\/+|\/+$/g, '');
    this.prefix = trimmed === '' ? '' : `${trimmed}/`;
  }

  async put(key: string, body: Uint8Array | string, opts: { contentType: string }): Promise<StoredDocument> {
    validateDocumentKey(key);
    if (opts.contentType.trim() === '') throw new DocumentStoreError('content type is empty');
    const data = typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body);
    const digest = createHash('sha256').update(data).digest();
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: this.prefix + key,
          Body: data,
          ContentType: opts.contentType,
          ServerSideEncryption: 'aws:kms',
          ...(this.kmsKeyId === undefined ? {} : { SSEKMSKeyId: this.kmsKeyId }),
          BucketKeyEnabled: true,
          ChecksumSHA256: digest.toString('base64'),
        }),
      );
    } catch (err) {
      throw s3Error('PutObject', err);
    }
    return { key, bytes: data.length, sha256: digest.toString('hex'), contentType: opts.contentType };
  }

  async get(key: string): Promise<{ body: Buffer; contentType: string }> {
    validateDocumentKey(key);
    try {
      const res = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.prefix + key, ChecksumMode: 'ENABLED' }),
      );
      if (res.Body === undefined) throw new DocumentStoreError('S3 GetObject returned no body');
      const body = Buffer.from(await res.Body.transformToByteArray());
      return { body, contentType: res.ContentType ?? 'application/octet-stream' };
    } catch (err) {
      if (err instanceof DocumentStoreError) throw err;
      if (err instanceof NoSuchKey || (err as Error | undefined)?.name === 'NoSuchKey') {
        throw new DocumentNotFoundError(key);
      }
      throw s3Error('GetObject', err);
    }
  }

  async delete(key: string): Promise<void> {
    validateDocumentKey(key);
    try {
      // S3 answers 204 for an absent key too.
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }));
    } catch (err) {
      throw s3Error('DeleteObject', err);
    }
  }

  async erase(key: string): Promise<void> {
    validateDocumentKey(key);
    const fullKey = this.prefix + key;
    try {
      let keyMarker: string | undefined;
      let versionMarker: string | undefined;
      do {
        const page = await this.client.send(
          new ListObjectVersionsCommand({
            Bucket: this.bucket,
            Prefix: fullKey,
            KeyMarker: keyMarker,
            VersionIdMarker: versionMarker,
          }),
        );
        // The prefix also lists longer keys (`a/b` lists `a/bc`): only this key's versions and delete markers.
        const versions = [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])]
          .filter((v) => v.Key === fullKey && v.VersionId)
          .map((v) => ({ Key: fullKey, VersionId: v.VersionId }));
        for (let i = 0; i < versions.length; i += S3_DELETE_BATCH) {
          const res = await this.client.send(
            new DeleteObjectsCommand({
              Bucket: this.bucket,
              Delete: { Objects: versions.slice(i, i + S3_DELETE_BATCH), Quiet: true },
            }),
          );
          if (res.Errors?.length) throw new DocumentStoreError(`S3 refused to erase ${res.Errors.length} version(s)`);
        }
        keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
        versionMarker = page.IsTruncated ? page.NextVersionIdMarker : undefined;
      } while (keyMarker);
      // An unversioned bucket lists its object as version "null": covered above; delete once more in case.
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: fullKey }));
    } catch (err) {
      if (err instanceof DocumentStoreError) throw err;
      throw s3Error('erase (ListObjectVersions/DeleteObjects)', err);
    }
  }

  async list(prefix: string): Promise<string[]> {
    const normalized = normalizeDocumentPrefix(prefix);
    const listPrefix = this.prefix + (normalized === '' ? '' : `${normalized}/`);
    const keys: string[] = [];
    let token: string | undefined;
    do {
      let page: ListObjectsV2CommandOutput;
      try {
        page = await this.listPage(listPrefix, token);
      } catch (err) {
        throw s3Error('ListObjectsV2', err);
      }
      for (const o of page.Contents ?? []) if (o.Key !== undefined) keys.push(o.Key.slice(this.prefix.length));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys;
  }

  async deleteOlderThan(prefix: string, cutoff: Date): Promise<number> {
    const normalized = normalizeDocumentPrefix(prefix);
    const listPrefix = this.prefix + (normalized === '' ? '' : `${normalized}/`);
    const limit = cutoff.getTime();
    let deleted = 0;
    let token: string | undefined;
    do {
      let page: ListObjectsV2CommandOutput;
      try {
        page = await this.listPage(listPrefix, token);
      } catch (err) {
        throw s3Error('ListObjectsV2', err);
      }
      const keys: string[] = [];
      for (const o of page.Contents ?? []) {
        if (o.Key !== undefined && o.LastModified !== undefined && o.LastModified.getTime() < limit) keys.push(o.Key);
      }
      // Deleting while listing is safe: the continuation token is a position in key order, not an offset.
      for (let i = 0; i < keys.length; i += S3_DELETE_BATCH) {
        deleted += await this.deleteBatch(keys.slice(i, i + S3_DELETE_BATCH), deleted);
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return deleted;
  }

  private listPage(prefix: string, token: string | undefined): Promise<ListObjectsV2CommandOutput> {
    return this.client.send(
      new ListObjectsV2Command({
        Bucket: this.bucket,
        ...(prefix === '' ? {} : { Prefix: prefix }),
        ...(token === undefined ? {} : { ContinuationToken: token }),
      }),
    );
  }

  /** Deletes up to {@link S3_DELETE_BATCH} keys; throws when S3 reports a key it could not delete. */
  private async deleteBatch(keys: string[], deletedBefore: number): Promise<number> {
    let res: DeleteObjectsCommandOutput;
    try {
      res = await this.client.send(
        new DeleteObjectsCommand({
          Bucket: this.bucket,
          Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true },
        }),
      );
    } catch (err) {
      throw s3Error('DeleteObjects', err);
    }
    const errors = res.Errors ?? [];
    if (errors.length > 0) {
      throw new DocumentStoreError(
        `S3 DeleteObjects failed for ${errors.length} of ${keys.length} objects (${errors[0]?.Code ?? 'unknown error'}) ` +
          `after ${deletedBefore + keys.length - errors.length} deleted`,
      );
    }
    return keys.length;
  }
}
