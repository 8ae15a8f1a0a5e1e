import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';

export interface PlatformKeyProps {
  /** Deployment stage, part of the alias `alias/pfi-<stage>`. */
  stage: string;
}

/**
 * The platform's customer-managed KMS key (HDS: health data encrypted with a key we control and can revoke).
 * Rotation is on; the key outlives the stack because deleting it would make every backup unreadable.
 * CloudWatch Logs of this region and account may use it for log groups.
 */
export class PlatformKey extends Construct {
  readonly key: kms.Key;

  constructor(scope: Construct, id: string, props: PlatformKeyProps) {
    super(scope, id);
    const { region, account, partition } = Stack.of(this);
    this.key = new kms.Key(this, 'Key', {
      alias: `alias/pfi-${props.stage}`,
      description: `PFI ${props.stage}: encryption of health data, secrets and logs`,
      enableKeyRotation: true,
      pendingWindow: Duration.days(30),
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // CloudWatch Logs encrypts with the key as its own service principal, limited to this account's log groups.
    this.key.addToResourcePolicy(
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
  }
}
