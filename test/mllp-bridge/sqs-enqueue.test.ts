import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { isHeaderError, readHeader } from '../../mllp-bridge/src/hl7.js';
import type { InboundMessage } from '../../mllp-bridge/src/server.js';
import { createSqsEnqueue, MAX_SQS_BODY_BYTES, MessageTooLargeError } from '../../mllp-bridge/src/sqs-enqueue.js';

const QUEUE_URL = 'https://sqs.eu-west-3.amazonaws.com/123456789012/pfi-hl7-inbound.fifo';
const sqs = mockClient(SQSClient);

afterEach(() => sqs.reset());

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
