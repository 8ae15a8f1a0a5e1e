import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as rds from 'aws-cdk-lib/aws-rds';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';

export interface FhirDatabaseProps {
  vpc: ec2.IVpc;
  subnets: ec2.SubnetSelection;
  /** Encrypts the storage, the automated backups, snapshots and the master secret. */
  key: kms.IKey;
  /** Database created in the cluster; the FHIR API connects to it (`PFI_DB_NAME`). */
  databaseName: string;
  /** Serverless v2 capacity range in ACU (0.5 steps). */
  minCapacity: number;
  maxCapacity: number;
  /** Writer and reader placement: two different zones so a zone loss fails over in about a minute. */
  writerAvailabilityZone: string;
  readerAvailabilityZone: string;
}

/**
 * Aurora PostgreSQL version. Data API on Serverless v2 needs 16.1 or later.
 * Minor upgrades are applied by AWS in the maintenance window; bump this when they are.
 */
export const AURORA_POSTGRES_VERSION = rds.AuroraPostgresEngineVersion.VER_16_9;

/** Master user; the RDS Data API authenticates as this user through the generated secret. */
const MASTER_USER = 'pfi_admin';

/**
 * The FHIR repository database: Aurora PostgreSQL Serverless v2 with the RDS Data API, a writer and one reader in
 * another zone (promotion tier 1, scaling with the writer), storage and secret under the platform key, 7 days of
 * point-in-time recovery, deletion protection, and a final snapshot if the cluster is ever removed.
 */
export class FhirDatabase extends Construct {
  readonly cluster: rds.DatabaseCluster;
  /** The generated master credentials, used by the Data API. */
  readonly secret: secretsmanager.ISecret;
  readonly databaseName: string;

  constructor(scope: Construct, id: string, props: FhirDatabaseProps) {
    super(scope, id);
    if (props.writerAvailabilityZone === props.readerAvailabilityZone) {
      throw new Error('FhirDatabase: the writer and the reader must be in different availability zones');
    }
    if (!/^[a-z][a-z0-9_]{0,62}$/.test(props.databaseName)) {
      throw new Error('FhirDatabase: databaseName must be a lower-case PostgreSQL identifier');
    }
    this.databaseName = props.databaseName;
    this.cluster = new rds.DatabaseCluster(this, 'Cluster', {
      engine: rds.DatabaseClusterEngine.auroraPostgres({ version: AURORA_POSTGRES_VERSION }),
      credentials: rds.Credentials.fromGeneratedSecret(MASTER_USER, { encryptionKey: props.key }),
      defaultDatabaseName: props.databaseName,
      vpc: props.vpc,
      vpcSubnets: props.subnets,
      writer: rds.ClusterInstance.serverlessV2('Writer', {
        availabilityZone: props.writerAvailabilityZone,
        publiclyAccessible: false,
      }),
      readers: [
        rds.ClusterInstance.serverlessV2('Reader', {
          availabilityZone: props.readerAvailabilityZone,
          publiclyAccessible: false,
          scaleWithWriter: true,
        }),
      ],
      serverlessV2MinCapacity: props.minCapacity,
      serverlessV2MaxCapacity: props.maxCapacity,
      enableDataApi: true,
      storageEncrypted: true,
      storageEncryptionKey: props.key,
      // Direct connections (migrations, administration) must use TLS; the Data API always does.
      parameters: { 'rds.force_ssl': '1' },
      backup: { retention: Duration.days(7), preferredWindow: '01:00-02:00' },
      preferredMaintenanceWindow: 'sun:02:30-sun:03:30',
      deletionProtection: true,
      removalPolicy: RemovalPolicy.SNAPSHOT,
    });
    const secret = this.cluster.secret;
    // Always defined with generated credentials; checked so a change of credentials fails here, not at deploy.
    if (secret === undefined) throw new Error('FhirDatabase: the cluster has no master secret');
    this.secret = secret;
  }
}
