/**
 * Queue, version 11: no index on the columns a receive changes (`visible_at`, `receipt`, `receive_count`), and room
 * on each page, so that a receive — an UPDATE of those columns — is a heap-only (HOT) update that writes no index
 * entry, and a send writes three index entries per message instead of four.
 *
 * - `queue_message_receipt`: a receipt now starts with its message's id (`<id>:<uuid>`); delete and release reach the
 *   row through the primary key and check the receipt on it.
 * - `queue_message_received` (migration 0004): the receive takes its dead letters from the same ordered scan as the
 *   messages it delivers.
 * - `queue_message_group_visible`: "nothing of the group is in flight" is checked on the group's rows through
 *   `queue_message_group`, in the same probe as "nothing older in the group".
 * - fillfactor 50: a page keeps half its space for the new versions of its rows (a message is received at least
 *   once); a row lives seconds, so the table stays small.
 */
export const statements: readonly string[] = [
  'DROP INDEX IF EXISTS queue_message_receipt',
  'DROP INDEX IF EXISTS queue_message_received',
  'DROP INDEX IF EXISTS queue_message_group_visible',
  'ALTER TABLE queue_message SET (fillfactor = 50)',
];
