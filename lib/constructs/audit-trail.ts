import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cloudtrail from 'aws-cdk-lib/aws-cloudtrail';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as rds from 'aws-cdk-lib/aws-rds';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { kmsBucket } from './buckets.js';

export interface AuditTrailProps {
  stage: string;
  key: kms.IKey;
  accessLogs: s3.IBucket;
  /** Object Lock (compliance mode) retention of the trail's log files. */
  retentionDays: number;
  logRetention: logs.RetentionDays;
  /** Data events recorded for these: object reads/writes of the documents bucket, Data API calls on the cluster. */
  documentsBucket: s3.IBucket;
  cluster: rds.IDatabaseCluster;
  alarmTopic: sns.ITopic;
}

/** CIS AWS Foundations 3.x/4.x metric filters on the CloudTrail log group. */
export const CIS_FILTERS: Record<string, { description: string; pattern: string }> = {
  UnauthorizedApiCalls: {
    description: 'Unauthorized API calls (CIS 4.1)',
    pattern: '{ ($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*") }',
  },
  RootAccountUsage: {
    description: 'Use of the root account (CIS 4.3)',
    pattern:
      '{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType != "AwsServiceEvent" }',
  },
  IamPolicyChanges: {
    description: 'IAM policy changes (CIS 4.4)',
    pattern:
      '{ ($.eventSource = iam.amazonaws.com) && (($.eventName = DeleteGroupPolicy) || ($.eventName = DeleteRolePolicy) || ($.eventName = DeleteUserPolicy) || ($.eventName = PutGroupPolicy) || ($.eventName = PutRolePolicy) || ($.eventName = PutUserPolicy) || ($.eventName = CreatePolicy) || ($.eventName = DeletePolicy) || ($.eventName = CreatePolicyVersion) || ($.eventName = DeletePolicyVersion) || ($.eventName = AttachRolePolicy) || ($.eventName = DetachRolePolicy) || ($.eventName = AttachUserPolicy) || ($.eventName = DetachUserPolicy) || ($.eventName = AttachGroupPolicy) || ($.eventName = DetachGroupPolicy)) }',
  },
  CloudTrailChanges: {
    description: 'CloudTrail configuration changes (CIS 4.5)',
    pattern:
      '{ ($.eventName = CreateTrail) || ($.eventName = UpdateTrail) || ($.eventName = DeleteTrail) || ($.eventName = StartLogging) || ($.eventName = StopLogging) || ($.eventName = PutEventSelectors) }',
  },
  KmsKeyDisabledOrDeleted: {
    description: 'KMS customer-managed keys disabled or scheduled for deletion (CIS 4.7)',
    pattern:
      '{ ($.eventSource = kms.amazonaws.com) && (($.eventName = DisableKey) || ($.eventName = ScheduleKeyDeletion)) }',
  },
  SecurityGroupChanges: {
    description: 'Security group changes (CIS 4.10)',
    pattern:
      '{ ($.eventName = AuthorizeSecurityGroupIngress) || ($.eventName = AuthorizeSecurityGroupEgress) || ($.eventName = RevokeSecurityGroupIngress) || ($.eventName = RevokeSecurityGroupEgress) || ($.eventName = CreateSecurityGroup) || ($.eventName = DeleteSecurityGroup) }',
  },
};

/**
 * The account's CloudTrail: multi-region, global service events, log file validation, SSE-KMS with the logs key,
 * into a versioned bucket under Object Lock in compliance mode (nobody can delete or rewrite a log file before the
 * retention ends), and a copy in CloudWatch Logs where the CIS metric filters raise alarms. Data events: reads and
 * writes of the documents bucket's objects, and every RDS Data API call on the cluster (advanced event selectors:
 * Data API events are only available that way).
 */
export class AuditTrail extends Construct {
  readonly trail: cloudtrail.Trail;
  readonly bucket: s3.Bucket;
  readonly logGroup: logs.LogGroup;
  readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: AuditTrailProps) {
    super(scope, id);
    this.bucket = kmsBucket(this, 'Bucket', {
      key: props.key,
      accessLogs: props.accessLogs,
      accessLogsPrefix: 'cloudtrail',
      objectLockDays: props.retentionDays,
      lifecycleRules: [{ id: 'expire-after-lock', expiration: Duration.days(props.retentionDays + 1) }],
    });
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      encryptionKey: props.key,
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.trail = new cloudtrail.Trail(this, 'Trail', {
      trailName: `pfi-${props.stage}`,
      bucket: this.bucket,
      encryptionKey: props.key,
      isMultiRegionTrail: true,
      includeGlobalServiceEvents: true,
      enableFileValidation: true,
      sendToCloudWatchLogs: true,
      cloudWatchLogGroup: this.logGroup,
    });
    const cfn = this.trail.node.defaultChild as cloudtrail.CfnTrail;
    cfn.advancedEventSelectors = [
      {
        name: 'Management events',
        fieldSelectors: [{ field: 'eventCategory', equalTo: ['Management'] }],
      },
      {
        name: 'Documents bucket objects',
        fieldSelectors: [
          { field: 'eventCategory', equalTo: ['Data'] },
          { field: 'resources.type', equalTo: ['AWS::S3::Object'] },
          { field: 'resources.ARN', startsWith: [`${props.documentsBucket.bucketArn}/`] },
        ],
      },
      {
        name: 'RDS Data API',
        fieldSelectors: [
          { field: 'eventCategory', equalTo: ['Data'] },
          { field: 'resources.type', equalTo: ['AWS::RDS::DBCluster'] },
          {
            field: 'resources.ARN',
            equalTo: [
              `arn:${Stack.of(this).partition}:rds:${Stack.of(this).region}:${Stack.of(this).account}:cluster:${props.cluster.clusterIdentifier}`,
            ],
          },
        ],
      },
    ];

    for (const [name, filter] of Object.entries(CIS_FILTERS)) {
      const metricFilter = new logs.MetricFilter(this, `${name}Filter`, {
        logGroup: this.logGroup,
        filterPattern: logs.FilterPattern.literal(filter.pattern),
        metricNamespace: 'PFI/CloudTrail',
        metricName: name,
        metricValue: '1',
      });
      const alarm = new cloudwatch.Alarm(this, `${name}Alarm`, {
        alarmName: `pfi-${props.stage}-cis-${name}`,
        alarmDescription: filter.description,
        metric: metricFilter.metric({ statistic: 'Sum', period: Duration.minutes(5) }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      alarm.addAlarmAction(new actions.SnsAction(props.alarmTopic));
      this.alarms.push(alarm);
    }
  }
}
