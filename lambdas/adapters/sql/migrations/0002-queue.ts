/**
 * Embedded queue, version 2 (see `lambdas/adapters/queue/sql-queue.ts`).
 *
 * - `queue_message`: one row per message not yet deleted. `id` order is send order. A message is
 *   hidden while `visible_at` is in the future (received, or released with a delay); `receipt` is the
 *   handle of its current delivery. Dead-lettering renames `queue` to `<queue>-dlq`.
 * - `queue_dedup`: deduplication ids of the last window, kept apart from messages so a deleted message
 *   still blocks its resend; expired rows are overwritten by a resend and pruned lazily by `send`.
 */
export const statements: readonly string[] = [
  `CREATE TABLE queue_message (
    id bigserial PRIMARY KEY,
    queue text NOT NULL,
    group_id text NOT NULL,
    body text NOT NULL,
    sent_at timestamptz NOT NULL,
    visible_at timestamptz NOT NULL,
    receive_count integer NOT NULL DEFAULT 0,
    receipt text,
    last_error text
  )`,
  'CREATE INDEX queue_message_order ON queue_message (queue, id)',
  'CREATE INDEX queue_message_group ON queue_message (queue, group_id, id)',
  'CREATE INDEX queue_message_group_visible ON queue_message (queue, group_id, visible_at)',
  'CREATE UNIQUE INDEX queue_message_receipt ON queue_message (receipt) WHERE receipt IS NOT NULL',
  `CREATE TABLE queue_dedup (
    queue text NOT NULL,
    deduplication_id text NOT NULL,
    sent_at timestamptz NOT NULL,
    PRIMARY KEY (queue, deduplication_id)
  )`,
  'CREATE INDEX queue_dedup_expiry ON queue_dedup (queue, sent_at)',
];
