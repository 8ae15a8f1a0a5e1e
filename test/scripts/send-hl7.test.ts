import { execFile, execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer } from 'node:tls';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { frame, MllpDecoder } from '../../mllp-bridge/src/framing.js';
import {
  controlIdOf,
  formatProgress,
  parseCommandLine,
  readAck,
  splitMessages,
  UsageError,
} from '../../scripts/send-hl7.js';

const execFileAsync = promisify(execFile);

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Short made-up test messages; `id` becomes MSH-10. */
function msg(id: string, pidName = 'TEST^ALPHA'): string[] {
  return [
    `MSH|^~\\&|SENDER|FAC|PFI|PFI|20240101120000||ADT^A01^ADT_A01|${id}|P|2.5|||||FRA|8859/1`,
    `PID|1||ID${id}^^^FAC&1.2.3&ISO^PI||${pidName}`,
  ];
}

/** Control ids the test server answers AE / AR / never answers. */
const AE_ID = 'NACK-AE';
const AR_ID = 'NACK-AR';
const SILENT_ID = 'NO-ANSWER';

function ackFor(payload: Buffer): Buffer {
  const id = controlIdOf(payload);
  const msh = `MSH|^~\\&|PFI|PFI|SENDER|FAC|20240101120001||ACK^A01^ACK|ACK-${id}|P|2.5`;
  if (id === AE_ID) return Buffer.from(`${msh}\rMSA|AE|${id}\rERR|||207^Application internal error^HL70357|E\r`);
  if (id === AR_ID) return Buffer.from(`${msh}\rMSA|AR|${id}|Rejected by test\r`);
  return Buffer.from(`${msh}\rMSA|AA|${id}\r`);
}

/** Received payloads, per test. */
let received: Buffer[] = [];
let connections = 0;

function handle(socket: Socket): void {
  connections += 1;
  const decoder = new MllpDecoder({ maxFrameBytes: 1024 * 1024 });
  socket.on('data', (chunk: Buffer) => {
    for (const event of decoder.push(chunk)) {
      if (event.type !== 'frame') continue;
      received.push(event.payload);
      if (controlIdOf(event.payload) !== SILENT_ID) socket.write(frame(ackFor(event.payload)));
    }
  });
  socket.on('error', () => {});
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : 0);
    });
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

let dir: string;
let server: Server;
let port: number;

/** Runs scripts/send-hl7.ts as `npm run send-hl7` does, without inheriting PFI_MLLP_PORT. */
async function sendHl7(args: string[], env: Record<string, string> = {}): Promise<Result> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PFI_')));
  try {
    const { stdout, stderr } = await execFileAsync(
      process.execPath,
      ['--import', 'tsx', 'scripts/send-hl7.ts', ...args],
      { env: { ...base, ...env } },
    );
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

async function file(name: string, content: string | Buffer): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, content);
  return path;
}

const three = [msg('M1'), msg('M2'), msg('M3')];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pfi-send-hl7-'));
  server = createServer(handle);
  port = await listen(server);
});
afterAll(async () => {
  await close(server);
  await rm(dir, { recursive: true, force: true });
});
afterEach(() => {
  received = [];
  connections = 0;
});

describe('npm run send-hl7 (against a local MLLP server)', () => {
  it.each([
    ['\\n', three.map((m) => m.join('\n')).join('\n')],
    ['\\r\\n', three.map((m) => m.join('\r\n')).join('\r\n')],
    ['\\r', `${three.map((m) => m.join('\r')).join('\r')}\r`],
  ])('sends 3 messages separated by %s on one connection, segments joined with \\r, exit 0', async (_, text) => {
    const path = await file('lines.hl7', `${text}\n`);

    const result = await sendHl7([path, '--port', String(port)]);

    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(connections).toBe(1);
    expect(received.map((b) => b.toString('latin1'))).toEqual(three.map((m) => `${m.join('\r')}\r`));
    expect(result.stdout.split('\n')).toEqual(['1/3 M1 AA', '2/3 M2 AA', '3/3 M3 AA', 'sent 3, AA 3, AE 0, AR 0', '']);
  });

  it('sends MLLP-framed payloads exactly as they are', async () => {
    // Framed payloads are not re-split: the \n between segments must reach the server unchanged.
    const payloads = three.map((m) => Buffer.from(m.join('\n')));
    const path = await file('framed.hl7', Buffer.concat(payloads.flatMap((p) => [frame(p), Buffer.from('\n')])));

    const result = await sendHl7([path, '--port', String(port)]);

    expect(result.code).toBe(0);
    expect(received).toEqual(payloads);
    expect(result.stdout).toContain('sent 3, AA 3, AE 0, AR 0');
  });

  it('takes the port from PFI_MLLP_PORT when --port is absent', async () => {
    const path = await file('env.hl7', msg('ENV1').join('\r'));

    const result = await sendHl7([path], { PFI_MLLP_PORT: String(port) });

    expect(result.code).toBe(0);
    expect(result.stdout).toContain('1/1 ENV1 AA');
  });

  it('exits 1 on AE and AR, prints their lines with the error text and keeps sending', async () => {
    const path = await file('nack.hl7', [msg('OK1'), msg(AE_ID), msg(AR_ID), msg('OK2')].flat().join('\n'));

    const result = await sendHl7([path, '--port', String(port)]);

    expect(result.code).toBe(1);
    expect(received).toHaveLength(4);
    expect(result.stdout.split('\n')).toEqual([
      '1/4 OK1 AA',
      `2/4 ${AE_ID} AE Application internal error`,
      `3/4 ${AR_ID} AR Rejected by test`,
      '4/4 OK2 AA',
      'sent 4, AA 2, AE 1, AR 1',
      '',
    ]);
  });

  it('never prints message content', async () => {
    const path = await file('content.hl7', [msg(AE_ID, 'SECRETNAME^X')].flat().join('\n'));

    const result = await sendHl7([path, '--port', String(port)]);

    expect(result.code).toBe(1);
    expect(result.stdout + result.stderr).not.toContain('SECRETNAME');
    expect(result.stdout + result.stderr).not.toContain(`ID${AE_ID}`);
  });

  it('sends the bytes of a latin1 file unchanged', async () => {
    const messages = [msg('L1', 'DUPRÉ^HÉLÈNE'), msg('L2', 'MÜLLER^JOËL')].map((m) => `${m.join('\r')}\r`);
    const bytes = Buffer.from(messages.join('\n'), 'latin1');
    expect(bytes.includes(0xc9)).toBe(true); // É as one latin1 byte, not UTF-8
    const path = await file('latin1.hl7', bytes);

    const result = await sendHl7([path, '--port', String(port)]);

    expect(result.code).toBe(0);
    expect(received).toEqual(messages.map((m) => Buffer.from(m, 'latin1')));
  });

  it('prints every AA line (no progress bar) for more than 20 messages when stderr is not a TTY', async () => {
    const many = Array.from({ length: 25 }, (_, i) => msg(`B${i + 1}`).join('\r\n')).join('\r\n');
    const path = await file('many.hl7', many);

    const result = await sendHl7([path, '--port', String(port)]);

    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout.split('\n').filter((l) => / AA$/.test(l))).toHaveLength(25);
    expect(result.stdout).toContain('25/25 B25 AA\nsent 25, AA 25, AE 0, AR 0');
  });

  it('exits 3 with a message when no server listens', async () => {
    const spare = createServer();
    const freePort = await listen(spare);
    await close(spare);
    const path = await file('refused.hl7', msg('R1').join('\n'));

    const result = await sendHl7([path, '--port', String(freePort)]);

    expect(result.code).toBe(3);
    expect(result.stderr).toContain(`cannot connect to 127.0.0.1:${freePort}: ECONNREFUSED`);
    expect(result.stdout).toBe('');
  });

  it('exits 3 when an ACK does not come within --timeout, after the summary of what was sent', async () => {
    const path = await file('silent.hl7', [msg('S1'), msg(SILENT_ID), msg('S3')].flat().join('\n'));

    const result = await sendHl7([path, '--port', String(port), '--timeout', '300']);

    expect(result.code).toBe(3);
    expect(result.stderr).toContain(`message 2/3 (${SILENT_ID}): no ACK within 300 ms`);
    expect(result.stdout).toBe('1/3 S1 AA\nsent 2, AA 1, AE 0, AR 0\n');
    expect(received).toHaveLength(2);
  });

  it('exits 3 when the server closes the connection before answering', async () => {
    const closing = createServer((socket) => socket.once('data', () => socket.destroy()));
    const closingPort = await listen(closing);
    const path = await file('closed.hl7', msg('C1').join('\n'));

    const result = await sendHl7([path, '--port', String(closingPort)]);
    await close(closing);

    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/message 1\/1 \(C1\): (the server closed the connection|connection error)/);
  });

  it.each([
    ['a missing file', (p: string) => [join(p, 'nope.hl7')], /cannot read file .*nope\.hl7: ENOENT/],
    ['no file argument', () => [], /exactly one file argument/],
    ['two file arguments', (p: string) => [join(p, 'a'), join(p, 'b')], /exactly one file argument/],
    ['an unknown option', (p: string) => [join(p, 'x'), '--bogus'], /bogus/],
    ['a bad --port', (p: string) => [join(p, 'x'), '--port', '70000'], /--port/],
    ['a bad --timeout', (p: string) => [join(p, 'x'), '--timeout', '0'], /--timeout/],
    ['--ca without --tls', (p: string) => [join(p, 'x'), '--ca', join(p, 'x')], /--ca only/],
    ['an unreadable --ca', (p: string) => [join(p, 'x'), '--tls', '--ca', join(p, 'no.pem')], /--ca file .*ENOENT/],
  ])('exits 2 with the usage on %s', async (_, args, message) => {
    const result = await sendHl7(args(dir));

    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).toContain('usage: npm run send-hl7 -- <file>');
    expect(connections).toBe(0);
  });

  it.each([
    ['an empty file', ''],
    ['content before the first MSH', `EVN|A01\n${msg('E1').join('\n')}`],
    ['a truncated MLLP frame', `\x0b${msg('T1').join('\r')}\x1c\r\x0b${msg('T2').join('\r')}`],
  ])('exits 2 on %s without connecting', async (_, content) => {
    const path = await file('bad.hl7', content);

    const result = await sendHl7([path, '--port', String(port)]);

    expect(result.code).toBe(2);
    expect(result.stderr).toContain('usage:');
    expect(connections).toBe(0);
  });
});

describe('npm run send-hl7 --tls', () => {
  let tlsDir: string;
  let tlsServer: Server;
  let tlsPort: number;

  beforeAll(async () => {
    tlsDir = await mkdtemp(join(tmpdir(), 'pfi-send-hl7-tls-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        join(tlsDir, 'key.pem'),
        '-out',
        join(tlsDir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    tlsServer = createTlsServer(
      { key: await readFile(join(tlsDir, 'key.pem')), cert: await readFile(join(tlsDir, 'cert.pem')) },
      handle,
    );
    tlsServer.on('tlsClientError', () => {});
    tlsPort = await listen(tlsServer);
  });
  afterAll(async () => {
    await close(tlsServer);
    await rm(tlsDir, { recursive: true, force: true });
  });

  it('sends over TLS when --ca trusts the server certificate', async () => {
    const path = await file('tls.hl7', three.flat().join('\n'));

    const result = await sendHl7([path, '--port', String(tlsPort), '--tls', '--ca', join(tlsDir, 'cert.pem')]);

    expect(result.code).toBe(0);
    expect(result.stdout).toContain('sent 3, AA 3, AE 0, AR 0');
    expect(received).toHaveLength(3);
  });

  it('exits 3 when the server certificate is not trusted', async () => {
    const path = await file('tls-untrusted.hl7', msg('U1').join('\n'));

    const result = await sendHl7([path, '--port', String(tlsPort), '--tls']);

    expect(result.code).toBe(3);
    expect(result.stderr).toContain(`cannot connect to 127.0.0.1:${tlsPort}`);
    expect(received).toHaveLength(0);
  });

  it('exits 3 when --tls meets a plain MLLP listener', async () => {
    const path = await file('tls-plain.hl7', msg('P1').join('\n'));

    const result = await sendHl7([path, '--port', String(port), '--tls', '--timeout', '2000']);

    expect(result.code).toBe(3);
    expect(result.stderr).toContain('cannot connect');
  });
});

describe('send-hl7 helpers', () => {
  it('splitMessages keeps the bytes of each frame and drops empty frames', () => {
    const a = Buffer.from('MSH|^~\\&|A\nPID|1');
    const framed = Buffer.concat([frame(a), frame(Buffer.alloc(0))]);

    expect(splitMessages(framed)).toEqual([a]);
  });

  it('splitMessages keeps UTF-8 bytes and drops blank lines', () => {
    const text = 'MSH|^~\\&|A|||||||U1\r\n\r\nPID|1||||ÉTÉ\n\nMSH|^~\\&|A|||||||U2';
    const out = splitMessages(Buffer.from(text, 'utf8'));

    expect(out.map((b) => b.toString('utf8'))).toEqual([
      'MSH|^~\\&|A|||||||U1\rPID|1||||ÉTÉ\r',
      'MSH|^~\\&|A|||||||U2\r',
    ]);
  });

  it('splitMessages rejects files without messages', () => {
    expect(() => splitMessages(Buffer.from('\n\r\n'))).toThrow(UsageError);
  });

  it('readAck reads MSA-1, MSA-3, ERR-3.2 or ERR-8, with the ACK separators', () => {
    expect(readAck(Buffer.from('MSH#^~\\&\rMSA#AE#X#\rERR####E####Bad field\r'))).toEqual({
      code: 'AE',
      text: 'Bad field',
    });
    expect(readAck(Buffer.from('MSH|^~\\&\rMSA|AR|X|Duplicate\r'))).toEqual({ code: 'AR', text: 'Duplicate' });
    expect(readAck(Buffer.from('MSH|^~\\&\rMSA|CA|X\r'))).toEqual({ code: 'CA', text: '' });
    expect(readAck(Buffer.from('MSH|^~\\&\r'))).toEqual({ code: '', text: 'no MSA segment' });
  });

  it('controlIdOf reads MSH-10, or - when the header is unreadable', () => {
    expect(controlIdOf(Buffer.from(`${msg('C42').join('\r')}\r`))).toBe('C42');
    expect(controlIdOf(Buffer.from('PID|1'))).toBe('-');
  });

  it('formatProgress fills the bar in proportion', () => {
    expect(formatProgress(0, 40, 10)).toBe('[----------] 0/40');
    expect(formatProgress(20, 40, 10)).toBe('[#####-----] 20/40');
    expect(formatProgress(40, 40, 10)).toBe('[##########] 40/40');
  });

  it('parseCommandLine applies defaults and PFI_MLLP_PORT, --port wins', () => {
    expect(parseCommandLine(['f.hl7'], {})).toEqual({
      file: 'f.hl7',
      host: '127.0.0.1',
      port: 2575,
      tls: false,
      ca: undefined,
      timeoutMs: 30_000,
    });
    expect(parseCommandLine(['f.hl7'], { PFI_MLLP_PORT: '2600' }).port).toBe(2600);
    expect(parseCommandLine(['f.hl7', '--port', '2700'], { PFI_MLLP_PORT: '2600' }).port).toBe(2700);
    expect(() => parseCommandLine(['f.hl7'], { PFI_MLLP_PORT: 'abc' })).toThrow(UsageError);
  });
});
