/**
 * The Lambda side of a queue worker: an SQS FIFO event source with partial batch failures (Powertools batch). After a
 * failure, `skipGroupOnError` fails the rest of THAT message group only (its order must hold) while other groups go
 * on; SQS redelivers the failed records and dead-letters them after the queue's maxReceiveCount.
 */

import { processPartialResponse, SqsFifoPartialProcessorAsync } from '@aws-lambda-powertools/batch';
import type { Logger } from '@aws-lambda-powertools/logger';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { FailureDescription } from './queue-worker.js';

export interface SqsJobHandlerOptions<B, R> {
  /** Creates the backend on the first invocation (and again after a failed creation). */
  createBackend(): Promise<B & { close(): Promise<void> }>;
  run(backend: B, body: string): Promise<R>;
  describeError(err: unknown): FailureDescription;
  logger: Logger;
  metrics: Metrics;
  /** Metric names of a processed and of a failed record, e.g. `CdaDone` / `CdaFailed`. */
  metricNames: { done: string; failed: string };
  /** Log message of a failed attempt. Default `job attempt failed`. */
  failureMessage?: string;
  /** After a record succeeded (warnings to log, more metrics). */
  onDone?(result: R, record: SQSRecord): void;
  /** After each invocation (e.g. relay the outbox rows the jobs committed). */
  afterBatch?(backend: B): Promise<void>;
}

export function createSqsJobHandler<B, R>(opts: SqsJobHandlerOptions<B, R>) {
  const { logger, metrics } = opts;
  let backend: Promise<B & { close(): Promise<void> }> | undefined;
  const getBackend = () => {
    if (!backend) {
      const attempt = opts.createBackend();
      backend = attempt;
      attempt.catch(() => {
        if (backend === attempt) backend = undefined;
      });
    }
    return backend;
  };

  const record = async (r: SQSRecord): Promise<void> => {
    const attempt = Number(r.attributes.ApproximateReceiveCount || '1');
    let result: R;
    try {
      result = await opts.run(await getBackend(), r.body);
    } catch (err) {
      const error = opts.describeError(err);
      metrics.addMetric(opts.metricNames.failed, MetricUnit.Count, 1);
      // The reason is content-free (codes, element paths); the job itself stays in the queue/DLQ.
      logger.warn(opts.failureMessage ?? 'job attempt failed', {
        messageId: r.messageId,
        attempt,
        error: error.code,
        reason: error.message,
      });
      throw err;
    }
    metrics.addMetric(opts.metricNames.done, MetricUnit.Count, 1);
    opts.onDone?.(result, r);
  };

  return {
    async base(event: SQSEvent, context: Context): Promise<SQSBatchResponse> {
      const processor = new SqsFifoPartialProcessorAsync();
      const response = await processPartialResponse(event, record, processor, { context, skipGroupOnError: true });
      const ready = opts.afterBatch ? await getBackend().catch(() => undefined) : undefined;
      if (ready && opts.afterBatch) {
        await opts
          .afterBatch(ready)
          .catch((err: unknown) =>
            logger.warn('after-batch step failed', { error: err instanceof Error ? err.name : 'unknown' }),
          );
      }
      return response;
    },
    async close() {
      const current = backend;
      backend = undefined;
      if (current) await (await current.catch(() => undefined))?.close();
    },
  };
}
