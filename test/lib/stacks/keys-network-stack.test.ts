import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { idsOf, propsOf, TEST_SETTINGS, testPlatform } from '../cdk-test-app.js';

describe('KeysStack (item 3: customer-managed keys)', () => {
  let t: Template;
  beforeAll(() => {
    t = testPlatform().templates.keys;
  });

  it('has rotating symmetric keys for data, documents and logs, and an HMAC_SHA_256 key for audit seals, all kept', () => {
    const keys = Object.values(t.findResources('AWS::KMS::Key'));
    expect(keys).toHaveLength(4);
    expect(keys.every((k) => k['DeletionPolicy'] === 'Retain')).toBe(true);
    const symmetric = keys.filter((k) => k['Properties'].KeySpec === undefined);
    expect(symmetric.map((k) => k['Properties'].EnableKeyRotation)).toEqual([true, true, true]);
    t.hasResourceProperties('AWS::KMS::Key', { KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' });
    const aliases = propsOf(t, 'AWS::KMS::Alias').map((a) => a.AliasName);
    expect(aliases.sort()).toEqual([
      'alias/pfi-prod-audit-seal',
      'alias/pfi-prod-data',
      'alias/pfi-prod-documents',
      'alias/pfi-prod-logs',
    ]);
  });

  it('lets AWS services use the logs key only for this account (logs by log-group ARN, CloudTrail by trail ARN)', () => {
    t.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Sid: 'AllowCloudWatchLogs',
            Principal: { Service: 'logs.eu-west-3.amazonaws.com' },
            Condition: { ArnLike: { 'kms:EncryptionContext:aws:logs:arn': Match.anyValue() } },
          }),
          Match.objectLike({ Sid: 'AllowCloudTrailEncrypt', Principal: { Service: 'cloudtrail.amazonaws.com' } }),
        ]),
      },
    });
  });

  it('is tagged with its data classification', () => {
    t.hasResourceProperties('AWS::KMS::Key', {
      Tags: Match.arrayWith([{ Key: 'pfi:data-classification', Value: 'health-data' }]),
    });
  });
});

describe('NetworkStack (item 2: zones, endpoints, flow logs)', () => {
  let t: Template;
  beforeAll(() => {
    t = testPlatform({ mllpPartnerCidrs: ['10.99.0.0/16'] }).templates.network;
  });

  it('lays public, app (egress) and isolated database subnets over the three Paris zones, no public IPs', () => {
    const subnets = propsOf(t, 'AWS::EC2::Subnet');
    expect(subnets).toHaveLength(9);
    expect(new Set(subnets.map((s) => s.AvailabilityZone))).toEqual(
      new Set(['eu-west-3a', 'eu-west-3b', 'eu-west-3c']),
    );
    expect(subnets.every((s) => s.MapPublicIpOnLaunch === false)).toBe(true);
    const kinds = subnets.map((s) => s.Tags.find((tag: { Key: string }) => tag.Key === 'aws-cdk:subnet-name').Value);
    expect(kinds.sort()).toEqual([
      'app',
      'app',
      'app',
      'database',
      'database',
      'database',
      'public',
      'public',
      'public',
    ]);
    t.resourceCountIs('AWS::EC2::NatGateway', TEST_SETTINGS.natGateways);
  });

  it('has VPC endpoints for S3, SQS, KMS, RDS Data, Secrets Manager and Logs', () => {
    const services = propsOf(t, 'AWS::EC2::VPCEndpoint').map((e) => JSON.stringify(e.ServiceName));
    for (const s of ['s3', 'sqs', 'kms', 'rds-data', 'secretsmanager', 'logs']) {
      expect(services.some((n) => n.includes(`.${s}`))).toBe(true);
    }
    expect(services).toHaveLength(6);
  });

  it('logs every flow to a KMS-encrypted log group', () => {
    t.hasResourceProperties('AWS::EC2::FlowLog', { TrafficType: 'ALL', LogDestinationType: 'cloud-watch-logs' });
    t.hasResourceProperties('AWS::Logs::LogGroup', { KmsKeyId: Match.anyValue(), RetentionInDays: 365 });
  });

  it('opens MLLP 2575 only to the partner CIDRs, and nothing but egress to 0.0.0.0/0', () => {
    const ingress = [
      ...propsOf(t, 'AWS::EC2::SecurityGroup').flatMap((g) => g.SecurityGroupIngress ?? []),
      ...propsOf(t, 'AWS::EC2::SecurityGroupIngress'),
    ];
    const cidrRules = ingress.filter((r) => r.CidrIp !== undefined);
    expect(cidrRules).toEqual([expect.objectContaining({ CidrIp: '10.99.0.0/16', FromPort: 2575, ToPort: 2575 })]);
  });

  it('has no MLLP ingress at all by default', () => {
    const net = testPlatform().templates.network;
    const ingress = [
      ...propsOf(net, 'AWS::EC2::SecurityGroup').flatMap((g) => g.SecurityGroupIngress ?? []),
      ...propsOf(net, 'AWS::EC2::SecurityGroupIngress'),
    ];
    expect(ingress.filter((r) => r.CidrIp !== undefined)).toEqual([]);
    expect(idsOf(net, 'AWS::EC2::SecurityGroup').length).toBeGreaterThanOrEqual(4);
  });
});
