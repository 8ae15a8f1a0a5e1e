import { Duration, IgnoreMode, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { bucketObjectsArn } from './grants.js';
import { MLLP_HEALTH_PORT, MLLP_PORT } from './network.js';
import { PROJECT_ROOT } from './pfi-function.js';

export interface MllpServiceProps {
  stage: string;
  vpc: ec2.IVpc;
  publicSubnets: ec2.SubnetSelection;
  taskSubnets: ec2.SubnetSelection;
  loadBalancerSecurityGroup: ec2.ISecurityGroup;
  taskSecurityGroup: ec2.ISecurityGroup;
  /** The `hl7-inbound` FIFO queue and the key that encrypts it. */
  queue: sqs.IQueue;
  queueKey: kms.IKey;
  /** Claim-check bucket (the documents bucket), prefix and key, for messages over the SQS size limit. */
  claimCheckBucketName: string;
  claimCheckPrefix: string;
  claimCheckKey: kms.IKey;
  certificateArn: string;
  /** SSM parameter (String) holding the partner registry JSON. */
  registryParameterName: string;
  minTasks: number;
  /** `PFI_MLLP_LOG_CONTENT` of the bridge: message content in its log (patient data). */
  logContent: 'off' | 'refused' | 'all';
  maxTasks: number;
  logsKey: kms.IKey;
  logRetention: logs.RetentionDays;
  /** NLB access logs (TLS listener) go there, under `nlb/`. */
  accessLogs: s3.IBucket;
}

/** The bridge's graceful drain (`SHUTDOWN_GRACE_MS` in mllp-bridge/src/main.ts). */
export const MLLP_DRAIN = Duration.seconds(30);
/** SIGTERM → SIGKILL: the drain plus a margin for the final metrics line and exit. */
export const MLLP_STOP_TIMEOUT = Duration.seconds(45);
/** Where the task writes the registry it receives from SSM (the root filesystem is read-only). */
const REGISTRY_FILE = '/run/pfi/registry.json';

/**
 * Files the image build needs (see mllp-bridge/Dockerfile, built from the repository root): everything else is left
 * out of the asset, so synth copies a few files (no node_modules) and the image hash changes only with the bridge.
 */
const DOCKER_CONTEXT_EXCLUDE = [
  '*',
  '.*',
  '!package.json',
  '!package-lock.json',
  '!.npmrc',
  '!mllp-bridge/Dockerfile',
  '!mllp-bridge/src/**',
];

/**
 * The MLLP bridge on Fargate behind a network load balancer:
 * - image built from `mllp-bridge/Dockerfile` as an asset (Docker runs at deploy/publish time, never at synth);
 * - ARM64 tasks (at least two, spread over the zones) in the app subnets, read-only root filesystem, user `node`;
 * - NLB in the public subnets with a TLS listener on 2575 (`ELBSecurityPolicy-TLS13-1-2-Res-2021-06`: TLS 1.2
 *   restricted ciphers and 1.3, never the TLS 1.0 default), forwarding TCP to the tasks, health-checked on
 *   `GET /health` of port 8080 (503 while draining);
 * - deregistration delay = the bridge's 30 s drain, stopTimeout 45 s; rolling deployments keep 100 % healthy, with
 *   the circuit breaker rolling back a failed one; CPU target tracking between the min and max task counts;
 * - task role: `sqs:SendMessage` on the inbound queue, `s3:PutObject` on the claim-check prefix (and the KMS data
 *   keys those need), nothing else.
 * The partner registry comes from an SSM parameter as a container secret; the command writes it to a tmpfs-like
 * ephemeral volume before starting the bridge, which reads `PFI_MLLP_REGISTRY` as a file path.
 */
export class MllpService extends Construct {
  readonly cluster: ecs.Cluster;
  readonly service: ecs.FargateService;
  readonly loadBalancer: elbv2.NetworkLoadBalancer;
  readonly taskDefinition: ecs.FargateTaskDefinition;
  readonly logGroup: logs.LogGroup;
  readonly targetGroup: elbv2.NetworkTargetGroup;

  constructor(scope: Construct, id: string, props: MllpServiceProps) {
    super(scope, id);
    if (props.minTasks < 2) throw new Error('MllpService: at least two tasks (two zones) are required');
    this.cluster = new ecs.Cluster(this, 'Cluster', {
      clusterName: `pfi-${props.stage}-mllp`,
      vpc: props.vpc,
      containerInsightsV2: ecs.ContainerInsights.ENHANCED,
    });
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      encryptionKey: props.logsKey,
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.taskDefinition = new ecs.FargateTaskDefinition(this, 'Task', {
      cpu: 512,
      memoryLimitMiB: 1024,
      runtimePlatform: {
        cpuArchitecture: ecs.CpuArchitecture.ARM64,
        operatingSystemFamily: ecs.OperatingSystemFamily.LINUX,
      },
      volumes: [{ name: 'run' }],
    });
    const registry = ssm.StringParameter.fromStringParameterName(this, 'Registry', props.registryParameterName);
    const container = this.taskDefinition.addContainer('bridge', {
      image: ecs.ContainerImage.fromAsset(PROJECT_ROOT, {
        file: 'mllp-bridge/Dockerfile',
        platform: Platform.LINUX_ARM64,
        exclude: DOCKER_CONTEXT_EXCLUDE,
        ignoreMode: IgnoreMode.DOCKER,
      }),
      essential: true,
      readonlyRootFilesystem: true,
      user: 'node',
      stopTimeout: MLLP_STOP_TIMEOUT,
      // The registry arrives as a secret variable; the bridge wants a file, written to the ephemeral volume.
      entryPoint: ['/bin/sh', '-c'],
      command: [
        `printf '%s' "$PFI_MLLP_REGISTRY_JSON" > ${REGISTRY_FILE} && unset PFI_MLLP_REGISTRY_JSON && exec node dist/main.mjs`,
      ],
      environment: {
        PFI_MLLP_QUEUE_URL: props.queue.queueUrl,
        PFI_MLLP_REGISTRY: REGISTRY_FILE,
        PFI_MLLP_PORT: String(MLLP_PORT),
        PFI_MLLP_HEALTH_PORT: String(MLLP_HEALTH_PORT),
        PFI_MLLP_LARGE_MESSAGE_BUCKET: props.claimCheckBucketName,
        PFI_MLLP_LARGE_MESSAGE_KMS_KEY_ID: props.claimCheckKey.keyArn,
        PFI_MLLP_LOG_CONTENT: props.logContent,
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      },
      secrets: { PFI_MLLP_REGISTRY_JSON: ecs.Secret.fromSsmParameter(registry) },
      portMappings: [
        { containerPort: MLLP_PORT, protocol: ecs.Protocol.TCP },
        { containerPort: MLLP_HEALTH_PORT, protocol: ecs.Protocol.TCP },
      ],
      logging: ecs.LogDrivers.awsLogs({ logGroup: this.logGroup, streamPrefix: 'bridge' }),
      healthCheck: {
        command: [
          'CMD',
          'node',
          '-e',
          `fetch('http://127.0.0.1:${MLLP_HEALTH_PORT}/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))`,
        ],
        interval: Duration.seconds(15),
        timeout: Duration.seconds(5),
        retries: 3,
        startPeriod: Duration.seconds(20),
      },
    });
    container.addMountPoints({ containerPath: '/run/pfi', sourceVolume: 'run', readOnly: false });

    // Task role: only what the bridge does.
    const role = this.taskDefinition.taskRole;
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: [props.queue.queueArn] }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['s3:PutObject'],
        resources: [
          bucketObjectsArn(Stack.of(this).partition, props.claimCheckBucketName, `${props.claimCheckPrefix}*`),
        ],
      }),
    );
    const region = Stack.of(this).region;
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
        resources: [props.queueKey.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `sqs.${region}.amazonaws.com` } },
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['kms:GenerateDataKey'],
        resources: [props.claimCheckKey.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `s3.${region}.amazonaws.com` } },
      }),
    );

    this.service = new ecs.FargateService(this, 'Service', {
      serviceName: `pfi-${props.stage}-mllp-bridge`,
      cluster: this.cluster,
      taskDefinition: this.taskDefinition,
      desiredCount: props.minTasks,
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
      circuitBreaker: { enable: true, rollback: true },
      vpcSubnets: props.taskSubnets,
      securityGroups: [props.taskSecurityGroup],
      assignPublicIp: false,
      enableExecuteCommand: false,
      availabilityZoneRebalancing: ecs.AvailabilityZoneRebalancing.ENABLED,
      healthCheckGracePeriod: Duration.seconds(60),
    });
    const scaling = this.service.autoScaleTaskCount({ minCapacity: props.minTasks, maxCapacity: props.maxTasks });
    scaling.scaleOnCpuUtilization('Cpu', {
      targetUtilizationPercent: 60,
      scaleInCooldown: Duration.minutes(5),
      scaleOutCooldown: Duration.minutes(1),
    });

    this.loadBalancer = new elbv2.NetworkLoadBalancer(this, 'Nlb', {
      loadBalancerName: `pfi-${props.stage}-mllp`,
      vpc: props.vpc,
      internetFacing: true,
      vpcSubnets: props.publicSubnets,
      securityGroups: [props.loadBalancerSecurityGroup],
      crossZoneEnabled: true,
      deletionProtection: true,
    });
    this.loadBalancer.logAccessLogs(props.accessLogs, 'nlb');
    this.targetGroup = new elbv2.NetworkTargetGroup(this, 'Targets', {
      vpc: props.vpc,
      port: MLLP_PORT,
      protocol: elbv2.Protocol.TCP,
      targetType: elbv2.TargetType.IP,
      deregistrationDelay: MLLP_DRAIN,
      connectionTermination: true,
      preserveClientIp: true,
      healthCheck: {
        protocol: elbv2.Protocol.HTTP,
        port: String(MLLP_HEALTH_PORT),
        path: '/health',
        interval: Duration.seconds(10),
        healthyThresholdCount: 2,
        unhealthyThresholdCount: 2,
      },
      targets: [this.service.loadBalancerTarget({ containerName: 'bridge', containerPort: MLLP_PORT })],
    });
    this.loadBalancer.addListener('Tls', {
      port: MLLP_PORT,
      protocol: elbv2.Protocol.TLS,
      sslPolicy: elbv2.SslPolicy.TLS13_RES,
      certificates: [
        elbv2.ListenerCertificate.fromCertificateManager(
          acm.Certificate.fromCertificateArn(this, 'Certificate', props.certificateArn),
        ),
      ],
      defaultTargetGroups: [this.targetGroup],
    });
  }
}
