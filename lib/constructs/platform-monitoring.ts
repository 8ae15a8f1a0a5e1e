import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
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
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
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
    ) => {
      alarm(name, 'warning', metric, t.warning, `${what} ${below ? '<' : '>'} ${t.warning}`, below);
      alarm(name, 'critical', metric, t.critical, `${what} ${below ? '<' : '>'} ${t.critical}`, below);
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
      graph('MLLP bridge (Fargate)', [cpu, memory, bridge('ConnectionsOpen')]),
    );
  }
}
