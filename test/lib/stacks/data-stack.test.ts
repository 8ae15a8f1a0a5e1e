import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { idsOf, propsOf, testPlatform } from '../cdk-test-app.js';

describe('DataStack (item 3: Aurora, backups, buckets)', () => {
  let t: Template;
  beforeAll(() => {
    t = testPlatform().templates.data;
  });

  it('runs Aurora PostgreSQL 16 Serverless v2 with the Data API, encrypted, IAM auth, logs exported, protected', () => {
    t.hasResource('AWS::RDS::DBCluster', {
      Properties: Match.objectLike({
        Engine: 'aurora-postgresql',
        EngineVersion: Match.stringLikeRegexp('^1[67]\\.'),
        EnableHttpEndpoint: true,
        StorageEncrypted: true,
        KmsKeyId: Match.anyValue(),
        DeletionProtection: true,
        BackupRetentionPeriod: 7,
        EnableIAMDatabaseAuthentication: true,
        EnableCloudwatchLogsExports: ['postgresql'],
        DBClusterIdentifier: 'pfi-prod-fhir',
        ServerlessV2ScalingConfiguration: { MinCapacity: 0.5, MaxCapacity: 16 },
      }),
      DeletionPolicy: 'Snapshot',
    });
    t.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: '/aws/rds/cluster/pfi-prod-fhir/postgresql',
      KmsKeyId: Match.anyValue(),
      RetentionInDays: 90,
    });
  });

  it('has a serverless writer and a failover reader in another zone, neither public', () => {
    const instances = propsOf(t, 'AWS::RDS::DBInstance');
    expect(instances.map((p) => [p.DBInstanceClass, p.PromotionTier, p.PubliclyAccessible])).toEqual([
      ['db.serverless', 0, false],
      ['db.serverless', 1, false],
    ]);
    expect(new Set(instances.map((p) => p.AvailabilityZone)).size).toBe(2);
  });

  it('admits PostgreSQL only from the app security group', () => {
    const ingress = propsOf(t, 'AWS::EC2::SecurityGroupIngress');
    expect(ingress.length).toBeGreaterThan(0);
    expect(ingress.every((r) => r.SourceSecurityGroupId !== undefined && r.CidrIp === undefined)).toBe(true);
  });

  it('rotates the master secret every 30 days', () => {
    t.hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
      RotationRules: { ScheduleExpression: 'rate(30 days)' },
    });
  });

  it('backs up daily (30 days), weekly (365 days) and continuously into a CMK vault', () => {
    t.hasResourceProperties('AWS::Backup::BackupVault', { EncryptionKeyArn: Match.anyValue() });
    const plan = propsOf(t, 'AWS::Backup::BackupPlan')[0]?.BackupPlan;
    const rules = Object.fromEntries(plan.BackupPlanRule.map((r: any) => [r.RuleName, r]));
    expect(rules.daily.Lifecycle.DeleteAfterDays).toBe(30);
    expect(rules.weekly.Lifecycle.DeleteAfterDays).toBe(365);
    expect(rules.weekly.ScheduleExpression).toMatch(/SUN/);
    expect(rules.continuous.EnableContinuousBackup).toBe(true);
    t.resourceCountIs('AWS::Backup::BackupSelection', 1);
  });

  it('locks the vault when asked', () => {
    const locked = testPlatform({ backupVaultLock: true }).templates.data;
    locked.hasResourceProperties('AWS::Backup::BackupVault', {
      LockConfiguration: { MinRetentionDays: 1, MaxRetentionDays: 366, ChangeableForDays: 3 },
    });
    t.hasResourceProperties('AWS::Backup::BackupVault', { LockConfiguration: Match.absent() });
  });

  it('encrypts the documents bucket with its key and a bucket key, versioned, logged, TLS-only, with raw HL7 expiry', () => {
    t.hasResourceProperties('AWS::S3::Bucket', {
      BucketName: 'pfi-prod-documents-123456789012',
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          Match.objectLike({
            BucketKeyEnabled: true,
            ServerSideEncryptionByDefault: Match.objectLike({ SSEAlgorithm: 'aws:kms' }),
          }),
        ],
      },
      VersioningConfiguration: { Status: 'Enabled' },
      LoggingConfiguration: Match.objectLike({ LogFilePrefix: 'documents/' }),
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      LifecycleConfiguration: {
        Rules: Match.arrayWith([Match.objectLike({ Prefix: 'hl7/raw/', ExpirationInDays: 90, Status: 'Enabled' })]),
      },
    });
  });

  it('keeps server access logs in an SSE-S3 bucket (S3 cannot log to SSE-KMS), every bucket TLS-only', () => {
    const buckets = propsOf(t, 'AWS::S3::Bucket');
    const algorithms = buckets.map(
      (b) => b.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm,
    );
    expect(algorithms.sort()).toEqual(['AES256', 'aws:kms']);
    const policies = propsOf(t, 'AWS::S3::BucketPolicy');
    expect(policies).toHaveLength(2);
    for (const p of policies) {
      expect(p.PolicyDocument.Statement).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          expect.objectContaining({ Effect: 'Deny', Action: 's3:PutReplicationConfiguration' }),
        ]),
      );
    }
    expect(idsOf(t, 'AWS::S3::Bucket')).toHaveLength(2);
  });
});
