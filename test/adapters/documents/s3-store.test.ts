import { createHash } from 'node:crypto';
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import {
  DocumentNotFoundError,
  DocumentStoreError,
  InvalidDocumentKeyError,
} from '../../../lambdas/adapters/documents/document-store.js';
import { S3DocumentStore } from '../../../lambdas/adapters/documents/s3-store.js';

const BUCKET = 'pfi-documents-123456789012';
const KMS_KEY = 'arn:aws:kms:eu-west-3:123456789012:key/11111111-2222-3333-4444-555555555555';
const s3 = mockClient(S3Client);

afterEach(() => s3.reset());

const client = () => new S3Client({ region: 'eu-west-3' });

/** A GetObject body: the store only calls transformToByteArray. */
function body(data: string | Uint8Array): GetObjectCommandOutput['Body'] {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  return { transformToByteArray: async () => bytes } as unknown as GetObjectCommandOutput['Body'];
}

describe('S3DocumentStore.put', () => {
  it('sends PutObject with SSE-KMS, bucket key, content type and the SHA-256 for S3 to verify', async () => {
    s3.on(PutObjectCommand).resolves({});
    const store = new S3DocumentStore({ client: client(), bucket: BUCKET, kmsKeyId: KMS_KEY, prefix: 'pfi/' });
    const text = 'MSH|^~\\&|GAM|CHU-X|PFI|PFI|20240306||ORU^R01|1|P|2.5\rOBX|1|ED|PDF^Rapport||é\r';
    const digest = createHash('sha256').update(text, 'utf8').digest();
    const stored = await store.put('hl7/inbound/2026/11/25/x.hl7', text, { contentType: 'text/plain; charset=utf-8' });
    expect(store.kind).toBe('s3');
    expect(stored).toEqual({
      key: 'hl7/inbound/2026/11/25/x.hl7',
      bytes: Buffer.byteLength(text, 'utf8'),
      sha256: digest.toString('hex'),
      contentType: 'text/plain; charset=utf-8',
    });
    const calls = s3.commandCalls(PutObjectCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.args[0].input).toEqual({
      Bucket: BUCKET,
      Key: 'pfi/hl7/inbound/2026/11/25/x.hl7',
      Body: Buffer.from(text, 'utf8'),
      ContentType: 'text/plain; charset=utf-8',
      ServerSideEncryption: 'aws:kms',
      SSEKMSKeyId: KMS_KEY,
      BucketKeyEnabled: true,
      ChecksumSHA256: digest.toString('base64'),
    });
  });

  it('leaves the key to the bucket default when none is given and sends bytes unchanged', async () => {
    s3.on(PutObjectCommand).resolves({});
    const store = new S3DocumentStore({ client: client(), bucket: BUCKET });
    const bytes = new Uint8Array([0, 255, 10, 13]);
    await store.put('bin/b', bytes, { contentType: 'application/octet-stream' });
    const input = s3.commandCalls(PutObjectCommand)[0]?.args[0].input;
    expect(input).not.toHaveProperty('SSEKMSKeyId');
    expect(input?.Key).toBe('bin/b');
    expect(input?.ServerSideEncryption).toBe('aws:kms');
    expect(input?.Body).toEqual(Buffer.from([0, 255, 10, 13]));
    expect(input?.ChecksumSHA256).toBe(createHash('sha256').update(bytes).digest('base64'));
  });

  it('wraps SDK errors naming the operation and error name, and rejects invalid keys without a call', async () => {
    s3.on(PutObjectCommand).rejects(Object.assign(new Error('Access Denied'), { name: 'AccessDenied' }));
    const store = new S3DocumentStore({ client: client(), bucket: BUCKET });
    const err = await store.put('a/b', 'secret content', { contentType: 'text/plain' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DocumentStoreError);
    expect((err as Error).message).toBe('S3 PutObject failed (AccessDenied)');
    expect((err as Error).cause).toBeInstanceOf(Error);
    s3.resetHistory();
    await expect(store.put('../a', 'x', { contentType: 'text/plain' })).rejects.toBeInstanceOf(InvalidDocumentKeyError);
    expect(s3.commandCalls(PutObjectCommand)).toHaveLength(0);
  });
});

describe('S3DocumentStore.get', () => {
  it('returns the body and content type, asking S3 for the checksum', async () => {
    s3.on(GetObjectCommand).resolves({ Body: body('<ClinicalDocument/>'), ContentType: 'text/xml' });
    const store = new S3DocumentStore({ client: client(), bucket: BUCKET, prefix: 'pfi' });
    const got = await store.get('cda/doc.xml');
    expect(Buffer.isBuffer(got.body)).toBe(true);
    expect(got.body.toString()).toBe('<ClinicalDocument/>');
    expect(got.contentType).toBe('text/xml');
    expect(s3.commandCalls(GetObjectCommand)[0]?.args[0].input).toEqual({
      Bucket: BUCKET,
      Key: 'pfi/cda/doc.xml',
      ChecksumMode: 'ENABLED',
    });
  });

  it('maps NoSuchKey to DocumentNotFoundError and wraps other errors', async () => {
    const store = new S3DocumentStore({ client: client(), bucket: BUCKET });
    s3.on(GetObjectCommand).rejects(new NoSuchKey({ message: 'The specified key does not exist.', $metadata: {} }));
    const err = await store.get('cda/absent.xml').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DocumentNotFoundError);
    expect((err as DocumentNotFoundError).key).toBe('cda/absent.xml');
    s3.reset();
    s3.on(GetObjectCommand).rejects(Object.assign(new Error('slow down'), { name: 'SlowDown' }));
    await expect(store.get('cda/x.xml')).rejects.toThrow('S3 GetObject failed (SlowDown)');
    s3.reset();
    s3.on(GetObjectCommand).resolves({});
    await expect(store.get('cda/x.xml')).rejects.toThrow('S3 GetObject returned no body');
  });
});

describe('S3DocumentStore.delete', () => {
  it('sends DeleteObject', async () => {
    s3.on(DeleteObjectCommand).resolves({});
    await new S3DocumentStore({ client: client(), bucket: BUCKET }).delete('cda/doc.xml');
    expect(s3.commandCalls(DeleteObjectCommand).map((c) => c.args[0].input)).toEqual([
      { Bucket: BUCKET, Key: 'cda/doc.xml' },
    ]);
  });
});

describe('S3DocumentStore.deleteOlderThan', () => {
  const cutoff = new Date('2026-08-01T00:00:00Z');
  const old = new Date('2026-07-01T00:00:00Z');
  const recent = new Date('2026-09-01T00:00:00Z');

  it('pages through ListObjectsV2 and deletes only objects modified before the cutoff', async () => {
    s3.on(ListObjectsV2Command)
      .resolvesOnce({
        IsTruncated: true,
        NextContinuationToken: 'token-2',
        Contents: [
          { Key: 'pfi/hl7/inbound/a.hl7', LastModified: old },
          { Key: 'pfi/hl7/inbound/b.hl7', LastModified: recent },
          { Key: 'pfi/hl7/inbound/c.hl7', LastModified: cutoff },
        ],
      })
      .resolvesOnce({
        IsTruncated: false,
        Contents: [{ Key: 'pfi/hl7/inbound/d.hl7', LastModified: old }, { Key: 'pfi/hl7/inbound/e.hl7' }],
      });
    s3.on(DeleteObjectsCommand).resolves({});
    const store = new S3DocumentStore({ client: client(), bucket: BUCKET, prefix: 'pfi' });
    expect(await store.deleteOlderThan('hl7/inbound', cutoff)).toBe(2);
    expect(s3.commandCalls(ListObjectsV2Command).map((c) => c.args[0].input)).toEqual([
      { Bucket: BUCKET, Prefix: 'pfi/hl7/inbound/' },
      { Bucket: BUCKET, Prefix: 'pfi/hl7/inbound/', ContinuationToken: 'token-2' },
    ]);
    expect(s3.commandCalls(DeleteObjectsCommand).map((c) => c.args[0].input)).toEqual([
      { Bucket: BUCKET, Delete: { Objects: [{ Key: 'pfi/hl7/inbound/a.hl7' }], Quiet: true } },
      { Bucket: BUCKET, Delete: { Objects: [{ Key: 'pfi/hl7/inbound/d.hl7' }], Quiet: true } },
    ]);
  });

  it('deletes in batches of at most 1000 keys and skips the call when nothing is old enough', async () => {
    const contents = Array.from({ length: 2500 }, (_, i) => ({ Key: `k/${i}`, LastModified: old }));
    s3.on(ListObjectsV2Command)
      .resolvesOnce({ IsTruncated: true, NextContinuationToken: 't', Contents: contents })
      .resolvesOnce({ IsTruncated: false, Contents: [{ Key: 'k/new', LastModified: recent }] });
    s3.on(DeleteObjectsCommand).resolves({});
    const store = new S3DocumentStore({ client: client(), bucket: BUCKET });
    expect(await store.deleteOlderThan('k', cutoff)).toBe(2500);
    const batches = s3.commandCalls(DeleteObjectsCommand).map((c) => c.args[0].input.Delete?.Objects ?? []);
    expect(batches.map((b) => b.length)).toEqual([1000, 1000, 500]);
    expect(batches.flat().map((o) => o.Key)).toEqual(contents.map((c) => c.Key));
  });

  it('lists the whole store for the empty prefix', async () => {
    s3.on(ListObjectsV2Command).resolves({ IsTruncated: false });
    expect(await new S3DocumentStore({ client: client(), bucket: BUCKET }).deleteOlderThan('', cutoff)).toBe(0);
    expect(s3.commandCalls(ListObjectsV2Command)[0]?.args[0].input).toEqual({ Bucket: BUCKET });
    expect(s3.commandCalls(DeleteObjectsCommand)).toHaveLength(0);
  });

  it('throws when S3 reports keys it could not delete, or on an invalid prefix', async () => {
    s3.on(ListObjectsV2Command).resolves({
      IsTruncated: false,
      Contents: [
        { Key: 'k/1', LastModified: old },
        { Key: 'k/2', LastModified: old },
      ],
    });
    s3.on(DeleteObjectsCommand).resolves({ Errors: [{ Key: 'k/2', Code: 'AccessDenied', Message: 'Access Denied' }] });
    const store = new S3DocumentStore({ client: client(), bucket: BUCKET });
    await expect(store.deleteOlderThan('k', cutoff)).rejects.toThrow(
      'S3 DeleteObjects failed for 1 of 2 objects (AccessDenied) after 1 deleted',
    );
    await expect(store.deleteOlderThan('/', cutoff)).rejects.toBeInstanceOf(InvalidDocumentKeyError);
  });
});

describe('S3DocumentStore.erase', () => {
  it('deletes every version and delete marker of exactly that key (RGPD erasure in a versioned bucket)', async () => {
    s3.on(ListObjectVersionsCommand)
      .resolvesOnce({
        Versions: [
          { Key: 'pfi/fhir/binary/b1', VersionId: 'v2' },
          { Key: 'pfi/fhir/binary/b1', VersionId: 'v1' },
          { Key: 'pfi/fhir/binary/b10', VersionId: 'other' },
        ],
        IsTruncated: true,
        NextKeyMarker: 'pfi/fhir/binary/b1',
        NextVersionIdMarker: 'v1',
      })
      .resolvesOnce({ DeleteMarkers: [{ Key: 'pfi/fhir/binary/b1', VersionId: 'dm1' }], IsTruncated: false });
    s3.on(DeleteObjectsCommand).resolves({});
    s3.on(DeleteObjectCommand).resolves({});
    await new S3DocumentStore({ client: client(), bucket: BUCKET, prefix: 'pfi/' }).erase('fhir/binary/b1');
    const deleted = s3.commandCalls(DeleteObjectsCommand).flatMap((c) => c.args[0].input.Delete?.Objects ?? []);
    expect(deleted).toEqual([
      { Key: 'pfi/fhir/binary/b1', VersionId: 'v2' },
      { Key: 'pfi/fhir/binary/b1', VersionId: 'v1' },
      { Key: 'pfi/fhir/binary/b1', VersionId: 'dm1' },
    ]);
    expect(s3.commandCalls(ListObjectVersionsCommand)[1]!.args[0].input).toMatchObject({
      KeyMarker: 'pfi/fhir/binary/b1',
      VersionIdMarker: 'v1',
    });
  });

  it('fails when S3 refuses to delete a version', async () => {
    s3.on(ListObjectVersionsCommand).resolves({ Versions: [{ Key: 'fhir/binary/b1', VersionId: 'v1' }] });
    s3.on(DeleteObjectsCommand).resolves({ Errors: [{ Key: 'fhir/binary/b1', Code: 'AccessDenied' }] });
    await expect(new S3DocumentStore({ client: client(), bucket: BUCKET }).erase('fhir/binary/b1')).rejects.toThrow(
      DocumentStoreError,
    );
  });
});
