/**
 * Claim check for HL7 messages too large for SQS: the text goes to S3 (SSE-KMS) and the queue gets a pointer.
 * The key is derived from the text, so a resent message overwrites its own object instead of adding one.
 */

import { createHash } from 'node:crypto';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';

export interface S3OffloadOptions {
  client: S3Client;
  bucket: string;
  /** KMS key (id, ARN or alias ARN) for SSE-KMS; unset = the bucket's default KMS key. */
  kmsKeyId?: string | undefined;
}

/** Where the text was stored: the queue body's `pointer`. `bytes` and `sha256` (hex) are those of its UTF-8. */
export interface OffloadPointer {
  bucket: string;
  key: string;
  bytes: number;
  sha256: string;
}

/** `hl7/inbound/<yyyy>/<mm>/<dd>/<sha256>.hl7`, the date in UTC (the prefix the raw-message retention purges). */
export function offloadKey(sha256Hex: string, receivedAt: Date): string {
  const [date] = receivedAt.toISOString().split('T');
  return `hl7/inbound/${(date ?? '').replaceAll('-', '/')}/${sha256Hex}.hl7`;
}

/**
 * Writes the HL7 text to S3 with SSE-KMS and its SHA-256 (S3 rejects a body altered in transit).
 *
 * @example
 * ```ts
 * const pointer = await offloadToS3({ client: new S3Client({}), bucket: 'pfi-hl7-large' }, msg.body, msg.receivedAt);
 * ```
 * @returns the pointer, once `PutObject` resolved (the object is durable); rejects with the SDK error.
 */
export async function offloadToS3(opts: S3OffloadOptions, text: string, receivedAt: Date): Promise<OffloadPointer> {
  const body = Buffer.from(text, 'utf8');
  const digest = createHash('sha256').update(body).digest();
  const sha256 = digest.toString('hex');
  const key = offloadKey(sha256, receivedAt);
  await opts.client.send(
    new PutObjectCommand({
      Bucket: opts.bucket,
      Key: key,
      Body: body,
      ContentType: 'text/plain; charset=utf-8',
      ServerSideEncryption: 'aws:kms',
      ...(opts.kmsKeyId === undefined ? {} : { SSEKMSKeyId: opts.kmsKeyId }),
      BucketKeyEnabled: true,
      ChecksumSHA256: digest.toString('base64'),
    }),
  );
  return { bucket: opts.bucket, key, bytes: body.length, sha256 };
}
