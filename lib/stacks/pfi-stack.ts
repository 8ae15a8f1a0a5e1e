import { Stack, type StackProps, Tags, Validations } from 'aws-cdk-lib';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { PFI_AVAILABILITY_ZONES, PFI_REGION, type PfiSettings } from '../settings.js';

/** What the data in a stack is, for the `pfi:data-classification` tag (HDS/RGPD inventories filter on it). */
export type DataClassification = 'health-data' | 'audit' | 'internal';

export interface PfiStackProps extends StackProps {
  settings: PfiSettings;
  classification: DataClassification;
}

/**
 * Base of every PFI stack: Paris only (throws otherwise, before anything is created), a known account, termination
 * protection, the three Paris zones fixed (no availability-zone lookup, so synth needs no credentials), and the
 * data-classification tag.
 */
export class PfiStack extends Stack {
  readonly settings: PfiSettings;

  constructor(scope: Construct, id: string, props: PfiStackProps) {
    if (props.env?.region !== PFI_REGION) {
      throw new Error(`${id}: region must be ${PFI_REGION} (health data hosting stays in Paris)`);
    }
    if (props.env.account === undefined) throw new Error(`${id}: the account must be given`);
    super(scope, id, { terminationProtection: true, ...props });
    this.settings = props.settings;
    Tags.of(this).add('pfi:data-classification', props.classification);
    // CDK acknowledges this itself when zones come from a lookup; here they are fixed on purpose.
    Validations.of(this).acknowledge({
      id: 'CloudFormation-Validate::W3010',
      reason:
        'The Paris zones are fixed (eu-west-3a/b/c) so that synth needs no lookup; subnets and the Aurora writer/reader are laid out on them deliberately.',
    });
  }

  override get availabilityZones(): string[] {
    return [...PFI_AVAILABILITY_ZONES];
  }

  /** Retention of application log groups. */
  get logRetention(): logs.RetentionDays {
    return this.settings.logRetentionDays as logs.RetentionDays;
  }

  /** Retention of audit log groups (CloudTrail, WAF, API access logs, flow logs). */
  get auditLogRetention(): logs.RetentionDays {
    return this.settings.auditLogRetentionDays as logs.RetentionDays;
  }
}
