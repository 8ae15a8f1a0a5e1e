import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Stack, Validations } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { AwsSolutionsChecks, HIPAASecurityChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { ESM_REQUIRE_BANNER } from '../../lib/constructs/pfi-function.js';
import { applyNag } from '../../lib/nag.js';
import { buildPlatform } from '../../lib/platform.js';
import { KeysStack } from '../../lib/stacks/keys-stack.js';
import { TEST_SETTINGS, testApp } from './cdk-test-app.js';

describe('the platform (item 1: stacks, item 7: residency, item 9: cdk-nag)', () => {
  it('has the seed diagram stacks, in Paris, in the given account, with termination protection', () => {
    const app = testApp();
    const platform = buildPlatform(app, TEST_SETTINGS);
    expect(Object.values(platform).map((s) => s.stackName)).toEqual([
      'pfi-prod-keys',
      'pfi-prod-network',
      'pfi-prod-data',
      'pfi-prod-messaging',
      'pfi-prod-api',
      'pfi-prod-mllp',
      'pfi-prod-observability',
      'pfi-prod-compliance',
    ]);
    for (const stack of Object.values(platform)) {
      expect(stack.region).toBe('eu-west-3');
      expect(stack.account).toBe('123456789012');
      expect(stack.terminationProtection).toBe(true);
      // No availability-zone lookup: the zones are fixed, so synth needs no credentials.
      expect(stack.availabilityZones).toEqual(['eu-west-3a', 'eu-west-3b', 'eu-west-3c']);
    }
  });

  it('refuses to build a PFI stack outside eu-west-3 or without an account', () => {
    const app = testApp();
    const env = { account: '123456789012', region: 'eu-west-1' };
    expect(() => new KeysStack(app, 'A', { env, settings: TEST_SETTINGS })).toThrow(/region must be eu-west-3/);
    expect(() => new KeysStack(app, 'B', { env: { region: 'eu-west-3' }, settings: TEST_SETTINGS })).toThrow(
      /account must be given/,
    );
  });

  it('fails synth (residency aspect) for any other stack of the app that targets another region', () => {
    const app = testApp();
    buildPlatform(app, TEST_SETTINGS);
    const rogue = new Stack(app, 'Rogue', { env: { account: '123456789012', region: 'us-east-1' } });
    const agnostic = new Stack(app, 'Agnostic');
    app.synth();
    Annotations.fromStack(rogue).hasError(
      '*',
      Match.stringLikeRegexp('HDS residency: stack Rogue must target eu-west-3'),
    );
    Annotations.fromStack(agnostic).hasError('*', Match.stringLikeRegexp('HDS residency'));
  });

  it('would fail synth on the cdk-nag findings without the reviewed acknowledgements', () => {
    const app = testApp();
    buildPlatform(app, TEST_SETTINGS);
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new HIPAASecurityChecks(app));
    expect(() => app.synth()).toThrow(/AwsSolutions|HIPAA/);
  });

  // The one test that really bundles (esbuild on every handler) and runs the built-in CloudFormation validation.
  it('synthesizes with cdk-nag (AwsSolutions + HIPAA Security) and CloudFormation validation clean, bundling locally', () => {
    const app = testApp({ bundling: true, validation: true });
    const platform = buildPlatform(app, TEST_SETTINGS);
    applyNag(app, platform);
    const assembly = app.synth();
    const report = JSON.parse(readFileSync(join(assembly.directory, 'validation-report.json'), 'utf8'));
    expect(report.pluginReports.flatMap((r: { violations?: unknown[] }) => r.violations ?? [])).toEqual([]);
    expect(assembly.stacks.map((s) => s.environment.region)).toEqual(Array(8).fill('eu-west-3'));

    // The FHIR handler bundle: ESM with the require banner, the AWS SDK taken from the runtime.
    const fn = platform.api.fhir.function.node.defaultChild as CfnFunction;
    const code = fn.code as { s3Key?: string };
    expect(code.s3Key).toMatch(/\.zip$/);
    const assetDir = join(assembly.directory, `asset.${String(code.s3Key).replace(/\.zip$/, '')}`);
    const bundle = readFileSync(join(assetDir, 'index.mjs'), 'utf8');
    expect(bundle.startsWith(ESM_REQUIRE_BANNER)).toBe(true);
    expect(bundle).toMatch(/from\s*"@aws-sdk\/client-rds-data"/);
  });
});
