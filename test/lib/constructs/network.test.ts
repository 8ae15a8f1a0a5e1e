import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { Network } from '../../../lib/constructs/network.js';
import { testStack } from '../cdk-test-app.js';

describe('Network', () => {
  it('lays one isolated /24 per zone in the given range and strips the default security group', () => {
    const stack = testStack();
    new Network(stack, 'Net', { availabilityZones: ['eu-west-3a', 'eu-west-3b'], cidr: '10.7.0.0/16' });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::EC2::VPC', { CidrBlock: '10.7.0.0/16' });
    const subnets = Object.values(template.findResources('AWS::EC2::Subnet')).map((r) => r['Properties']);
    expect(subnets.map((p) => [p.AvailabilityZone, p.CidrBlock])).toEqual([
      ['eu-west-3a', '10.7.0.0/24'],
      ['eu-west-3b', '10.7.1.0/24'],
    ]);
    template.resourceCountIs('AWS::EC2::Route', 0);
    template.resourceCountIs('Custom::VpcRestrictDefaultSG', 1);
  });

  it('needs two zones at least', () => {
    expect(() => new Network(testStack(), 'Net', { availabilityZones: ['eu-west-3a'] })).toThrow(
      /at least two availability zones/,
    );
  });
});
