/**
 * Lambda entry point of the MSSanté worker: SQS FIFO queue `mssante` (one group per Communication), fed by the
 * outbox relay. Each job mails a Communication's document over MSSanté (lambdas/documents/send-communication.ts);
 * a temporary SMTP failure fails the record, SQS redelivers it after the visibility timeout, then dead-letters it.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import { createSqsJobHandler } from '../adapters/queue/sqs-job-handler.js';
import { createDocumentsBackend, mssanteDepsOf } from '../documents/backend.js';
import { describeDocumentError, runMssanteJob } from '../documents/jobs.js';

const SERVICE = 'pfi-mssante-worker';

async function createBackend() {
  const backend = await createDocumentsBackend();
  try {
    const deps = await mssanteDepsOf(backend);
    return {
      deps,
      close: async () => {
        deps.close();
        await backend.close();
      },
    };
  } catch (err) {
    await backend.close();
    throw err;
  }
}

const logger = new Logger({ serviceName: SERVICE });
const metrics = new Metrics({ namespace: 'PFI', serviceName: SERVICE });
const jobs = createSqsJobHandler({
  createBackend,
  run: (b, body) => runMssanteJob(b.deps, body),
  describeError: describeDocumentError,
  logger,
  metrics,
  metricNames: { done: 'MssanteDone', failed: 'MssanteFailed' },
});

/** The Lambda handler (report batch item failures must be enabled on the event source mapping). */
export const handler = middy(jobs.base)
  .use(injectLambdaContext(logger, { clearState: true }))
  .use(logMetrics(metrics));

export const __closeForTests = jobs.close;
