import { RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

export interface NetworkProps {
  /** Availability zones to span (three in Paris). */
  availabilityZones: readonly string[];
  /** IPv4 range of the VPC. Default `10.40.0.0/16`. */
  cidr?: string;
  /** NAT gateways for the private subnets' egress (one per zone keeps egress up when a zone fails). */
  natGateways: number;
  /** Partner networks allowed to reach MLLP 2575 through the NLB; none by default. */
  mllpPartnerCidrs: readonly string[];
  /** Flow logs: encrypted with this key, kept this long. */
  logsKey: kms.IKey;
  flowLogRetention: logs.RetentionDays;
}

/** Subnet group names, one per zone of the seed's diagram. */
export const SUBNETS = { public: 'public', app: 'app', database: 'database' } as const;

export const MLLP_PORT = 2575;
export const MLLP_HEALTH_PORT = 8080;

/**
 * The VPC in the seed's zones, over three AZs:
 * - `public`: only the MLLP network load balancer (and the NAT gateways that give the private zone its egress);
 *   no instance gets a public IP;
 * - `app` (private with egress): Lambdas and Fargate tasks; egress for the MSSanté SMTP relay and the annuaire;
 * - `database` (isolated): Aurora, no route out.
 * Security groups per zone: Aurora accepts 5432 only from the app group; the NLB accepts 2575 only from the partner
 * CIDRs; the bridge accepts 2575 and its health port only from the NLB; interface endpoints accept 443 from the app
 * zone; the database's own group (FhirDatabase) accepts 5432 only from the app zone. AWS services are reached through VPC endpoints (S3, SQS, KMS, RDS Data, Secrets Manager, Logs), and every
 * flow is logged.
 */
export class Network extends Construct {
  readonly vpc: ec2.Vpc;
  /** Lambdas (and the database secret's rotation function). */
  readonly appSecurityGroup: ec2.SecurityGroup;
  /** The MLLP bridge's Fargate tasks. */
  readonly mllpSecurityGroup: ec2.SecurityGroup;
  /** The MLLP network load balancer. */
  readonly loadBalancerSecurityGroup: ec2.SecurityGroup;
  readonly endpointSecurityGroup: ec2.SecurityGroup;
  readonly flowLogGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: NetworkProps) {
    super(scope, id);
    if (props.availabilityZones.length < 2) throw new Error('Network: at least two availability zones are required');
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr(props.cidr ?? '10.40.0.0/16'),
      availabilityZones: [...props.availabilityZones],
      natGateways: props.natGateways,
      natGatewaySubnets: { subnetGroupName: SUBNETS.public },
      subnetConfiguration: [
        { name: SUBNETS.public, subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24, mapPublicIpOnLaunch: false },
        { name: SUBNETS.app, subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
        { name: SUBNETS.database, subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
      ],
      // The default security group gets no rules: nothing may rely on it.
      restrictDefaultSecurityGroup: true,
    });

    this.flowLogGroup = new logs.LogGroup(this, 'FlowLogs', {
      retention: props.flowLogRetention,
      encryptionKey: props.logsKey,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.vpc.addFlowLog('FlowLog', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(this.flowLogGroup),
      trafficType: ec2.FlowLogTrafficType.ALL,
    });

    const group = (name: string, description: string, allowAllOutbound = false) =>
      new ec2.SecurityGroup(this, name, { vpc: this.vpc, description, allowAllOutbound });
    this.appSecurityGroup = group('AppSg', 'PFI app zone: Lambda functions');
    this.mllpSecurityGroup = group('MllpSg', 'PFI app zone: MLLP bridge tasks');
    this.loadBalancerSecurityGroup = group('NlbSg', 'PFI public zone: MLLP load balancer, partner CIDRs only');
    this.endpointSecurityGroup = group('EndpointSg', 'PFI VPC endpoints, HTTPS from the app zone');

    // App zone egress: HTTPS (AWS APIs through the endpoints, annuaire), SMTP submission (MSSanté relay).
    this.appSecurityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS: AWS APIs, annuaire');
    this.appSecurityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(587), 'SMTP submission: MSSanté relay');
    this.mllpSecurityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS: SQS, S3, KMS, logs');
    this.mllpSecurityGroup.addIngressRule(
      this.loadBalancerSecurityGroup,
      ec2.Port.tcp(MLLP_PORT),
      'MLLP from the load balancer',
    );
    this.mllpSecurityGroup.addIngressRule(
      this.loadBalancerSecurityGroup,
      ec2.Port.tcp(MLLP_HEALTH_PORT),
      'Health checks from the load balancer',
    );
    this.loadBalancerSecurityGroup.addEgressRule(this.mllpSecurityGroup, ec2.Port.tcp(MLLP_PORT), 'MLLP to the bridge');
    this.loadBalancerSecurityGroup.addEgressRule(
      this.mllpSecurityGroup,
      ec2.Port.tcp(MLLP_HEALTH_PORT),
      'Health checks to the bridge',
    );
    for (const cidr of props.mllpPartnerCidrs) {
      this.loadBalancerSecurityGroup.addIngressRule(ec2.Peer.ipv4(cidr), ec2.Port.tcp(MLLP_PORT), `MLLP from ${cidr}`);
    }
    for (const source of [this.appSecurityGroup, this.mllpSecurityGroup]) {
      this.endpointSecurityGroup.addIngressRule(source, ec2.Port.tcp(443), 'HTTPS to the AWS service endpoints');
    }

    this.vpc.addGatewayEndpoint('S3', { service: ec2.GatewayVpcEndpointAwsService.S3 });
    const interfaces: [string, ec2.InterfaceVpcEndpointAwsService][] = [
      ['Sqs', ec2.InterfaceVpcEndpointAwsService.SQS],
      ['Kms', ec2.InterfaceVpcEndpointAwsService.KMS],
      ['RdsData', ec2.InterfaceVpcEndpointAwsService.RDS_DATA],
      ['SecretsManager', ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER],
      ['Logs', ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS],
    ];
    for (const [name, service] of interfaces) {
      this.vpc.addInterfaceEndpoint(name, {
        service,
        subnets: { subnetGroupName: SUBNETS.app },
        securityGroups: [this.endpointSecurityGroup],
        privateDnsEnabled: true,
        open: false,
      });
    }
  }

  get appSubnets(): ec2.SubnetSelection {
    return { subnetGroupName: SUBNETS.app };
  }

  get databaseSubnets(): ec2.SubnetSelection {
    return { subnetGroupName: SUBNETS.database };
  }

  get publicSubnets(): ec2.SubnetSelection {
    return { subnetGroupName: SUBNETS.public };
  }
}
