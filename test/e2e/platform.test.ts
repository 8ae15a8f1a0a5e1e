import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * End to end: the local platform as `npm start` runs it, on a random port, driven over HTTP only.
 */
const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');

interface Started {
  child: ChildProcess;
  fhir: string;
  health: string;
  mllp: string;
  output: () => string;
}

async function startPlatform(dataDir: string): Promise<Started> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      PFI_DATA_DIR: dataDir,
      PFI_HTTP_PORT: '0',
      PFI_MLLP_PORT: '0',
      PFI_SMTP_SINK_PORT: '0',
      DATABASE_URL: '',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const started = await new Promise<{ fhir: string; health: string; mllp: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`platform did not start within 30 s:\n${out}`)), 30_000);
    const check = () => {
      const line = out.split('\n').find((l) => l.includes('PFI platform started'));
      if (line) {
        clearTimeout(timer);
        resolve(JSON.parse(line) as { fhir: string; health: string; mllp: string });
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`platform exited with ${code}:\n${out}`));
    });
  });
  child.removeAllListeners('exit');
  return { child, ...started, output: () => out };
}

async function stop(p: Started): Promise<number | null> {
  if (p.child.exitCode !== null) return p.child.exitCode;
  const exited = new Promise<number | null>((r) => p.child.once('exit', (code) => r(code)));
  p.child.kill('SIGTERM');
  return exited;
}

async function token(dataDir: string, scopes = 'system/*.cruds'): Promise<string> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'scripts/token.ts', scopes], {
    cwd: ROOT,
    env: { ...process.env, PFI_DATA_DIR: dataDir },
  });
  return stdout.trim();
}

describe('local platform over HTTP', () => {
  let dataDir: string;
  let p: Started;
  let auth: Record<string, string>;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'pfi-e2e-'));
    p = await startPlatform(dataDir);
    auth = { authorization: `Bearer ${await token(dataDir)}` };
  });
  afterAll(async () => {
    if (p) await stop(p);
    await rm(dataDir, { recursive: true, force: true });
  });

  it('serves /health and /fhir/metadata', async () => {
    const health = await fetch(p.health);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', database: 'pglite' });
    const meta = await fetch(`${p.fhir}/metadata`);
    expect(meta.status).toBe(200);
    expect(meta.headers.get('x-content-type-options')).toBe('nosniff');
    expect(((await meta.json()) as { resourceType: string }).resourceType).toBe('CapabilityStatement');
  });

  it('requires a token on /fhir', async () => {
    const res = await fetch(`${p.fhir}/Patient`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('Bearer');
  });

  it('creates, reads and searches a Patient with accents', async () => {
    const created = await fetch(`${p.fhir}/Patient`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/fhir+json' },
      body: JSON.stringify({
        resourceType: 'Patient',
        identifier: [{ system: 'urn:oid:1.2.250.1.213.1.4.10', value: '279035121518989' }],
        name: [{ use: 'official', family: 'Lefèvre', given: ['Hélène'] }],
        gender: 'female',
        birthDate: '1979-03-05',
      }),
    });
    expect(created.status).toBe(201);
    const location = created.headers.get('location')!;
    expect(location.startsWith(`${p.fhir}/Patient/`)).toBe(true);
    const body = (await created.json()) as { id: string };
    const read = await fetch(`${p.fhir}/Patient/${body.id}`, { headers: auth });
    expect(read.status).toBe(200);
    expect(read.headers.get('cache-control')).toBe('no-store');
    const search = await fetch(`${p.fhir}/Patient?family=lefevre`, { headers: auth });
    const bundle = (await search.json()) as { entry: { resource: { id: string } }[] };
    expect(bundle.entry.map((e) => e.resource.id)).toEqual([body.id]);
  });

  it('acknowledges an HL7 message over MLLP once queued, then the worker applies it to FHIR', async () => {
    const [host, port] = p.mllp.split(':') as [string, string];
    const message = [
      'MSH|^~\\&|GAM|CHU-TEST|PFI|PFI|20260305103000||ADT^A01^ADT_A01|E2E-0001|P|2.5^FRA^2.11|||||FRA|UNICODE UTF-8',
      'EVN||20260305103000',
      'PID|||E2E-IPP-1^^^CHU-TEST&1.2.250.1.71.4.2.7.1.9.99&ISO^PI||Mercier^Hélène^^^^^L||19790305|F',
      'PV1||I',
    ].join('\r');
    const ack = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), host, () => {
        socket.write(Buffer.concat([Buffer.from([0x0b]), Buffer.from(message, 'utf8'), Buffer.from([0x1c, 0x0d])]));
      });
      let data = '';
      socket.on('data', (d: Buffer) => {
        data += d.toString('utf8');
        if (data.includes('\x1c\r')) {
          socket.end();
          resolve(data);
        }
      });
      socket.on('error', reject);
    });
    expect(ack).toContain('MSA|AA|E2E-0001');
    // The in-process worker drains the queue into FHIR.
    const url = `${p.fhir}/Patient?identifier=${encodeURIComponent('urn:oid:1.2.250.1.71.4.2.7.1.9.99|E2E-IPP-1')}`;
    let found: { total?: number; entry?: { resource: { name: { family: string; given: string[] }[] } }[] } = {};
    for (let i = 0; i < 100 && !found.entry?.length; i++) {
      if (i) await new Promise((r) => setTimeout(r, 100));
      found = (await (await fetch(url, { headers: auth })).json()) as typeof found;
    }
    expect(found.entry?.[0]?.resource.name[0]).toMatchObject({ family: 'Mercier', given: ['Hélène'] });
    // The message leaves the queue just after its transaction commits.
    type Health = { queues: Record<string, { visible: number; inFlight: number; deadLetter: number }> };
    let depth: Health['queues'][string] | undefined;
    for (let i = 0; i < 50; i++) {
      depth = ((await (await fetch(p.health)).json()) as Health).queues['hl7-inbound'];
      if (depth?.inFlight === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(depth).toEqual({ visible: 0, inFlight: 0, deadLetter: 0 });
  });

  it('refuses a body over the limit with 413', async () => {
    const res = await fetch(`${p.fhir}/Patient`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/fhir+json' },
      body: 'x'.repeat(6 * 1024 * 1024),
    });
    expect(res.status).toBe(413);
  });

  it('refuses a second platform on the same data directory, then restarts with the data kept', async () => {
    const second = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
      cwd: ROOT,
      env: {
        ...process.env,
        PFI_DATA_DIR: dataDir,
        PFI_HTTP_PORT: '0',
        PFI_MLLP_PORT: '0',
        PFI_SMTP_SINK_PORT: '0',
        DATABASE_URL: '',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    second.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    const code = await new Promise<number | null>((r) => second.once('exit', r));
    expect(code).toBe(2);
    expect(err).toMatch(/is in use by process \d+/);

    expect(await stop(p)).toBe(0);
    p = await startPlatform(dataDir);
    const search = await fetch(`${p.fhir}/Patient?family=lefevre&_summary=count`, { headers: auth });
    expect(((await search.json()) as { total: number }).total).toBe(1);
  });

  it('stops with a clear message on a bad configuration', async () => {
    const bad = await run(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
      cwd: ROOT,
      env: { ...process.env, PFI_DATA_DIR: dataDir, PFI_HTTP_PORT: 'not-a-port' },
    }).catch((e: { code: number; stderr: string }) => e);
    expect((bad as { code: number }).code).toBe(2);
    expect((bad as { stderr: string }).stderr).toContain('PFI_HTTP_PORT');
  });
});
