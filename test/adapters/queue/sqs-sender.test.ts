import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { sqsSender } from '../../../lambdas/adapters/queue/sqs-sender.js';

const sqs = mockClient(SQSClient);
const URL = 'https://sqs.eu-west-3.amazonaws.com/123456789012/pfi-cda.fifo';
const messages = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ body: `{"n":${i}}`, groupId: `g${i % 3}`, deduplicationId: `outbox-${i}` }));

describe('sqsSender', () => {
  beforeEach(() => sqs.reset());

  it('sends FIFO batches of at most 10 with group and deduplication ids', async () => {
    sqs.on(SendMessageBatchCommand).resolves({ Successful: [], Failed: [] });
    await sqsSender(new SQSClient({ region: 'eu-west-3' }), { cda: URL }).send('cda', messages(23));
    const calls = sqs.commandCalls(SendMessageBatchCommand);
    expect(calls.map((c) => c.args[0].input.Entries?.length)).toEqual([10, 10, 3]);
    expect(calls[0]!.args[0].input.QueueUrl).toBe(URL);
    expect(calls[2]!.args[0].input.Entries?.[2]).toEqual({
      Id: '2',
      MessageBody: '{"n":22}',
      MessageGroupId: 'g1',
      MessageDeduplicationId: 'outbox-22',
    });
  });

  it('throws when SQS refuses part of a batch, and for a queue without URL', async () => {
    sqs.on(SendMessageBatchCommand).resolves({
      Successful: [],
      Failed: [{ Id: '1', Code: 'InternalError', SenderFault: false }],
    });
    const sender = sqsSender(new SQSClient({ region: 'eu-west-3' }), { cda: URL });
    await expect(sender.send('cda', messages(2))).rejects.toThrow('SQS refused 1 of 2 messages (InternalError)');
    await expect(sender.send('mssante', messages(1))).rejects.toThrow('no queue URL is configured for mssante');
  });
});
