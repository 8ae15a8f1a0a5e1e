/**
 * The local platform as `npm start` runs it, in a child process the chaos scenarios can kill (SIGKILL) and restart on
 * the same ports, data directory and database. Its JSON log lines go to `<dataDir>/platform.log` (codes only: the
 * platform never logs message content) so that a verdict can count dead letters and failed attempts.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, readFileSync, type WriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadOrCreateLocalKeys, signLocalToken } from '../../lambdas/auth/local-keys.js';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const START_SCRIPT = join(REPO_ROOT, 'scripts', 'start.ts');

/** A TCP port free at the time of the call (the platform keeps it across restarts). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

export interface PlatformProcessOptions {
  dataDir: string;
  /** A PostgreSQL server database; undefined: the embedded PGlite in `<dataDir>/pg`. */
  databaseUrl?: string;
  /** More PFI_* settings (PFI_SMTP_URL, PFI_HL7_MAX_RECEIVES…). */
  env?: Record<string, string>;
  /** Longest wait for `/health` to answer after a (re)start; default 120 s. */
  startTimeoutMs?: number;
}

/** `/health` of the platform: ok, the depth of each queue, and the outbox rows not yet relayed (all topics). */
export interface HealthReport {
  ok: boolean;
  details?: {
    queues?: Record<string, { visible: number; inFlight: number; deadLetter: number }>;
    outbox?: number;
  };
}

/** Why a start did not reach a healthy platform: the child's exit code and the end of its output. */
export class PlatformStartError extends Error {
  override readonly name = 'PlatformStartError';
  constructor(
    message: string,
    readonly exitCode: number | null,
    readonly output: string,
  ) {
    super(message);
  }
}

export interface PlatformProcess {
  readonly httpPort: number;
  readonly mllpPort: number;
  readonly smtpSinkPort: number;
  readonly fhirBaseUrl: string;
  readonly dataDir: string;
  readonly databaseUrl: string | undefined;
  /** The environment the child runs with (PFI_* only), for `loadConfig` in the harness. */
  readonly env: Record<string, string>;
  /** The running child's pid, undefined while stopped. */
  pid(): number | undefined;
  /** Starts the child and waits until `/health` answers ok. */
  start(): Promise<void>;
  /** SIGKILL: no shutdown code runs (a crash, an OOM kill, a pulled plug for everything but the disk). */
  kill(): Promise<void>;
  /** SIGTERM: graceful shutdown (the bridge finishes in-flight messages); SIGKILL after `timeoutMs`. */
  stop(timeoutMs?: number): Promise<void>;
  /** Resident set size of the child in bytes (Linux /proc), undefined while stopped. */
  rss(): number | undefined;
  health(): Promise<HealthReport | undefined>;
  /** A bearer token signed with the platform's local key. */
  token(scopes?: string): Promise<string>;
  /** Log lines written so far (all starts), parsed. */
  logLines(): Record<string, unknown>[];
  /** The end of the last child's output (why it exited). */
  lastOutput(): string;
  /** The last child's exit code (undefined while it runs or before a start). */
  exitCode(): number | null | undefined;
  /** How many child processes were started. */
  readonly starts: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function platformProcess(opts: PlatformProcessOptions): Promise<PlatformProcess> {
  await mkdir(opts.dataDir, { recursive: true });
  const [httpPort, mllpPort, smtpSinkPort] = [await freePort(), await freePort(), await freePort()];
  const env: Record<string, string> = {
    PFI_DATA_DIR: opts.dataDir,
    PFI_HTTP_PORT: String(httpPort),
    PFI_MLLP_PORT: String(mllpPort),
    PFI_SMTP_SINK_PORT: String(smtpSinkPort),
    PFI_LOG_LEVEL: 'WARN',
    ...(opts.databaseUrl ? { DATABASE_URL: opts.databaseUrl } : {}),
    ...opts.env,
  };
  const logFile = join(opts.dataDir, 'platform.log');
  const startTimeoutMs = opts.startTimeoutMs ?? 120_000;
  let child: ChildProcess | undefined;
  let exited: Promise<number | null> = Promise.resolve(null);
  let log: WriteStream | undefined;
  let output = '';
  let starts = 0;
  let lastExit: number | null = null;

  const health = async (): Promise<HealthReport | undefined> => {
    try {
      const res = await fetch(`http://127.0.0.1:${httpPort}/health`, { signal: AbortSignal.timeout(5_000) });
      const body = (await res.json()) as {
        status?: string;
        queues?: NonNullable<HealthReport['details']>['queues'];
        outbox?: Record<string, number>;
      };
      const outbox = Object.values(body.outbox ?? {}).reduce((a, b) => a + b, 0);
      return {
        ok: res.ok && body.status === 'ok',
        details: { ...(body.queues ? { queues: body.queues } : {}), outbox },
      };
    } catch {
      return undefined;
    }
  };

  const waitExit = async (timeoutMs: number): Promise<boolean> => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<false>((r) => {
      timer = setTimeout(() => r(false), timeoutMs);
    });
    try {
      return await Promise.race([exited.then(() => true as const), late]);
    } finally {
      clearTimeout(timer);
    }
  };

  const proc: PlatformProcess = {
    httpPort,
    mllpPort,
    smtpSinkPort,
    fhirBaseUrl: `http://127.0.0.1:${httpPort}/fhir`,
    dataDir: opts.dataDir,
    databaseUrl: opts.databaseUrl,
    env,
    get starts() {
      return starts;
    },
    pid: () => child?.pid,
    lastOutput: () => output,
    exitCode: () => (child || starts === 0 ? undefined : lastExit),
    async start() {
      if (child) throw new Error('the platform is already running');
      starts++;
      output = '';
      log ??= createWriteStream(logFile, { flags: 'a' });
      const c = spawn(process.execPath, ['--import', 'tsx', START_SCRIPT], {
        cwd: REPO_ROOT,
        env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child = c;
      exited = new Promise((resolve) =>
        c.once('close', (code) => {
          if (child === c) child = undefined;
          lastExit = code;
          resolve(code);
        }),
      );
      const keep = (d: Buffer) => {
        log?.write(d);
        output = (output + d.toString('utf8')).slice(-8_000);
      };
      c.stdout?.on('data', keep);
      c.stderr?.on('data', keep);
      const deadline = Date.now() + startTimeoutMs;
      for (;;) {
        if (child !== c) {
          const code = await exited;
          throw new PlatformStartError(`the platform exited with code ${code} while starting`, code, output);
        }
        const h = await health();
        if (h?.ok) return;
        if (Date.now() > deadline) {
          await proc.kill();
          throw new PlatformStartError(`the platform was not healthy after ${startTimeoutMs} ms`, null, output);
        }
        await sleep(200);
      }
    },
    async kill() {
      if (!child) return;
      child.kill('SIGKILL');
      await exited;
    },
    async stop(timeoutMs = 30_000) {
      if (!child) return;
      child.kill('SIGTERM');
      if (!(await waitExit(timeoutMs))) await proc.kill();
      await new Promise<void>((r) => (log ? log.end(() => r()) : r()));
      log = undefined;
    },
    rss() {
      const pid = child?.pid;
      if (pid === undefined) return undefined;
      try {
        const status = readFileSync(`/proc/${pid}/status`, 'utf8');
        const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
        return kb === undefined ? undefined : Number(kb) * 1024;
      } catch {
        return undefined;
      }
    },
    health,
    async token(scopes = 'system/*.cruds') {
      const keys = await loadOrCreateLocalKeys(join(opts.dataDir, 'keys'));
      return signLocalToken(keys, { scopes, subject: 'chaos', ttlSeconds: 3_600 });
    },
    logLines() {
      let text: string;
      try {
        text = readFileSync(logFile, 'utf8');
      } catch {
        return [];
      }
      const lines: Record<string, unknown>[] = [];
      for (const line of text.split('\n')) {
        if (!line.startsWith('{')) continue;
        try {
          lines.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          // a line cut by SIGKILL
        }
      }
      return lines;
    },
  };
  return proc;
}
