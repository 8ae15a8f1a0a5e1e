/**
 * Group commit for queue sends: messages that arrive while a send is in flight are written together by the next
 * send (one durable statement for many MLLP connections), and each caller's promise resolves once ITS message is
 * durable. Nothing waits on a timer: an idle sender writes at once, a busy one batches what piled up.
 */

import { coalesce, type Settled } from './coalesce.js';
import type { OutgoingMessage, QueuePort } from './queue.js';

export interface GroupCommitOptions {
  /** Largest batch in one send (a bigger backlog goes out in several sends, in order). Default 500. */
  maxBatch?: number;
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
  // One batch in flight: what arrives meanwhile (an embedded database runs its statement synchronously, so the
  // next event-loop turn is when the messages read from the sockets in this turn have all arrived) goes next.
  return coalesce(
    async (messages: OutgoingMessage[]): Promise<Settled<void>[]> => {
      await queue.send(queueName, messages);
      return messages.map(() => ({ ok: true, value: undefined }));
    },
    { maxBatch: opts.maxBatch ?? 500 },
  );
}
