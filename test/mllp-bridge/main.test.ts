import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { describe, expect, it, vi } from 'vitest';
import { CONTENT_LOG_WARNING } from '../../mllp-bridge/src/content-log.js';
import { writeTlsFiles } from '../support/tls-files.js';

const MAIN = 'mllp-bridge/src/main.ts';
const QUEUE_URL = 'https://sqs.eu-west-3.amazonaws.com/123456789012/pfi-hl7-inbound.fifo';

/** Environment without the variables main.ts reads, so the host's own settings cannot leak in. */
function baseEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('PFI_MLLP_') || key === 'AWS_EXECUTION_ENV') delete env[key];
  return { ...env, AWS_REGION: 'eu-west-3' };
}

function start(env: NodeJS.ProcessEnv): {
  child: ChildProcess;
  exit: Promise<{ code: number | null; stdout: string; stderr: string }>;
} {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const exit = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('exit', (code) => resolve({ code, stdout, stderr })),
  );
  return { child, exit };
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const address = s.address();
      s.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

/** The bridge on free ports with a queue URL nobody listens on (the SQS client sends to the URL's host). */
async function startWithUnreachableQueue(extra: NodeJS.ProcessEnv) {
  const [mllpPort, healthPort, closedPort] = [await freePort(), await freePort(), await freePort()];
  const started = start({
    ...baseEnv(),
    PFI_MLLP_QUEUE_URL: `http://127.0.0.1:${closedPort}/123456789012/pfi-hl7-inbound.fifo`,
    PFI_MLLP_HOST: '127.0.0.1',
    PFI_MLLP_PORT: String(mllpPort),
    PFI_MLLP_HEALTH_PORT: String(healthPort),
    AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'example',
    AWS_MAX_ATTEMPTS: '1',
    ...extra,
  });
  return { mllpPort, ...started };
}

/** Retries `connect` every 100 ms (10 s at most) while the child process starts listening. */
async function whenListening<T>(connect: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await connect();
    } catch (err) {
      if (i >= 100) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

describe('main.ts', () => {
  it('exits 2 with one line per configuration problem', async () => {
    const { exit } = start({ ...baseEnv(), PFI_MLLP_PORT: 'abc', AWS_EXECUTION_ENV: 'AWS_ECS_FARGATE' });
    const { code, stderr } = await exit;
    expect(code).toBe(2);
    expect(stderr.trim().split('\n').sort()).toEqual([
      'PFI_MLLP_PORT: must be a port number',
      'PFI_MLLP_QUEUE_URL: is required and must be the SQS queue URL',
      'PFI_MLLP_REGISTRY: is required in AWS',
    ]);
  });

  it('exits 2 on a TLS certificate without its key, or a key that is not the certificate’s', async () => {
    const alone = await start({ ...baseEnv(), PFI_MLLP_QUEUE_URL: QUEUE_URL, PFI_MLLP_TLS_CERT_FILE: '/x/cert.pem' });
    const first = await alone.exit;
    expect(first.code).toBe(2);
    expect(first.stderr).toBe(
      'PFI_MLLP_TLS_KEY_FILE: PFI_MLLP_TLS_CERT_FILE and PFI_MLLP_TLS_KEY_FILE must be set together\n',
    );
    const dir = await mkdtemp(join(tmpdir(), 'pfi-bridge-tls-'));
    try {
      const a = await writeTlsFiles(dir);
      const b = await writeTlsFiles(await mkdtemp(join(dir, 'b-')));
      const { exit } = start({
        ...baseEnv(),
        PFI_MLLP_QUEUE_URL: QUEUE_URL,
        PFI_MLLP_TLS_CERT_FILE: a.certFile,
        PFI_MLLP_TLS_KEY_FILE: b.keyFile,
      });
      const { code, stderr } = await exit;
      expect(code).toBe(2);
      expect(stderr).toBe('PFI_MLLP_TLS_KEY_FILE: not the PEM private key of the certificate\n');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('exits 2 when the registry file cannot be read', async () => {
    const { exit } = start({
      ...baseEnv(),
      PFI_MLLP_QUEUE_URL: QUEUE_URL,
      PFI_MLLP_REGISTRY: '/nonexistent/registry.json',
    });
    const { code, stderr } = await exit;
    expect(code).toBe(2);
    expect(stderr).toBe('PFI_MLLP_REGISTRY: cannot read the file (ENOENT)\n');
  });

  it('exits 2 on a bad connection limit or deadline', async () => {
    const { exit } = start({
      ...baseEnv(),
      PFI_MLLP_QUEUE_URL: QUEUE_URL,
      PFI_MLLP_MAX_CONNECTIONS: '0',
      PFI_MLLP_FRAME_TIMEOUT_SECONDS: 'soon',
    });
    const { code, stderr } = await exit;
    expect(code).toBe(2);
    expect(stderr.trim().split('\n').sort()).toEqual([
      'PFI_MLLP_FRAME_TIMEOUT_SECONDS: must be a whole number from 1 to 3600',
      'PFI_MLLP_MAX_CONNECTIONS: must be a whole number from 1 to 10000',
    ]);
  });

  it('serves /health and /metrics, closes MLLP connections and exits 0 with a last EMF line on SIGTERM', async () => {
    const [mllpPort, healthPort] = [await freePort(), await freePort()];
    const { child, exit } = start({
      ...baseEnv(),
      PFI_MLLP_QUEUE_URL: QUEUE_URL,
      PFI_MLLP_HOST: '127.0.0.1',
      PFI_MLLP_PORT: String(mllpPort),
      PFI_MLLP_HEALTH_PORT: String(healthPort),
    });
    const base = `http://127.0.0.1:${healthPort}`;
    let health: Response | undefined;
    for (let i = 0; i < 100 && health === undefined; i++) {
      health = await fetch(`${base}/health`).catch(async () => {
        await new Promise((r) => setTimeout(r, 100));
        return undefined;
      });
    }
    expect(health?.status).toBe(200);
    expect(await health?.json()).toEqual({ status: 'ok' });
    const metrics = await fetch(`${base}/metrics`);
    expect(metrics.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(await metrics.text()).toContain('pfi_mllp_connections_open 0\n');

    // An idle MLLP connection is closed by the graceful shutdown.
    const socket = net.connect(mllpPort, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    const closed = new Promise((r) => socket.once('close', r));
    socket.on('end', () => socket.end());
    child.kill('SIGTERM');
    await closed;
    const { code, stdout } = await exit;
    expect(code).toBe(0);
    const lines = stdout.trim().split('\n');
    const emf = JSON.parse(lines.at(-1) ?? '') as { Service?: string };
    expect(emf.Service).toBe('mllp-bridge');
  }, 30_000);

  it('speaks MLLP over TLS with the configured certificate, TLS 1.2 at least', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pfi-bridge-tls-'));
    const files = await writeTlsFiles(dir);
    const { mllpPort, child, exit } = await startWithUnreachableQueue({
      PFI_MLLP_TLS_CERT_FILE: files.certFile,
      PFI_MLLP_TLS_KEY_FILE: files.keyFile,
    });
    try {
      const connectTls = (options: tls.ConnectionOptions) =>
        new Promise<tls.TLSSocket>((resolve, reject) => {
          const socket = tls.connect({ host: '127.0.0.1', port: mllpPort, ca: files.cert, ...options }, () =>
            resolve(socket),
          );
          socket.once('error', reject);
        });
      const socket = await whenListening(() => connectTls({}));
      // The certificate is checked against the CA given (rejectUnauthorized defaults to true).
      expect(socket.authorized).toBe(true);
      expect(socket.getProtocol()).toBe('TLSv1.3');
      let received = '';
      socket.on('data', (d: Buffer) => {
        received += d.toString('latin1');
      });
      socket.write('\x0bMSH|^~\\&|GAM|CHU|PFI|PFI|20260305103000||ADT^A28^ADT_A05|T1|P|2.5\rPID|||4711^^^CHU^PI\x1c\r');
      // The queue is unreachable: an AR, but over TLS.
      await vi.waitFor(() => expect(received).toContain('MSA|AR|T1'), { timeout: 10_000 });
      socket.destroy();
      await expect(connectTls({ minVersion: 'TLSv1', maxVersion: 'TLSv1.1' })).rejects.toThrow();
    } finally {
      child.kill('SIGTERM');
      await exit;
      await rm(dir, { recursive: true, force: true });
    }
  }, 30_000);

  /** The bridge with a queue nobody answers; sends each id on one connection, checks its AR, stops the bridge. */
  async function sendToUnreachableQueue(ids: string[], extra: NodeJS.ProcessEnv = {}): Promise<string> {
    const { mllpPort, child, exit } = await startWithUnreachableQueue(extra);
    const socket = await whenListening(
      () =>
        new Promise<net.Socket>((resolve, reject) => {
          const s = net.connect(mllpPort, '127.0.0.1');
          s.once('connect', () => resolve(s));
          s.once('error', reject);
        }),
    );
    let received = '';
    socket.on('data', (d: Buffer) => {
      received += d.toString('latin1');
    });
    for (const id of ids) {
      const before = received.length;
      socket.write(`\x0b${ADT(id)}\x1c\r`);
      await vi.waitFor(() => expect(received.slice(before)).toContain('\x1c\r'), { timeout: 10_000 });
      expect(received.slice(before)).toContain(`MSA|AR|${id}`);
    }
    socket.destroy();
    child.kill('SIGTERM');
    const { code, stdout } = await exit;
    expect(code).toBe(0);
    return stdout;
  }
  const ADT = (id: string) =>
    `MSH|^~\\&|GAM|CHU|PFI|PFI|20260305103000||ADT^A28^ADT_A05|${id}|P|2.5\rPID|||4711^^^CHU^PI||Lefèvre^Zoë`;
  const jsonLines = (stdout: string) =>
    stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);

  it('answers AR when SQS cannot be reached and logs the cause by its code, once per period, without content', async () => {
    const stdout = await sendToUnreachableQueue(['Q1', 'Q2']);
    const refused = jsonLines(stdout).filter((l) => l['message'] === 'enqueue refused');
    expect(refused).toEqual([{ level: 'WARN', message: 'enqueue refused', error: 'ECONNREFUSED', count: 2 }]);
    expect(stdout).not.toContain('Lef');
    expect(stdout).not.toContain('4711');
  }, 30_000);

  it('logs the content of refused messages only when PFI_MLLP_LOG_CONTENT asks, after a warning', async () => {
    const bad = start({ ...baseEnv(), PFI_MLLP_QUEUE_URL: QUEUE_URL, PFI_MLLP_LOG_CONTENT: 'yes' });
    const refusedStart = await bad.exit;
    expect(refusedStart.code).toBe(2);
    expect(refusedStart.stderr).toBe('PFI_MLLP_LOG_CONTENT: must be off, refused or all\n');

    const lines = jsonLines(await sendToUnreachableQueue(['K1'], { PFI_MLLP_LOG_CONTENT: 'refused' }));
    expect(lines.find((l) => l['level'] === 'WARN' && l['mode'] === 'refused')?.['message']).toBe(CONTENT_LOG_WARNING);
    const content = lines.filter((l) => l['message'] === 'hl7 message content');
    expect(content).toHaveLength(1);
    expect(content[0]).toMatchObject({ level: 'INFO', code: 'AR', reason: 'queue-error', hl7: ADT('K1') });
    expect(String(content[0]?.['ack'])).toContain('MSA|AR|K1');
  }, 30_000);
});
