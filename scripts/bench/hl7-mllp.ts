import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { frame } from '../../mllp-bridge/src/framing.js';
import type { ConnectionPlan } from './hl7-messages.js';

/**
 * The MLLP side of `npm run bench -- hl7`: a load client (N connections, each sending its messages one at a time and
 * waiting for the ACK of each), and the bare MLLP server that answers AA at once (the ceiling). Both frame MLLP
 * themselves (`VT payload FS CR`) so that neither measures the bridge's own code.
 */

const VT = 0x0b;
const FS = 0x1c;
const CR = 0x0d;

/** An instant comparable across threads: milliseconds since the epoch, sub-millisecond precision. */
export const epochNow = (): number => performance.timeOrigin + performance.now();

/** `VT payload FS CR` (the bridge's encoder: framing a payload costs the same on both sides of the comparison). */
export const mllpFrame = frame;

/**
 * Incremental frame splitter: `push(chunk)` returns the payloads completed by that chunk. Bytes before a VT are
 * skipped; enough for well-behaved peers (the bench talks to itself), not a general decoder.
 */
export function frameSplitter(): (chunk: Buffer) => Buffer[] {
  let pending: Buffer | undefined;
  return (chunk) => {
    let buf = pending ? Buffer.concat([pending, chunk]) : chunk;
    pending = undefined;
    const out: Buffer[] = [];
    for (;;) {
      const start = buf.indexOf(VT);
      if (start < 0) return out;
      let end = buf.indexOf(FS, start + 1);
      while (end >= 0 && end + 1 < buf.length && buf[end + 1] !== CR) end = buf.indexOf(FS, end + 1);
      if (end < 0 || end + 1 >= buf.length) {
        pending = buf.subarray(start);
        return out;
      }
      out.push(buf.subarray(start + 1, end));
      buf = buf.subarray(end + 2);
    }
  };
}

/** MSA-1 and MSA-2 of an ACK, or undefined when it has no MSA (separators read from MSH-1/MSH-2). */
export function parseAck(text: string): { code: string; controlId: string } | undefined {
  if (!text.startsWith('MSH') || text.length < 8) return undefined;
  const field = text.charAt(3);
  const component = text.charAt(4);
  for (const segment of text.split(/\r\n|\r|\n/)) {
    if (!segment.startsWith(`MSA${field}`)) continue;
    const parts = segment.split(field);
    return { code: parts[1] ?? '', controlId: (parts[2] ?? '').split(component)[0] ?? '' };
  }
  return undefined;
}

/** MSH-10 read from the first segment of a raw message (ASCII), '' when absent. */
export function controlIdOf(payload: Buffer): string {
  let end = payload.indexOf(CR);
  if (end < 0) end = payload.length;
  const msh = payload.toString('latin1', 0, end);
  return msh.split(msh.charAt(3))[9] ?? '';
}

export interface BareAckServer {
  port: number;
  close(): Promise<void>;
}

/**
 * The ceiling: a TCP server that frames MLLP and answers every message with an AA at once (a fixed ACK carrying the
 * message's MSH-10 so the client can check it). No decoding, no queue, no durability.
 */
export function startBareAckServer(host = '127.0.0.1'): Promise<BareAckServer> {
  let acks = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    const split = frameSplitter();
    socket.on('data', (chunk: Buffer) => {
      for (const payload of split(chunk)) {
        const ack = `MSH|^~\\&|PFI|CHU-BENCH|||20240301120000||ACK|BARE${++acks}|P|2.5\rMSA|AA|${controlIdOf(payload)}\r`;
        socket.write(mllpFrame(Buffer.from(ack, 'latin1')));
      }
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      resolve({
        port: typeof address === 'object' && address ? address.port : 0,
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

export interface MllpClientOptions {
  host: string;
  port: number;
  /** One entry per connection: its messages, sent in order, each after the previous one's ACK. */
  connections: ConnectionPlan[];
  /** A message not ACKed within this long stops its connection (counted in `errors`). Default 120 s. */
  ackTimeoutMs?: number;
}

export interface MllpClientResult {
  /** Messages written to a socket. */
  sent: number;
  aa: number;
  ae: number;
  ar: number;
  /** ACKs without MSA, or whose MSA-2 is not the message's MSH-10. */
  bad: number;
  /** Send → ACK received, in ms, one per ACK received. */
  latenciesMs: Float64Array;
  /** {@link epochNow} when the first message was written and when the last ACK arrived. */
  startedAt: number;
  finishedAt: number;
  /** Connection failures (codes only). */
  errors: string[];
}

/**
 * Connects every connection first, then starts them together; resolves when each has had the ACK of its last
 * message (or failed). Frames are encoded before the clock starts.
 */
export async function runMllpClient(opts: MllpClientOptions): Promise<MllpClientResult> {
  const ackTimeoutMs = opts.ackTimeoutMs ?? 120_000;
  const plans = opts.connections.map((c) => ({
    frames: c.texts.map((t) => mllpFrame(Buffer.from(t, 'utf8'))),
    controlIds: c.controlIds,
  }));
  const total = plans.reduce((n, p) => n + p.frames.length, 0);
  const result: MllpClientResult = {
    sent: 0,
    aa: 0,
    ae: 0,
    ar: 0,
    bad: 0,
    latenciesMs: new Float64Array(total),
    startedAt: 0,
    finishedAt: 0,
    errors: [],
  };
  let received = 0;

  const sockets = await Promise.all(
    plans.map(
      () =>
        new Promise<net.Socket>((resolve, reject) => {
          const socket = net.connect({ host: opts.host, port: opts.port, noDelay: true }, () => {
            socket.off('error', reject);
            resolve(socket);
          });
          socket.once('error', reject);
        }),
    ),
  );

  const drive = (socket: net.Socket, plan: (typeof plans)[number]): Promise<void> =>
    new Promise<void>((resolve) => {
      let next = 0;
      let sentAt = 0;
      let timer: NodeJS.Timeout | undefined;
      let done = false;
      const split = frameSplitter();
      const finish = (error?: string) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (error) result.errors.push(error);
        socket.removeAllListeners('data');
        socket.on('error', () => undefined);
        socket.end();
        resolve();
      };
      const send = () => {
        if (next >= plan.frames.length) return finish();
        sentAt = performance.now();
        result.sent++;
        socket.write(plan.frames[next]!);
        timer = setTimeout(() => finish('ack-timeout'), ackTimeoutMs);
      };
      socket.on('data', (chunk: Buffer) => {
        for (const payload of split(chunk)) {
          clearTimeout(timer);
          result.latenciesMs[received++] = performance.now() - sentAt;
          const ack = parseAck(payload.toString('utf8'));
          if (!ack || ack.controlId !== plan.controlIds[next]) result.bad++;
          else if (ack.code === 'AA' || ack.code === 'CA') result.aa++;
          else if (ack.code === 'AE' || ack.code === 'CE') result.ae++;
          else if (ack.code === 'AR' || ack.code === 'CR') result.ar++;
          else result.bad++;
          next++;
          send();
        }
      });
      socket.on('error', (err: NodeJS.ErrnoException) => finish(err.code ?? 'socket-error'));
      socket.on('close', () => finish(next < plan.frames.length ? 'closed-by-server' : undefined));
      send();
    });

  result.startedAt = epochNow();
  await Promise.all(sockets.map((s, i) => drive(s, plans[i]!)));
  result.finishedAt = epochNow();
  result.latenciesMs = result.latenciesMs.slice(0, received);
  return result;
}
