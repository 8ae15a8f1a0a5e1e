/**
 * The body of an `hl7-inbound` queue message, as the MLLP bridge writes it: the HL7 text inline
 * (`{ message, receivedAt }`), or, for a message over the SQS size limit, a pointer to the text in the document
 * store (claim check: `{ pointer: { bucket, key, bytes, sha256 }, receivedAt }`).
 */

import { createHash } from 'node:crypto';
import { z } from 'zod';

export const inboundHl7BodySchema = z.union([
  z.object({ message: z.string().min(1), receivedAt: z.string(), ippSystem: z.string().min(1).optional() }),
  z.object({
    pointer: z.object({
      bucket: z.string().optional(),
      key: z.string(),
      bytes: z.number().int().nonnegative(),
      sha256: z.string().regex(/^[0-9a-f]{64}$/),
    }),
    receivedAt: z.string(),
    ippSystem: z.string().min(1).optional(),
  }),
]);

export type InboundHl7Body = z.infer<typeof inboundHl7BodySchema>;

/** Where the HL7 text of a claim-check body is stored, with its UTF-8 size and SHA-256 (hex). */
export type InboundHl7Pointer = Extract<InboundHl7Body, { pointer: unknown }>['pointer'];

/** The queue body cannot be turned into an HL7 message. The message never holds the body or the HL7 text. */
export class InboundBodyError extends Error {
  override readonly name = 'InboundBodyError';
}

/**
 * Parses and validates a queue body and returns the HL7 text: inline, or fetched through `fetch` for a pointer,
 * whose size and SHA-256 are then checked against the pointer.
 *
 * @example
 * ```ts
 * const { message, receivedAt } = await resolveInboundBody(record.body, (p) =>
 *   documents.get(p.key).then((d) => d.body),
 * );
 * ```
 * @throws {@link InboundBodyError} on bad JSON, an unknown shape, a fetched body that is not valid UTF-8, or a size
 *   or checksum mismatch; errors of `fetch` itself (not found, access denied…) propagate unchanged.
 */
export async function resolveInboundBody(
  body: string,
  fetch: (pointer: InboundHl7Pointer) => Promise<Buffer>,
): Promise<{ message: string; receivedAt: string; ippSystem?: string }> {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new InboundBodyError('inbound queue body is not valid JSON');
  }
  const parsed = inboundHl7BodySchema.safeParse(json);
  if (!parsed.success) {
    // Paths only: zod messages about string values could quote the content.
    const paths = [...new Set(parsed.error.issues.map((i) => i.path.join('.') || '(root)'))].join(', ');
    throw new InboundBodyError(`inbound queue body has an unexpected shape (${paths})`);
  }
  const value = parsed.data;
  const partner = value.ippSystem ? { ippSystem: value.ippSystem } : {};
  if ('message' in value) return { message: value.message, receivedAt: value.receivedAt, ...partner };

  const bytes = await fetch(value.pointer);
  if (bytes.length !== value.pointer.bytes) {
    throw new InboundBodyError(
      `stored HL7 message has ${bytes.length} bytes, the queue pointer says ${value.pointer.bytes}`,
    );
  }
  if (createHash('sha256').update(bytes).digest('hex') !== value.pointer.sha256) {
    throw new InboundBodyError('stored HL7 message does not match the SHA-256 of the queue pointer');
  }
  let message: string;
  try {
    // The bridge stores UTF-8 text; a decoding error means the object is not what the bridge wrote.
    message = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new InboundBodyError('stored HL7 message is not valid UTF-8');
  }
  if (message.length === 0) throw new InboundBodyError('stored HL7 message is empty');
  return { message, receivedAt: value.receivedAt, ...partner };
}
