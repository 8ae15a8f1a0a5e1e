/**
 * Queue, version 4: an index on the messages received at least once (in flight or released after a failure), so
 * that finding those past their last attempt (dead letters) reads only them rather than the whole backlog
 * (measured: 14 ms on a 20,000-message backlog, 0.7 ms with the index).
 */
export const statements: readonly string[] = [
  'CREATE INDEX queue_message_received ON queue_message (queue, id) WHERE receive_count > 0',
];
