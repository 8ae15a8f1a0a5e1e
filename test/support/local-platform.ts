import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { loadConfig } from '../../lambdas/config.js';
import { type LocalPlatform, startLocalPlatform } from '../../scripts/local-platform.js';

/**
 * The whole local platform in the test process (as `npm start` runs it) on a fresh data directory and free ports.
 * One attempt per message: what the worker cannot apply goes straight to the dead-letter queue. Silent unless
 * `logLevel` says otherwise; `env` adds settings.
 */
export async function startTestLocalPlatform(
  opts: { env?: Record<string, string>; logLevel?: 'DEBUG' | 'INFO' } = {},
): Promise<LocalPlatform & { dataDir: string; dispose(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'pfi-local-'));
  const logLevel = opts.logLevel ?? 'SILENT';
  const config = loadConfig({
    PFI_DATA_DIR: dir,
    PFI_HTTP_PORT: '0',
    PFI_MLLP_PORT: '0',
    PFI_SMTP_SINK_PORT: '0',
    PFI_HL7_MAX_RECEIVES: '1',
    PFI_LOG_LEVEL: logLevel,
    ...opts.env,
  });
  const local = await startLocalPlatform(config, { logger: new Logger({ serviceName: 'pfi-test', logLevel }) });
  return Object.assign(local, {
    dataDir: dir,
    async dispose() {
      await local.stop();
      await rm(dir, { recursive: true, force: true });
    },
  });
}
