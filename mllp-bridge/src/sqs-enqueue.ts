/**
 * The bridge's durable enqueue in AWS: one SQS FIFO `SendMessage` per HL7 message. The server writes AA only after
 * the returned promise resolved, i.e. once SQS has stored the message.
 */

import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { offloadToS3, type S3OffloadOptions } from './s3-offload.js';
import type { InboundMessage } from './server.js';

/** SQS maximum message size (1 MiB since 2025-08-04; the old limit was 262,144 bytes). */
const SQS_MAX_MESSAGE_BYTES = 1_048_576;

/**
 * Largest body sent, in UTF-8 bytes: the SQS limit minus a margin, since message attributes count towards the limit
 * too (none are sent today, the margin keeps room for a few).
 */
export const MAX_SQS_BODY_BYTES = SQS_MAX_MESSAGE_BYTES - 4_096;

/** The message is larger than {@link MAX_SQS_BODY_BYTES}. States sizes only, never content. */
export class MessageTooLargeError extends Error {
  override readonly name = 'MessageTooLargeError';
  constructor(readonly bytes: number) {
    super(`message too large for SQS: ${bytes} bytes, limit ${MAX_SQS_BODY_BYTES}`);
  }
}

export interface SqsEnqueueOptions {
  client: SQSClient;
  /** URL of the FIFO queue (`….fifo`). */
  queueUrl: string;
  /**
   * Where bodies over {@link MAX_SQS_BODY_BYTES} go (claim check); unset = such messages are rejected with
   * {@link MessageTooLargeError}.
   */
  largeMessages?: S3OffloadOptions | undefined;
}

/**
 * Creates the `enqueue` function for `createMllpServer`. The body is the JSON `{ message, receivedAt }` (the same
 * shape the local queue gets in `scripts/start.ts`), grouped by `msg.groupId` and deduplicated by
 * `msg.deduplicationId`.
 *
 * A body over {@link MAX_SQS_BODY_BYTES}: with `largeMessages`, the HL7 text is first written to S3 and the body is
 * `{ pointer: { bucket, key, bytes, sha256 }, receivedAt }` (same group and deduplication ids); without it, the
 * message is rejected with {@link MessageTooLargeError}. Either way a rejection makes the server answer AR.
 *
 * @example
 * ```ts
 * const enqueue = createSqsEnqueue({ client: new SQSClient({}), queueUrl: process.env.PFI_MLLP_QUEUE_URL });
 * const bridge = createMllpServer({ enqueue, registry });
 * ```
 * @returns a function that resolves once `SendMessage` resolved (after `PutObject` for a large message) and rejects
 *   on any SDK error, or an oversized body without `largeMessages`; SQS is not called when the S3 put fails.
 */
export function createSqsEnqueue(opts: SqsEnqueueOptions): (msg: InboundMessage) => Promise<void> {
  return async (msg) => {
    const receivedAt = msg.receivedAt.toISOString();
    const partner = msg.ippSystem ? { ippSystem: msg.ippSystem } : {};
    let body = JSON.stringify({ message: msg.body, receivedAt, ...partner });
    const bytes = Buffer.byteLength(body, 'utf8');
    if (bytes > MAX_SQS_BODY_BYTES) {
      if (opts.largeMessages === undefined) throw new MessageTooLargeError(bytes);
      // The object must be durable before the pointer is queued: the worker may read it at once.
      const pointer = await offloadToS3(opts.largeMessages, msg.body, msg.receivedAt);
      body = JSON.stringify({ pointer, receivedAt, ...partner });
    }
    await opts.client.send(
      new SendMessageCommand({
        QueueUrl: opts.queueUrl,
        MessageBody: body,
        MessageGroupId: msg.groupId,
        MessageDeduplicationId: msg.deduplicationId,
      }),
    );
  };
}
