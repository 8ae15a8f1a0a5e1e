/**
 * The MLLP TCP (or direct TLS) server: reads frames, answers each with an original-mode ACK, and hands valid messages
 * to an `enqueue` function. The ACK is the sender's proof of delivery, so AA is written only once `enqueue` resolved.
 *
 * Per connection, messages are handled strictly in order, one at a time: the socket is paused while a frame is being
 * handled and resumed once its ACK is written, so a slow queue pushes back on the sender through TCP.
 * Nothing here logs: `onEvent` receives sizes, counts, outcomes and a control id hash, never message content.
 */

import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import tls from 'node:tls';
import { type DecoderEvent, frame, MllpDecoder } from './framing.js';
import {
  type AckCode,
  type AckError,
  type AckSource,
  buildAck,
  type Charset,
  decodeMessage,
  deduplicationKey,
  encodeAck,
  type Header,
  type HeaderError,
  type HeaderErrorCode,
  isHeaderError,
  messageGroupKey,
  readHeader,
} from './hl7.js';
import type { PartnerRegistry } from './registry.js';

/** A message accepted for the queue. */
export interface InboundMessage {
  /** The whole message decoded to UTF-8 text (segments as received). */
  body: string;
  header: Header;
  /** SQS FIFO MessageGroupId ({@link messageGroupKey}). */
  groupId: string;
  /** SQS FIFO MessageDeduplicationId ({@link deduplicationKey}). */
  deduplicationId: string;
  receivedAt: Date;
  /** The sender's IPP authority from the partner registry, when it names one. */
  ippSystem?: string;
}

/** Why an ACK has its code. */
export type AckReason =
  | 'enqueued'
  | HeaderErrorCode
  | 'unknown-sender'
  | 'not-allowed'
  | 'unsupported-message'
  | 'queue-error'
  | 'oversize'
  | 'shutting-down';

/** Metrics/log hook payloads. Never message content. */
export type BridgeEvent =
  | { type: 'connection'; state: 'open' | 'close' | 'refused'; connections: number }
  | { type: 'received'; bytes: number }
  | {
      type: 'ack';
      code: AckCode;
      reason: AckReason;
      /** First 16 hex chars of sha256(MSH-10), when MSH-10 was read. */
      controlIdHash?: string;
      /** Time spent in `enqueue`, when it was called. */
      enqueueMs?: number;
    }
  | { type: 'junk'; bytes: number }
  | { type: 'oversize'; bytes: number }
  | { type: 'idle-timeout' }
  | { type: 'tls-error' }
  | { type: 'socket-error'; code?: string };

export interface MllpServerOptions {
  /** Durable enqueue; resolve only once the message is safe (AA), reject when it is not (AR, the sender retries). */
  enqueue(msg: InboundMessage): Promise<void>;
  registry: PartnerRegistry;
  /**
   * Whether the platform processes a message type/trigger (MSH-9.1/9.2); a refused one gets AE with ERR 200 at once
   * instead of being queued for a worker that would dead-letter it. Default: every type is accepted.
   */
  accepts?: (type: string, event: string) => boolean;
  /** Largest payload in bytes; default 1 MiB. A larger frame gets AR and the connection is closed. */
  maxFrameBytes?: number;
  /** Close a connection with no traffic for this long; default 10 minutes. Not applied while a message is handled. */
  idleTimeoutMs?: number;
  /** Further connections are closed at once; default 100. */
  maxConnections?: number;
  /** TCP keep-alive initial delay; default 120 s, must be below the NLB's 350 s idle timeout. */
  keepAliveMs?: number;
  /** Direct TLS (minimum TLS 1.2) when given; plain TCP otherwise (TLS terminated by the NLB). */
  tls?: { cert: string | Buffer; key: string | Buffer };
  now?: () => Date;
  /** MSH-10 of each ACK; default a random prefix per server and a counter (18 characters; ST is 20 in v2.5). */
  newControlId?: () => string;
  onEvent?: (e: BridgeEvent) => void;
}

export interface MllpServer {
  server: net.Server | tls.Server;
  /** Starts listening; resolves with the bound port (useful with port 0). */
  listen(port: number, host?: string): Promise<number>;
  /**
   * Graceful shutdown: stop accepting, let frames already received finish and be ACKed, close idle connections, then
   * resolve. Connections still busy after `graceMs` (default 30 s) are destroyed.
   */
  close(graceMs?: number): Promise<void>;
  /** Open connections. */
  connections(): number;
}

const MIB = 1024 * 1024;
const NLB_IDLE_TIMEOUT_MS = 350_000;

const ERRORS = {
  'no-msh': { code: '100', text: 'Segment sequence error', location: { segment: 'MSH' } },
  'bad-separators': { code: '102', text: 'Data type error', location: { segment: 'MSH', field: 2 } },
  'no-type': { code: '101', text: 'Required field missing', location: { segment: 'MSH', field: 9 } },
  'no-control-id': { code: '101', text: 'Required field missing', location: { segment: 'MSH', field: 10 } },
  // MSH-3 is coded from the user-defined table 0361 (Application): an unlisted sender is a value not in that table.
  sender: { code: '103', text: 'Table value not found', location: { segment: 'MSH', field: 3 } },
  internal: { code: '207', text: 'Application internal error' },
  unsupported: { code: '200', text: 'Unsupported message type', location: { segment: 'MSH', field: 9 } },
} satisfies Record<string, AckError>;

/**
 * ACK control ids (MSH-10 of the ACK: at most 20 characters in HL7 2.5): a random prefix per server, then a counter.
 * Unique without drawing random bytes for every message.
 */
function uniqueControlIds(): () => string {
  const prefix = randomBytes(5).toString('hex');
  let counter = 0;
  return () => `${prefix}${(counter++).toString(36).padStart(8, '0')}`;
}

const hashControlId = (id: string): string => createHash('sha256').update(id, 'utf8').digest('hex').slice(0, 16);

/** What handling one frame produced: the ACK to write and whether to close afterwards. */
interface Outcome {
  source: AckSource;
  code: AckCode;
  reason: AckReason;
  charset: Charset;
  error?: AckError;
  enqueueMs?: number;
}

/**
 * Creates the MLLP server (not yet listening).
 *
 * @example
 * ```ts
 * const bridge = createMllpServer({ enqueue: (m) => queue.send(m), registry: openRegistry('latin1') });
 * const port = await bridge.listen(2575, '0.0.0.0');
 * process.once('SIGTERM', () => void bridge.close(60_000));
 * ```
 * @throws RangeError when `keepAliveMs` is not below 350 s or a size/limit is not a positive integer.
 */
export function createMllpServer(opts: MllpServerOptions): MllpServer {
  const maxFrameBytes = opts.maxFrameBytes ?? MIB;
  const idleTimeoutMs = opts.idleTimeoutMs ?? 600_000;
  const keepAliveMs = opts.keepAliveMs ?? 120_000;
  const maxConnections = opts.maxConnections ?? 100;
  if (!(keepAliveMs > 0 && keepAliveMs < NLB_IDLE_TIMEOUT_MS)) {
    throw new RangeError('keepAliveMs must be between 0 and 350000 exclusive');
  }
  for (const [name, v] of [
    ['idleTimeoutMs', idleTimeoutMs],
    ['maxConnections', maxConnections],
  ] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name} must be a positive integer`);
  }
  const now = opts.now ?? (() => new Date());
  const newControlId = opts.newControlId ?? uniqueControlIds();
  const emit = (e: BridgeEvent): void => {
    try {
      opts.onEvent?.(e);
    } catch {
      // A failing metrics hook must not break message handling.
    }
  };

  const live = new Set<Connection>();
  let closing = false;

  /** AE for a structurally invalid message: never enqueued. */
  const malformed = (read: HeaderError, charset: Charset): Outcome => ({
    source: read.header ?? {},
    code: 'AE',
    reason: read.error,
    charset,
    error: ERRORS[read.error],
  });

  /** Decode, check, enqueue: everything but the write. Never throws. */
  async function handleFrame(payload: Buffer): Promise<Outcome> {
    emit({ type: 'received', bytes: payload.length });
    const registry = opts.registry;
    let decoded = decodeMessage(payload, registry.defaultCharset);
    let read = readHeader(decoded.text);
    if (isHeaderError(read)) return malformed(read, decoded.charset);
    const decision = registry.resolve(read.sendingApplication, read.sendingFacility);
    if (!decision.accepted) {
      return { source: read, code: 'AR', reason: decision.reason, charset: decoded.charset, error: ERRORS.sender };
    }
    if (decision.charset !== registry.defaultCharset) {
      // The sender is identified from ASCII MSH fields; decode again with its own fallback.
      decoded = decodeMessage(payload, decision.charset);
      read = readHeader(decoded.text);
      if (isHeaderError(read)) return malformed(read, decoded.charset);
    }
    const header = read;
    if (opts.accepts && !opts.accepts(header.messageType, header.triggerEvent)) {
      return {
        source: header,
        code: 'AE',
        reason: 'unsupported-message',
        charset: decoded.charset,
        error: ERRORS.unsupported,
      };
    }
    const message: InboundMessage = {
      body: decoded.text,
      header,
      groupId: messageGroupKey(header),
      deduplicationId: deduplicationKey(header, decoded.text),
      receivedAt: now(),
    };
    if (decision.ippSystem) message.ippSystem = decision.ippSystem;
    const started = performance.now();
    try {
      await opts.enqueue(message);
    } catch {
      // The cause may quote the message: it is not reported. AR makes the sender retry.
      const enqueueMs = performance.now() - started;
      return {
        source: header,
        code: 'AR',
        reason: 'queue-error',
        charset: decoded.charset,
        error: ERRORS.internal,
        enqueueMs,
      };
    }
    return {
      source: header,
      code: 'AA',
      reason: 'enqueued',
      charset: decoded.charset,
      enqueueMs: performance.now() - started,
    };
  }

  class Connection {
    readonly #socket: net.Socket;
    readonly #decoder = new MllpDecoder({ maxFrameBytes });
    readonly #queue: DecoderEvent[] = [];
    #busy = false;
    /** No more frames will be handled (oversize, shutdown, or socket gone). */
    #done = false;

    constructor(socket: net.Socket) {
      this.#socket = socket;
      socket.setKeepAlive(true, keepAliveMs);
      socket.setNoDelay(true);
      socket.setTimeout(idleTimeoutMs);
      socket.on('data', (chunk: Buffer) => this.#onData(chunk));
      socket.on('timeout', () => {
        // A message waiting for the queue is not idleness; the ACK write re-arms the timer.
        if (this.#busy) return;
        emit({ type: 'idle-timeout' });
        this.#finish();
      });
      socket.on('error', (err: NodeJS.ErrnoException) => emit({ type: 'socket-error', code: err.code }));
      socket.on('close', () => {
        this.#done = true;
        live.delete(this);
        emit({ type: 'connection', state: 'close', connections: live.size });
      });
    }

    /** True when nothing is being handled or waiting. */
    idle(): boolean {
      return !this.#busy && this.#queue.length === 0;
    }

    /** Graceful shutdown: close now when idle, else once the frames already received are ACKed. */
    shutdown(): void {
      if (this.idle()) this.#finish();
    }

    destroy(): void {
      this.#done = true;
      this.#socket.destroy();
    }

    #finish(): void {
      this.#done = true;
      this.#queue.length = 0;
      this.#socket.end();
    }

    #onData(chunk: Buffer): void {
      if (this.#done) return;
      this.#queue.push(...this.#decoder.push(chunk));
      // Backpressure: a sender that gets ahead of its ACKs is not read until they are all written. A sender that waits
      // for each ACK (the MLLP norm) is never paused: pausing and resuming a socket per message costs two system
      // calls, about a tenth of the bridge's time per message.
      if (this.#busy && this.#queue.length > 0 && !this.#socket.isPaused()) this.#socket.pause();
      void this.#drain();
    }

    async #drain(): Promise<void> {
      if (this.#busy) return;
      this.#busy = true;
      if (this.#queue.length > 1) this.#socket.pause();
      try {
        let event = this.#queue.shift();
        while (event !== undefined && !this.#done) {
          await this.#handle(event);
          event = this.#queue.shift();
        }
      } finally {
        this.#busy = false;
      }
      if (this.#done) return;
      if (closing) this.#finish();
      else if (this.#socket.isPaused()) this.#socket.resume();
    }

    async #handle(event: DecoderEvent): Promise<void> {
      switch (event.type) {
        case 'junk':
          emit({ type: 'junk', bytes: event.bytes });
          return;
        case 'oversize': {
          emit({ type: 'oversize', bytes: event.bytes });
          const outcome: Outcome = {
            source: {},
            code: 'AR',
            reason: 'oversize',
            charset: 'utf-8',
            error: ERRORS.internal,
          };
          await this.#write(outcome);
          this.#finish();
          return;
        }
        case 'frame':
          await this.#write(await handleFrame(event.payload));
          return;
      }
    }

    /** Writes the ACK; resolves once it is handed to the kernel (or the socket is gone). */
    #write(outcome: Outcome): Promise<void> {
      const ack = buildAck(outcome.source, outcome.code, {
        now: now(),
        controlId: newControlId(),
        ...(outcome.error ? { error: outcome.error } : {}),
      });
      const event: BridgeEvent = { type: 'ack', code: outcome.code, reason: outcome.reason };
      if (opts.onEvent && outcome.source.controlId) event.controlIdHash = hashControlId(outcome.source.controlId);
      if (outcome.enqueueMs !== undefined) event.enqueueMs = outcome.enqueueMs;
      emit(event);
      const socket = this.#socket;
      if (socket.destroyed || !socket.writable) return Promise.resolve();
      return new Promise((resolve) => {
        socket.write(frame(encodeAck(ack, outcome.charset)), () => resolve());
      });
    }
  }

  const onSocket = (socket: net.Socket): void => {
    if (closing) {
      socket.destroy();
      return;
    }
    live.add(new Connection(socket));
    emit({ type: 'connection', state: 'open', connections: live.size });
  };

  const server = opts.tls
    ? tls.createServer({ cert: opts.tls.cert, key: opts.tls.key, minVersion: 'TLSv1.2' }, onSocket)
    : net.createServer(onSocket);
  server.maxConnections = maxConnections;
  // Raw sockets, TLS handshakes in progress included, so the grace deadline can destroy every one of them.
  const raw = new Set<net.Socket>();
  server.on('connection', (socket: net.Socket) => {
    raw.add(socket);
    socket.once('close', () => raw.delete(socket));
  });
  server.on('drop', () => emit({ type: 'connection', state: 'refused', connections: live.size }));
  if (opts.tls) server.on('tlsClientError', () => emit({ type: 'tls-error' }));

  return {
    server,
    listen(port, host) {
      return new Promise((resolve, reject) => {
        const onError = (err: Error): void => reject(err);
        server.once('error', onError);
        server.listen(port, host, () => {
          server.off('error', onError);
          const address = server.address();
          resolve(typeof address === 'object' && address !== null ? address.port : port);
        });
      });
    },
    close(graceMs = 30_000) {
      closing = true;
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          for (const c of live) c.destroy();
          for (const socket of raw) socket.destroy();
        }, graceMs);
        timer.unref();
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        for (const c of live) c.shutdown();
      });
    },
    connections: () => live.size,
  };
}
