import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../lambdas/config.js';

describe('loadConfig', () => {
  it('has embedded defaults', () => {
    const c = loadConfig({});
    expect(c.dataDir).toBe('.pfi-data');
    expect(c.http).toEqual({ host: '127.0.0.1', port: 3000 });
    expect(c.database).toEqual({ kind: 'pglite', dataDir: '.pfi-data/pg' });
    expect(c.auth).toEqual({ mode: 'local', keyDir: '.pfi-data/keys' });
    expect(c.maxBodyBytes).toBe(5 * 1024 * 1024);
    expect(c.maxResourceBytes).toBe(60_000);
    expect(c.fhirBaseUrl).toBeUndefined();
    expect(c.mllp).toEqual({ host: '127.0.0.1', port: 2575, registryFile: undefined, logContent: 'off' });
    expect(c.documents).toEqual({ kind: 'file', dir: '.pfi-data/documents' });
    expect(c.hl7).toEqual({
      rawRetentionDays: 90,
      rawArchive: 'database',
      maxReceives: 5,
      workerConcurrency: 64,
      visibilityTimeoutSeconds: 60,
      workerThread: false,
      workerNice: 10,
      workerShareUnderLoad: 0.25,
    });
    expect(loadConfig({ PFI_DOCUMENTS_BUCKET: 'pfi-docs' }).hl7.rawArchive).toBe('documents');
    expect(loadConfig({ PFI_HL7_RAW_ARCHIVE: 'documents' }).hl7.rawArchive).toBe('documents');
    expect(() => loadConfig({ PFI_HL7_RAW_ARCHIVE: 'files' })).toThrow(/PFI_HL7_RAW_ARCHIVE/);
    expect(() => loadConfig({ PFI_MLLP_PORT: '-1' })).toThrow(/PFI_MLLP_PORT/);
  });

  it('chooses the Data API over DATABASE_URL over PGlite', () => {
    const arns = {
      PFI_DB_CLUSTER_ARN: 'arn:aws:rds:eu-west-3:123456789012:cluster:pfi',
      PFI_DB_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-3:123456789012:secret:pfi-abc',
    };
    expect(loadConfig({ DATABASE_URL: 'postgres://u@h/db' }).database).toEqual({
      kind: 'pg',
      url: 'postgres://u@h/db',
      searchTimeoutMs: 25_000,
    });
    expect(loadConfig({ DATABASE_URL: 'postgres://u@h/db', PFI_SEARCH_TIMEOUT_SECONDS: '5' }).database).toMatchObject({
      searchTimeoutMs: 5_000,
    });
    expect(() => loadConfig({ DATABASE_URL: 'postgres://u@h/db', PFI_SEARCH_TIMEOUT_SECONDS: '0' })).toThrow(
      /PFI_SEARCH_TIMEOUT_SECONDS/,
    );
    expect(loadConfig({ ...arns, DATABASE_URL: 'postgres://u@h/db', PFI_DB_NAME: 'x' }).database).toEqual({
      kind: 'data-api',
      clusterArn: arns.PFI_DB_CLUSTER_ARN,
      secretArn: arns.PFI_DB_SECRET_ARN,
      database: 'x',
    });
    // An empty variable (as in `DATABASE_URL= npm start`) means unset.
    expect(loadConfig({ DATABASE_URL: '' }).database.kind).toBe('pglite');
  });

  it('strips the trailing slash of the public base URL', () => {
    expect(loadConfig({ PFI_FHIR_BASE_URL: 'https://api.example.fr/fhir/' }).fhirBaseUrl).toBe(
      'https://api.example.fr/fhir',
    );
  });

  it('names every bad variable, never its value', () => {
    const err = (() => {
      try {
        loadConfig({ PFI_HTTP_PORT: '70000', DATABASE_URL: 'mysql://secret-password@h/db', PFI_MAX_BODY_BYTES: 'big' });
      } catch (e) {
        return e;
      }
    })() as ConfigError;
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toContain('PFI_HTTP_PORT');
    expect(err.message).toContain('DATABASE_URL');
    expect(err.message).toContain('PFI_MAX_BODY_BYTES');
    expect(err.message).not.toContain('secret-password');
  });

  it('requires both Data API ARNs and complete jwks settings', () => {
    expect(() => loadConfig({ PFI_DB_CLUSTER_ARN: 'arn:aws:rds:eu-west-3:123456789012:cluster:pfi' })).toThrow(
      /PFI_DB_SECRET_ARN/,
    );
    expect(() => loadConfig({ PFI_DB_CLUSTER_ARN: 'not-an-arn', PFI_DB_SECRET_ARN: 'x' })).toThrow(
      /must be an AWS ARN/,
    );
    expect(() => loadConfig({ PFI_AUTH_MODE: 'jwks' })).toThrow(/PFI_AUTH_ISSUER/);
    const jwks = loadConfig({
      PFI_AUTH_MODE: 'jwks',
      PFI_AUTH_ISSUER: 'https://cognito-idp.eu-west-3.amazonaws.com/eu-west-3_abc',
      PFI_AUTH_JWKS_URL: 'https://cognito-idp.eu-west-3.amazonaws.com/eu-west-3_abc/.well-known/jwks.json',
    });
    expect(jwks.auth.mode).toBe('jwks');
    expect(() => loadConfig({ PFI_AUTH_MODE: 'basic' })).toThrow(/PFI_AUTH_MODE/);
    expect(() => loadConfig({ PFI_MAX_RESOURCE_BYTES: '100000' })).toThrow(/PFI_MAX_RESOURCE_BYTES/);
  });

  it('chooses the S3 document store when a bucket is set, files under PFI_DATA_DIR otherwise', () => {
    expect(loadConfig({ PFI_DATA_DIR: '/var/pfi' }).documents).toEqual({ kind: 'file', dir: '/var/pfi/documents' });
    expect(loadConfig({ PFI_DOCUMENTS_BUCKET: 'pfi-documents-123' }).documents).toEqual({
      kind: 's3',
      bucket: 'pfi-documents-123',
      kmsKeyId: undefined,
    });
    const key = 'arn:aws:kms:eu-west-3:123456789012:key/11111111-2222-3333-4444-555555555555';
    expect(loadConfig({ PFI_DOCUMENTS_BUCKET: 'pfi-docs', PFI_DOCUMENTS_KMS_KEY_ID: key }).documents).toEqual({
      kind: 's3',
      bucket: 'pfi-docs',
      kmsKeyId: key,
    });
    expect(loadConfig({ PFI_DOCUMENTS_BUCKET: '', PFI_DOCUMENTS_KMS_KEY_ID: ' ' }).documents.kind).toBe('file');
    expect(() => loadConfig({ PFI_DOCUMENTS_KMS_KEY_ID: key })).toThrow(
      /PFI_DOCUMENTS_KMS_KEY_ID: PFI_DOCUMENTS_KMS_KEY_ID needs PFI_DOCUMENTS_BUCKET/,
    );
    expect(() => loadConfig({ PFI_DOCUMENTS_BUCKET: 'Not_A_Bucket' })).toThrow(
      /PFI_DOCUMENTS_BUCKET: must be an S3 bucket name/,
    );
  });

  it('reads the HL7 worker settings within their bounds, one line per bad variable without its value', () => {
    expect(
      loadConfig({
        PFI_HL7_RAW_RETENTION_DAYS: '3650',
        PFI_HL7_MAX_RECEIVES: '1',
        PFI_HL7_WORKER_CONCURRENCY: '500',
        PFI_QUEUE_VISIBILITY_TIMEOUT_SECONDS: '10',
        PFI_HL7_WORKER_NICE: '0',
        PFI_HL7_WORKER_SHARE_UNDER_LOAD: '100',
      }).hl7,
    ).toEqual({
      rawRetentionDays: 3650,
      rawArchive: 'database',
      maxReceives: 1,
      workerConcurrency: 500,
      visibilityTimeoutSeconds: 10,
      workerThread: false,
      workerNice: 0,
      workerShareUnderLoad: 1,
    });
    let message = '';
    try {
      loadConfig({
        PFI_HL7_RAW_RETENTION_DAYS: '3651',
        PFI_HL7_MAX_RECEIVES: '0',
        PFI_HL7_WORKER_CONCURRENCY: '2.5',
        PFI_DOCUMENTS_BUCKET: 'UPPER_secret_bucket',
      });
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      message = (e as ConfigError).message;
    }
    const lines = message.split('\n').slice(1);
    expect(lines).toHaveLength(4);
    expect(lines.map((l) => l.trim().split(':')[0]).sort()).toEqual([
      'PFI_DOCUMENTS_BUCKET',
      'PFI_HL7_MAX_RECEIVES',
      'PFI_HL7_RAW_RETENTION_DAYS',
      'PFI_HL7_WORKER_CONCURRENCY',
    ]);
    expect(message).not.toContain('secret');
    expect(message).not.toContain('3651');
    expect(() => loadConfig({ PFI_HL7_WORKER_CONCURRENCY: '501' })).toThrow(/PFI_HL7_WORKER_CONCURRENCY/);
    expect(() => loadConfig({ PFI_QUEUE_VISIBILITY_TIMEOUT_SECONDS: '4' })).toThrow(
      /PFI_QUEUE_VISIBILITY_TIMEOUT_SECONDS/,
    );
    expect(() => loadConfig({ PFI_HL7_MAX_RECEIVES: '101' })).toThrow(/PFI_HL7_MAX_RECEIVES/);
    expect(() => loadConfig({ PFI_HL7_RAW_RETENTION_DAYS: '0' })).toThrow(/PFI_HL7_RAW_RETENTION_DAYS/);
    expect(() => loadConfig({ PFI_HL7_WORKER_SHARE_UNDER_LOAD: '4' })).toThrow(/PFI_HL7_WORKER_SHARE_UNDER_LOAD/);
    expect(loadConfig({}).hl7.workerShareUnderLoad).toBe(0.25);
  });

  it('reads the MSSanté retry and SMTP timeout settings: defaults unchanged, bounds, max at least base', () => {
    expect(loadConfig({}).mssante).toMatchObject({
      smtpTimeoutSeconds: 30,
      smtpSendTimeoutSeconds: 90,
      retryBaseSeconds: 30,
      retryMaxSeconds: 900,
    });
    expect(
      loadConfig({
        PFI_SMTP_TIMEOUT_SECONDS: '2',
        PFI_SMTP_SEND_TIMEOUT_SECONDS: '4',
        PFI_MSSANTE_RETRY_BASE_SECONDS: '1',
        PFI_MSSANTE_RETRY_MAX_SECONDS: '2',
      }).mssante,
    ).toMatchObject({ smtpTimeoutSeconds: 2, smtpSendTimeoutSeconds: 4, retryBaseSeconds: 1, retryMaxSeconds: 2 });
    expect(() => loadConfig({ PFI_MSSANTE_RETRY_BASE_SECONDS: '60', PFI_MSSANTE_RETRY_MAX_SECONDS: '30' })).toThrow(
      /PFI_MSSANTE_RETRY_MAX_SECONDS: must be at least PFI_MSSANTE_RETRY_BASE_SECONDS/,
    );
    expect(() => loadConfig({ PFI_MSSANTE_RETRY_BASE_SECONDS: '0' })).toThrow(/PFI_MSSANTE_RETRY_BASE_SECONDS/);
    expect(() => loadConfig({ PFI_MSSANTE_RETRY_MAX_SECONDS: '1.5' })).toThrow(/PFI_MSSANTE_RETRY_MAX_SECONDS/);
    expect(() => loadConfig({ PFI_SMTP_TIMEOUT_SECONDS: '0' })).toThrow(/PFI_SMTP_TIMEOUT_SECONDS/);
    // The deadline stays under the local worker's visibility timeout (300 s): no second delivery mid-send.
    expect(() => loadConfig({ PFI_SMTP_SEND_TIMEOUT_SECONDS: '241' })).toThrow(/PFI_SMTP_SEND_TIMEOUT_SECONDS/);
  });
});
