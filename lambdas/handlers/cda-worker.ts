/**
 * Lambda entry point of the cda worker: SQS FIFO queue `cda` (one group per DiagnosticReport), fed by the outbox
 * relay. Each job turns a lab report into its CI-SIS CR-BIO document (lambdas/documents/lab-report.ts).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import { createSqsJobHandler } from '../adapters/queue/sqs-job-handler.js';
import { createDocumentsBackend, type DocumentsBackend } from '../documents/backend.js';
import { describeDocumentError, runCdaJob } from '../documents/jobs.js';

const SERVICE = 'pfi-cda-worker';

export const runJob = (b: DocumentsBackend, body: string) =>
  runCdaJob({ service: b.service, documents: b.documents, organisation: b.organisation, pdf: b.config.cda.pdf }, body);

const logger = new Logger({ serviceName: SERVICE });
const metrics = new Metrics({ namespace: 'PFI', serviceName: SERVICE });
const jobs = createSqsJobHandler({
  createBackend: createDocumentsBackend,
  run: runJob,
  describeError: describeDocumentError,
  logger,
  metrics,
  metricNames: { done: 'CdaDone', failed: 'CdaFailed' },
});

/** The Lambda handler (report batch item failures must be enabled on the event source mapping). */
export const handler = middy(jobs.base)
  .use(injectLambdaContext(logger, { clearState: true }))
  .use(logMetrics(metrics));

export const __closeForTests = jobs.close;
