/**
 * Fargate entry point of the MLLP bridge: MLLP listener → SQS FIFO (messages over the SQS size limit through S3
 * when PFI_MLLP_LARGE_MESSAGE_BUCKET is set), plus a small HTTP server for the NLB health check
 * (`GET /health`) and Prometheus (`GET /metrics`). An EMF metrics line goes to stdout every 60 s, with one line per
 * cause of AR in the period (the queue's error name, the refused sender).
 * Bad configuration: one line per problem on stderr, exit 2.
 */

import http from 'node:http';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { z } from 'zod';
import { DEFAULT_ACCEPTED_TYPES, parseAcceptList } from './accepted-types.js';
import { CONTENT_LOG_MODES, CONTENT_LOG_WARNING, contentLogger } from './content-log.js';
import { createBridgeMetrics } from './metrics.js';
import { createRefusalLog } from './refusal-log.js';
import { loadRegistryFile, openRegistry, type PartnerRegistry, RegistryError } from './registry.js';
import { createMllpServer } from './server.js';
import { createSqsEnqueue } from './sqs-enqueue.js';
import { loadTlsCredentials, TLS_SETTINGS, TlsCredentialsError } from './tls-credentials.js';

const EMF_INTERVAL_MS = 60_000;
/** Below the ECS stopTimeout maximum (120 s); set the task's stopTimeout above it. */
const SHUTDOWN_GRACE_MS = 30_000;

class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const port = (fallback: number) =>
  z.coerce
    .number({ error: 'must be a port number' })
    .int('must be a port number')
    .min(1, 'must be a port number')
    .max(65_535, 'must be a port number')
    .default(fallback);

const positiveInt = (max: number) =>
  z.coerce
    .number({ error: `must be a whole number from 1 to ${max}` })
    .int(`must be a whole number from 1 to ${max}`)
    .min(1, `must be a whole number from 1 to ${max}`)
    .max(max, `must be a whole number from 1 to ${max}`)
    .optional();

const envSchema = z.object({
  PFI_MLLP_PORT: port(2575),
  PFI_MLLP_HOST: z.string().min(1, 'must not be empty').default('0.0.0.0'),
  PFI_MLLP_QUEUE_URL: z.url({ error: 'is required and must be the SQS queue URL' }),
  PFI_MLLP_REGISTRY: z.string().min(1, 'must not be empty').optional(),
  PFI_MLLP_HEALTH_PORT: port(8080),
  /** S3 bucket for messages over the SQS size limit (claim check); unset = such messages get AR. */
  PFI_MLLP_LARGE_MESSAGE_BUCKET: z
    .string()
    .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be an S3 bucket name')
    .optional(),
  PFI_MLLP_LARGE_MESSAGE_KMS_KEY_ID: z.string().min(1, 'must not be empty').optional(),
  /** Message types queued (`TYPE^EVENT` or `TYPE^*`, comma-separated); others get AE. Default: the worker's set. */
  PFI_MLLP_ACCEPT: z.string().min(1, 'must not be empty').default(DEFAULT_ACCEPTED_TYPES),
  /** Connection limit and deadlines (see server.ts); unset = the server's defaults (100, 600 s, 60 s). */
  PFI_MLLP_MAX_CONNECTIONS: positiveInt(10_000),
  PFI_MLLP_IDLE_TIMEOUT_SECONDS: positiveInt(86_400),
  PFI_MLLP_FRAME_TIMEOUT_SECONDS: positiveInt(3_600),
  /** Direct TLS (PEM files, both or neither); unset = plain MLLP, as behind the NLB, which terminates TLS. */
  PFI_MLLP_TLS_CERT_FILE: z.string().min(1, 'must not be empty').optional(),
  PFI_MLLP_TLS_KEY_FILE: z.string().min(1, 'must not be empty').optional(),
  /** `refused` (AE/AR) or `all`: message content in the log, for debugging a feed. Default `off`. */
  PFI_MLLP_LOG_CONTENT: z.enum(CONTENT_LOG_MODES, { error: 'must be off, refused or all' }).default('off'),
  AWS_EXECUTION_ENV: z.string().optional(),
});

type Env = z.infer<typeof envSchema>;

/** Validates the environment; the error lists every problem, one per line, naming variables, never values. */
function readEnv(env: NodeJS.ProcessEnv): Env {
  const parsed = envSchema.safeParse(env);
  const problems = parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  // Checked on the raw environment so that it is reported together with the schema's problems.
  if (env.AWS_EXECUTION_ENV !== undefined && env.PFI_MLLP_REGISTRY === undefined) {
    problems.push('PFI_MLLP_REGISTRY: is required in AWS');
  }
  if (env.PFI_MLLP_LARGE_MESSAGE_KMS_KEY_ID !== undefined && env.PFI_MLLP_LARGE_MESSAGE_BUCKET === undefined) {
    problems.push('PFI_MLLP_LARGE_MESSAGE_KMS_KEY_ID: needs PFI_MLLP_LARGE_MESSAGE_BUCKET');
  }
  if (parsed.success) {
    try {
      parseAcceptList(parsed.data.PFI_MLLP_ACCEPT);
    } catch (err) {
      problems.push(`PFI_MLLP_ACCEPT: ${(err as Error).message}`);
    }
  }
  if ((env.PFI_MLLP_TLS_CERT_FILE === undefined) !== (env.PFI_MLLP_TLS_KEY_FILE === undefined)) {
    problems.push(`${TLS_SETTINGS.key}: ${TLS_SETTINGS.cert} and ${TLS_SETTINGS.key} must be set together`);
  }
  if (parsed.success && parsed.data.PFI_MLLP_PORT === parsed.data.PFI_MLLP_HEALTH_PORT) {
    problems.push('PFI_MLLP_HEALTH_PORT: must differ from PFI_MLLP_PORT');
  }
  if (!parsed.success || problems.length > 0) throw new ConfigError(problems.join('\n'));
  return parsed.data;
}

/** Loads the partner registry; in AWS it must exist and be strict (only listed partners). */
async function readRegistry(env: Env): Promise<PartnerRegistry> {
  if (env.PFI_MLLP_REGISTRY === undefined) return openRegistry();
  let registry: PartnerRegistry;
  try {
    registry = await loadRegistryFile(env.PFI_MLLP_REGISTRY);
  } catch (err) {
    if (err instanceof RegistryError) throw new ConfigError(`PFI_MLLP_REGISTRY: ${err.message}`);
    const code = (err as NodeJS.ErrnoException).code ?? 'unknown error';
    throw new ConfigError(`PFI_MLLP_REGISTRY: cannot read the file (${code})`);
  }
  if (env.AWS_EXECUTION_ENV !== undefined && !registry.strict) {
    throw new ConfigError('PFI_MLLP_REGISTRY: must be in strict mode in AWS');
  }
  return registry;
}

async function readTls(env: Env): Promise<{ cert: Buffer; key: Buffer } | undefined> {
  if (env.PFI_MLLP_TLS_CERT_FILE === undefined || env.PFI_MLLP_TLS_KEY_FILE === undefined) return undefined;
  try {
    const { cert, key } = await loadTlsCredentials({
      certFile: env.PFI_MLLP_TLS_CERT_FILE,
      keyFile: env.PFI_MLLP_TLS_KEY_FILE,
    });
    return { cert, key };
  } catch (err) {
    if (err instanceof TlsCredentialsError) throw new ConfigError(err.message);
    throw err;
  }
}

async function main(): Promise<void> {
  const env = readEnv(process.env);
  const registry = await readRegistry(env);
  const tls = await readTls(env);
  const metrics = createBridgeMetrics();
  const refusals = createRefusalLog();
  const largeMessages =
    env.PFI_MLLP_LARGE_MESSAGE_BUCKET === undefined
      ? undefined
      : {
          client: new S3Client({}),
          bucket: env.PFI_MLLP_LARGE_MESSAGE_BUCKET,
          kmsKeyId: env.PFI_MLLP_LARGE_MESSAGE_KMS_KEY_ID,
        };
  const bridge = createMllpServer({
    enqueue: createSqsEnqueue({ client: new SQSClient({}), queueUrl: env.PFI_MLLP_QUEUE_URL, largeMessages }),
    registry,
    ...(tls ? { tls } : {}),
    accepts: parseAcceptList(env.PFI_MLLP_ACCEPT),
    maxConnections: env.PFI_MLLP_MAX_CONNECTIONS,
    idleTimeoutMs:
      env.PFI_MLLP_IDLE_TIMEOUT_SECONDS === undefined ? undefined : env.PFI_MLLP_IDLE_TIMEOUT_SECONDS * 1000,
    frameTimeoutMs:
      env.PFI_MLLP_FRAME_TIMEOUT_SECONDS === undefined ? undefined : env.PFI_MLLP_FRAME_TIMEOUT_SECONDS * 1000,
    onEvent: (e) => {
      metrics.recordEvent(e);
      refusals.record(e);
    },
    onContent: contentLogger(env.PFI_MLLP_LOG_CONTENT, (line) =>
      process.stdout.write(`${JSON.stringify({ level: 'INFO', ...line })}\n`),
    ),
  });

  let stopping = false;
  const health = http.createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (req.method === 'GET' && path === '/health') {
      res.writeHead(stopping ? 503 : 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: stopping ? 'stopping' : 'ok' }));
    } else if (req.method === 'GET' && path === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
      res.end(metrics.prometheusText());
    } else {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'not found' }));
    }
  });
  await new Promise<void>((resolve, reject) => {
    health.once('error', reject);
    health.listen(env.PFI_MLLP_HEALTH_PORT, env.PFI_MLLP_HOST, () => resolve());
  });
  const mllpPort = await bridge.listen(env.PFI_MLLP_PORT, env.PFI_MLLP_HOST);

  const emf = (): void => {
    process.stdout.write(`${metrics.emfLine(new Date())}\n`);
    for (const line of refusals.drain()) process.stdout.write(`${JSON.stringify(line)}\n`);
  };
  const timer = setInterval(emf, EMF_INTERVAL_MS);
  if (env.PFI_MLLP_LOG_CONTENT !== 'off') {
    const warning = { level: 'WARN', message: CONTENT_LOG_WARNING, mode: env.PFI_MLLP_LOG_CONTENT };
    process.stdout.write(`${JSON.stringify(warning)}\n`);
  }
  process.stdout.write(
    `${JSON.stringify({ level: 'INFO', message: 'mllp bridge started', mllpPort, tls: tls !== undefined, healthPort: env.PFI_MLLP_HEALTH_PORT })}\n`,
  );

  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    // The NLB sees 503 and stops sending new connections while open ones finish.
    stopping = true;
    process.stdout.write(`${JSON.stringify({ level: 'INFO', message: 'stopping', signal })}\n`);
    await bridge.close(SHUTDOWN_GRACE_MS);
    clearInterval(timer);
    emf();
    health.close();
    health.closeAllConnections();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  // Startup errors (listen EADDRINUSE, …) carry no message content.
  process.stderr.write(`MLLP bridge failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
