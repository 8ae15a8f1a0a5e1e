import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as kms from 'aws-cdk-lib/aws-kms';
import type { Asset } from 'aws-cdk-lib/aws-s3-assets';
import { describe, expect, it } from 'vitest';
import { ESM_REQUIRE_BANNER, FhirApiFunction } from '../../../lib/constructs/fhir-api-function.js';
import { FhirDatabase } from '../../../lib/constructs/fhir-database.js';
import { Network } from '../../../lib/constructs/network.js';
import { testApp, testStack } from '../cdk-test-app.js';

describe('FhirApiFunction', () => {
  // The one test that really bundles: esbuild runs on the real handler (about a second).
  it('bundles the fhir-api handler as an ES module with the require banner and the AWS SDK left out', () => {
    const app = testApp({ bundling: true });
    const stack = testStack(app);
    const key = new kms.Key(stack, 'Key');
    const network = new Network(stack, 'Net', { availabilityZones: ['eu-west-3a', 'eu-west-3b'] });
    const db = new FhirDatabase(stack, 'Db', {
      vpc: network.vpc,
      subnets: network.databaseSubnets,
      key,
      databaseName: 'pfi',
      minCapacity: 0.5,
      maxCapacity: 2,
      writerAvailabilityZone: 'eu-west-3a',
      readerAvailabilityZone: 'eu-west-3b',
    });
    const fn = new FhirApiFunction(stack, 'Fhir', {
      cluster: db.cluster,
      secret: db.secret,
      databaseName: 'pfi',
      authIssuer: 'https://issuer.example',
      authJwksUrl: 'https://issuer.example/jwks.json',
      key,
    });
    const asset = fn.function.node.findChild('Code') as Asset;
    const dir = join(app.outdir, asset.assetPath);
    const code = readFileSync(join(dir, 'index.mjs'), 'utf8');
    expect(code.startsWith(ESM_REQUIRE_BANNER)).toBe(true);
    // The Data API client is imported from the runtime, not bundled.
    expect(code).toMatch(/from\s*"@aws-sdk\/client-rds-data"/);
    expect(code).not.toMatch(/\bmodule\.exports\s*=\s*__toCommonJS/);
    expect(existsSync(join(dir, 'index.mjs.map'))).toBe(true);
  });
});
