import { Duration } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import { accessLogBucket, DOCUMENT_PREFIXES, kmsBucket } from '../constructs/buckets.js';
import { DatabaseBackup } from '../constructs/database-backup.js';
import { FhirDatabase } from '../constructs/fhir-database.js';
import type { Network } from '../constructs/network.js';
import type { PlatformKeys } from '../constructs/platform-keys.js';
import { PFI_AVAILABILITY_ZONES } from '../settings.js';
import { PfiStack, type PfiStackProps } from './pfi-stack.js';

/** Database name inside the cluster (`PFI_DB_NAME`). */
export const FHIR_DATABASE_NAME = 'pfi';

export interface DataStackProps extends Omit<PfiStackProps, 'classification'> {
  keys: PlatformKeys;
  network: Network;
}

/**
 * The data zone: Aurora (FHIR repository), its AWS Backup plan, the documents bucket (SSE-KMS, bucket key,
 * versioning, access logs, lifecycle of raw HL7) and the server-access-log bucket every other bucket logs to.
 */
export class DataStack extends PfiStack {
  readonly database: FhirDatabase;
  readonly backup: DatabaseBackup;
  readonly documentsBucket: s3.Bucket;
  readonly accessLogsBucket: s3.Bucket;
  /** Fixed name of the documents bucket, `pfi-<stage>-documents-<account>` (grants in other stacks use it). */
  readonly documentsBucketName: string;

  constructor(scope: Construct, id: string, props: DataStackProps) {
    super(scope, id, { ...props, classification: 'health-data' });
    const s = props.settings;
    const { keys, network } = props;
    this.database = new FhirDatabase(this, 'Database', {
      clusterIdentifier: `pfi-${s.stage}-fhir`,
      vpc: network.vpc,
      subnets: network.databaseSubnets,
      clientSecurityGroups: [network.appSecurityGroup],
      key: keys.data,
      logsKey: keys.logs,
      logRetention: this.logRetention,
      databaseName: FHIR_DATABASE_NAME,
      minCapacity: s.dbMinCapacity,
      maxCapacity: s.dbMaxCapacity,
      writerAvailabilityZone: PFI_AVAILABILITY_ZONES[0],
      readerAvailabilityZone: PFI_AVAILABILITY_ZONES[1],
      rotation: { subnets: network.appSubnets },
    });
    this.backup = new DatabaseBackup(this, 'Backup', {
      stage: s.stage,
      cluster: this.database.cluster,
      key: keys.data,
      vaultLock: s.backupVaultLock,
    });
    this.accessLogsBucket = accessLogBucket(this, 'AccessLogs', s.auditLogRetentionDays);
    const rawDays = Duration.days(s.hl7RawRetentionDays);
    this.documentsBucketName = `pfi-${s.stage}-documents-${s.account}`;
    this.documentsBucket = kmsBucket(this, 'Documents', {
      bucketName: this.documentsBucketName,
      key: keys.documents,
      accessLogs: this.accessLogsBucket,
      accessLogsPrefix: 'documents',
      lifecycleRules: [
        {
          id: 'raw-hl7-archive',
          prefix: DOCUMENT_PREFIXES.hl7Raw,
          // Standard-IA bills 30 days at least: only worth it when objects live well beyond that.
          transitions:
            s.hl7RawRetentionDays > 60
              ? [{ storageClass: s3.StorageClass.INFREQUENT_ACCESS, transitionAfter: Duration.days(30) }]
              : undefined,
          expiration: rawDays,
          noncurrentVersionExpiration: Duration.days(7),
        },
        {
          id: 'hl7-claim-checks',
          prefix: DOCUMENT_PREFIXES.hl7Inbound,
          expiration: rawDays,
          noncurrentVersionExpiration: Duration.days(7),
        },
        {
          id: 'noncurrent-versions',
          noncurrentVersionExpiration: Duration.days(90),
          abortIncompleteMultipartUploadAfter: Duration.days(2),
        },
      ],
    });
  }
}
