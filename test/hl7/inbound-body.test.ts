import { createHash } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import {
  InboundBodyError,
  type InboundHl7Pointer,
  inboundHl7BodySchema,
  resolveInboundBody,
} from '../../lambdas/hl7/inbound-body.js';

/** A synthetic ADT^A08 (no real patient). */
const HL7 = 'MSH|^~\\&|GAM|CHU-X|PFI|PFI|20240306111154||ADT^A08|MSG1|P|2.5\rPID|1||4711^^^CHU-X^PI||Testé^Zoé\r';
const RECEIVED_AT = '2026-11-25T10:00:00.123Z';
const bytes = Buffer.from(HL7, 'utf8');
const pointer: InboundHl7Pointer = {
  bucket: 'pfi-hl7-large',
  key: 'hl7/inbound/2026/11/25/abc.hl7',
  bytes: bytes.length,
  sha256: createHash('sha256').update(bytes).digest('hex'),
};

const noFetch = vi.fn(async (): Promise<Buffer> => {
  throw new Error('fetch must not be called');
});

/** The error `promise` rejects with. */
async function failure(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e as Error,
  );
}

describe('resolveInboundBody', () => {
  it('returns an inline message without fetching', async () => {
    const fetch = vi.fn(noFetch);
    const body = JSON.stringify({ message: HL7, receivedAt: RECEIVED_AT });
    expect(await resolveInboundBody(body, fetch)).toEqual({ message: HL7, receivedAt: RECEIVED_AT });
    expect(fetch).not.toHaveBeenCalled();
  });

  it('fetches a pointer body and checks its size and SHA-256', async () => {
    const fetch = vi.fn(async (_p: InboundHl7Pointer) => Buffer.from(bytes));
    const body = JSON.stringify({ pointer, receivedAt: RECEIVED_AT });
    expect(await resolveInboundBody(body, fetch)).toEqual({ message: HL7, receivedAt: RECEIVED_AT });
    expect(fetch).toHaveBeenCalledTimes(1);
    expect(fetch.mock.calls[0]?.[0]).toEqual(pointer);
    // The bucket is optional (the embedded store has none).
    const { bucket: _bucket, ...local } = pointer;
    const fetchLocal = vi.fn(async () => Buffer.from(bytes));
    await resolveInboundBody(JSON.stringify({ pointer: local, receivedAt: RECEIVED_AT }), fetchLocal);
    expect(fetchLocal.mock.calls[0]).toEqual([local]);
  });

  it('rejects bad JSON with a content-free message', async () => {
    const err = await failure(resolveInboundBody(`{"message":"${HL7}`, noFetch));
    expect(err).toBeInstanceOf(InboundBodyError);
    expect(err.message).toBe('inbound queue body is not valid JSON');
  });

  it.each([
    ['an empty message', { message: '', receivedAt: RECEIVED_AT }],
    ['a missing receivedAt', { message: HL7 }],
    ['a non-string message', { message: 42, receivedAt: RECEIVED_AT }],
    [
      'an upper-case sha256',
      { pointer: { ...pointer, sha256: pointer.sha256.toUpperCase() }, receivedAt: RECEIVED_AT },
    ],
    ['a negative size', { pointer: { ...pointer, bytes: -1 }, receivedAt: RECEIVED_AT }],
    ['a pointer without key', { pointer: { bytes: 1, sha256: pointer.sha256 }, receivedAt: RECEIVED_AT }],
    ['an array', [HL7]],
    ['null', null],
  ])('rejects %s, naming fields only', async (_name, value) => {
    const err = await failure(resolveInboundBody(JSON.stringify(value), noFetch));
    expect(err).toBeInstanceOf(InboundBodyError);
    expect(err.message).toMatch(/^inbound queue body has an unexpected shape \(/);
    expect(err.message).not.toContain('Zoé');
    expect(err.message).not.toContain('4711');
  });

  it('rejects a fetched body whose size or checksum differs from the pointer', async () => {
    const body = JSON.stringify({ pointer, receivedAt: RECEIVED_AT });
    const shorter = await failure(resolveInboundBody(body, async () => bytes.subarray(1)));
    expect(shorter).toBeInstanceOf(InboundBodyError);
    expect(shorter.message).toBe(
      `stored HL7 message has ${bytes.length - 1} bytes, the queue pointer says ${bytes.length}`,
    );
    const altered = Buffer.from(bytes);
    altered[altered.length - 2] = 'X'.charCodeAt(0);
    const mismatch = await failure(resolveInboundBody(body, async () => altered));
    expect(mismatch).toBeInstanceOf(InboundBodyError);
    expect(mismatch.message).toBe('stored HL7 message does not match the SHA-256 of the queue pointer');
  });

  it('rejects stored bytes that are not UTF-8 or empty', async () => {
    const latin1 = Buffer.from('MSH|^~\\&|Zoé', 'latin1');
    const p = { key: 'k', bytes: latin1.length, sha256: createHash('sha256').update(latin1).digest('hex') };
    const err = await failure(
      resolveInboundBody(JSON.stringify({ pointer: p, receivedAt: RECEIVED_AT }), async () => latin1),
    );
    expect(err.message).toBe('stored HL7 message is not valid UTF-8');
    const empty = { key: 'k', bytes: 0, sha256: createHash('sha256').update('').digest('hex') };
    await expect(
      resolveInboundBody(JSON.stringify({ pointer: empty, receivedAt: RECEIVED_AT }), async () => Buffer.alloc(0)),
    ).rejects.toThrow('stored HL7 message is empty');
  });

  it('lets errors of fetch propagate', async () => {
    const notFound = Object.assign(new Error('document not found'), { name: 'DocumentNotFoundError' });
    const body = JSON.stringify({ pointer, receivedAt: RECEIVED_AT });
    await expect(
      resolveInboundBody(body, async () => {
        throw notFound;
      }),
    ).rejects.toBe(notFound);
  });
});

describe('inboundHl7BodySchema', () => {
  it('accepts both shapes', () => {
    expect(inboundHl7BodySchema.safeParse({ message: HL7, receivedAt: RECEIVED_AT }).success).toBe(true);
    expect(inboundHl7BodySchema.safeParse({ pointer, receivedAt: RECEIVED_AT }).success).toBe(true);
    expect(inboundHl7BodySchema.safeParse({ receivedAt: RECEIVED_AT }).success).toBe(false);
  });
});
