import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';

export interface NetworkProps {
  /** Availability zones to span; the database subnet group covers all of them. */
  availabilityZones: readonly string[];
  /** IPv4 range of the VPC. Default `10.40.0.0/16`. */
  cidr?: string;
}

/** Name of the isolated subnet group that holds the database. */
export const DATABASE_SUBNETS = 'database';

/**
 * The VPC: one isolated subnet per availability zone for the database, no internet gateway, no NAT.
 * The FHIR Lambda reaches Aurora through the RDS Data API (HTTPS to the AWS endpoint), so it needs no VPC access;
 * public and private-with-egress subnets come with the services that need them (NLB, Fargate).
 */
export class Network extends Construct {
  readonly vpc: ec2.Vpc;

  constructor(scope: Construct, id: string, props: NetworkProps) {
    super(scope, id);
    if (props.availabilityZones.length < 2) throw new Error('Network: at least two availability zones are required');
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr(props.cidr ?? '10.40.0.0/16'),
      availabilityZones: [...props.availabilityZones],
      natGateways: 0,
      subnetConfiguration: [{ name: DATABASE_SUBNETS, subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 }],
      // The default security group gets no rules: nothing may rely on it.
      restrictDefaultSecurityGroup: true,
    });
  }

  /** Selection of the database subnets, one per availability zone. */
  get databaseSubnets(): ec2.SubnetSelection {
    return { subnetGroupName: DATABASE_SUBNETS };
  }
}
