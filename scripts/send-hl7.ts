import { readFileSync } from 'node:fs';
import { isIP, connect as netConnect, type Socket } from 'node:net';
import { resolve } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { CR, FS, frame, MllpDecoder, VT } from '../mllp-bridge/src/framing.js';
import { isHeaderError, readHeader } from '../mllp-bridge/src/hl7.js';

/**
 * Sends a file of HL7 v2 messages to an MLLP listener, one at a time on one connection, and prints each ACK:
 *   npm run send-hl7 -- <file> [--host H] [--port P] [--tls] [--ca file] [--timeout ms]
 * Output lines carry MSH-10, MSA-1 and the ACK's error text only, never message content.
 * Exit codes: 0 all AA, 1 any AE/AR (or an ACK without MSA), 2 usage or file error, 3 connection error or timeout.
 */

const USAGE = `usage: npm run send-hl7 -- <file> [--host <host>] [--port <port>] [--tls] [--ca <pem file>] [--timeout <ms>]
  file: HL7 v2 messages, MLLP-framed or separated by \\r, \\n or \\r\\n (each message starts with MSH)
  defaults: --host 127.0.0.1, --port $PFI_MLLP_PORT or 2575, --timeout 30000 (per ACK)`;

const DEFAULT_HOST = '127.0.0.1';
const DEFAULT_PORT = 2575;
const DEFAULT_TIMEOUT_MS = 30_000;
/** Above this many messages a TTY gets a progress bar instead of one line per AA. */
const PROGRESS_THRESHOLD = 20;
/** ACKs are small; this only bounds memory if the peer sends garbage. */
const MAX_ACK_BYTES = 1024 * 1024;

export const EXIT_OK = 0;
export const EXIT_NACK = 1;
export const EXIT_USAGE = 2;
export const EXIT_CONNECTION = 3;

export interface SendOptions {
  file: string;
  host: string;
  port: number;
  tls: boolean;
  ca: Buffer | undefined;
  timeoutMs: number;
}

/** Bad command line or unreadable/invalid input file: exit 2. */
export class UsageError extends Error {}

/** Connection failure, lost connection or ACK timeout: exit 3. */
class ConnectionError extends Error {}

/** What the script reads from one ACK. */
export interface AckSummary {
  /** MSA-1 (`AA`, `AE`, `AR`, or the enhanced-mode `CA`/`CE`/`CR`); empty when the ACK has no MSA segment. */
  code: string;
  /** MSA-3, else ERR-3.2 (v2.5+), else ERR-8; empty when none. */
  text: string;
}

const PORT_PATTERN = /^[1-9]\d{0,4}$/;
const TIMEOUT_PATTERN = /^[1-9]\d{0,8}$/;

/**
 * Parses the command line (the arguments after the script name).
 *
 * @param argv - e.g. `['msgs.hl7', '--port', '2576']`.
 * @param env - read for `PFI_MLLP_PORT`, the default port.
 * @throws UsageError on unknown options, bad values, a missing file argument or an unreadable `--ca` file.
 */
export function parseCommandLine(argv: string[], env: NodeJS.ProcessEnv): SendOptions {
  let parsed: ReturnType<typeof parseRaw>;
  try {
    parsed = parseRaw(argv);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { host, port, tls, ca, timeout } = parsed.values;
  if (parsed.positionals.length !== 1) throw new UsageError('exactly one file argument is required');
  const file = parsed.positionals[0] ?? '';
  const portText = port ?? env.PFI_MLLP_PORT;
  if (portText !== undefined && (!PORT_PATTERN.test(portText) || Number(portText) > 65535)) {
    throw new UsageError('--port (or PFI_MLLP_PORT) must be a whole number between 1 and 65535');
  }
  if (timeout !== undefined && !TIMEOUT_PATTERN.test(timeout)) {
    throw new UsageError('--timeout must be a positive whole number of milliseconds');
  }
  if (host !== undefined && host.trim() === '') throw new UsageError('--host must not be empty');
  if (ca !== undefined && tls !== true) throw new UsageError('--ca only makes sense with --tls');
  return {
    file,
    host: host ?? DEFAULT_HOST,
    port: portText === undefined ? DEFAULT_PORT : Number(portText),
    tls: tls === true,
    ca: ca === undefined ? undefined : readInput(ca, '--ca file'),
    timeoutMs: timeout === undefined ? DEFAULT_TIMEOUT_MS : Number(timeout),
  };
}

function parseRaw(argv: string[]) {
  return parseArgs({
    args: argv,
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      tls: { type: 'boolean' },
      ca: { type: 'string' },
      timeout: { type: 'string' },
    },
    allowPositionals: true,
    strict: true,
  });
}

/** Reads a file, turning fs errors into a UsageError that names the path and the errno code only. */
function readInput(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'read error';
    throw new UsageError(`cannot read ${what} ${path}: ${code}`);
  }
}

/**
 * Splits a file into HL7 message payloads, bytes untouched (no charset conversion).
 *
 * When the file holds an MLLP frame (`VT … FS CR`), every frame payload is returned as is. Otherwise a message starts
 * at each line beginning with `MSH` (lines end with `\r`, `\n` or `\r\n`); its lines are joined with `\r`, each segment
 * ending with `\r`, and blank lines are dropped.
 *
 * @throws UsageError when no message is found, a frame is truncated, or non-blank lines precede the first MSH.
 */
export function splitMessages(bytes: Buffer): Buffer[] {
  return isFramed(bytes) ? splitFramed(bytes) : splitLines(bytes);
}

function isFramed(bytes: Buffer): boolean {
  const start = bytes.indexOf(VT);
  return start !== -1 && bytes.indexOf(Buffer.from([FS, CR]), start) !== -1;
}

function splitFramed(bytes: Buffer): Buffer[] {
  const decoder = new MllpDecoder({ maxFrameBytes: Math.max(bytes.length, 1) });
  const payloads: Buffer[] = [];
  for (const event of decoder.push(bytes)) {
    if (event.type === 'frame' && event.payload.length > 0) payloads.push(event.payload);
  }
  if (decoder.pending() > 0) throw new UsageError('the file ends inside an MLLP frame (no FS CR after the last VT)');
  if (payloads.length === 0) throw new UsageError('the file holds no HL7 message');
  return payloads;
}

function splitLines(bytes: Buffer): Buffer[] {
  // latin1 maps each byte to one code unit and back, so this round trip keeps UTF-8 or any other charset intact.
  const lines = bytes.toString('latin1').split(/\r\n|\r|\n/);
  const messages: string[][] = [];
  for (const line of lines) {
    if (line.trim() === '') continue;
    if (line.startsWith('MSH')) messages.push([line]);
    else if (messages.length === 0) throw new UsageError('the file has content before its first MSH segment');
    else messages[messages.length - 1]?.push(line);
  }
  if (messages.length === 0) throw new UsageError('the file holds no HL7 message');
  return messages.map((segments) => Buffer.from(`${segments.join('\r')}\r`, 'latin1'));
}

/** MSH-10 of a payload for display, or `-` when it cannot be read. */
export function controlIdOf(payload: Buffer): string {
  const header = readHeader(payload.toString('latin1'));
  if (isHeaderError(header)) return header.controlId ?? '-';
  return header.controlId;
}

/**
 * Reads MSA-1 and the error text from an ACK payload (separators taken from its MSH, `|^` by default).
 *
 * @param payload - the ACK frame payload.
 */
export function readAck(payload: Buffer): AckSummary {
  const text = payload.toString('latin1');
  const segments = text.split(/\r\n|\r|\n/);
  const msh = segments.find((s) => s.startsWith('MSH'));
  const field = msh?.[3] ?? '|';
  const component = msh?.[4] ?? '^';
  const fields = (id: string): string[] | undefined => segments.find((s) => s.split(field)[0] === id)?.split(field);
  const msa = fields('MSA');
  if (msa === undefined) return { code: '', text: 'no MSA segment' };
  const err = fields('ERR');
  const errText = err === undefined ? '' : (err[3]?.split(component)[1] ?? '') || (err[8] ?? '');
  return { code: msa[1] ?? '', text: (msa[3] ?? '') || errText };
}

/** `AA`/`CA` → AA, `AE`/`CE` → AE, `AR`/`CR` → AR, anything else → undefined. */
function classify(code: string): 'AA' | 'AE' | 'AR' | undefined {
  switch (code) {
    case 'AA':
    case 'CA':
      return 'AA';
    case 'AE':
    case 'CE':
      return 'AE';
    case 'AR':
    case 'CR':
      return 'AR';
    default:
      return undefined;
  }
}

/**
 * A one-line text progress bar, e.g. `[##########----------] 50/100`.
 *
 * @param done - messages acknowledged so far.
 * @param total - messages in the file (> 0).
 * @param width - number of bar cells.
 */
export function formatProgress(done: number, total: number, width = 30): string {
  const filled = Math.min(width, Math.floor((done / total) * width));
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total}`;
}

/** Reads ACK frames off the socket in order; one waiter at a time (messages are sent one by one). */
class AckReader {
  readonly #decoder = new MllpDecoder({ maxFrameBytes: MAX_ACK_BYTES });
  readonly #frames: Buffer[] = [];
  #failure: Error | undefined;
  #waiter: { resolve: (b: Buffer) => void; reject: (e: Error) => void } | undefined;

  constructor(socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      for (const event of this.#decoder.push(chunk)) {
        if (event.type === 'frame') this.#frames.push(event.payload);
      }
      this.#deliver();
    });
    socket.on('error', (err: NodeJS.ErrnoException) =>
      this.#fail(new ConnectionError(`connection error: ${err.code ?? err.message}`)),
    );
    socket.on('close', () => this.#fail(new ConnectionError('the server closed the connection')));
  }

  /** Next ACK payload; rejects with ConnectionError on timeout or lost connection. */
  next(timeoutMs: number): Promise<Buffer> {
    return new Promise<Buffer>((resolvePromise, rejectPromise) => {
      const timer = setTimeout(() => {
        this.#waiter = undefined;
        rejectPromise(new ConnectionError(`no ACK within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiter = {
        resolve: (b) => {
          clearTimeout(timer);
          resolvePromise(b);
        },
        reject: (e) => {
          clearTimeout(timer);
          rejectPromise(e);
        },
      };
      this.#deliver();
    });
  }

  #deliver(): void {
    const waiter = this.#waiter;
    if (waiter === undefined) return;
    const payload = this.#frames.shift();
    if (payload !== undefined) {
      this.#waiter = undefined;
      waiter.resolve(payload);
    } else if (this.#failure !== undefined) {
      this.#waiter = undefined;
      waiter.reject(this.#failure);
    }
  }

  #fail(err: Error): void {
    this.#failure ??= err;
    this.#deliver();
  }
}

/** Opens the plain or TLS connection; resolves once it is usable. */
function open(opts: SendOptions): Promise<Socket> {
  return new Promise<Socket>((resolvePromise, rejectPromise) => {
    const target = `${opts.host}:${opts.port}`;
    const socket: Socket = opts.tls
      ? tlsConnect({
          host: opts.host,
          port: opts.port,
          // SNI takes host names only (Node warns on an IP); certificate checks still use `host`.
          ...(isIP(opts.host) === 0 ? { servername: opts.host } : {}),
          minVersion: 'TLSv1.2',
          ...(opts.ca === undefined ? {} : { ca: opts.ca }),
        })
      : netConnect({ host: opts.host, port: opts.port });
    const onError = (err: NodeJS.ErrnoException): void => {
      socket.destroy();
      rejectPromise(new ConnectionError(`cannot connect to ${target}: ${err.code ?? err.message}`));
    };
    socket.once('error', onError);
    socket.setTimeout(opts.timeoutMs, () =>
      onError(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' })),
    );
    socket.once(opts.tls ? 'secureConnect' : 'connect', () => {
      socket.off('error', onError);
      socket.setTimeout(0);
      resolvePromise(socket);
    });
  });
}

/** Where output goes; injectable so the console logic does not depend on the real streams. */
interface Output {
  out: (line: string) => void;
  err: (text: string) => void;
  tty: boolean;
}

/**
 * Sends every message, prints one line per ACK (or a progress bar on a TTY for large files) and a summary.
 *
 * @returns the exit code.
 */
async function send(opts: SendOptions, messages: Buffer[], io: Output): Promise<number> {
  const total = messages.length;
  const progress = io.tty && total > PROGRESS_THRESHOLD;
  const counts = { AA: 0, AE: 0, AR: 0, other: 0 };
  let sent = 0;
  const summary = (): void => {
    if (progress) io.err('\n');
    const other = counts.other > 0 ? `, unreadable ${counts.other}` : '';
    io.out(`sent ${sent}, AA ${counts.AA}, AE ${counts.AE}, AR ${counts.AR}${other}`);
  };

  let socket: Socket;
  try {
    socket = await open(opts);
  } catch (err) {
    io.err(`send-hl7: ${(err as Error).message}\n`);
    return EXIT_CONNECTION;
  }
  const reader = new AckReader(socket);
  try {
    for (const [index, payload] of messages.entries()) {
      const n = index + 1;
      const controlId = controlIdOf(payload);
      socket.write(frame(payload));
      sent = n;
      let ackPayload: Buffer;
      try {
        ackPayload = await reader.next(opts.timeoutMs);
      } catch (err) {
        if (progress) io.err('\n');
        io.err(`send-hl7: message ${n}/${total} (${controlId}): ${(err as Error).message}\n`);
        summary();
        return EXIT_CONNECTION;
      }
      const ack = readAck(ackPayload);
      const kind = classify(ack.code);
      if (kind === undefined) counts.other += 1;
      else counts[kind] += 1;
      const line = `${n}/${total} ${controlId} ${ack.code || '-'}${ack.text === '' ? '' : ` ${ack.text}`}`;
      if (!progress) {
        io.out(line);
      } else if (kind !== 'AA') {
        io.err('\r\x1b[K');
        io.out(line);
      }
      if (progress) io.err(`\r${formatProgress(n, total)}`);
    }
  } finally {
    // Every ACK is in (or we give up): close our side and do not wait for the server's FIN to exit.
    socket.end();
    socket.unref();
  }
  summary();
  return counts.AE + counts.AR + counts.other > 0 ? EXIT_NACK : EXIT_OK;
}

/** Entry point: returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  let opts: SendOptions;
  let messages: Buffer[];
  try {
    opts = parseCommandLine(argv, process.env);
    messages = splitMessages(readInput(opts.file, 'file'));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`send-hl7: ${err.message}\n${USAGE}\n`);
    return EXIT_USAGE;
  }
  return send(opts, messages, {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (text) => process.stderr.write(text),
    tty: process.stderr.isTTY === true,
  });
}

// Run only when executed, so tests can import the pure helpers.
const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(resolve(entry)).href) {
  process.exitCode = await main(process.argv.slice(2));
}
