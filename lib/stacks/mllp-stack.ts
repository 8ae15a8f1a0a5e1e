import { CfnOutput } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { DOCUMENT_PREFIXES } from '../constructs/buckets.js';
import { MllpService } from '../constructs/mllp-service.js';
import type { Network } from '../constructs/network.js';
import type { PlatformKeys } from '../constructs/platform-keys.js';
import type { DataStack } from './data-stack.js';
import type { MessagingStack } from './messaging-stack.js';
import { PfiStack, type PfiStackProps } from './pfi-stack.js';

export interface MllpStackProps extends Omit<PfiStackProps, 'classification'> {
  keys: PlatformKeys;
  network: Network;
  data: DataStack;
  messaging: MessagingStack;
}

/** The MLLP door: the Fargate bridge and its TLS network load balancer. */
export class MllpStack extends PfiStack {
  readonly mllp: MllpService;

  constructor(scope: Construct, id: string, props: MllpStackProps) {
    super(scope, id, { ...props, classification: 'health-data' });
    const s = props.settings;
    const { keys, network, data, messaging } = props;
    this.mllp = new MllpService(this, 'Mllp', {
      stage: s.stage,
      vpc: network.vpc,
      publicSubnets: network.publicSubnets,
      taskSubnets: network.appSubnets,
      loadBalancerSecurityGroup: network.loadBalancerSecurityGroup,
      taskSecurityGroup: network.mllpSecurityGroup,
      queue: messaging.hl7Inbound.queue,
      queueKey: keys.data,
      claimCheckBucketName: data.documentsBucketName,
      claimCheckPrefix: DOCUMENT_PREFIXES.hl7Inbound,
      claimCheckKey: keys.documents,
      certificateArn: s.mllpCertificateArn,
      registryParameterName: s.mllpRegistryParameter,
      minTasks: s.mllpMinTasks,
      maxTasks: s.mllpMaxTasks,
      logContent: s.mllpLogContent,
      logsKey: keys.logs,
      logRetention: this.logRetention,
      accessLogs: data.accessLogsBucket,
    });
    new CfnOutput(this, 'MllpEndpoint', {
      value: this.mllp.loadBalancer.loadBalancerDnsName,
      description: `CNAME target for ${s.mllpDomainName} (MLLP over TLS, port 2575)`,
    });
  }
}
