/**
 * Queue port: FIFO message groups with visibility timeouts and a dead-letter queue (SQS FIFO semantics).
 *
 * Production uses SQS FIFO; the embedded adapter ({@link ./sql-queue.ts}) keeps the queue in PostgreSQL.
 * Delivery is at least once: a consumer deletes a message after processing it, or releases it on failure.
 */

export interface OutgoingMessage {
  body: string;
  /** Messages of one group are delivered one at a time, in send order; groups are independent. */
  groupId: string;
  /** A second message with the same id within the deduplication window (5 minutes) is accepted and dropped. */
  deduplicationId: string;
}

export interface ReceivedMessage {
  id: string;
  body: string;
  groupId: string;
  /** 1 on the first delivery. */
  receiveCount: number;
  /** Handle for {@link QueuePort.delete} / {@link QueuePort.release}; a new one on every receive. */
  receipt: string;
  /** ISO 8601 instant (UTC) of the send. */
  sentAt: string;
  /** Why the previous delivery failed, when it was released with an error. */
  lastError?: string;
}

export interface ReceiveOptions {
  /** At most this many messages (1 to 1000). */
  max: number;
  /** How long a received message stays hidden from other consumers (may be fractional, >= 0). */
  visibilityTimeoutSeconds: number;
  /** A message received this many times goes to `<queue>-dlq` instead of being delivered again (>= 1). */
  maxReceives: number;
}

export interface ReleaseOptions {
  /** Hidden (and its group blocked) for this long before redelivery (>= 0). */
  delaySeconds: number;
  /** Why processing failed, kept for the dead-letter queue. Never put personal data in it. */
  error?: string;
}

export interface QueueDepth {
  /** Deliverable now, or waiting only behind an earlier message of the same group. */
  visible: number;
  /** Hidden: received and not yet deleted, or released with a delay not yet elapsed. */
  inFlight: number;
  /** In `<queue>-dlq`. */
  deadLetter: number;
}

export interface QueuePort {
  /** Durable when the promise resolves; a deduplicationId seen in the last 5 minutes is accepted and dropped (SQS FIFO semantics). */
  send(queue: string, messages: OutgoingMessage[]): Promise<void>;
  /**
   * Up to `max` messages whose visibility has expired, at most ONE in flight per group (FIFO per group,
   * groups in parallel), oldest first; each receive increments receiveCount and hides the message for
   * visibilityTimeoutSeconds. A message whose receiveCount would exceed maxReceives moves to `<queue>-dlq`
   * instead (keeping its last error).
   */
  receive(queue: string, opts: ReceiveOptions): Promise<ReceivedMessage[]>;
  /** Deletes a processed message. Throws {@link StaleReceiptError} when the receipt is no longer current. */
  delete(queue: string, receipt: string): Promise<void>;
  /**
   * Makes it visible again after `delaySeconds` and remembers why it failed (for the dead-letter queue).
   * Throws {@link StaleReceiptError} when the receipt is no longer current.
   */
  release(queue: string, receipt: string, opts: ReleaseOptions): Promise<void>;
  depth(queue: string): Promise<QueueDepth>;
  /** Moves dead letters back to the queue (`npm run hl7:redrive` calls this); returns how many moved. */
  redrive(queue: string): Promise<number>;
}

/** Suffix of the dead-letter queue of a queue. */
export const DEAD_LETTER_SUFFIX = '-dlq';

/** Base of the errors raised by queue adapters. */
export class QueueError extends Error {
  override readonly name: string = 'QueueError';
}

/** An argument is out of range (empty group id, `max` of 0…). */
export class QueueInputError extends QueueError {
  override readonly name = 'QueueInputError';
}

/**
 * The receipt does not designate a message this consumer holds: the message was deleted, released,
 * dead-lettered, or received again by another consumer after its visibility timeout expired.
 */
export class StaleReceiptError extends QueueError {
  override readonly name = 'StaleReceiptError';
}
