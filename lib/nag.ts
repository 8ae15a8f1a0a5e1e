import { type App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, HIPAASecurityChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import type { Platform } from './platform.js';

/** Registers the AwsSolutions and HIPAA Security packs on the app and the platform's reviewed acknowledgements. */
export function applyNag(app: App, platform: Platform): void {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new HIPAASecurityChecks(app));
  acknowledgeFindings(platform);
}

/** One reviewed exception: the rule (or finding) id and why it is accepted. */
export interface Acknowledgement {
  id: string;
  reason: string;
}

function ack(scope: IConstruct, ...acks: Acknowledgement[]): void {
  for (const a of acks) Validations.of(scope).acknowledge(a);
}

/** The documents bucket's objects as cdk-nag prints them in IAM5 findings (the name is fixed, the partition a pseudo). */
function documentsObjectsId(platform: Platform, pattern: string): string {
  return `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::${platform.data.documentsBucketName}/${pattern}]`;
}

const REASONS = {
  inlinePolicy:
    'Inline policy of exactly one dedicated role (one role per function or task), generated from explicit least-privilege grants; a customer-managed policy would carry the same statements with no gain in scope.',
  eniWildcard:
    'EC2 network-interface actions (CreateNetworkInterface, DescribeNetworkInterfaces, ...) needed by a Lambda in a VPC and X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level permissions; AWS documents Resource "*" for them.',
  objectWildcard:
    'Object-level S3 permissions on the documents bucket: object keys are created at run time (fhir/binary/<id>, hl7/raw/<date>/<hash>), so the resource is <bucket ARN>/*; actions are named explicitly (Get/Put/DeleteObject) and KMS use is bound to S3 via kms:ViaService.',
  lambdaDlqSqs:
    'SQS-triggered worker: failed messages are redriven by the source queue to its own FIFO dead-letter queue (maxReceiveCount 5, 14 days, alarmed); a Lambda DLQ applies to asynchronous invocations only.',
  replication:
    'HDS residency: data must stay in eu-west-3, so no cross-region replication; durability comes from S3 (11 nines, 3 AZs in Paris), versioning and the bucket policy denies PutReplicationConfiguration.',
  publicRoute:
    'Public subnets exist only for the internet-facing MLLP NLB and the NAT gateways; nothing else is placed there and no instance gets a public IP (MapPublicIpOnLaunch false).',
  openMethod:
    'Public by FHIR design: GET /fhir/metadata (CapabilityStatement, which clients read before they obtain a token) and GET /health (probes); both return no patient data and sit behind WAF and stage throttling.',
  accessLogSse:
    'S3 server access logging cannot deliver to a bucket under SSE-KMS: S3 requires SSE-S3 on the target; the bucket holds request metadata only, no health data.',
  rotationPortToken:
    'Rule cannot evaluate the port (a CloudFormation reference to the cluster port, 5432): the rule only admits the secret-rotation function security group, no CIDR.',
  backendCert:
    'The only integration is a Lambda proxy (AWS_PROXY, invoked over the AWS API with IAM), not an HTTP backend, so an API Gateway client certificate for the backend does not apply.',
  apiCache:
    'No API Gateway cache: FHIR responses carry personal health data and depend on the caller scopes; caching them would serve one client data to another. Freshness is required by FHIR semantics.',
  rdsInstanceBackup:
    'The AWS Backup selection is the Aurora cluster (backups are cluster-level for Aurora; instances have no backups of their own); see pfi-<stage>-data/Backup.',
  monitoringRole:
    'AmazonRDSEnhancedMonitoringRole is the AWS-maintained policy RDS requires to publish enhanced monitoring; it grants only logs:PutLogEvents-style actions on RDSOSMetrics.',
  backupRoles:
    'AWSBackupServiceRolePolicyForBackup/ForRestores are the AWS-maintained service policies AWS Backup documents for its role; they follow new resource types without manual upkeep.',
  apigwPush:
    'AmazonAPIGatewayPushToCloudWatchLogs is the AWS-maintained policy for the account-level API Gateway logging role, required for access and execution logs.',
  ecsEnv:
    'Plain environment variables carry non-secret configuration only (queue URL, bucket name, key ARN, ports, a file path); the partner registry comes from SSM as a container secret.',
  cognitoPlus:
    'Clients are machine-to-machine (client-credentials grant); Plus-tier threat protection evaluates user sign-ins, and the only human users are administrators with mandatory TOTP MFA and no self sign-up.',
  requestValidation:
    'Request bodies are FHIR resources validated by the handler (zod + FHIR structure and FR Core rules, OperationOutcome 400/422); an API Gateway JSON-schema validator cannot express FHIR and would reject valid Bundles.',
};

/** The reviewed exceptions: each names the rule, where it applies, and why it is accepted. */
export function acknowledgeFindings(platform: Platform): void {
  const documentsObjects = documentsObjectsId(platform, '*');
  const functions = [
    platform.messaging.hl7Worker,
    platform.messaging.cdaWorker,
    platform.messaging.mssanteWorker,
    platform.messaging.outboxRelay,
    platform.api.fhir,
  ];
  for (const fn of functions) {
    ack(
      fn,
      { id: 'HIPAA.Security-IAMNoInlinePolicy', reason: REASONS.inlinePolicy },
      { id: 'AwsSolutions-IAM5[Resource::*]', reason: REASONS.eniWildcard },
    );
  }
  for (const fn of functions) ack(fn, { id: documentsObjects, reason: REASONS.objectWildcard });
  for (const fn of functions.slice(0, 3)) ack(fn, { id: 'HIPAA.Security-LambdaDLQ', reason: REASONS.lambdaDlqSqs });
  ack(platform.messaging.outboxRelay, {
    id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::${platform.compliance.auditExportBucketName}/audit-chain/*]`,
    reason:
      'The outbox relay exports each sealed audit batch as a new object (audit-chain/<from>-<to>.jsonl) to the Object Lock bucket: s3:PutObject only, on that prefix, whose keys are created at run time; objects cannot be overwritten or deleted (compliance mode).',
  });
  ack(platform.messaging.outboxRelay, {
    id: 'HIPAA.Security-LambdaDLQ',
    reason:
      'Scheduled every minute with no event payload: a failed run leaves the outbox rows in the database and the next run relays them (backlog visible in /health); a DLQ would only hold empty schedule events.',
  });
  ack(platform.api.fhir, {
    id: 'HIPAA.Security-LambdaDLQ',
    reason:
      'Invoked synchronously by API Gateway: the client receives the error (OperationOutcome); a DLQ applies to asynchronous invocations only.',
  });

  const mllp = platform.mllp.mllp;
  ack(mllp.taskDefinition, { id: 'HIPAA.Security-IAMNoInlinePolicy', reason: REASONS.inlinePolicy });
  ack(mllp.taskDefinition, {
    id: documentsObjectsId(platform, 'hl7/inbound/*'),
    reason:
      'Claim-check objects of the MLLP bridge: s3:PutObject only, limited to the hl7/inbound/ prefix whose keys (date/sha256) are created at run time.',
  });
  ack(mllp.taskDefinition, { id: 'AwsSolutions-ECS2', reason: REASONS.ecsEnv });
  ack(mllp.taskDefinition, {
    id: 'AwsSolutions-IAM5[Resource::*]',
    reason:
      'Execution role: ecr:GetAuthorizationToken (pulling the bridge image) supports no resource-level permission; the other statements name the image repository, the log group and the registry parameter.',
  });

  ack(platform.network.network.vpc, { id: 'HIPAA.Security-VPCNoUnrestrictedRouteToIGW', reason: REASONS.publicRoute });
  ack(platform.network.network.vpc, { id: 'HIPAA.Security-IAMNoInlinePolicy', reason: REASONS.inlinePolicy });
  ack(platform.compliance.trail.trail, { id: 'HIPAA.Security-IAMNoInlinePolicy', reason: REASONS.inlinePolicy });

  for (const bucket of [
    platform.data.accessLogsBucket,
    platform.data.documentsBucket,
    platform.compliance.trail.bucket,
    platform.compliance.auditExportBucket,
  ]) {
    ack(bucket, { id: 'HIPAA.Security-S3BucketReplicationEnabled', reason: REASONS.replication });
  }
  ack(platform.data.accessLogsBucket, { id: 'HIPAA.Security-S3DefaultEncryptionKMS', reason: REASONS.accessLogSse });

  const db = platform.data.database;
  ack(
    db.securityGroup,
    { id: 'HIPAA.Security-EC2RestrictedSSH', reason: REASONS.rotationPortToken },
    { id: 'HIPAA.Security-EC2RestrictedCommonPorts', reason: REASONS.rotationPortToken },
  );
  ack(
    db.cluster,
    { id: 'HIPAA.Security-RDSInBackupPlan', reason: REASONS.rdsInstanceBackup },
    {
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole]',
      reason: REASONS.monitoringRole,
    },
  );
  ack(
    platform.data.backup.plan,
    {
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup]',
      reason: REASONS.backupRoles,
    },
    {
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores]',
      reason: REASONS.backupRoles,
    },
  );

  const rest = platform.api.rest.api;
  ack(
    rest,
    { id: 'AwsSolutions-COG4', reason: REASONS.openMethod },
    { id: 'AwsSolutions-APIG4', reason: REASONS.openMethod },
    { id: 'AwsSolutions-APIG2', reason: REASONS.requestValidation },
    { id: 'HIPAA.Security-APIGWSSLEnabled', reason: REASONS.backendCert },
    { id: 'HIPAA.Security-APIGWCacheEnabledAndEncrypted', reason: REASONS.apiCache },
    {
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
      reason: REASONS.apigwPush,
    },
  );
  ack(platform.api.auth.userPool, { id: 'AwsSolutions-COG8', reason: REASONS.cognitoPlus });
}
