import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';

export interface PlatformKeysProps {
  /** Deployment stage, part of the aliases `alias/pfi-<stage>-<purpose>`. */
  stage: string;
}

/**
 * The platform's customer-managed KMS keys (HDS: health data encrypted with keys we control and can revoke), one per
 * purpose so that revoking or auditing one does not touch the others:
 * - `data`: Aurora storage and snapshots, the database secret, SQS queues, the backup vault;
 * - `documents`: the document store (CDA, Binary, raw HL7 archives);
 * - `logs`: CloudWatch log groups, CloudTrail, the audit export and the alarm topic (audit/logs);
 * - `seal`: an HMAC_SHA_256 key that seals the audit hash chain (GenerateMac/VerifyMac only).
 *
 * Symmetric keys rotate yearly; HMAC keys cannot rotate automatically. Every key outlives the stack (deleting one
 * would make backups and archives unreadable). The key policies keep the account's IAM delegation (without it
 * a key can become unmanageable) and allow each AWS service only what it needs, bound to this account and region
 * by encryption context or source conditions; applications get their permissions from their own IAM roles.
 */
export class PlatformKeys extends Construct {
  readonly data: kms.Key;
  readonly documents: kms.Key;
  readonly logs: kms.Key;
  readonly seal: kms.Key;

  constructor(scope: Construct, id: string, props: PlatformKeysProps) {
    super(scope, id);
    const { region, account, partition } = Stack.of(this);
    const symmetric = (name: string, description: string) =>
      new kms.Key(this, name, {
        alias: `alias/pfi-${props.stage}-${name.toLowerCase()}`,
        description: `PFI ${props.stage}: ${description}`,
        enableKeyRotation: true,
        rotationPeriod: Duration.days(365),
        pendingWindow: Duration.days(30),
        removalPolicy: RemovalPolicy.RETAIN,
      });
    this.data = symmetric('Data', 'database, secrets, queues and backups');
    this.documents = symmetric('Documents', 'document store (CDA, Binary, raw HL7)');
    this.logs = symmetric('Logs', 'log groups, CloudTrail, audit export and alarm topic');
    this.seal = new kms.Key(this, 'Seal', {
      alias: `alias/pfi-${props.stage}-audit-seal`,
      description: `PFI ${props.stage}: HMAC seal of the audit hash chain`,
      keySpec: kms.KeySpec.HMAC_256,
      keyUsage: kms.KeyUsage.GENERATE_VERIFY_MAC,
      pendingWindow: Duration.days(30),
      removalPolicy: RemovalPolicy.RETAIN,
    });

    // CloudWatch Logs encrypts with the key as its own service principal, limited to this account's log groups.
    this.logs.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowCloudWatchLogs',
        principals: [new iam.ServicePrincipal(`logs.${region}.amazonaws.com`)],
        actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
        resources: ['*'],
        conditions: {
          ArnLike: { 'kms:EncryptionContext:aws:logs:arn': `arn:${partition}:logs:${region}:${account}:log-group:*` },
        },
      }),
    );
    // CloudTrail encrypts log files for trails of this account only; reviewers decrypt through IAM.
    this.logs.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowCloudTrailEncrypt',
        principals: [new iam.ServicePrincipal('cloudtrail.amazonaws.com')],
        actions: ['kms:GenerateDataKey*', 'kms:DescribeKey'],
        resources: ['*'],
        conditions: {
          StringLike: {
            'kms:EncryptionContext:aws:cloudtrail:arn': `arn:${partition}:cloudtrail:*:${account}:trail/*`,
          },
          StringEquals: { 'aws:SourceAccount': account },
        },
      }),
    );
    // CloudWatch alarms publish to the KMS-encrypted alarm topic.
    this.logs.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowCloudWatchAlarmsToTopic',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': account } },
      }),
    );
  }
}
