import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { AUDIT_EXPORT_PREFIX, auditExportBucketName } from '../constructs/buckets.js';
import { FifoQueue } from '../constructs/fifo-queue.js';
import { grantDocumentStore, grantSend } from '../constructs/grants.js';
import type { Network } from '../constructs/network.js';
import { type DataApiAccess, PfiFunction } from '../constructs/pfi-function.js';
import type { PlatformKeys } from '../constructs/platform-keys.js';
import { QueueWorker } from '../constructs/queue-worker.js';
import type { DataStack } from './data-stack.js';
import { PfiStack, type PfiStackProps } from './pfi-stack.js';

export interface MessagingStackProps extends Omit<PfiStackProps, 'classification'> {
  keys: PlatformKeys;
  network: Network;
  data: DataStack;
}

/** Function timeouts of the workers; each queue's visibility timeout is 6× its consumer's. */
export const WORKER_TIMEOUTS = {
  hl7Ingest: Duration.seconds(60),
  cda: Duration.seconds(90),
  // A slow SMTP transaction with the MSSanté operator plus the annuaire lookup.
  mssante: Duration.seconds(120),
  outboxRelay: Duration.seconds(55),
} as const;

/** A secret given by ARN or by name in context. */
function secretFrom(scope: Construct, id: string, ref: string): secretsmanager.ISecret {
  return ref.startsWith('arn:')
    ? secretsmanager.Secret.fromSecretCompleteArn(scope, id, ref)
    : secretsmanager.Secret.fromSecretNameV2(scope, id, ref);
}

/**
 * Queues and workers: `hl7-inbound` (MLLP bridge → HL7 ingest), `cda` (CDA worker) and `mssante` (MSSanté worker),
 * each FIFO with its DLQ under the data key; the outbox relay on a one-minute schedule. Workers share the database
 * (Data API) and the documents bucket. The outbox relay also runs the audit trail (AuditEvents, hash chain, KMS
 * HMAC seals with the audit-seal key). An audit queue, if one is ever needed, is a fourth `FifoQueue` +
 * `QueueWorker` here; an audit export job writes to the compliance stack's audit export bucket.
 */
export class MessagingStack extends PfiStack {
  readonly hl7Inbound: FifoQueue;
  readonly cda: FifoQueue;
  readonly mssante: FifoQueue;
  readonly functions: Record<string, lambda.IFunction> = {};
  readonly hl7Worker: PfiFunction;
  readonly cdaWorker: PfiFunction;
  readonly mssanteWorker: PfiFunction;
  readonly outboxRelay: PfiFunction;
  /** The `PFI_*` variables every function relaying outbox rows needs. */
  readonly queueEnvironment: Record<string, string>;

  constructor(scope: Construct, id: string, props: MessagingStackProps) {
    super(scope, id, { ...props, classification: 'health-data' });
    const s = props.settings;
    const { keys, network, data } = props;
    const name = (q: string) => `pfi-${s.stage}-${q}`;
    this.hl7Inbound = new FifoQueue(this, 'Hl7Inbound', {
      queueName: name('hl7-inbound'),
      key: keys.data,
      consumerTimeout: WORKER_TIMEOUTS.hl7Ingest,
    });
    this.cda = new FifoQueue(this, 'Cda', {
      queueName: name('cda'),
      key: keys.data,
      consumerTimeout: WORKER_TIMEOUTS.cda,
    });
    this.mssante = new FifoQueue(this, 'Mssante', {
      queueName: name('mssante'),
      key: keys.data,
      consumerTimeout: WORKER_TIMEOUTS.mssante,
    });
    this.queueEnvironment = {
      PFI_CDA_QUEUE_URL: this.cda.queue.queueUrl,
      PFI_MSSANTE_QUEUE_URL: this.mssante.queue.queueUrl,
    };

    const database: DataApiAccess = {
      cluster: data.database.cluster,
      secret: data.database.secret,
      secretKey: keys.data,
      databaseName: data.database.databaseName,
    };
    const documentsEnv = {
      PFI_DOCUMENTS_BUCKET: data.documentsBucket.bucketName,
      PFI_DOCUMENTS_KMS_KEY_ID: keys.documents.keyArn,
      PFI_ORGANISATION_JSON: JSON.stringify(s.organisation),
    };
    const common = {
      vpc: network.vpc,
      subnets: network.appSubnets,
      securityGroup: network.appSecurityGroup,
      logsKey: keys.logs,
      logRetention: this.logRetention,
      database,
    };

    const hl7 = new QueueWorker(this, 'Hl7Ingest', {
      ...common,
      handler: 'hl7-ingest',
      description: 'HL7 v2 → FHIR transaction (hl7-inbound FIFO)',
      queue: this.hl7Inbound,
      timeout: WORKER_TIMEOUTS.hl7Ingest,
      maxConcurrency: s.hl7MaxConcurrency,
      environment: {
        ...documentsEnv,
        ...this.queueEnvironment,
        PFI_HL7_RAW_ARCHIVE: 'documents',
        PFI_HL7_MAX_RECEIVES: String(this.hl7Inbound.maxReceiveCount),
        PFI_HL7_RAW_RETENTION_DAYS: String(s.hl7RawRetentionDays),
      },
    });
    const cda = new QueueWorker(this, 'CdaWorker', {
      ...common,
      handler: 'cda-worker',
      description: 'CDA R2 CI-SIS documents (cda FIFO)',
      queue: this.cda,
      timeout: WORKER_TIMEOUTS.cda,
      memorySize: 1536,
      maxConcurrency: 5,
      environment: {
        ...documentsEnv,
        ...this.queueEnvironment,
        PFI_DOCUMENTS_MAX_RECEIVES: String(this.cda.maxReceiveCount),
      },
    });
    const smtpSecret = secretFrom(this, 'SmtpSecret', s.smtpSecret);
    const annuaireSecret = secretFrom(this, 'AnnuaireSecret', s.annuaireApiKeySecret);
    const mssante = new QueueWorker(this, 'MssanteWorker', {
      ...common,
      handler: 'mssante-worker',
      description: 'MSSanté sends over SMTP/TLS (mssante FIFO)',
      queue: this.mssante,
      timeout: WORKER_TIMEOUTS.mssante,
      maxConcurrency: 2,
      environment: {
        ...documentsEnv,
        ...this.queueEnvironment,
        PFI_DOCUMENTS_MAX_RECEIVES: String(this.mssante.maxReceiveCount),
        ...(s.smtpUrl === undefined ? {} : { PFI_SMTP_URL: s.smtpUrl }),
        PFI_SMTP_SECRET_ARN: smtpSecret.secretArn,
        PFI_MSSANTE_FROM: s.mssanteFrom,
        PFI_MSSANTE_NIL: s.mssanteNil,
        ...(s.mssanteReceiptsTo === undefined ? {} : { PFI_MSSANTE_RECEIPTS_TO: s.mssanteReceiptsTo }),
        PFI_ANNUAIRE_URL: s.annuaireUrl,
        PFI_ANNUAIRE_API_KEY_SECRET_ARN: annuaireSecret.secretArn,
      },
    });
    for (const secret of [smtpSecret, annuaireSecret]) {
      mssante.worker.role.addToPolicy(
        new iam.PolicyStatement({
          actions: ['secretsmanager:GetSecretValue'],
          // A secret named in context has a random suffix in its ARN.
          resources: [secret.secretArn.startsWith('arn:') ? secret.secretArn : `${secret.secretArn}-??????`],
        }),
      );
    }
    const relay = new PfiFunction(this, 'OutboxRelay', {
      ...common,
      handler: 'outbox-relay',
      description: 'Outbox rows → cda / mssante queues, audit trail and seals (every minute)',
      timeout: WORKER_TIMEOUTS.outboxRelay,
      memorySize: 512,
      reservedConcurrency: 1,
      // The relay builds the same documents backend as the workers (it never writes documents itself), and runs
      // the audit trail: AuditEvents from the outbox, hash chain, seals with the HMAC key.
      environment: {
        ...documentsEnv,
        ...this.queueEnvironment,
        PFI_AUDIT_SEAL_KMS_KEY_ID: keys.seal.keyArn,
        PFI_AUDIT_EXPORT_BUCKET: auditExportBucketName(s.stage, s.account),
        PFI_AUDIT_EXPORT_KMS_KEY_ID: keys.logs.keyArn,
      },
    });
    relay.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['kms:GenerateMac', 'kms:VerifyMac'], resources: [keys.seal.keyArn] }),
    );
    // Sealed audit batches to the Object Lock export bucket (compliance stack; named, so no cross-stack cycle).
    relay.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['s3:PutObject'],
        resources: [`arn:${this.partition}:s3:::${auditExportBucketName(s.stage, s.account)}/${AUDIT_EXPORT_PREFIX}/*`],
      }),
    );
    relay.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['kms:GenerateDataKey', 'kms:Encrypt'],
        resources: [keys.logs.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `s3.${this.region}.amazonaws.com` } },
      }),
    );
    new events.Rule(this, 'OutboxSchedule', {
      description: 'Runs the outbox relay every minute',
      schedule: events.Schedule.rate(Duration.minutes(1)),
      targets: [new targets.LambdaFunction(relay.function, { retryAttempts: 0 })],
    });

    // Documents: the workers read and write the whole store (raw HL7, Binary, CDA); relaying sends to both queues.
    for (const w of [hl7.worker, cda.worker, mssante.worker, relay]) {
      grantDocumentStore(w.role, data.documentsBucketName, keys.documents);
    }
    for (const w of [hl7.worker, cda.worker, mssante.worker, relay]) {
      grantSend(w.role, [this.cda.queue, this.mssante.queue], keys.data);
    }
    this.hl7Worker = hl7.worker;
    this.cdaWorker = cda.worker;
    this.mssanteWorker = mssante.worker;
    this.outboxRelay = relay;
    this.functions['hl7-ingest'] = hl7.worker.function;
    this.functions['cda-worker'] = cda.worker.function;
    this.functions['mssante-worker'] = mssante.worker.function;
    this.functions['outbox-relay'] = relay.function;
  }

  get queues(): Record<string, FifoQueue> {
    return { 'hl7-inbound': this.hl7Inbound, cda: this.cda, mssante: this.mssante };
  }
}
