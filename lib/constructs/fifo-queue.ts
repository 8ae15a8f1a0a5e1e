import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

export interface FifoQueueProps {
  /** Queue name without `.fifo`, e.g. `pfi-prod-hl7-inbound`. */
  queueName: string;
  key: kms.IKey;
  /** Visibility timeout: 6× the consumer's function timeout (AWS guidance for SQS event sources). */
  consumerTimeout: Duration;
  /** Deliveries before the dead-letter queue. Default 5. */
  maxReceiveCount?: number;
  retention?: Duration;
}

/** Ratio of the visibility timeout to the consumer's timeout (Lambda SQS event-source guidance). */
export const VISIBILITY_TIMEOUT_FACTOR = 6;
export const DLQ_RETENTION = Duration.days(14);

/**
 * An SQS FIFO queue and its FIFO dead-letter queue, both under the data key with TLS-only policies. Deduplication
 * is by content (the producers also give explicit ids), message groups keep per-patient order.
 */
export class FifoQueue extends Construct {
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  readonly key: kms.IKey;
  /** Deliveries before the dead-letter queue (the workers' `PFI_*_MAX_RECEIVES` must say the same). */
  readonly maxReceiveCount: number;

  constructor(scope: Construct, id: string, props: FifoQueueProps) {
    super(scope, id);
    this.key = props.key;
    this.maxReceiveCount = props.maxReceiveCount ?? 5;
    const common = {
      fifo: true,
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: props.key,
      dataKeyReuse: Duration.minutes(5),
      enforceSSL: true,
      removalPolicy: RemovalPolicy.RETAIN,
    } satisfies sqs.QueueProps;
    this.deadLetterQueue = new sqs.Queue(this, 'Dlq', {
      ...common,
      queueName: `${props.queueName}-dlq.fifo`,
      retentionPeriod: DLQ_RETENTION,
    });
    this.queue = new sqs.Queue(this, 'Queue', {
      ...common,
      queueName: `${props.queueName}.fifo`,
      contentBasedDeduplication: true,
      visibilityTimeout: Duration.seconds(props.consumerTimeout.toSeconds() * VISIBILITY_TIMEOUT_FACTOR),
      retentionPeriod: props.retention ?? Duration.days(4),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: this.maxReceiveCount },
    });
  }
}
