#!/usr/bin/env node
/**
 * CDK app entry (`cdk synth`, `cdk deploy`): one stage, in eu-west-3. Settings come from the `pfi:*` context keys
 * in cdk.json (override with `-c pfi:stage=…`).
 */
import { App, Tags } from 'aws-cdk-lib';
import { FhirApiStack } from '../lib/fhir-api-stack.js';
import { readSettings, SettingsError } from '../lib/settings.js';

const app = new App();
try {
  const settings = readSettings(app.node);
  new FhirApiStack(app, `pfi-${settings.stage}-fhir-api`, {
    env: { account: settings.account, region: settings.region },
    settings,
    description: `PFI ${settings.stage}: FHIR API, its database and authorization server`,
  });
  Tags.of(app).add('project', 'pfi');
  Tags.of(app).add('pfi:stage', settings.stage);
} catch (err) {
  if (!(err instanceof SettingsError)) throw err;
  // A settings mistake is the operator's to fix: one readable message, no stack trace.
  console.error(err.message);
  process.exitCode = 1;
}
