import { z } from 'zod';
import { CONTENT_LOG_MODES, type ContentLogMode } from '../mllp-bridge/src/content-log.js';

/**
 * Platform configuration, read from the environment once and validated with zod.
 * A bad value stops the process with one line per problem naming the variable (never its value,
 * which may be a secret).
 */

const port = z.coerce.number().int().min(0).max(65_535);
const arn = z.string().regex(/^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:\d{12}:.+$/, 'must be an AWS ARN');
const intIn = (min: number, max: number, fallback: number) =>
  z.coerce.number().int().min(min).max(max).default(fallback);
const boolFlag = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0'])
    .optional()
    .transform((v) => (v === undefined ? fallback : v === 'true' || v === '1'));
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

const schema = z
  .object({
    PFI_DATA_DIR: z.string().min(1).default('.pfi-data'),
    PFI_HTTP_HOST: z.string().min(1).default('127.0.0.1'),
    PFI_HTTP_PORT: port.default(3000),
    /** Public base URL of the FHIR API (links, Location headers). Default: the local server's. */
    PFI_FHIR_BASE_URL: z.url().optional(),
    DATABASE_URL: optionalString.pipe(
      z
        .string()
        .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
        .optional(),
    ),
    PFI_DB_CLUSTER_ARN: optionalString.pipe(arn.optional()),
    PFI_DB_SECRET_ARN: optionalString.pipe(arn.optional()),
    PFI_DB_NAME: z.string().min(1).default('pfi'),
    /**
     * Seconds a FHIR search may run on a PostgreSQL server (DATABASE_URL) before the server cancels it (503
     * too-costly). The Data API cancels any statement at 45 s by itself; the embedded database cannot cancel.
     */
    PFI_SEARCH_TIMEOUT_SECONDS: intIn(1, 3_600, 25),
    PFI_MAX_BODY_BYTES: z.coerce
      .number()
      .int()
      .min(1024)
      .max(6 * 1024 * 1024)
      .default(5 * 1024 * 1024),
    /** Largest stored resource JSON (the Data API returns at most 64 KB per row). */
    PFI_MAX_RESOURCE_BYTES: z.coerce.number().int().min(4096).max(60_000).default(60_000),
    /** `local`: tokens signed by the key pair in PFI_DATA_DIR; `jwks`: a configured issuer (Cognito…). */
    PFI_AUTH_MODE: z.enum(['local', 'jwks']).default('local'),
    PFI_AUTH_ISSUER: optionalString,
    PFI_AUTH_AUDIENCE: optionalString,
    PFI_AUTH_JWKS_URL: optionalString.pipe(z.url().optional()),
    PFI_MLLP_HOST: z.string().min(1).default('127.0.0.1'),
    PFI_MLLP_PORT: port.default(2575),
    /** Partner registry JSON file for the MLLP bridge; unset = open registry (any sender, UTF-8 fallback). */
    PFI_MLLP_REGISTRY: optionalString,
    /** MLLP bridge limits (mllp-bridge/src/server.ts); unset = the bridge's defaults: 100, 600 s, 60 s. */
    PFI_MLLP_MAX_CONNECTIONS: z.coerce.number().int().min(1).max(10_000).optional(),
    PFI_MLLP_IDLE_TIMEOUT_SECONDS: z.coerce.number().int().min(1).max(86_400).optional(),
    PFI_MLLP_FRAME_TIMEOUT_SECONDS: z.coerce.number().int().min(1).max(3_600).optional(),
    /** Direct TLS on the MLLP port: PEM certificate (chain) and key files; unset = plain MLLP. */
    PFI_MLLP_TLS_CERT_FILE: optionalString,
    PFI_MLLP_TLS_KEY_FILE: optionalString,
    /** `refused` (AE/AR) or `all`: HL7 message content in the log, to debug a feed; patient data. */
    PFI_MLLP_LOG_CONTENT: z.enum(CONTENT_LOG_MODES).default('off'),
    /** S3 bucket of the document store (SSE-KMS); unset = files under `$PFI_DATA_DIR/documents`. */
    PFI_DOCUMENTS_BUCKET: optionalString.pipe(
      z
        .string()
        .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be an S3 bucket name')
        .optional(),
    ),
    /** KMS key of the document bucket (id, ARN or alias ARN); unset = the bucket's default KMS key. */
    PFI_DOCUMENTS_KMS_KEY_ID: optionalString,
    /** Days raw HL7 messages are kept in their archive (replay, audit). */
    PFI_HL7_RAW_RETENTION_DAYS: intIn(1, 3650, 90),
    /** Where raw HL7 messages are kept: `documents` (S3 in AWS) or `database`; default: S3 when set, else database. */
    PFI_HL7_RAW_ARCHIVE: z.enum(['database', 'documents']).optional(),
    /** Deliveries of an inbound HL7 message before it goes to the dead-letter queue. */
    PFI_HL7_MAX_RECEIVES: intIn(1, 100, 5),
    /**
     * Seconds a message received by a local queue worker (HL7 ingest, CDA) stays hidden before another attempt: after a
     * crash on a PostgreSQL server, what the dead process held waits this long (the embedded database releases it at
     * start-up). Must exceed the slowest batch.
     */
    PFI_QUEUE_VISIBILITY_TIMEOUT_SECONDS: intIn(5, 43_200, 60),
    /** HL7 messages the local ingest worker applies together as one batch (distinct patients: groups stay ordered). */
    PFI_HL7_WORKER_CONCURRENCY: intIn(1, 500, 64),
    /** The local ingest worker in its own thread, on a PostgreSQL server (an embedded database is one thread's). */
    PFI_HL7_WORKER_THREAD: boolFlag(true),
    /** Niceness of that thread (0 = the platform's priority, 19 = the lowest): ACKs go before mapping when CPU is short. */
    PFI_HL7_WORKER_NICE: intIn(0, 19, 10),
    /**
     * Percent of the wall time the local ingest worker takes while MLLP messages keep arriving (100 = no pacing):
     * ACKs before mapping when the bridge, the worker and the database share the machine's cores.
     */
    PFI_HL7_WORKER_SHARE_UNDER_LOAD: intIn(5, 100, 25),
    /** JSON file of the platform organisation's CDA defaults (lambdas/cda/organisation.ts); unset = the example one. */
    PFI_ORGANISATION_FILE: optionalString,
    /** The same as JSON text (AWS: set by the CDK app from the `pfi:organisation` context). */
    PFI_ORGANISATION_JSON: optionalString,
    /** Include the PDF copy of the results in generated CR-BIO documents. */
    PFI_CDA_PDF: boolFlag(true),
    /** MSSanté relay (`smtp://user:pass@host:587`); unset = the embedded sink of `npm start`. */
    PFI_SMTP_URL: optionalString.pipe(
      z
        .string()
        .regex(/^smtps?:\/\//, 'must be an smtp:// URL')
        .optional(),
    ),
    /** Verify the relay's certificate (false accepted for local relays only). */
    PFI_SMTP_TLS_REJECT_UNAUTHORIZED: boolFlag(true),
    /** PEM file of the CA the relay's certificate must chain to (IGC-Santé in production). */
    PFI_SMTP_CA_FILE: optionalString,
    /** PEM files of the BAL applicative's client certificate and key (mutual TLS). */
    PFI_SMTP_CLIENT_CERT_FILE: optionalString,
    PFI_SMTP_CLIENT_KEY_FILE: optionalString,
    /**
     * AWS: Secrets Manager secret of the MSSanté relay, JSON `{"cert": PEM, "key": PEM, "url"?: "smtp://user:pass@…"}`
     * (the BAL applicative's certificate, and the relay URL when it holds credentials).
     */
    PFI_SMTP_SECRET_ARN: optionalString.pipe(arn.optional()),
    /** Port of the embedded SMTP sink (`0` = any free port). */
    PFI_SMTP_SINK_PORT: port.default(2526),
    /** SMTP connection, greeting and socket-inactivity timeouts (each). */
    PFI_SMTP_TIMEOUT_SECONDS: intIn(1, 300, 30),
    /** Longest whole SMTP transaction (a relay that trickles bytes never trips an inactivity timeout). */
    PFI_SMTP_SEND_TIMEOUT_SECONDS: intIn(1, 240, 90),
    /** The BAL applicative address the platform sends from. */
    PFI_MSSANTE_FROM: z.email().default('pfi@pfi.test-ci-sis.mssante.fr'),
    /** X-MSS-NIL: the product reference number given when declaring the software. */
    PFI_MSSANTE_NIL: z.string().min(1).default('PFI-LOCAL'),
    /** Ask for MDN receipts to this address (Disposition-Notification-To). */
    PFI_MSSANTE_RECEIPTS_TO: optionalString.pipe(z.email().optional()),
    PFI_ANNUAIRE_URL: optionalString.pipe(z.url().optional()),
    PFI_ANNUAIRE_API_KEY: optionalString,
    /** AWS: Secrets Manager secret holding the annuaire API key (instead of PFI_ANNUAIRE_API_KEY). */
    PFI_ANNUAIRE_API_KEY_SECRET_ARN: optionalString.pipe(arn.optional()),
    PFI_ANNUAIRE_CACHE_TTL_SECONDS: intIn(60, 30 * 86_400, 86_400),
    /** SQS FIFO queue URLs of the document jobs (AWS: the outbox relay sends there). */
    PFI_CDA_QUEUE_URL: optionalString.pipe(z.url().optional()),
    PFI_MSSANTE_QUEUE_URL: optionalString.pipe(z.url().optional()),
    /** Deliveries of a document job (CDA, MSSanté) before the dead-letter queue. */
    PFI_DOCUMENTS_MAX_RECEIVES: intIn(1, 100, 8),
    /** Local MSSanté worker: first retry delay after a temporary failure, doubled at each attempt up to the max. */
    PFI_MSSANTE_RETRY_BASE_SECONDS: intIn(1, 3600, 30),
    PFI_MSSANTE_RETRY_MAX_SECONDS: intIn(1, 43_200, 900),
    /** AWS: the S3 bucket (Object Lock) sealed audit batches are exported to. */
    PFI_AUDIT_EXPORT_BUCKET: optionalString.pipe(
      z
        .string()
        .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be an S3 bucket name')
        .optional(),
    ),
    /** The KMS key of the audit export bucket (its objects are encrypted with it). */
    PFI_AUDIT_EXPORT_KMS_KEY_ID: optionalString,
    /** Requests per second per client (token), 0 = no limit (API Gateway throttles in AWS). */
    PFI_RATE_LIMIT_PER_SECOND: intIn(0, 100_000, 0),
    /** AWS: the KMS HMAC_SHA_256 key (ARN) sealing the audit chain; unset = the local key in $PFI_DATA_DIR/keys. */
    PFI_AUDIT_SEAL_KMS_KEY_ID: optionalString,
    PFI_LOG_LEVEL: z.enum(['DEBUG', 'INFO', 'WARN', 'ERROR', 'SILENT']).default('INFO'),
  })
  .superRefine((c, ctx) => {
    if ((c.PFI_DB_CLUSTER_ARN === undefined) !== (c.PFI_DB_SECRET_ARN === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['PFI_DB_SECRET_ARN'],
        message: 'PFI_DB_CLUSTER_ARN and PFI_DB_SECRET_ARN must be set together (RDS Data API)',
      });
    }
    if (c.PFI_AUTH_MODE === 'jwks' && (!c.PFI_AUTH_ISSUER || !c.PFI_AUTH_JWKS_URL)) {
      ctx.addIssue({
        code: 'custom',
        path: ['PFI_AUTH_ISSUER'],
        message: 'PFI_AUTH_MODE=jwks needs PFI_AUTH_ISSUER and PFI_AUTH_JWKS_URL',
      });
    }
    if ((c.PFI_MLLP_TLS_CERT_FILE === undefined) !== (c.PFI_MLLP_TLS_KEY_FILE === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['PFI_MLLP_TLS_KEY_FILE'],
        message: 'PFI_MLLP_TLS_CERT_FILE and PFI_MLLP_TLS_KEY_FILE must be set together',
      });
    }
    if ((c.PFI_SMTP_CLIENT_CERT_FILE === undefined) !== (c.PFI_SMTP_CLIENT_KEY_FILE === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['PFI_SMTP_CLIENT_KEY_FILE'],
        message: 'PFI_SMTP_CLIENT_CERT_FILE and PFI_SMTP_CLIENT_KEY_FILE must be set together',
      });
    }
    const annuaireKey = c.PFI_ANNUAIRE_API_KEY !== undefined || c.PFI_ANNUAIRE_API_KEY_SECRET_ARN !== undefined;
    if ((c.PFI_ANNUAIRE_URL === undefined) === annuaireKey) {
      ctx.addIssue({
        code: 'custom',
        path: ['PFI_ANNUAIRE_API_KEY'],
        message: 'PFI_ANNUAIRE_URL needs PFI_ANNUAIRE_API_KEY or PFI_ANNUAIRE_API_KEY_SECRET_ARN, and they need it',
      });
    }
    if (c.PFI_SMTP_SECRET_ARN !== undefined && c.PFI_SMTP_CLIENT_CERT_FILE !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['PFI_SMTP_SECRET_ARN'],
        message: 'PFI_SMTP_SECRET_ARN and PFI_SMTP_CLIENT_CERT_FILE are alternatives: set one',
      });
    }
    if (c.PFI_ORGANISATION_FILE !== undefined && c.PFI_ORGANISATION_JSON !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['PFI_ORGANISATION_JSON'],
        message: 'PFI_ORGANISATION_FILE and PFI_ORGANISATION_JSON are alternatives: set one',
      });
    }
    if (c.PFI_MSSANTE_RETRY_MAX_SECONDS < c.PFI_MSSANTE_RETRY_BASE_SECONDS) {
      ctx.addIssue({
        code: 'custom',
        path: ['PFI_MSSANTE_RETRY_MAX_SECONDS'],
        message: 'must be at least PFI_MSSANTE_RETRY_BASE_SECONDS',
      });
    }
    if (c.PFI_DOCUMENTS_KMS_KEY_ID !== undefined && c.PFI_DOCUMENTS_BUCKET === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['PFI_DOCUMENTS_KMS_KEY_ID'],
        message: 'PFI_DOCUMENTS_KMS_KEY_ID needs PFI_DOCUMENTS_BUCKET',
      });
    }
  });

export type Env = z.infer<typeof schema>;

export interface Config {
  dataDir: string;
  http: { host: string; port: number };
  /** Public FHIR base URL without trailing slash; undefined = derive from the listening address. */
  fhirBaseUrl: string | undefined;
  database:
    | { kind: 'pglite'; dataDir: string }
    | { kind: 'pg'; url: string; searchTimeoutMs: number }
    | { kind: 'data-api'; clusterArn: string; secretArn: string; database: string };
  maxBodyBytes: number;
  maxResourceBytes: number;
  auth:
    | { mode: 'local'; keyDir: string }
    | { mode: 'jwks'; issuer: string; audience: string | undefined; jwksUrl: string };
  mllp: {
    host: string;
    port: number;
    registryFile: string | undefined;
    /** Bridge limits; undefined = the bridge's own defaults. */
    maxConnections: number | undefined;
    idleTimeoutMs: number | undefined;
    frameTimeoutMs: number | undefined;
    /** Direct TLS: the PEM files; undefined = plain MLLP. */
    tls: { certFile: string; keyFile: string } | undefined;
    logContent: ContentLogMode;
  };
  documents: { kind: 'file'; dir: string } | { kind: 's3'; bucket: string; kmsKeyId: string | undefined };
  hl7: {
    /** Days raw HL7 messages stay in their archive. */
    rawRetentionDays: number;
    /** The raw archive: one document-store object per message, or a row in the database. */
    rawArchive: 'database' | 'documents';
    /** Deliveries before the dead-letter queue. */
    maxReceives: number;
    /** Messages (of distinct groups) the local ingest worker applies together as one batch. */
    workerConcurrency: number;
    /** Seconds a received message stays hidden (local queue workers: HL7 ingest and CDA). */
    visibilityTimeoutSeconds: number;
    /** The local ingest worker runs in its own thread (PostgreSQL server only). */
    workerThread: boolean;
    /** Niceness of the ingest thread (Linux: per thread). */
    workerNice: number;
    /** Part of the wall time (0.05–1) the local ingest worker takes while the bridge is receiving. */
    workerShareUnderLoad: number;
  };
  /** CDA generation: the organisation defaults file (undefined = the example organisation) and the PDF copy. */
  cda: { organisationFile: string | undefined; organisationJson: string | undefined; pdf: boolean };
  mssante: {
    /** undefined = the embedded sink (`npm start`), on `sinkPort`, writing to `outboxDir`. */
    smtpUrl: string | undefined;
    sinkPort: number;
    outboxDir: string;
    rejectUnauthorized: boolean;
    caFile: string | undefined;
    clientCertFile: string | undefined;
    clientKeyFile: string | undefined;
    /** Secrets Manager secret with the client certificate, key and optionally the relay URL (AWS). */
    secretArn: string | undefined;
    from: string;
    nil: string;
    receiptsTo: string | undefined;
    /** Deliveries before the dead-letter queue (also for CDA jobs). */
    maxReceives: number;
    /** SMTP connection, greeting and socket-inactivity timeouts, and the deadline of a whole transaction. */
    smtpTimeoutSeconds: number;
    smtpSendTimeoutSeconds: number;
    /** Local worker retries after a temporary failure: base, 2 × base, 4 × base… at most max (SQS's own in AWS). */
    retryBaseSeconds: number;
    retryMaxSeconds: number;
  };
  annuaire: { url: string; apiKey: string | { secretArn: string }; cacheTtlSeconds: number } | undefined;
  /** SQS queue URLs by queue name (`cda`, `mssante`), in AWS. */
  queueUrls: Record<string, string | undefined>;
  /** The audit export bucket (AWS); undefined = no export. */
  auditExport: { bucket: string; kmsKeyId: string | undefined } | undefined;
  /** Requests per second per client; 0 = unlimited. */
  rateLimitPerSecond: number;
  /** The KMS key of audit seals (AWS); undefined = the local key file. */
  auditSealKmsKeyId: string | undefined;
  logLevel: Env['PFI_LOG_LEVEL'];
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Parses and validates `env`; throws a {@link ConfigError} listing every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(environment)'}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  const database: Config['database'] =
    e.PFI_DB_CLUSTER_ARN && e.PFI_DB_SECRET_ARN
      ? { kind: 'data-api', clusterArn: e.PFI_DB_CLUSTER_ARN, secretArn: e.PFI_DB_SECRET_ARN, database: e.PFI_DB_NAME }
      : e.DATABASE_URL
        ? { kind: 'pg', url: e.DATABASE_URL, searchTimeoutMs: e.PFI_SEARCH_TIMEOUT_SECONDS * 1000 }
        : { kind: 'pglite', dataDir: `${e.PFI_DATA_DIR}/pg` };
  const auth: Config['auth'] =
    e.PFI_AUTH_MODE === 'jwks'
      ? { mode: 'jwks', issuer: e.PFI_AUTH_ISSUER!, audience: e.PFI_AUTH_AUDIENCE, jwksUrl: e.PFI_AUTH_JWKS_URL! }
      : { mode: 'local', keyDir: `${e.PFI_DATA_DIR}/keys` };
  const documents: Config['documents'] = e.PFI_DOCUMENTS_BUCKET
    ? { kind: 's3', bucket: e.PFI_DOCUMENTS_BUCKET, kmsKeyId: e.PFI_DOCUMENTS_KMS_KEY_ID }
    : { kind: 'file', dir: `${e.PFI_DATA_DIR}/documents` };
  return {
    dataDir: e.PFI_DATA_DIR,
    http: { host: e.PFI_HTTP_HOST, port: e.PFI_HTTP_PORT },
    fhirBaseUrl: e.PFI_FHIR_BASE_URL?.replace(/\/+$/, ''),
    database,
    maxBodyBytes: e.PFI_MAX_BODY_BYTES,
    maxResourceBytes: e.PFI_MAX_RESOURCE_BYTES,
    auth,
    mllp: {
      host: e.PFI_MLLP_HOST,
      port: e.PFI_MLLP_PORT,
      registryFile: e.PFI_MLLP_REGISTRY,
      maxConnections: e.PFI_MLLP_MAX_CONNECTIONS,
      idleTimeoutMs: e.PFI_MLLP_IDLE_TIMEOUT_SECONDS === undefined ? undefined : e.PFI_MLLP_IDLE_TIMEOUT_SECONDS * 1000,
      frameTimeoutMs:
        e.PFI_MLLP_FRAME_TIMEOUT_SECONDS === undefined ? undefined : e.PFI_MLLP_FRAME_TIMEOUT_SECONDS * 1000,
      tls:
        e.PFI_MLLP_TLS_CERT_FILE && e.PFI_MLLP_TLS_KEY_FILE
          ? { certFile: e.PFI_MLLP_TLS_CERT_FILE, keyFile: e.PFI_MLLP_TLS_KEY_FILE }
          : undefined,
      logContent: e.PFI_MLLP_LOG_CONTENT,
    },
    documents,
    hl7: {
      rawRetentionDays: e.PFI_HL7_RAW_RETENTION_DAYS,
      rawArchive: e.PFI_HL7_RAW_ARCHIVE ?? (documents.kind === 's3' ? 'documents' : 'database'),
      maxReceives: e.PFI_HL7_MAX_RECEIVES,
      workerConcurrency: e.PFI_HL7_WORKER_CONCURRENCY,
      visibilityTimeoutSeconds: e.PFI_QUEUE_VISIBILITY_TIMEOUT_SECONDS,
      workerThread: database.kind === 'pg' && e.PFI_HL7_WORKER_THREAD,
      workerNice: e.PFI_HL7_WORKER_NICE,
      workerShareUnderLoad: e.PFI_HL7_WORKER_SHARE_UNDER_LOAD / 100,
    },
    cda: { organisationFile: e.PFI_ORGANISATION_FILE, organisationJson: e.PFI_ORGANISATION_JSON, pdf: e.PFI_CDA_PDF },
    mssante: {
      smtpUrl: e.PFI_SMTP_URL,
      sinkPort: e.PFI_SMTP_SINK_PORT,
      outboxDir: `${e.PFI_DATA_DIR}/mssante-outbox`,
      rejectUnauthorized: e.PFI_SMTP_TLS_REJECT_UNAUTHORIZED,
      caFile: e.PFI_SMTP_CA_FILE,
      clientCertFile: e.PFI_SMTP_CLIENT_CERT_FILE,
      clientKeyFile: e.PFI_SMTP_CLIENT_KEY_FILE,
      secretArn: e.PFI_SMTP_SECRET_ARN,
      from: e.PFI_MSSANTE_FROM,
      nil: e.PFI_MSSANTE_NIL,
      receiptsTo: e.PFI_MSSANTE_RECEIPTS_TO,
      maxReceives: e.PFI_DOCUMENTS_MAX_RECEIVES,
      smtpTimeoutSeconds: e.PFI_SMTP_TIMEOUT_SECONDS,
      smtpSendTimeoutSeconds: e.PFI_SMTP_SEND_TIMEOUT_SECONDS,
      retryBaseSeconds: e.PFI_MSSANTE_RETRY_BASE_SECONDS,
      retryMaxSeconds: e.PFI_MSSANTE_RETRY_MAX_SECONDS,
    },
    annuaire: e.PFI_ANNUAIRE_URL
      ? {
          url: e.PFI_ANNUAIRE_URL,
          apiKey: e.PFI_ANNUAIRE_API_KEY ?? { secretArn: e.PFI_ANNUAIRE_API_KEY_SECRET_ARN! },
          cacheTtlSeconds: e.PFI_ANNUAIRE_CACHE_TTL_SECONDS,
        }
      : undefined,
    queueUrls: { cda: e.PFI_CDA_QUEUE_URL, mssante: e.PFI_MSSANTE_QUEUE_URL },
    auditSealKmsKeyId: e.PFI_AUDIT_SEAL_KMS_KEY_ID,
    rateLimitPerSecond: e.PFI_RATE_LIMIT_PER_SECOND,
    auditExport: e.PFI_AUDIT_EXPORT_BUCKET
      ? { bucket: e.PFI_AUDIT_EXPORT_BUCKET, kmsKeyId: e.PFI_AUDIT_EXPORT_KMS_KEY_ID }
      : undefined,
    logLevel: e.PFI_LOG_LEVEL,
  };
}
