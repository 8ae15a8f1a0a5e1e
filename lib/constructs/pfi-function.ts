import { fileURLToPath } from 'node:url';
import { type Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as rds from 'aws-cdk-lib/aws-rds';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';

/** Project root: the bundler resolves `node_modules` and the lock file from here. */
export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Source file of a handler in `lambdas/handlers/`. */
export function handlerEntry(name: string): string {
  return fileURLToPath(new URL(`../../lambdas/handlers/${name}.ts`, import.meta.url));
}

/**
 * Prepended to the ESM bundle: CommonJS code bundled inside it (parts of the AWS SDK, other CJS dependencies)
 * may `require` Node built-ins, which plain ESM cannot; without this it fails at run time with
 * `Dynamic require of "node:https" is not supported`.
 */
export const ESM_REQUIRE_BANNER =
  "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);";

/** The Lambda runtime of every PFI function (cdk-nag AwsSolutions-L1 wants the latest Node.js). */
export const PFI_RUNTIME = lambda.Runtime.NODEJS_24_X;

/** The database the function reaches through the RDS Data API. */
export interface DataApiAccess {
  cluster: rds.DatabaseCluster;
  /** Master secret the Data API authenticates with, and the key that encrypts it. */
  secret: secretsmanager.ISecret;
  secretKey: kms.IKey;
  databaseName: string;
}

export interface PfiFunctionProps {
  /** Handler name in `lambdas/handlers/` (export `handler`). */
  handler: string;
  /** Handler source file; default `lambdas/handlers/<handler>.ts`. */
  entry?: string;
  description: string;
  vpc: ec2.IVpc;
  subnets: ec2.SubnetSelection;
  securityGroup: ec2.ISecurityGroup;
  /** Encrypts the function's log group. */
  logsKey: kms.IKey;
  logRetention: logs.RetentionDays;
  timeout: Duration;
  memorySize?: number;
  /** Reserved concurrency: bounds what one function can take from the account (and from the database). */
  reservedConcurrency: number;
  database?: DataApiAccess;
  environment?: Record<string, string>;
}

/**
 * One PFI Lambda function, always the same shape: the handler bundled by the local esbuild (no Docker) as an ES
 * module, Node.js 24 on arm64, in the VPC's private subnets, Active X-Ray tracing, its own role, and an explicit log
 * group under the logs key with a fixed retention. With `database`, the function may use the cluster through the
 * Data API (the `PFI_DB_*` variables are set).
 */
export class PfiFunction extends Construct {
  readonly function: nodejs.NodejsFunction;
  readonly logGroup: logs.LogGroup;
  readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: PfiFunctionProps) {
    super(scope, id);
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention,
      encryptionKey: props.logsKey,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // Its own role with only the VPC network-interface rights, instead of the AWS-managed VPC execution policy.
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `PFI ${props.handler} function`,
    });
    // Network interfaces in the VPC (what the AWS-managed VPC execution policy grants; EC2 allows no narrower
    // resource for these actions) and writing to its own log group only.
    this.role.addToPolicy(
      new iam.PolicyStatement({
        actions: [
          'ec2:CreateNetworkInterface',
          'ec2:DescribeNetworkInterfaces',
          'ec2:DescribeSubnets',
          'ec2:DeleteNetworkInterface',
          'ec2:AssignPrivateIpAddresses',
          'ec2:UnassignPrivateIpAddresses',
        ],
        resources: ['*'],
      }),
    );
    this.logGroup.grantWrite(this.role);
    const db = props.database;
    this.function = new nodejs.NodejsFunction(this, 'Function', {
      entry: props.entry ?? handlerEntry(props.handler),
      handler: 'handler',
      description: props.description,
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: `${PROJECT_ROOT}package-lock.json`,
      runtime: PFI_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 1024,
      timeout: props.timeout,
      reservedConcurrentExecutions: props.reservedConcurrency,
      tracing: lambda.Tracing.ACTIVE,
      role: this.role,
      vpc: props.vpc,
      vpcSubnets: props.subnets,
      securityGroups: [props.securityGroup],
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      environment: {
        ...(db === undefined
          ? {}
          : {
              PFI_DB_CLUSTER_ARN: db.cluster.clusterArn,
              PFI_DB_SECRET_ARN: db.secret.secretArn,
              PFI_DB_NAME: db.databaseName,
            }),
        PFI_LOG_LEVEL: 'INFO',
        POWERTOOLS_LOGGER_LOG_EVENT: 'false',
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        NODE_OPTIONS: '--enable-source-maps',
        ...props.environment,
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
    if (db !== undefined) {
      // rds-data actions on the cluster and read of the master secret, written out rather than through
      // grantDataApiAccess: that also adds the role to the secret key's policy, a reference from the keys stack
      // back to this one (a cycle).
      this.role.addToPolicy(
        new iam.PolicyStatement({
          actions: [
            'rds-data:BatchExecuteStatement',
            'rds-data:BeginTransaction',
            'rds-data:CommitTransaction',
            'rds-data:ExecuteStatement',
            'rds-data:RollbackTransaction',
          ],
          resources: [db.cluster.clusterArn],
        }),
      );
      this.role.addToPolicy(
        new iam.PolicyStatement({
          actions: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
          resources: [db.secret.secretArn],
        }),
      );
      // The Data API reads the secret with the caller's permissions, so the caller must also be able to decrypt
      // it; grantDataApiAccess leaves this out for a secret under a customer-managed key. Only via Secrets Manager.
      this.role.addToPolicy(
        new iam.PolicyStatement({
          actions: ['kms:Decrypt'],
          resources: [db.secretKey.keyArn],
          conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${Stack.of(this).region}.amazonaws.com` } },
        }),
      );
    }
  }
}
