import { type Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambdaEvents from 'aws-cdk-lib/aws-lambda-event-sources';
import { Construct } from 'constructs';
import type { FifoQueue } from './fifo-queue.js';
import { PfiFunction, type PfiFunctionProps } from './pfi-function.js';

export interface QueueWorkerProps extends Omit<PfiFunctionProps, 'timeout' | 'reservedConcurrency'> {
  queue: FifoQueue;
  /** Function timeout; the queue's visibility timeout must be 6× this (checked). */
  timeout: Duration;
  /** Most concurrent batches (FIFO: also bounded by the number of active message groups). */
  maxConcurrency: number;
}

/** Batch size on FIFO queues: at most 10; a batch stays inside one message group's order. */
export const FIFO_BATCH_SIZE = 10;

/**
 * A Lambda worker on a FIFO queue: partial batch responses (`ReportBatchItemFailures`, so one bad message does not
 * redeliver its batch), maximum concurrency on the event source with the same reserved concurrency on the function
 * (no throttled invocations returning messages to the queue), and no batching window (FIFO does not allow one).
 */
export class QueueWorker extends Construct {
  readonly worker: PfiFunction;

  constructor(scope: Construct, id: string, props: QueueWorkerProps) {
    super(scope, id);
    if (!props.queue.queue.fifo) throw new Error('QueueWorker: the queue must be FIFO');
    this.worker = new PfiFunction(this, 'Worker', { ...props, reservedConcurrency: props.maxConcurrency });
    // Receive, delete, extend visibility (the event source mapping does it with the function's role).
    this.worker.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueAttributes'],
        resources: [props.queue.queue.queueArn],
      }),
    );
    this.worker.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['kms:Decrypt'],
        resources: [props.queue.key.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `sqs.${Stack.of(this).region}.amazonaws.com` } },
      }),
    );
    this.worker.function.addEventSource(
      new lambdaEvents.SqsEventSource(props.queue.queue, {
        batchSize: FIFO_BATCH_SIZE,
        reportBatchItemFailures: true,
        maxConcurrency: props.maxConcurrency,
      }),
    );
  }
}
