/**
 * The queue sender on SQS FIFO (the outbox relay in AWS): `SendMessageBatch` in batches of 10, each named queue
 * mapped to its URL. A partly failed batch throws, so the relay keeps the outbox rows and resends them (FIFO
 * deduplication drops the copies that did go through).
 */

import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { QueueSender } from './outbox-relay.js';
import { type OutgoingMessage, QueueError } from './queue.js';

const BATCH = 10;

export function sqsSender(client: SQSClient, queueUrls: Readonly<Record<string, string | undefined>>): QueueSender {
  return {
    async send(queue: string, messages: OutgoingMessage[]) {
      const url = queueUrls[queue];
      if (!url) throw new QueueError(`no queue URL is configured for ${queue}`);
      for (let i = 0; i < messages.length; i += BATCH) {
        const chunk = messages.slice(i, i + BATCH);
        const res = await client.send(
          new SendMessageBatchCommand({
            QueueUrl: url,
            Entries: chunk.map((m, j) => ({
              Id: String(j),
              MessageBody: m.body,
              MessageGroupId: m.groupId,
              MessageDeduplicationId: m.deduplicationId,
            })),
          }),
        );
        if (res.Failed?.length) {
          throw new QueueError(`SQS refused ${res.Failed.length} of ${chunk.length} messages (${res.Failed[0]?.Code})`);
        }
      }
    },
  };
}
