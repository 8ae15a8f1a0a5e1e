import type * as kms from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';
import { Network } from '../constructs/network.js';
import { PFI_AVAILABILITY_ZONES } from '../settings.js';
import { PfiStack, type PfiStackProps } from './pfi-stack.js';

export interface NetworkStackProps extends Omit<PfiStackProps, 'classification'> {
  logsKey: kms.IKey;
}

/** The seed's zones: public (NLB), app (Lambdas, Fargate), database (Aurora); endpoints and flow logs. */
export class NetworkStack extends PfiStack {
  readonly network: Network;

  constructor(scope: Construct, id: string, props: NetworkStackProps) {
    super(scope, id, { ...props, classification: 'internal' });
    const s = props.settings;
    this.network = new Network(this, 'Network', {
      availabilityZones: PFI_AVAILABILITY_ZONES,
      cidr: s.vpcCidr,
      natGateways: s.natGateways,
      mllpPartnerCidrs: s.mllpPartnerCidrs,
      logsKey: props.logsKey,
      flowLogRetention: this.auditLogRetention,
    });
  }
}
