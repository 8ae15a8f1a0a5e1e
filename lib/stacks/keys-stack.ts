import { CfnOutput } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { PlatformKeys } from '../constructs/platform-keys.js';
import { PfiStack, type PfiStackProps } from './pfi-stack.js';

/** The platform's KMS keys (data, documents, logs, audit seal): first, since every other stack encrypts with them. */
export class KeysStack extends PfiStack {
  readonly keys: PlatformKeys;

  constructor(scope: Construct, id: string, props: Omit<PfiStackProps, 'classification'>) {
    super(scope, id, { ...props, classification: 'health-data' });
    this.keys = new PlatformKeys(this, 'Keys', { stage: props.settings.stage });
    const k = this.keys;
    for (const [name, key] of [
      ['Data', k.data],
      ['Documents', k.documents],
      ['Logs', k.logs],
      ['AuditSeal', k.seal],
    ] as const) {
      new CfnOutput(this, `${name}KeyArn`, { value: key.keyArn, description: `KMS key: ${name}` });
    }
  }
}
