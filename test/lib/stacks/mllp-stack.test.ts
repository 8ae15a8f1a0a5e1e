import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { propsOf, testPlatform } from '../cdk-test-app.js';

describe('MllpStack (item 6: Fargate bridge behind a TLS NLB)', () => {
  let t: Template;
  let outdir: string;
  beforeAll(() => {
    const p = testPlatform();
    t = p.templates.mllp;
    outdir = p.app.outdir;
  });

  it('runs at least two ARM64 tasks, read-only root, non-root user, stopTimeout above the 30 s drain', () => {
    t.hasResourceProperties('AWS::ECS::TaskDefinition', {
      RuntimePlatform: { CpuArchitecture: 'ARM64', OperatingSystemFamily: 'LINUX' },
      RequiresCompatibilities: ['FARGATE'],
      ContainerDefinitions: [
        Match.objectLike({
          ReadonlyRootFilesystem: true,
          User: 'node',
          StopTimeout: 45,
          Secrets: [Match.objectLike({ Name: 'PFI_MLLP_REGISTRY_JSON' })],
        }),
      ],
    });
    const env = Object.fromEntries(
      propsOf(t, 'AWS::ECS::TaskDefinition')[0]?.ContainerDefinitions[0].Environment.map((e: any) => [e.Name, e.Value]),
    );
    expect(env).toMatchObject({
      PFI_MLLP_PORT: '2575',
      PFI_MLLP_HEALTH_PORT: '8080',
      PFI_MLLP_REGISTRY: '/run/pfi/registry.json',
      PFI_MLLP_LARGE_MESSAGE_BUCKET: 'pfi-prod-documents-123456789012',
      // No message content in the log unless pfi:mllpLogContent says so.
      PFI_MLLP_LOG_CONTENT: 'off',
    });
    expect(env['PFI_MLLP_QUEUE_URL']).toBeDefined();
    const debugging = testPlatform({ mllpLogContent: 'refused' }).templates.mllp;
    const debugEnv = propsOf(debugging, 'AWS::ECS::TaskDefinition')[0]?.ContainerDefinitions[0].Environment;
    expect(debugEnv).toContainEqual({ Name: 'PFI_MLLP_LOG_CONTENT', Value: 'refused' });
    t.hasResourceProperties('AWS::ECS::Service', {
      DesiredCount: 2,
      LaunchType: 'FARGATE',
      DeploymentConfiguration: Match.objectLike({
        MinimumHealthyPercent: 100,
        DeploymentCircuitBreaker: { Enable: true, Rollback: true },
      }),
      NetworkConfiguration: { AwsvpcConfiguration: Match.objectLike({ AssignPublicIp: 'DISABLED' }) },
    });
    t.hasResourceProperties('AWS::ECS::Cluster', {
      ClusterSettings: [{ Name: 'containerInsights', Value: 'enhanced' }],
    });
  });

  it('builds the image from mllp-bridge/Dockerfile as an asset with a small context (no Docker at synth)', () => {
    const image = propsOf(t, 'AWS::ECS::TaskDefinition')[0]?.ContainerDefinitions[0].Image;
    expect(JSON.stringify(image)).toContain('container-assets');
    const dirs = readdirSync(outdir).filter(
      (d) => d.startsWith('asset.') && existsSync(join(outdir, d, 'mllp-bridge/Dockerfile')),
    );
    expect(dirs).toHaveLength(1);
    const top = readdirSync(join(outdir, dirs[0] as string)).sort();
    expect(top).toEqual(['.npmrc', 'mllp-bridge', 'package-lock.json', 'package.json']);
  });

  it('listens with TLS on 2575 with a TLS 1.2+/1.3 policy, health-checks /health on 8080, drains in 30 s', () => {
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
      Port: 2575,
      Protocol: 'TLS',
      SslPolicy: 'ELBSecurityPolicy-TLS13-1-2-Res-2021-06',
      Certificates: [{ CertificateArn: Match.stringLikeRegexp('^arn:aws:acm:eu-west-3:') }],
    });
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
      Port: 2575,
      Protocol: 'TCP',
      TargetType: 'ip',
      HealthCheckProtocol: 'HTTP',
      HealthCheckPort: '8080',
      HealthCheckPath: '/health',
      TargetGroupAttributes: Match.arrayWith([{ Key: 'deregistration_delay.timeout_seconds', Value: '30' }]),
    });
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', {
      Type: 'network',
      Scheme: 'internet-facing',
      LoadBalancerAttributes: Match.arrayWith([
        { Key: 'deletion_protection.enabled', Value: 'true' },
        { Key: 'access_logs.s3.enabled', Value: 'true' },
      ]),
    });
  });

  it('scales on CPU between the minimum and maximum task counts', () => {
    t.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { MinCapacity: 2, MaxCapacity: 6 });
    t.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      TargetTrackingScalingPolicyConfiguration: Match.objectLike({
        PredefinedMetricSpecification: { PredefinedMetricType: 'ECSServiceAverageCPUUtilization' },
      }),
    });
  });

  it('lets the task role only send to the inbound queue and put claim checks under hl7/inbound/', () => {
    const taskRoleId = propsOf(t, 'AWS::ECS::TaskDefinition')[0]?.TaskRoleArn['Fn::GetAtt'][0];
    const policy = propsOf(t, 'AWS::IAM::Policy').find((p) => p.Roles[0].Ref === taskRoleId);
    const actions = policy?.PolicyDocument.Statement.flatMap((s: any) => [s.Action].flat()).sort();
    expect(actions).toEqual([
      'kms:Decrypt',
      'kms:GenerateDataKey',
      'kms:GenerateDataKey',
      's3:PutObject',
      'sqs:SendMessage',
    ]);
    expect(JSON.stringify(policy)).toContain('pfi-prod-documents-123456789012/hl7/inbound/*');
  });
});
