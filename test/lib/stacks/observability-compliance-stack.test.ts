import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { CIS_FILTERS } from '../../../lib/constructs/audit-trail.js';
import { createBridgeMetrics } from '../../../mllp-bridge/src/metrics.js';
import { propsOf, testPlatform } from '../cdk-test-app.js';

describe('ObservabilityStack (item 8: dashboard, alarms, topic)', () => {
  let t: Template;
  beforeAll(() => {
    t = testPlatform({ alarmEmail: 'astreinte@chu.example' }).templates.observability;
  });

  it('sends alarms to a KMS-encrypted topic, with the e-mail subscription from context', () => {
    t.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue(), TopicName: 'pfi-prod-alarms' });
    t.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'astreinte@chu.example' });
  });

  it("has the seed's thresholds: p99 500 ms / 2 s, 5XX rate 1 % / 5 %, HL7 depth 100 / 500, Fargate CPU and memory", () => {
    const alarms = Object.fromEntries(propsOf(t, 'AWS::CloudWatch::Alarm').map((a) => [a.AlarmName, a]));
    const threshold = (name: string) => alarms[`pfi-prod-${name}`]?.Threshold;
    expect([threshold('warning-api-p99-latency'), threshold('critical-api-p99-latency')]).toEqual([500, 2000]);
    expect([threshold('warning-api-error-rate'), threshold('critical-api-error-rate')]).toEqual([1, 5]);
    expect([threshold('warning-hl7-queue-depth'), threshold('critical-hl7-queue-depth')]).toEqual([100, 500]);
    expect([threshold('warning-mllp-cpu'), threshold('critical-mllp-cpu')]).toEqual([70, 90]);
    expect([threshold('warning-mllp-memory'), threshold('critical-mllp-memory')]).toEqual([80, 95]);
    expect(alarms['pfi-prod-warning-api-p99-latency']?.ExtendedStatistic).toBe('p99');
    // Error rate: metric math on 5XXError / Count.
    const expression = alarms['pfi-prod-critical-api-error-rate']?.Metrics.find((m: any) => m.Expression)?.Expression;
    expect(expression).toContain('errors / requests');
    for (const name of ['hl7-inbound-dlq', 'cda-dlq', 'mssante-dlq']) {
      expect(alarms[`pfi-prod-critical-${name}`]).toMatchObject({
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
      });
    }
    // Each DLQ alarm names the way back that works for its queue.
    expect(alarms['pfi-prod-critical-hl7-inbound-dlq']?.AlarmDescription).toContain('npm run hl7:redrive');
    for (const name of ['cda', 'mssante']) {
      const description: string = alarms[`pfi-prod-critical-${name}-dlq`]?.AlarmDescription ?? '';
      expect(description).toContain(`start-message-move-task from ${name}-dlq to ${name}`);
      expect(description).not.toContain('hl7:redrive');
    }
    for (const fn of ['fhir-api', 'hl7-ingest', 'cda-worker', 'mssante-worker', 'outbox-relay']) {
      expect(alarms[`pfi-prod-warning-${fn}-errors`]).toBeDefined();
      expect(alarms[`pfi-prod-warning-${fn}-throttles`]).toBeDefined();
    }
    expect(alarms['pfi-prod-warning-aurora-cpu']).toBeDefined();
    expect(alarms['pfi-prod-critical-aurora-freeable-memory']?.ComparisonOperator).toBe('LessThanThreshold');
    expect(Object.values(alarms).every((a: any) => a.AlarmActions.length === 1)).toBe(true);
  });

  it("alarms on each queue's oldest message, the bridge refusing messages or senders, and healthy NLB targets", () => {
    const alarms = Object.fromEntries(propsOf(t, 'AWS::CloudWatch::Alarm').map((a) => [a.AlarmName, a]));
    expect(alarms['pfi-prod-warning-hl7-oldest-message-age']).toMatchObject({
      MetricName: 'ApproximateAgeOfOldestMessage',
      Namespace: 'AWS/SQS',
      Threshold: 900,
    });
    expect(alarms['pfi-prod-critical-hl7-oldest-message-age']?.Threshold).toBe(3600);
    for (const queue of ['cda', 'mssante']) {
      expect(alarms[`pfi-prod-warning-${queue}-oldest-message-age`]?.Threshold).toBe(3600);
      expect(alarms[`pfi-prod-critical-${queue}-oldest-message-age`]?.Threshold).toBe(4 * 3600);
    }
    expect(alarms['pfi-prod-warning-hl7-inbound-oldest-message-age']).toBeUndefined();
    expect(alarms['pfi-prod-critical-mllp-queue-refused']).toMatchObject({
      Namespace: 'PFI',
      MetricName: 'AckAR_queue-error',
      Dimensions: [{ Name: 'Service', Value: 'mllp-bridge' }],
      Threshold: 0,
      EvaluationPeriods: 1,
    });
    const senderMetrics = (alarms['pfi-prod-warning-mllp-sender-refused']?.Metrics ?? [])
      .map((m: any) => m.MetricStat?.Metric.MetricName)
      .filter(Boolean);
    expect(senderMetrics.sort()).toEqual(['AckAR_not-allowed', 'AckAR_unknown-sender']);
    const rejected = alarms['pfi-prod-warning-mllp-messages-rejected'];
    expect(rejected).toMatchObject({ Threshold: 0, ComparisonOperator: 'GreaterThanThreshold' });
    expect(
      (rejected?.Metrics ?? [])
        .map((m: any) => m.MetricStat?.Metric.MetricName)
        .filter(Boolean)
        .sort(),
    ).toEqual(['AckAE', 'AckAR_oversize']);
    // Healthy targets: fewer than pfi:mllpMinTasks (2) is a warning, none is critical; no data counts as none.
    for (const [severity, threshold] of [
      ['warning', 2],
      ['critical', 1],
    ] as const) {
      expect(alarms[`pfi-prod-${severity}-mllp-healthy-targets`]).toMatchObject({
        Namespace: 'AWS/NetworkELB',
        MetricName: 'HealthyHostCount',
        Statistic: 'Minimum',
        Threshold: threshold,
        ComparisonOperator: 'LessThanThreshold',
        TreatMissingData: 'breaching',
      });
    }
  });

  it('names only metrics the bridge really emits, with its dimension', () => {
    const metrics = createBridgeMetrics();
    for (const reason of ['queue-error', 'unknown-sender', 'not-allowed', 'oversize'] as const) {
      metrics.recordEvent({ type: 'ack', code: 'AR', reason });
    }
    metrics.recordEvent({ type: 'ack', code: 'AE', reason: 'unsupported-message' });
    const emf = JSON.parse(metrics.emfLine(new Date()));
    const emitted = new Set(emf._aws.CloudWatchMetrics[0].Metrics.map((m: { Name: string }) => m.Name));
    expect(emf._aws.CloudWatchMetrics[0].Dimensions).toEqual([['Service']]);
    const read = propsOf(t, 'AWS::CloudWatch::Alarm').flatMap((a: any) => [
      ...(a.Namespace === 'PFI' && a.Dimensions?.[0]?.Name === 'Service' ? [a] : []),
      ...(a.Metrics ?? [])
        .map((m: any) => m.MetricStat?.Metric)
        .filter((m: any) => m?.Namespace === 'PFI' && m.Dimensions?.[0]?.Name === 'Service'),
    ]);
    expect(read.length).toBeGreaterThanOrEqual(3);
    for (const m of read) {
      expect(m.Dimensions).toEqual([{ Name: 'Service', Value: emf.Service }]);
      expect(emitted.has(m.MetricName), m.MetricName).toBe(true);
    }
  });

  it('warns on failed worker attempts and an outbox backlog, and a relay that stopped reporting is critical', () => {
    const alarms = Object.fromEntries(propsOf(t, 'AWS::CloudWatch::Alarm').map((a) => [a.AlarmName, a]));
    for (const [name, service, metric] of [
      ['hl7-ingest-failed', 'pfi-hl7-ingest', 'Hl7Failed'],
      ['cda-worker-failed', 'pfi-cda-worker', 'CdaFailed'],
      ['mssante-worker-failed', 'pfi-mssante-worker', 'MssanteFailed'],
    ]) {
      expect(alarms[`pfi-prod-warning-${name}`]).toMatchObject({
        Namespace: 'PFI',
        MetricName: metric,
        Dimensions: [{ Name: 'service', Value: service }],
        Statistic: 'Sum',
        Threshold: 0,
      });
    }
    expect(alarms['pfi-prod-warning-outbox-pending']?.Threshold).toBe(1000);
    expect(alarms['pfi-prod-critical-outbox-pending']).toMatchObject({
      MetricName: 'OutboxPending',
      Dimensions: [{ Name: 'service', Value: 'pfi-outbox-relay' }],
      Threshold: 10000,
      TreatMissingData: 'breaching',
    });
  });

  it('has a dashboard with the API, HL7, queues, DLQs, workers, Aurora and Fargate', () => {
    const body = JSON.stringify(propsOf(t, 'AWS::CloudWatch::Dashboard')[0]?.DashboardBody);
    for (const title of [
      'FHIR API latency',
      'HL7 received / ACKed',
      'Queue depths',
      'Dead-letter queues',
      'Function errors',
      'Aurora',
      'MLLP bridge',
      'HL7 oldest message age',
      'Failed attempts',
      'Outbox pending',
    ]) {
      expect(body).toContain(title);
    }
  });
});

describe('ComplianceStack (item 7: CloudTrail, CIS alarms, audit export)', () => {
  let t: Template;
  beforeAll(() => {
    t = testPlatform().templates.compliance;
  });

  it('records a multi-region trail with log file validation, KMS and CloudWatch Logs delivery', () => {
    t.hasResourceProperties('AWS::CloudTrail::Trail', {
      IsMultiRegionTrail: true,
      IncludeGlobalServiceEvents: true,
      EnableLogFileValidation: true,
      KMSKeyId: Match.anyValue(),
      CloudWatchLogsLogGroupArn: Match.anyValue(),
    });
  });

  it('records data events for the documents bucket and the RDS Data API', () => {
    const selectors = propsOf(t, 'AWS::CloudTrail::Trail')[0]?.AdvancedEventSelectors;
    const text = JSON.stringify(selectors);
    expect(text).toContain('AWS::S3::Object');
    expect(text).toContain('AWS::RDS::DBCluster');
    expect(text).toContain('cluster:');
  });

  it('keeps the trail and the audit export under Object Lock in compliance mode', () => {
    const locked = propsOf(t, 'AWS::S3::Bucket').filter((b) => b.ObjectLockEnabled);
    expect(locked).toHaveLength(2);
    const days = locked.map((b) => b.ObjectLockConfiguration.Rule.DefaultRetention).sort((a, b) => a.Days - b.Days);
    expect(days).toEqual([
      { Mode: 'COMPLIANCE', Days: 365 },
      { Mode: 'COMPLIANCE', Days: 1825 },
    ]);
    expect(
      locked.every(
        (b) =>
          b.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm ===
          'aws:kms',
      ),
    ).toBe(true);
  });

  it('raises CIS alarms: unauthorised calls, root use, IAM, CloudTrail, KMS and security-group changes', () => {
    const filters = propsOf(t, 'AWS::Logs::MetricFilter');
    expect(filters.map((f) => f.MetricTransformations[0].MetricName).sort()).toEqual(Object.keys(CIS_FILTERS).sort());
    const alarms = propsOf(t, 'AWS::CloudWatch::Alarm');
    expect(alarms).toHaveLength(Object.keys(CIS_FILTERS).length);
    expect(alarms.every((a) => a.AlarmActions.length === 1)).toBe(true);
  });

  it('tags the audit resources with their classification', () => {
    t.hasResourceProperties('AWS::CloudTrail::Trail', {
      Tags: Match.arrayWith([{ Key: 'pfi:data-classification', Value: 'audit' }]),
    });
  });
});
