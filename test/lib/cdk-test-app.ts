import { readFileSync } from 'node:fs';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { buildPlatform, type Platform } from '../../lib/platform.js';
import { type PfiSettings, readSettings } from '../../lib/settings.js';

/** The context of the project's cdk.json (feature flags, `pfi:*` defaults). */
export function cdkJsonContext(): Record<string, unknown> {
  const cdkJson: unknown = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8'));
  if (typeof cdkJson !== 'object' || cdkJson === null || !('context' in cdkJson))
    throw new Error('cdk.json: no context');
  return cdkJson.context as Record<string, unknown>;
}

/**
 * An App with cdk.json's context. Bundling is off unless asked (esbuild would run for every function), and so is the
 * built-in CloudFormation validation (a WASM module that costs seconds per test file).
 */
export function testApp(
  options: { bundling?: boolean; validation?: boolean; context?: Record<string, unknown> } = {},
): App {
  return new App({
    builtinCloudFormationValidation: options.validation === true,
    context: {
      ...cdkJsonContext(),
      ...(options.bundling ? {} : { 'aws:cdk:bundling-stacks': [] }),
      ...options.context,
    },
  });
}

/** cdk.json's settings, as `cdk synth` reads them with no deploying credentials. */
export const TEST_SETTINGS: PfiSettings = readSettings({ tryGetContext: (k) => cdkJsonContext()[k] }, {});

/** A stack in the test account and Paris, for testing one construct. */
export function testStack(app: App = testApp()): Stack {
  return new Stack(app, 'Test', { env: { account: TEST_SETTINGS.account, region: TEST_SETTINGS.region } });
}

export interface TestPlatform {
  app: App;
  platform: Platform;
  /** Template of each stack, by part name (`keys`, `network`, …). */
  templates: Record<keyof Platform, Template>;
}

/** The whole platform with cdk.json's settings (or overrides), and the template of every stack. */
export function testPlatform(overrides: Partial<PfiSettings> = {}, app: App = testApp()): TestPlatform {
  const platform = buildPlatform(app, { ...TEST_SETTINGS, ...overrides });
  const templates = Object.fromEntries(
    Object.entries(platform).map(([part, stack]) => [part, Template.fromStack(stack as Stack)]),
  ) as Record<keyof Platform, Template>;
  return { app, platform, templates };
}

/** Logical ids of the resources of `type` matching `props`. */
export function idsOf(template: Template, type: string, props: Record<string, unknown> = {}): string[] {
  return Object.keys(template.findResources(type, { Properties: props }));
}

/** The properties of every resource of `type`. */
export function propsOf(template: Template, type: string): Record<string, any>[] {
  return Object.values(template.findResources(type)).map((r) => r['Properties'] ?? {});
}
