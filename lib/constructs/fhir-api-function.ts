import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as rds from 'aws-cdk-lib/aws-rds';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';

/** Project root: the bundler resolves `node_modules` and the lock file from here. */
const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const HANDLER_ENTRY = fileURLToPath(new URL('../../lambdas/handlers/fhir-api.ts', import.meta.url));

/**
 * Prepended to the ESM bundle: CommonJS code bundled inside it (parts of the AWS SDK, other CJS dependencies)
 * may `require` Node built-ins, which plain ESM cannot; without this it fails at run time with
 * `Dynamic require of "node:https" is not supported`.
 */
export const ESM_REQUIRE_BANNER =
  "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);";

export interface FhirApiFunctionProps {
  cluster: rds.DatabaseCluster;
  /** Master secret of the cluster, which the Data API authenticates with. */
  secret: secretsmanager.ISecret;
  databaseName: string;
  /** Token issuer and key set URL (`PFI_AUTH_MODE=jwks`). */
  authIssuer: string;
  authJwksUrl: string;
  /** The platform key: encrypts the master secret and the function's log group. */
  key: kms.IKey;
  /** Handler source file. Default `lambdas/handlers/fhir-api.ts` (export `handler`). */
  entry?: string;
}

/**
 * The FHIR API Lambda: the `fhir-api` handler bundled by esbuild as an ES module for Node.js 22 (AWS SDK v3 taken
 * from the runtime), configured through the `PFI_*` variables `lambdas/config.ts` reads, allowed to use the
 * cluster through the Data API, logging to a KMS-encrypted log group kept three months.
 */
export class FhirApiFunction extends Construct {
  readonly function: nodejs.NodejsFunction;

  constructor(scope: Construct, id: string, props: FhirApiFunctionProps) {
    super(scope, id);
    const logGroup = new logs.LogGroup(this, 'Logs', {
      retention: logs.RetentionDays.THREE_MONTHS,
      encryptionKey: props.key,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.function = new nodejs.NodejsFunction(this, 'Function', {
      entry: props.entry ?? HANDLER_ENTRY,
      handler: 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: `${PROJECT_ROOT}package-lock.json`,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 1024,
      // API Gateway gives up after 29 s; running longer would only waste capacity.
      timeout: Duration.seconds(29),
      logGroup,
      environment: {
        PFI_DB_CLUSTER_ARN: props.cluster.clusterArn,
        PFI_DB_SECRET_ARN: props.secret.secretArn,
        PFI_DB_NAME: props.databaseName,
        PFI_AUTH_MODE: 'jwks',
        PFI_AUTH_ISSUER: props.authIssuer,
        PFI_AUTH_JWKS_URL: props.authJwksUrl,
        PFI_LOG_LEVEL: 'INFO',
        NODE_OPTIONS: '--enable-source-maps',
      },
      bundling: {
        format: nodejs.OutputFormat.ESM,
        target: 'node22',
        mainFields: ['module', 'main'],
        externalModules: ['@aws-sdk/*'],
        banner: ESM_REQUIRE_BANNER,
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        logLevel: nodejs.LogLevel.WARNING,
      },
    });
    // rds-data actions on the cluster, plus read of the master secret.
    props.cluster.grantDataApiAccess(this.function);
    // The Data API reads the secret with the caller's permissions, so the caller must also be able to decrypt it;
    // grantDataApiAccess leaves this out for a secret under a customer-managed key. Only through Secrets Manager.
    this.function.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['kms:Decrypt'],
        resources: [props.key.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${Stack.of(this).region}.amazonaws.com` } },
      }),
    );
  }
}
