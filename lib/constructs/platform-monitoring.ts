import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import type * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as rds from 'aws-cdk-lib/aws-rds';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

export interface PlatformMonitoringProps {
  stage: string;
  topic: sns.ITopic;
  /** API Gateway `ApiName` and stage. */
  apiName: string;
  apiStage: string;
  hl7Queue: sqs.IQueue;
  /** Every queue by name (depth widgets) and every dead-letter queue (alarm on any message). */
  queues: Record<string, sqs.IQueue>;
  deadLetterQueues: Record<string, sqs.IQueue>;
  functions: Record<string, lambda.IFunction>;
  cluster: rds.IDatabaseCluster;
  mllpService: ecs.FargateService;
  /** The NLB target group of the bridge's tasks (healthy-target alarms). */
  mllpTargets: elbv2.NetworkTargetGroup;
  /** Tasks the bridge should always run (`pfi:mllpMinTasks`): fewer healthy targets is a warning. */
  mllpMinTasks: number;
}

/** The seed's alarm thresholds: warning and critical. */
export const THRESHOLDS = {
  apiP99Ms: { warning: 500, critical: 2000 },
  apiErrorRatePercent: { warning: 1, critical: 5 },
  hl7QueueDepth: { warning: 100, critical: 500 },
  fargateCpuPercent: { warning: 70, critical: 90 },
  fargateMemoryPercent: { warning: 80, critical: 95 },
  auroraCpuPercent: { warning: 80, critical: 95 },
  /** Bytes; below this the writer is short of memory for its current capacity. */
  auroraFreeableMemoryBytes: { warning: 512 * 1024 * 1024, critical: 256 * 1024 * 1024 },
  /** Seconds the oldest hl7-inbound message has waited: FHIR lags the hospital by about that much. */
  hl7OldestMessageSeconds: { warning: 15 * 60, critical: 60 * 60 },
  /** The same for the document queues (cda, mssante): a report or a mail late by that much. */
  documentOldestMessageSeconds: { warning: 60 * 60, critical: 4 * 60 * 60 },
  /** Outbox rows (documents to relay, AuditEvents to chain) the relay has not handled yet. */
  outboxPending: { warning: 1_000, critical: 10_000 },
} as const;

type Severity = 'warning' | 'critical';

/**
 * Dashboard and alarms of the platform. Every alarm notifies the KMS-encrypted topic on ALARM and OK; names say the
 * severity (`pfi-<stage>-<severity>-<what>`) so the on-call tool can route them.
 */
export class PlatformMonitoring extends Construct {
  readonly dashboard: cloudwatch.Dashboard;
  readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: PlatformMonitoringProps) {
    super(scope, id);
    const p = props;
    const five = Duration.minutes(5);
    const api = (metricName: string, statistic: string) =>
      new cloudwatch.Metric({
        namespace: 'AWS/ApiGateway',
        metricName,
        dimensionsMap: { ApiName: p.apiName, Stage: p.apiStage },
        statistic,
        period: five,
      });
    const bridge = (metricName: string) =>
      new cloudwatch.Metric({
        namespace: 'PFI',
        metricName,
        dimensionsMap: { Service: 'mllp-bridge' },
        statistic: 'Sum',
        period: five,
      });
    const latencyP99 = api('Latency', 'p99');
    const errorRate = new cloudwatch.MathExpression({
      expression: 'IF(requests > 0, 100 * errors / requests, 0)',
      usingMetrics: { errors: api('5XXError', 'Sum'), requests: api('Count', 'Sum') },
      label: 'API 5XX error rate (%)',
      period: five,
    });
    const hl7Depth = p.hl7Queue.metricApproximateNumberOfMessagesVisible({ period: five, statistic: 'Maximum' });
    const cpu = p.mllpService.metricCpuUtilization({ period: five });
    const memory = p.mllpService.metricMemoryUtilization({ period: five });
    const clusterMetric = (metricName: string, statistic: string) =>
      new cloudwatch.Metric({
        namespace: 'AWS/RDS',
        metricName,
        dimensionsMap: { DBClusterIdentifier: p.cluster.clusterIdentifier },
        statistic,
        period: five,
      });
    const auroraCpu = clusterMetric('CPUUtilization', 'Maximum');
    const auroraMemory = clusterMetric('FreeableMemory', 'Minimum');

    const alarm = (
      name: string,
      severity: Severity,
      metric: cloudwatch.IMetric,
      threshold: number,
      description: string,
      below = false,
      missing = cloudwatch.TreatMissingData.NOT_BREACHING,
    ) => {
      const a = new cloudwatch.Alarm(this, `${severity}-${name}`, {
        alarmName: `pfi-${p.stage}-${severity}-${name}`,
        alarmDescription: description,
        metric,
        threshold,
        evaluationPeriods: severity === 'critical' ? 1 : 3,
        datapointsToAlarm: severity === 'critical' ? 1 : 2,
        comparisonOperator: below
          ? cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD
          : cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: missing,
      });
      a.addAlarmAction(new actions.SnsAction(p.topic));
      a.addOkAction(new actions.SnsAction(p.topic));
      this.alarms.push(a);
      return a;
    };
    const both = (
      name: string,
      metric: cloudwatch.IMetric,
      t: { warning: number; critical: number },
      what: string,
      below = false,
      missing = cloudwatch.TreatMissingData.NOT_BREACHING,
    ) => {
      alarm(name, 'warning', metric, t.warning, `${what} ${below ? '<' : '>'} ${t.warning}`, below, missing);
      alarm(name, 'critical', metric, t.critical, `${what} ${below ? '<' : '>'} ${t.critical}`, below, missing);
    };
    both('api-p99-latency', latencyP99, THRESHOLDS.apiP99Ms, 'FHIR API p99 latency (ms)');
    both('api-error-rate', errorRate, THRESHOLDS.apiErrorRatePercent, 'FHIR API 5XX rate (%)');
    both('hl7-queue-depth', hl7Depth, THRESHOLDS.hl7QueueDepth, 'HL7 messages waiting in hl7-inbound');
    both('mllp-cpu', cpu, THRESHOLDS.fargateCpuPercent, 'MLLP bridge CPU (%)');
    both('mllp-memory', memory, THRESHOLDS.fargateMemoryPercent, 'MLLP bridge memory (%)');
    both('aurora-cpu', auroraCpu, THRESHOLDS.auroraCpuPercent, 'Aurora CPU (%)');
    both(
      'aurora-freeable-memory',
      auroraMemory,
      THRESHOLDS.auroraFreeableMemoryBytes,
      'Aurora freeable memory (bytes)',
      true,
    );
    both(
      'hl7-oldest-message-age',
      p.hl7Queue.metricApproximateAgeOfOldestMessage({ period: five, statistic: 'Maximum' }),
      THRESHOLDS.hl7OldestMessageSeconds,
      'Age of the oldest message waiting in hl7-inbound (s)',
    );
    for (const [name, queue] of Object.entries(p.queues)) {
      if (queue === p.hl7Queue) continue;
      both(
        `${name}-oldest-message-age`,
        queue.metricApproximateAgeOfOldestMessage({ period: five, statistic: 'Maximum' }),
        THRESHOLDS.documentOldestMessageSeconds,
        `Age of the oldest message waiting in ${name} (s)`,
      );
    }

    // The bridge's own EMF metrics. AR means the sender must retry: a refused enqueue is an outage of the queue path
    // (SQS, the S3 claim check, KMS); a refused sender is a partner missing from, or refused by, the registry.
    alarm(
      'mllp-queue-refused',
      'critical',
      bridge('AckAR_queue-error'),
      0,
      'MLLP bridge answered AR: the queue refused messages, senders retry (docs/operations.md 3.4)',
    );
    alarm(
      'mllp-sender-refused',
      'warning',
      new cloudwatch.MathExpression({
        expression: 'FILL(unknown, 0) + FILL(refused, 0)',
        usingMetrics: { unknown: bridge('AckAR_unknown-sender'), refused: bridge('AckAR_not-allowed') },
        label: 'AR to senders the partner registry does not allow',
        period: five,
      }),
      0,
      'MLLP bridge refused a sender missing from, or not allowed by, the partner registry (docs/operations.md 3.4)',
    );
    // AE (not HL7 the bridge can read, a type the platform does not process) and AR for an oversize frame: the sender
    // must not resend these as they are, so its engine holds them or drops them; nobody else would notice.
    alarm(
      'mllp-messages-rejected',
      'warning',
      new cloudwatch.MathExpression({
        expression: 'FILL(rejected, 0) + FILL(oversize, 0)',
        usingMetrics: { rejected: bridge('AckAE'), oversize: bridge('AckAR_oversize') },
        label: 'Messages answered AE, or AR for their size',
        period: five,
      }),
      0,
      'MLLP bridge rejected messages (AE, or AR for their size): the senders will not resend them as they are (docs/operations.md 3.4)',
    );
    // The NLB reports healthy targets every minute whatever the traffic: no data means no report, treated as none.
    const healthyTargets = p.mllpTargets.metrics.healthyHostCount({
      period: Duration.minutes(1),
      statistic: 'Minimum',
    });
    alarm(
      'mllp-healthy-targets',
      'warning',
      healthyTargets,
      p.mllpMinTasks,
      `MLLP bridge: fewer healthy NLB targets than pfi:mllpMinTasks (${p.mllpMinTasks})`,
      true,
      cloudwatch.TreatMissingData.BREACHING,
    );
    alarm(
      'mllp-healthy-targets',
      'critical',
      healthyTargets,
      1,
      'MLLP bridge: no healthy NLB target, hospitals cannot connect',
      true,
      cloudwatch.TreatMissingData.BREACHING,
    );

    // A failed attempt is retried; the DLQ alarm fires when one runs out of attempts. These say it earlier.
    const failed = (service: string, metricName: string) =>
      new cloudwatch.Metric({
        namespace: 'PFI',
        metricName,
        dimensionsMap: { service },
        statistic: 'Sum',
        period: five,
      });
    for (const [name, service, metricName] of [
      ['hl7-ingest-failed', 'pfi-hl7-ingest', 'Hl7Failed'],
      ['cda-worker-failed', 'pfi-cda-worker', 'CdaFailed'],
      ['mssante-worker-failed', 'pfi-mssante-worker', 'MssanteFailed'],
    ] as const) {
      alarm(name, 'warning', failed(service, metricName), 0, `${metricName}: message attempts failed (retried)`);
    }
    // The relay reports every minute; silence means it stopped, and the audit chain stops with it.
    const outboxPending = new cloudwatch.Metric({
      namespace: 'PFI',
      metricName: 'OutboxPending',
      dimensionsMap: { service: 'pfi-outbox-relay' },
      statistic: 'Maximum',
      period: five,
    });
    both(
      'outbox-pending',
      outboxPending,
      THRESHOLDS.outboxPending,
      'Outbox rows not yet relayed (documents, AuditEvents); no report means the relay stopped',
      false,
      cloudwatch.TreatMissingData.BREACHING,
    );

    for (const [name, dlq] of Object.entries(p.deadLetterQueues)) {
      // `hl7:redrive` moves hl7-inbound's dead letters only; the document queues' go back with an SQS move task.
      const redrive =
        name === 'hl7-inbound'
          ? 'npm run hl7:redrive'
          : `aws sqs start-message-move-task from ${name}-dlq to ${name}, docs/operations.md`;
      alarm(
        `${name}-dlq`,
        'critical',
        dlq.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum' }),
        0,
        `Messages dead-lettered from ${name}: inspect and redrive (${redrive})`,
      );
    }
    for (const [name, fn] of Object.entries(p.functions)) {
      alarm(
        `${name}-errors`,
        'warning',
        fn.metricErrors({ period: five, statistic: 'Sum' }),
        0,
        `${name} function errors`,
      );
      alarm(
        `${name}-throttles`,
        'warning',
        fn.metricThrottles({ period: five, statistic: 'Sum' }),
        0,
        `${name} throttled`,
      );
    }

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: `pfi-${p.stage}`,
      defaultInterval: Duration.hours(3),
    });
    const graph = (title: string, left: cloudwatch.IMetric[], width = 8) =>
      new cloudwatch.GraphWidget({ title, left, width, height: 6 });
    this.dashboard.addWidgets(
      graph('FHIR API latency (ms)', [api('Latency', 'p50'), latencyP99, api('IntegrationLatency', 'p99')]),
      graph('FHIR API requests and errors', [api('Count', 'Sum'), api('4XXError', 'Sum'), api('5XXError', 'Sum')]),
      graph('FHIR API 5XX rate (%)', [errorRate]),
    );
    this.dashboard.addWidgets(
      graph('HL7 received / ACKed (MLLP)', [bridge('Received'), bridge('AckAA'), bridge('AckAE'), bridge('AckAR')]),
      graph(
        'Queue depths',
        Object.entries(p.queues).map(([name, q]) =>
          q.metricApproximateNumberOfMessagesVisible({ label: name, period: five, statistic: 'Maximum' }),
        ),
      ),
      graph(
        'Dead-letter queues',
        Object.entries(p.deadLetterQueues).map(([name, q]) =>
          q.metricApproximateNumberOfMessagesVisible({ label: `${name} DLQ`, period: five, statistic: 'Maximum' }),
        ),
      ),
    );
    this.dashboard.addWidgets(
      graph(
        'Function errors and throttles',
        Object.entries(p.functions).flatMap(([name, fn]) => [
          fn.metricErrors({ label: `${name} errors`, period: five }),
          fn.metricThrottles({ label: `${name} throttles`, period: five }),
        ]),
      ),
      graph('Aurora', [
        auroraCpu,
        clusterMetric('ServerlessDatabaseCapacity', 'Average'),
        clusterMetric('DatabaseConnections', 'Maximum'),
      ]),
      graph('MLLP bridge (Fargate)', [cpu, memory, bridge('ConnectionsOpen'), healthyTargets]),
    );
    this.dashboard.addWidgets(
      graph('HL7 oldest message age (s)', [
        p.hl7Queue.metricApproximateAgeOfOldestMessage({ period: five, statistic: 'Maximum' }),
      ]),
      graph('Failed attempts (retried)', [
        failed('pfi-hl7-ingest', 'Hl7Failed'),
        failed('pfi-cda-worker', 'CdaFailed'),
        failed('pfi-mssante-worker', 'MssanteFailed'),
      ]),
      graph('Outbox pending', [outboxPending]),
    );
  }
}
