/**
 * Group commit for queue sends: messages that arrive while a send is in flight are written together by the next
 * send (one durable statement for many MLLP connections), and each caller's promise resolves once ITS message is
 * durable. Nothing waits on a timer: an idle sender writes at once, a busy one batches what piled up.
 */

import type { OutgoingMessage, QueuePort } from './queue.js';

export interface GroupCommitOptions {
  /** Largest batch in one send (a bigger backlog goes out in several sends, in order). Default 500. */
  maxBatch?: number;
}

interface Pending {
  message: OutgoingMessage;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Returns `send(message)` for one queue. Order is kept: batches go out one after another, messages in arrival order.
 * A failed batch rejects every message in it (the MLLP bridge answers AR to each: the senders retry).
 *
 * @example
 * ```ts
 * const send = groupCommit(queue, 'hl7-inbound');
 * await send({ body, groupId, deduplicationId }); // durable here
 * ```
 */
export function groupCommit(
  queue: Pick<QueuePort, 'send'>,
  queueName: string,
  opts: GroupCommitOptions = {},
): (message: OutgoingMessage) => Promise<void> {
  const maxBatch = opts.maxBatch ?? 500;
  if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new RangeError('maxBatch must be a positive integer');
  let pending: Pending[] = [];
  let flushing = false;

  const flush = async (): Promise<void> => {
    flushing = true;
    try {
      while (pending.length) {
        const batch = pending.slice(0, maxBatch);
        pending = pending.slice(batch.length);
        try {
          await queue.send(
            queueName,
            batch.map((p) => p.message),
          );
          for (const p of batch) p.resolve();
        } catch (err) {
          for (const p of batch) p.reject(err);
        }
      }
    } finally {
      flushing = false;
    }
  };

  return (message) =>
    new Promise<void>((resolve, reject) => {
      pending.push({ message, resolve, reject });
      if (!flushing) {
        flushing = true;
        // Start on the next turn of the event loop: the messages read from the sockets in this turn go together.
        // (An embedded database runs its statement synchronously, so nothing could pile up while it is in flight.)
        setImmediate(() => void flush());
      }
    });
}
