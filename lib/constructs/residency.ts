import { Annotations, type IAspect, Stack, Token } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * HDS residency guard: an error (synth fails) on any stack that is environment-agnostic or targets another region
 * than the allowed one. Registered on the app, so a stack added later cannot escape it.
 *
 * @example
 * Aspects.of(app).add(new ResidencyGuard('eu-west-3'));
 */
export class ResidencyGuard implements IAspect {
  constructor(readonly region: string) {}

  visit(node: IConstruct): void {
    if (!Stack.isStack(node)) return;
    if (Token.isUnresolved(node.region) || node.region !== this.region) {
      Annotations.of(node).addError(
        `HDS residency: stack ${node.stackName} must target ${this.region} (got ${Token.isUnresolved(node.region) ? 'no region' : node.region})`,
      );
    }
  }
}
