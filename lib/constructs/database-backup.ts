import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as backup from 'aws-cdk-lib/aws-backup';
import * as events from 'aws-cdk-lib/aws-events';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as rds from 'aws-cdk-lib/aws-rds';
import { Construct } from 'constructs';

export interface DatabaseBackupProps {
  stage: string;
  cluster: rds.DatabaseCluster;
  /** Encrypts the vault's recovery points. */
  key: kms.IKey;
  /** Vault Lock in compliance mode: after 72 h nobody can delete recovery points early or lift the lock. */
  vaultLock: boolean;
}

/** Retentions of the backup plan (days). */
export const BACKUP_RETENTION = { daily: 30, weekly: 365, continuous: 35 } as const;

/**
 * AWS Backup of the database, on top of Aurora's own 7-day point-in-time recovery: a daily snapshot kept 30 days,
 * a weekly one (Sunday) kept a year, and continuous backup (PITR, 35 days, the maximum), in a vault under the data
 * key; optionally Vault Lock (min 1 day, max 366 days) so a compromised administrator cannot purge them.
 */
export class DatabaseBackup extends Construct {
  readonly vault: backup.BackupVault;
  readonly plan: backup.BackupPlan;

  constructor(scope: Construct, id: string, props: DatabaseBackupProps) {
    super(scope, id);
    this.vault = new backup.BackupVault(this, 'Vault', {
      backupVaultName: `pfi-${props.stage}-database`,
      encryptionKey: props.key,
      removalPolicy: RemovalPolicy.RETAIN,
      ...(props.vaultLock
        ? {
            lockConfiguration: {
              minRetention: Duration.days(1),
              maxRetention: Duration.days(BACKUP_RETENTION.weekly + 1),
              changeableFor: Duration.days(3),
            },
          }
        : {}),
    });
    this.plan = new backup.BackupPlan(this, 'Plan', {
      backupPlanName: `pfi-${props.stage}-database`,
      backupVault: this.vault,
      backupPlanRules: [
        new backup.BackupPlanRule({
          ruleName: 'daily',
          scheduleExpression: events.Schedule.cron({ hour: '3', minute: '0' }),
          startWindow: Duration.hours(1),
          completionWindow: Duration.hours(4),
          deleteAfter: Duration.days(BACKUP_RETENTION.daily),
        }),
        new backup.BackupPlanRule({
          ruleName: 'weekly',
          scheduleExpression: events.Schedule.cron({ weekDay: 'SUN', hour: '4', minute: '0' }),
          startWindow: Duration.hours(1),
          completionWindow: Duration.hours(8),
          deleteAfter: Duration.days(BACKUP_RETENTION.weekly),
        }),
        new backup.BackupPlanRule({
          ruleName: 'continuous',
          enableContinuousBackup: true,
          deleteAfter: Duration.days(BACKUP_RETENTION.continuous),
        }),
      ],
    });
    this.plan.addSelection('Database', {
      resources: [backup.BackupResource.fromRdsDatabaseCluster(props.cluster)],
      allowRestores: true,
    });
  }
}
