import { createHash } from 'node:crypto';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveInboundBody } from '../../lambdas/hl7/inbound-body.js';
import { isHeaderError, readHeader } from '../../mllp-bridge/src/hl7.js';
import { offloadKey } from '../../mllp-bridge/src/s3-offload.js';
import type { InboundMessage } from '../../mllp-bridge/src/server.js';
import { createSqsEnqueue, MAX_SQS_BODY_BYTES, MessageTooLargeError } from '../../mllp-bridge/src/sqs-enqueue.js';

const QUEUE_URL = 'https://sqs.eu-west-3.amazonaws.com/123456789012/pfi-hl7-inbound.fifo';
const BUCKET = 'pfi-hl7-large-123456789012';
const KMS_KEY = 'arn:aws:kms:eu-west-3:123456789012:key/11111111-2222-3333-4444-555555555555';
const sqs = mockClient(SQSClient);
const s3 = mockClient(S3Client);

afterEach(() => {
  sqs.reset();
  s3.reset();
});

/** A synthetic ADT^A01 (no real patient) with `extra` characters appended to the PV1 segment. */
function inbound(extra = ''): InboundMessage {
  const body = `${[
    'MSH|^~\\&|GAM|CHU-X|PFI|PFI|20240306111154||ADT^A01^ADT_A01|MSG0001|P|2.5^FRA^2.11',
    'EVN||20240306111154',
    'PID|1||4711^^^CHU-X&1.2.250.1.71.4.2.2&ISO^PI||Testé^Zoé||19790328|F',
    `PV1|1|I|CARDIO^101^1${extra}`,
  ].join('\r')}\r`;
  const header = readHeader(body);
  if (isHeaderError(header)) throw new Error('test message has no valid header');
  return {
    body,
    header,
    groupId: 'CHU-X|4711',
    deduplicationId: 'a'.repeat(64),
    receivedAt: new Date('2026-11-25T10:00:00.123Z'),
  };
}

const enqueue = () => createSqsEnqueue({ client: new SQSClient({ region: 'eu-west-3' }), queueUrl: QUEUE_URL });

describe('createSqsEnqueue', () => {
  it('sends one FIFO message with group, deduplication id, queue URL and the JSON body', async () => {
    sqs.on(SendMessageCommand).resolves({ MessageId: 'm-1' });
    const msg = inbound();
    await enqueue()(msg);
    const calls = sqs.commandCalls(SendMessageCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.args[0].input).toEqual({
      QueueUrl: QUEUE_URL,
      MessageBody: JSON.stringify({ message: msg.body, receivedAt: '2026-11-25T10:00:00.123Z' }),
      MessageGroupId: 'CHU-X|4711',
      MessageDeduplicationId: 'a'.repeat(64),
    });
    const body: unknown = JSON.parse(calls[0]?.args[0].input.MessageBody ?? '');
    expect(body).toEqual({ message: msg.body, receivedAt: '2026-11-25T10:00:00.123Z' });
  });

  it('resolves only once SendMessage resolved', async () => {
    let release: () => void = () => undefined;
    sqs.on(SendMessageCommand).callsFake(
      () =>
        new Promise((resolve) => {
          release = () => resolve({ MessageId: 'm-1' });
        }),
    );
    let done = false;
    const pending = enqueue()(inbound()).then(() => {
      done = true;
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(done).toBe(false);
    release();
    await pending;
    expect(done).toBe(true);
  });

  it('rejects with the SDK error', async () => {
    const failure = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
    sqs.on(SendMessageCommand).rejects(failure);
    await expect(enqueue()(inbound())).rejects.toThrow('Rate exceeded');
  });

  it('accepts a body of exactly the limit', async () => {
    sqs.on(SendMessageCommand).resolves({ MessageId: 'm-1' });
    const base = JSON.stringify({ message: inbound().body, receivedAt: '2026-11-25T10:00:00.123Z' });
    const msg = inbound('x'.repeat(MAX_SQS_BODY_BYTES - Buffer.byteLength(base, 'utf8')));
    await enqueue()(msg);
    expect(Buffer.byteLength(sqs.commandCalls(SendMessageCommand)[0]?.args[0].input.MessageBody ?? '')).toBe(
      MAX_SQS_BODY_BYTES,
    );
  });

  it('rejects a body one byte over the limit without calling SQS, naming sizes only', async () => {
    sqs.on(SendMessageCommand).resolves({ MessageId: 'm-1' });
    const base = JSON.stringify({ message: inbound().body, receivedAt: '2026-11-25T10:00:00.123Z' });
    const msg = inbound('x'.repeat(MAX_SQS_BODY_BYTES + 1 - Buffer.byteLength(base, 'utf8')));
    const err = await enqueue()(msg).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(MessageTooLargeError);
    expect((err as MessageTooLargeError).message).toBe(
      `message too large for SQS: ${MAX_SQS_BODY_BYTES + 1} bytes, limit ${MAX_SQS_BODY_BYTES}`,
    );
    expect((err as MessageTooLargeError).message).not.toContain('Zoé');
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
  });

  it('counts UTF-8 bytes, not characters, and keeps the limit below 1 MiB', async () => {
    expect(MAX_SQS_BODY_BYTES).toBeLessThan(1_048_576);
    expect(MAX_SQS_BODY_BYTES).toBeGreaterThan(262_144);
    sqs.on(SendMessageCommand).resolves({ MessageId: 'm-1' });
    const base = JSON.stringify({ message: inbound().body, receivedAt: '2026-11-25T10:00:00.123Z' });
    // 'é' is 2 bytes: within the limit in characters, over it in bytes.
    const chars = Math.ceil((MAX_SQS_BODY_BYTES - Buffer.byteLength(base, 'utf8')) / 2) + 1;
    await expect(enqueue()(inbound('é'.repeat(chars)))).rejects.toBeInstanceOf(MessageTooLargeError);
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
  });
});

describe('createSqsEnqueue with largeMessages (claim check)', () => {
  const withS3 = (kms: { kmsKeyId?: string } = { kmsKeyId: KMS_KEY }) =>
    createSqsEnqueue({
      client: new SQSClient({ region: 'eu-west-3' }),
      queueUrl: QUEUE_URL,
      largeMessages: { client: new S3Client({ region: 'eu-west-3' }), bucket: BUCKET, ...kms },
    });
  /** A message whose inline body is `over` bytes over the limit. */
  const large = (over = 1) => {
    const base = JSON.stringify({ message: inbound().body, receivedAt: '2026-11-25T10:00:00.123Z' });
    return inbound('x'.repeat(MAX_SQS_BODY_BYTES + over - Buffer.byteLength(base, 'utf8')));
  };

  it('sends a body within the limit inline, without touching S3', async () => {
    sqs.on(SendMessageCommand).resolves({ MessageId: 'm-1' });
    s3.on(PutObjectCommand).resolves({});
    const msg = inbound();
    await withS3()(msg);
    expect(s3.commandCalls(PutObjectCommand)).toHaveLength(0);
    expect(sqs.commandCalls(SendMessageCommand)[0]?.args[0].input.MessageBody).toBe(
      JSON.stringify({ message: msg.body, receivedAt: '2026-11-25T10:00:00.123Z' }),
    );
  });

  it('puts a large message to S3 with SSE-KMS, then queues a pointer with the same group and deduplication ids', async () => {
    sqs.on(SendMessageCommand).resolves({ MessageId: 'm-1' });
    s3.on(PutObjectCommand).resolves({});
    const msg = large();
    const utf8 = Buffer.from(msg.body, 'utf8');
    const digest = createHash('sha256').update(utf8).digest();
    const key = `hl7/inbound/2026/11/25/${digest.toString('hex')}.hl7`;
    await withS3()(msg);

    const puts = s3.commandCalls(PutObjectCommand);
    expect(puts).toHaveLength(1);
    const { Body, ...putInput } = puts[0]?.args[0].input ?? {};
    // Buffer.equals: toEqual on a 1 MiB buffer compares byte by byte and takes seconds.
    expect(Buffer.isBuffer(Body) && Body.equals(utf8)).toBe(true);
    expect(putInput).toEqual({
      Bucket: BUCKET,
      Key: key,
      ContentType: 'text/plain; charset=utf-8',
      ServerSideEncryption: 'aws:kms',
      SSEKMSKeyId: KMS_KEY,
      BucketKeyEnabled: true,
      ChecksumSHA256: digest.toString('base64'),
    });
    const sends = sqs.commandCalls(SendMessageCommand);
    expect(sends).toHaveLength(1);
    const pointer = { bucket: BUCKET, key, bytes: utf8.length, sha256: digest.toString('hex') };
    expect(sends[0]?.args[0].input).toEqual({
      QueueUrl: QUEUE_URL,
      MessageBody: JSON.stringify({ pointer, receivedAt: '2026-11-25T10:00:00.123Z' }),
      MessageGroupId: 'CHU-X|4711',
      MessageDeduplicationId: 'a'.repeat(64),
    });
    expect(sends[0]?.args[0].input.MessageBody).not.toContain('Zoé');

    // Contract with the worker: the pointer body resolves to the original text from what was put.
    const stored = puts[0]?.args[0].input.Body as Buffer;
    const resolved = await resolveInboundBody(sends[0]?.args[0].input.MessageBody ?? '', async (p) => {
      expect(p).toEqual(pointer);
      return stored;
    });
    expect(resolved).toEqual({ message: msg.body, receivedAt: '2026-11-25T10:00:00.123Z' });
  });

  it('omits the KMS key id when none is configured (bucket default key)', async () => {
    sqs.on(SendMessageCommand).resolves({ MessageId: 'm-1' });
    s3.on(PutObjectCommand).resolves({});
    await withS3({})(large());
    const input = s3.commandCalls(PutObjectCommand)[0]?.args[0].input;
    expect(input).not.toHaveProperty('SSEKMSKeyId');
    expect(input?.ServerSideEncryption).toBe('aws:kms');
  });

  it('calls SQS only once the S3 put resolved', async () => {
    sqs.on(SendMessageCommand).resolves({ MessageId: 'm-1' });
    let release: () => void = () => undefined;
    s3.on(PutObjectCommand).callsFake(
      () =>
        new Promise((resolve) => {
          release = () => resolve({});
        }),
    );
    let done = false;
    const pending = withS3()(large()).then(() => {
      done = true;
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(s3.commandCalls(PutObjectCommand)).toHaveLength(1);
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
    expect(done).toBe(false);
    release();
    await pending;
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(1);
    expect(done).toBe(true);
  });

  it('rejects with the S3 error and never calls SQS when the put fails', async () => {
    sqs.on(SendMessageCommand).resolves({ MessageId: 'm-1' });
    const failure = Object.assign(new Error('Access Denied'), { name: 'AccessDenied' });
    s3.on(PutObjectCommand).rejects(failure);
    await expect(withS3()(large())).rejects.toThrow('Access Denied');
    expect(s3.commandCalls(PutObjectCommand)).toHaveLength(1);
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
  });

  it('rejects when SQS fails after the put (the server answers AR; the object is overwritten on resend)', async () => {
    s3.on(PutObjectCommand).resolves({});
    sqs.on(SendMessageCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    const msg = large();
    await expect(withS3()(msg)).rejects.toThrow('Rate exceeded');
    await expect(withS3()(msg)).rejects.toThrow('Rate exceeded');
    const keys = s3.commandCalls(PutObjectCommand).map((c) => c.args[0].input.Key);
    expect(keys).toHaveLength(2);
    expect(keys[0]).toBe(keys[1]);
  });
});

describe('offloadKey', () => {
  it('dates the key in UTC', () => {
    const sha = 'f'.repeat(64);
    expect(offloadKey(sha, new Date('2026-11-25T23:30:00.000Z'))).toBe(`hl7/inbound/2026/11/25/${sha}.hl7`);
    expect(offloadKey(sha, new Date('2027-01-01T00:00:00.000+01:00'))).toBe(`hl7/inbound/2026/12/31/${sha}.hl7`);
  });
});
