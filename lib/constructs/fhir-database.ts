import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';

export interface FhirDatabaseProps {
  /** Cluster identifier, e.g. `pfi-prod-fhir` (names the PostgreSQL log group). */
  clusterIdentifier: string;
  vpc: ec2.IVpc;
  subnets: ec2.SubnetSelection;
  /** App-zone groups allowed to connect on 5432 (the database's own group admits nothing else). */
  clientSecurityGroups: readonly ec2.ISecurityGroup[];
  /** Encrypts the storage, the automated backups, snapshots, Performance Insights and the master secret. */
  key: kms.IKey;
  /** Encrypts the exported PostgreSQL log group. */
  logsKey: kms.IKey;
  logRetention: logs.RetentionDays;
  /** Database created in the cluster; the functions use it (`PFI_DB_NAME`). */
  databaseName: string;
  /** Serverless v2 capacity range in ACU (0.5 steps). */
  minCapacity: number;
  maxCapacity: number;
  /** Writer and reader placement: two different zones so a zone loss fails over in about a minute. */
  writerAvailabilityZone: string;
  readerAvailabilityZone: string;
  /**
   * Where the master secret's rotation function runs (it connects to PostgreSQL directly); it gets its own
   * security group: HTTPS out (Secrets Manager endpoint) and PostgreSQL to the cluster.
   */
  rotation?: { subnets: ec2.SubnetSelection };
}

/**
 * Aurora PostgreSQL version. Data API on Serverless v2 needs 16.1 or later.
 * Minor upgrades are applied by AWS in the maintenance window; bump this when they are.
 */
export const AURORA_POSTGRES_VERSION = rds.AuroraPostgresEngineVersion.VER_16_9;

export const POSTGRES_PORT = 5432;

/** Master user; the RDS Data API authenticates as this user through the generated secret. */
const MASTER_USER = 'pfi_admin';

/**
 * The FHIR repository database: Aurora PostgreSQL Serverless v2 with the RDS Data API, a writer and one reader in
 * another zone (promotion tier 1, scaling with the writer), storage, Performance Insights and secret under the data
 * key, 7 days of point-in-time recovery, IAM authentication, PostgreSQL logs exported to a KMS-encrypted log group,
 * enhanced monitoring, deletion protection, and a final snapshot if the cluster is ever removed.
 */
export class FhirDatabase extends Construct {
  readonly cluster: rds.DatabaseCluster;
  /** The generated master credentials, used by the Data API. */
  readonly secret: secretsmanager.ISecret;
  readonly databaseName: string;
  readonly logGroup: logs.LogGroup;
  readonly securityGroup: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, props: FhirDatabaseProps) {
    super(scope, id);
    if (props.writerAvailabilityZone === props.readerAvailabilityZone) {
      throw new Error('FhirDatabase: the writer and the reader must be in different availability zones');
    }
    if (!/^[a-z][a-z0-9_]{0,62}$/.test(props.databaseName)) {
      throw new Error('FhirDatabase: databaseName must be a lower-case PostgreSQL identifier');
    }
    this.databaseName = props.databaseName;
    // Created before the cluster so that RDS writes into an encrypted group with a retention, not its own.
    this.logGroup = new logs.LogGroup(this, 'PostgresLogs', {
      logGroupName: `/aws/rds/cluster/${props.clusterIdentifier}/postgresql`,
      encryptionKey: props.logsKey,
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.securityGroup = new ec2.SecurityGroup(this, 'Sg', {
      vpc: props.vpc,
      description: 'PFI database zone: Aurora, PostgreSQL from the app zone only',
      allowAllOutbound: false,
    });
    for (const client of props.clientSecurityGroups) {
      this.securityGroup.addIngressRule(client, ec2.Port.tcp(POSTGRES_PORT), 'PostgreSQL from the app zone');
    }
    this.cluster = new rds.DatabaseCluster(this, 'Cluster', {
      clusterIdentifier: props.clusterIdentifier,
      engine: rds.DatabaseClusterEngine.auroraPostgres({ version: AURORA_POSTGRES_VERSION }),
      credentials: rds.Credentials.fromGeneratedSecret(MASTER_USER, { encryptionKey: props.key }),
      defaultDatabaseName: props.databaseName,
      vpc: props.vpc,
      vpcSubnets: props.subnets,
      securityGroups: [this.securityGroup],
      port: POSTGRES_PORT,
      writer: rds.ClusterInstance.serverlessV2('Writer', {
        availabilityZone: props.writerAvailabilityZone,
        publiclyAccessible: false,
        enablePerformanceInsights: true,
        performanceInsightEncryptionKey: props.key,
      }),
      readers: [
        rds.ClusterInstance.serverlessV2('Reader', {
          availabilityZone: props.readerAvailabilityZone,
          publiclyAccessible: false,
          scaleWithWriter: true,
          enablePerformanceInsights: true,
          performanceInsightEncryptionKey: props.key,
        }),
      ],
      serverlessV2MinCapacity: props.minCapacity,
      serverlessV2MaxCapacity: props.maxCapacity,
      enableDataApi: true,
      storageEncrypted: true,
      storageEncryptionKey: props.key,
      iamAuthentication: true,
      cloudwatchLogsExports: ['postgresql'],
      monitoringInterval: Duration.seconds(60),
      copyTagsToSnapshot: true,
      // Direct connections (migrations, administration) must use TLS; the Data API always does.
      parameters: { 'rds.force_ssl': '1', log_min_duration_statement: '2000' },
      backup: { retention: Duration.days(7), preferredWindow: '01:00-02:00' },
      preferredMaintenanceWindow: 'sun:02:30-sun:03:30',
      deletionProtection: true,
      removalPolicy: RemovalPolicy.SNAPSHOT,
    });
    this.cluster.node.addDependency(this.logGroup);
    const secret = this.cluster.secret;
    // Always defined with generated credentials; checked so a change of credentials fails here, not at deploy.
    if (secret === undefined) throw new Error('FhirDatabase: the cluster has no master secret');
    this.secret = secret;
    if (props.rotation !== undefined) {
      const securityGroup = new ec2.SecurityGroup(this, 'RotationSg', {
        vpc: props.vpc,
        description: 'PFI app zone: database secret rotation',
        allowAllOutbound: false,
      });
      securityGroup.addEgressRule(
        ec2.Peer.ipv4(props.vpc.vpcCidrBlock),
        ec2.Port.tcp(443),
        'HTTPS to the VPC endpoints',
      );
      this.cluster.addRotationSingleUser({
        automaticallyAfter: Duration.days(30),
        vpcSubnets: props.rotation.subnets,
        securityGroup,
      });
    }
  }
}
