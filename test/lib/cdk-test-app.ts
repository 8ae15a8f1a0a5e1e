import { readFileSync } from 'node:fs';
import { App, Stack } from 'aws-cdk-lib';
import type { PfiSettings } from '../../lib/settings.js';

/** The context of the project's cdk.json (feature flags, AZ lookup result, `pfi:*` defaults). */
export function cdkJsonContext(): Record<string, unknown> {
  const cdkJson: unknown = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8'));
  if (typeof cdkJson !== 'object' || cdkJson === null || !('context' in cdkJson))
    throw new Error('cdk.json: no context');
  return cdkJson.context as Record<string, unknown>;
}

/**
 * An App with cdk.json's context. Bundling is off unless asked (esbuild would run for every stack), and so is the
 * built-in CloudFormation validation (a WASM module that costs seconds per test file).
 */
export function testApp(options: { bundling?: boolean; validation?: boolean } = {}): App {
  return new App({
    builtinCloudFormationValidation: options.validation === true,
    context: { ...cdkJsonContext(), ...(options.bundling ? {} : { 'aws:cdk:bundling-stacks': [] }) },
  });
}

export const TEST_SETTINGS: PfiSettings = {
  stage: 'prod',
  account: '123456789012',
  region: 'eu-west-3',
  dbMinCapacity: 0.5,
  dbMaxCapacity: 16,
  authDomainPrefix: 'pfi-prod-123456789012',
};

/** A stack in the test account and Paris, for testing one construct. */
export function testStack(app: App = testApp()): Stack {
  return new Stack(app, 'Test', { env: { account: TEST_SETTINGS.account, region: TEST_SETTINGS.region } });
}
