#!/usr/bin/env node
/**
 * CDK app entry (`cdk synth`, `cdk deploy`): one stage, in eu-west-3. Settings come from the `pfi:*` context keys
 * in cdk.json (override with `-c pfi:stage=…`). cdk-nag (AwsSolutions and HIPAA Security) runs on every synth;
 * a finding nobody acknowledged fails it.
 */
import { App } from 'aws-cdk-lib';
import { applyNag } from '../lib/nag.js';
import { buildPlatform } from '../lib/platform.js';
import { readSettings, SettingsError } from '../lib/settings.js';

const app = new App();
try {
  const platform = buildPlatform(app, readSettings(app.node));
  applyNag(app, platform);
} catch (err) {
  if (!(err instanceof SettingsError)) throw err;
  // A settings mistake is the operator's to fix: one readable message, no stack trace.
  console.error(err.message);
  process.exitCode = 1;
}
