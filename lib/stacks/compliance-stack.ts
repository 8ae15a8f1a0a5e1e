import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { AuditTrail } from '../constructs/audit-trail.js';
import { auditExportBucketName, kmsBucket } from '../constructs/buckets.js';
import type { PlatformKeys } from '../constructs/platform-keys.js';
import type { DataStack } from './data-stack.js';
import { PfiStack, type PfiStackProps } from './pfi-stack.js';

export interface ComplianceStackProps extends Omit<PfiStackProps, 'classification'> {
  keys: PlatformKeys;
  data: DataStack;
  alarmTopic: sns.ITopic;
}

/**
 * What compliance reviewers read: the CloudTrail trail (Object Lock, validation, data events for documents and the
 * Data API, CIS alarms) and the audit export bucket (Object Lock, compliance mode), where the audit issue's export
 * job writes the sealed AuditEvent chain (grant it `s3:PutObject` on this bucket and the logs key).
 */
export class ComplianceStack extends PfiStack {
  readonly trail: AuditTrail;
  readonly auditExportBucket: s3.Bucket;
  /** The export bucket's fixed name (a plain string, for grants and cdk-nag acknowledgements). */
  readonly auditExportBucketName: string;

  constructor(scope: Construct, id: string, props: ComplianceStackProps) {
    super(scope, id, { ...props, classification: 'audit' });
    const s = props.settings;
    this.trail = new AuditTrail(this, 'Trail', {
      stage: s.stage,
      key: props.keys.logs,
      accessLogs: props.data.accessLogsBucket,
      retentionDays: s.trailRetentionDays,
      logRetention: this.auditLogRetention,
      documentsBucket: props.data.documentsBucket,
      cluster: props.data.database.cluster,
      alarmTopic: props.alarmTopic,
    });
    this.auditExportBucketName = auditExportBucketName(s.stage, s.account);
    this.auditExportBucket = kmsBucket(this, 'AuditExport', {
      bucketName: this.auditExportBucketName,
      key: props.keys.logs,
      accessLogs: props.data.accessLogsBucket,
      accessLogsPrefix: 'audit-export',
      objectLockDays: s.auditExportRetentionDays,
    });
  }
}
