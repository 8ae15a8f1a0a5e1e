/**
 * An MLLP sender that behaves like a hospital interface engine: each connection sends its messages in order, one at a
 * time, and resends a message until it gets an AA for it — after a timeout, a closed connection or a refused
 * connection it reconnects and resends; after an AR it waits and resends. An AE is final (the message is wrong) and
 * recorded. What it records is what the platform promised: the set of control ids it answered AA.
 */

import net from 'node:net';
import { frameSplitter, mllpFrame, parseAck } from '../bench/hl7-mllp.js';

export interface SenderConnectionPlan {
  texts: string[];
  controlIds: string[];
}

export interface ResilientSenderOptions {
  port: number;
  host?: string;
  connections: SenderConnectionPlan[];
  /** No ACK within this delay: the connection is dropped and the message resent (default 10 s). */
  ackTimeoutMs?: number;
  /** Wait before resending after an AR or a failed connection (default 200 ms). */
  retryDelayMs?: number;
  /** Stop resending after this long in all; the messages left are reported as never acknowledged (default 10 min). */
  giveUpAfterMs?: number;
  /** Called after each AA (the crash scenario kills the platform at given counts). */
  onAck?(acked: number): void;
}

export interface ResilientSenderResult {
  /** Control ids answered AA (once each, however often they were sent). */
  acked: Set<string>;
  /** Control ids answered AE, with the error text of ERR/MSA-3. */
  rejected: Map<string, string>;
  /** Control ids still without AA or AE when the sender gave up. */
  unacknowledged: string[];
  /** Writes of a message (first sends plus resends). */
  sends: number;
  resends: number;
  /** AR answers, ACK timeouts, connection failures. */
  ar: number;
  timeouts: number;
  connectionFailures: number;
  /** Send → AA latency of each acknowledged message's last send, in ms. */
  latencies: number[];
  /** ACKs whose MSA-2 was not the control id just sent. */
  mismatched: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

type Outcome =
  | { kind: 'ack'; code: string; controlId: string; text: string }
  | { kind: 'timeout' }
  | { kind: 'closed' };

/** One connection that can send a frame and wait for the next ACK on it. */
class AckConnection {
  readonly #socket: net.Socket;
  readonly #split = frameSplitter();
  #waiting: ((o: Outcome) => void) | undefined;
  #closed = false;

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => {
      for (const payload of this.#split(chunk)) {
        const text = payload.toString('utf8');
        const ack = parseAck(text);
        const resolve = this.#waiting;
        this.#waiting = undefined;
        resolve?.(ack ? { kind: 'ack', code: ack.code, controlId: ack.controlId, text } : { kind: 'closed' });
      }
    });
    const close = () => {
      this.#closed = true;
      const resolve = this.#waiting;
      this.#waiting = undefined;
      resolve?.({ kind: 'closed' });
    };
    socket.on('close', close);
    socket.on('error', close);
  }

  static open(host: string, port: number): Promise<AckConnection | undefined> {
    return new Promise((resolve) => {
      const socket = net.connect({ host, port });
      socket.setNoDelay(true);
      const fail = () => {
        socket.destroy();
        resolve(undefined);
      };
      socket.once('error', fail);
      socket.setTimeout(5_000, fail);
      socket.once('connect', () => {
        socket.off('error', fail);
        socket.setTimeout(0);
        resolve(new AckConnection(socket));
      });
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  send(text: string, timeoutMs: number): Promise<Outcome> {
    if (this.#closed) return Promise.resolve({ kind: 'closed' });
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiting = undefined;
        resolve({ kind: 'timeout' });
      }, timeoutMs);
      this.#waiting = (o) => {
        clearTimeout(timer);
        resolve(o);
      };
      this.#socket.write(mllpFrame(Buffer.from(text, 'utf8')));
    });
  }

  close(): void {
    this.#socket.destroy();
  }
}

/** ERR-8 (or MSA-3) of an AE, for the report. */
function errorText(ack: string): string {
  for (const segment of ack.split('\r')) {
    if (segment.startsWith('ERR')) return segment.split('|')[8] ?? segment;
  }
  return (
    ack
      .split('\r')
      .find((s) => s.startsWith('MSA'))
      ?.split('|')[3] ?? 'AE'
  );
}

export async function runResilientSender(opts: ResilientSenderOptions): Promise<ResilientSenderResult> {
  const host = opts.host ?? '127.0.0.1';
  const ackTimeoutMs = opts.ackTimeoutMs ?? 10_000;
  const retryDelayMs = opts.retryDelayMs ?? 200;
  const giveUpAt = Date.now() + (opts.giveUpAfterMs ?? 600_000);
  const result: ResilientSenderResult = {
    acked: new Set(),
    rejected: new Map(),
    unacknowledged: [],
    sends: 0,
    resends: 0,
    ar: 0,
    timeouts: 0,
    connectionFailures: 0,
    latencies: [],
    mismatched: 0,
  };

  const runConnection = async (plan: SenderConnectionPlan) => {
    let conn: AckConnection | undefined;
    for (let i = 0; i < plan.texts.length; i++) {
      const controlId = plan.controlIds[i]!;
      let attempts = 0;
      for (;;) {
        if (Date.now() > giveUpAt) {
          result.unacknowledged.push(...plan.controlIds.slice(i));
          conn?.close();
          return;
        }
        if (!conn || conn.closed) {
          conn = await AckConnection.open(host, opts.port);
          if (!conn) {
            result.connectionFailures++;
            await sleep(retryDelayMs);
            continue;
          }
        }
        attempts++;
        result.sends++;
        if (attempts > 1) result.resends++;
        const sentAt = performance.now();
        const outcome = await conn.send(plan.texts[i]!, ackTimeoutMs);
        if (outcome.kind === 'ack' && outcome.controlId !== controlId) {
          result.mismatched++;
          conn.close();
          continue;
        }
        if (outcome.kind === 'ack' && outcome.code === 'AA') {
          result.latencies.push(performance.now() - sentAt);
          result.acked.add(controlId);
          opts.onAck?.(result.acked.size);
          break;
        }
        if (outcome.kind === 'ack' && outcome.code === 'AE') {
          result.rejected.set(controlId, errorText(outcome.text));
          break;
        }
        if (outcome.kind === 'ack') result.ar++;
        else if (outcome.kind === 'timeout') {
          result.timeouts++;
          conn.close();
        } else result.connectionFailures++;
        await sleep(retryDelayMs);
      }
    }
    conn?.close();
  };

  await Promise.all(opts.connections.map(runConnection));
  return result;
}
