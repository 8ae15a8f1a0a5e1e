/**
 * The MLLP TCP (or direct TLS) server: reads frames, answers each with an original-mode ACK, and hands valid messages
 * to an `enqueue` function. The ACK is the sender's proof of delivery, so AA is written only once `enqueue` resolved.
 *
 * Per connection, messages are handled strictly in order, one at a time: the socket is paused while a frame is being
 * handled and resumed once its ACK is written, so a slow queue pushes back on the sender through TCP.
 * Nothing here logs: `onEvent` receives sizes, counts, outcomes and a control id hash, never message content.
 *
 * What a peer may hold, and for how long (measured by `npm run chaos -- mllp-abuse`):
 * - **Connection slots** (`maxConnections`, default 100). When they are all taken, a new connection does not get
 *   refused while some slot is doing nothing: it takes the slot of an idle connection, in this order — one the bridge
 *   already ended (waiting for the peer to close its side), then one that has not sent a frame yet (oldest first: what
 *   a flood of silent connections, or the NLB's TCP health checks, leave behind), then the one idle longest. Idle
 *   means nothing in flight: no frame begun, none being handled, no ACK unwritten, so eviction never loses a message
 *   and never cuts one in half; an evicted interface engine simply reconnects for its next message. Only when every
 *   slot has something in flight is a new connection refused. Interface engines that keep one connection open are
 *   protected from floods of new connections, which evict each other first.
 * - **Time.** A new connection must start a frame within `firstFrameTimeoutMs`; a frame must end within
 *   `frameTimeoutMs` of its first byte (a slowloris sending a byte a second would otherwise hold its slot for as long
 *   as it likes: no idle timer fires while bytes trickle in); the peer must take each ACK (the kernel's send buffer
 *   accepting it) within `frameTimeoutMs` too (a sender that never reads its ACKs is no longer read — see below — but
 *   would otherwise keep its slot forever); and between messages a connection may stay idle `idleTimeoutMs`. Bytes
 *   outside frames (junk) are not activity: they keep no connection open. Time spent waiting for the queue is never
 *   held against the peer.
 * - **Memory.** At most one partial frame (≤ `maxFrameBytes`), the frames of one read (≤ 64 KB) and one unwritten
 *   ACK per connection: frames are handled one at a time, and the socket is not read again before the ACKs of what it
 *   sent are handed to the kernel — a sender that does not read its ACKs is not read either.
 * - **The NLB.** TCP keep-alive probes (`keepAliveMs`, below the NLB's 350 s idle timeout) keep an idle connection's
 *   NLB flow alive until `idleTimeoutMs` (10 min) closes it; probes carry no data, so they never count as activity.
 */

import { hash, randomBytes } from 'node:crypto';
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
  /** `evicted`: an idle connection closed to make room for a new one when every slot was taken. */
  | { type: 'connection'; state: 'open' | 'close' | 'refused' | 'evicted'; connections: number }
  | { type: 'received'; bytes: number }
  | {
      type: 'ack';
      code: AckCode;
      reason: AckReason;
      /** First 16 hex chars of sha256(MSH-10), when MSH-10 was read. */
      controlIdHash?: string;
      /** Time spent in `enqueue`, when it was called. */
      enqueueMs?: number;
      /** `queue-error`: the error's class name (e.g. `AccessDeniedException`), never its message. */
      enqueueError?: string;
      /** `unknown-sender`, `not-allowed` and every AE: MSH-3 and MSH-4 as sent (routing names, not patient data). */
      sender?: { application: string; facility: string };
    }
  | { type: 'junk'; bytes: number }
  | { type: 'oversize'; bytes: number }
  /** Closed for idleness: no message for `idleTimeoutMs`, or no frame started within `firstFrameTimeoutMs`. */
  | { type: 'idle-timeout' }
  /** Closed because a frame did not end (`frame`) or an ACK was not taken by the peer (`ack`) in `frameTimeoutMs`. */
  | { type: 'deadline'; kind: 'frame' | 'ack' }
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
  /**
   * Close a connection with no message for this long (from the end of its last frame or ACK); default 10 minutes.
   * Not applied while a message is handled.
   */
  idleTimeoutMs?: number;
  /**
   * Longest time from a frame's first byte to its end, and from an ACK's write to the peer taking it; default 60 s
   * (1 MiB at 17 KB/s). Past it the connection is closed: a frame or an ACK that slow is a broken or hostile peer.
   */
  frameTimeoutMs?: number;
  /** Close a new connection that has not started a frame within this long; default the smaller of the two above. */
  firstFrameTimeoutMs?: number;
  /**
   * Open connections at most; default 100. When they are all taken, a new connection takes an idle one's slot (see
   * the file comment) or, when none is idle, is closed at once.
   */
  maxConnections?: number;
  /** Once the bridge ended a connection, how long the peer has to close its side before the socket is destroyed; 5 s. */
  closeGraceMs?: number;
  /** TCP keep-alive initial delay; default 120 s, must be below the NLB's 350 s idle timeout. */
  keepAliveMs?: number;
  /** Direct TLS (minimum TLS 1.2) when given; plain TCP otherwise (TLS terminated by the NLB). */
  tls?: { cert: string | Buffer; key: string | Buffer };
  now?: () => Date;
  /** MSH-10 of each ACK; default a random prefix per server and a counter (18 characters; ST is 20 in v2.5). */
  newControlId?: () => string;
  onEvent?: (e: BridgeEvent) => void;
  /**
   * Message content, for an operator who opted in (PFI_MLLP_LOG_CONTENT): each decoded message with its ACK. Not
   * called for a frame over the size limit (its bytes are not kept). Off when absent, which is the default.
   */
  onContent?: (c: MessageContent) => void;
}

/** What {@link MllpServerOptions.onContent} receives: patient data, for the logs of an operator who asked. */
export interface MessageContent {
  code: AckCode;
  reason: AckReason;
  message: string;
  ack: string;
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
/** Deadlines are checked by one timer for all connections, at this fraction of the shortest one (10 ms to 1 s). */
const SWEEP_FRACTION = 10;
/**
 * Frames of one connection handled in a row before the others get a turn. Frames read together are handled without
 * returning to the event loop (their ACK writes complete synchronously), and Node accepts one new connection per
 * event-loop turn: a sender pipelining hundreds of frames (64 KB of small ones) otherwise made every turn long enough
 * that new connections waited seconds to be accepted and other senders' ACKs waited with them.
 */
const FAIR_SHARE = 16;
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

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

/** An SDK error's name (`AccessDeniedException`), else a Node system error's code (`ECONNREFUSED`): no free text. */
function enqueueErrorName(err: unknown): string {
  if (!(err instanceof Error)) return 'unknown';
  const code = (err as { code?: unknown }).code;
  if (err.name === 'Error' && typeof code === 'string' && /^[A-Z][A-Z0-9_]*$/.test(code)) return code;
  return err.name;
}

const hashControlId = (id: string): string => hash('sha256', id, 'hex').slice(0, 16);

/** What handling one frame produced: the ACK to write and whether to close afterwards. */
interface Outcome {
  source: AckSource;
  code: AckCode;
  reason: AckReason;
  charset: Charset;
  error?: AckError;
  enqueueMs?: number;
  enqueueError?: string;
  /** The decoded message, kept only when `onContent` is set. */
  text?: string;
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
 * @throws RangeError when `keepAliveMs` is not below 350 s or a size/limit/timeout is not a positive integer.
 */
export function createMllpServer(opts: MllpServerOptions): MllpServer {
  const maxFrameBytes = opts.maxFrameBytes ?? MIB;
  const idleTimeoutMs = opts.idleTimeoutMs ?? 600_000;
  const frameTimeoutMs = opts.frameTimeoutMs ?? 60_000;
  const firstFrameTimeoutMs = opts.firstFrameTimeoutMs ?? Math.min(idleTimeoutMs, frameTimeoutMs);
  const closeGraceMs = opts.closeGraceMs ?? 5_000;
  const keepAliveMs = opts.keepAliveMs ?? 120_000;
  const maxConnections = opts.maxConnections ?? 100;
  if (!(keepAliveMs > 0 && keepAliveMs < NLB_IDLE_TIMEOUT_MS)) {
    throw new RangeError('keepAliveMs must be between 0 and 350000 exclusive');
  }
  for (const [name, v] of [
    ['idleTimeoutMs', idleTimeoutMs],
    ['frameTimeoutMs', frameTimeoutMs],
    ['firstFrameTimeoutMs', firstFrameTimeoutMs],
    ['closeGraceMs', closeGraceMs],
    ['maxConnections', maxConnections],
  ] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name} must be a positive integer`);
  }
  const sweepMs = Math.min(
    1_000,
    Math.max(
      10,
      Math.floor(Math.min(idleTimeoutMs, frameTimeoutMs, firstFrameTimeoutMs, closeGraceMs) / SWEEP_FRACTION),
    ),
  );
  const clock = (): number => performance.now();
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
    const done = (o: Outcome): Outcome => {
      if (opts.onContent) o.text = decoded.text;
      return o;
    };
    let read = readHeader(decoded.text);
    if (isHeaderError(read)) return done(malformed(read, decoded.charset));
    const decision = registry.resolve(read.sendingApplication, read.sendingFacility);
    if (!decision.accepted) {
      return done({
        source: read,
        code: 'AR',
        reason: decision.reason,
        charset: decoded.charset,
        error: ERRORS.sender,
      });
    }
    if (decision.charset !== registry.defaultCharset) {
      // The sender is identified from ASCII MSH fields; decode again with its own fallback.
      decoded = decodeMessage(payload, decision.charset);
      read = readHeader(decoded.text);
      if (isHeaderError(read)) return done(malformed(read, decoded.charset));
    }
    const header = read;
    if (opts.accepts && !opts.accepts(header.messageType, header.triggerEvent)) {
      return done({
        source: header,
        code: 'AE',
        reason: 'unsupported-message',
        charset: decoded.charset,
        error: ERRORS.unsupported,
      });
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
    } catch (err) {
      // The cause's message may quote the message: only the error's name is reported. AR makes the sender retry.
      const enqueueMs = performance.now() - started;
      return done({
        source: header,
        code: 'AR',
        reason: 'queue-error',
        charset: decoded.charset,
        error: ERRORS.internal,
        enqueueMs,
        enqueueError: enqueueErrorName(err),
      });
    }
    return done({
      source: header,
      code: 'AA',
      reason: 'enqueued',
      charset: decoded.charset,
      enqueueMs: performance.now() - started,
    });
  }

  /** Where a connection stands for eviction: `undefined` when something is in flight, else its tier and age. */
  type EvictionRank = { tier: number; since: number };

  class Connection {
    readonly #socket: net.Socket;
    readonly #decoder = new MllpDecoder({ maxFrameBytes });
    readonly #queue: DecoderEvent[] = [];
    #busy = false;
    /** No more frames will be handled (oversize, shutdown, or socket gone). */
    #done = false;
    readonly #openedAt = clock();
    /** End of the last frame received or ACK written (or the opening): what idleness is measured from. */
    #lastActivityAt = this.#openedAt;
    #frames = 0;
    /** First byte of the frame being received, undefined between frames. */
    #frameStartedAt: number | undefined;
    /** When the ACK being written was handed to the socket, undefined when none is waiting for the kernel. */
    #writingSince: number | undefined;
    /** When the bridge ended the connection (FIN sent), undefined while open. */
    #endedAt: number | undefined;

    constructor(socket: net.Socket) {
      this.#socket = socket;
      socket.setKeepAlive(true, keepAliveMs);
      socket.setNoDelay(true);
      socket.on('data', (chunk: Buffer) => this.#onData(chunk));
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

    /**
     * Eviction order when every slot is taken (lowest tier first, then oldest): 0 already ended by the bridge, 1 no
     * frame received yet, 2 idle since its last message. Undefined (never evicted) while a frame is being received or
     * handled or an ACK is unwritten.
     */
    evictionRank(): EvictionRank | undefined {
      if (this.#endedAt !== undefined) return { tier: 0, since: this.#endedAt };
      if (!this.idle() || this.#frameStartedAt !== undefined || this.#writingSince !== undefined) return undefined;
      return this.#frames === 0 ? { tier: 1, since: this.#openedAt } : { tier: 2, since: this.#lastActivityAt };
    }

    /** Frees the slot now for a new connection; the socket is destroyed (nothing is in flight on it). */
    evict(): void {
      this.#done = true;
      live.delete(this);
      emit({ type: 'connection', state: 'evicted', connections: live.size });
      this.#socket.destroy();
    }

    /** Graceful shutdown: close now when idle, else once the frames already received are ACKed. */
    shutdown(): void {
      if (this.idle()) this.#finish();
    }

    destroy(): void {
      this.#done = true;
      this.#socket.destroy();
    }

    /** Applies the deadlines (called by the sweep timer). */
    check(now: number): void {
      if (this.#endedAt !== undefined) {
        // The peer did not close its side (it may not even read): free the slot.
        if (now - this.#endedAt >= closeGraceMs) this.destroy();
        return;
      }
      if (this.#writingSince !== undefined) {
        if (now - this.#writingSince >= frameTimeoutMs) {
          // The ACK cannot be delivered (the peer does not read): end() would queue the FIN behind it, so destroy.
          emit({ type: 'deadline', kind: 'ack' });
          this.destroy();
        }
        return;
      }
      // A message waiting for the queue is not the peer's doing.
      if (this.#busy) return;
      if (this.#frameStartedAt !== undefined) {
        if (now - this.#frameStartedAt >= frameTimeoutMs) {
          emit({ type: 'deadline', kind: 'frame' });
          this.#finish();
        }
      } else if (
        this.#frames === 0 ? now - this.#openedAt >= firstFrameTimeoutMs : now - this.#lastActivityAt >= idleTimeoutMs
      ) {
        emit({ type: 'idle-timeout' });
        this.#finish();
      }
    }

    #finish(): void {
      this.#done = true;
      this.#queue.length = 0;
      if (this.#endedAt !== undefined) return;
      this.#endedAt = clock();
      this.#socket.end();
      // Keep reading (and dropping) what the peer still sends: a peer blocked on its own write would never see our
      // FIN, and closing with unread bytes resets the connection, which can discard the ACK just written.
      this.#socket.resume();
    }

    #onData(chunk: Buffer): void {
      if (this.#done) return;
      const events = this.#decoder.push(chunk);
      const now = clock();
      let ended = false;
      for (const e of events) {
        this.#queue.push(e);
        if (e.type === 'junk') continue;
        ended = true;
        this.#frames++;
        this.#lastActivityAt = now;
      }
      // A frame is timed from its first byte; one that began in this read began about now.
      if (!this.#decoder.inFrame()) this.#frameStartedAt = undefined;
      else if (ended || this.#frameStartedAt === undefined) this.#frameStartedAt = now;
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
        let handled = 0;
        let event = this.#queue.shift();
        while (event !== undefined && !this.#done) {
          await this.#handle(event);
          if (++handled % FAIR_SHARE === 0 && this.#queue.length > 0) await nextTurn();
          event = this.#queue.shift();
        }
      } finally {
        this.#busy = false;
      }
      if (this.#done) return;
      if (closing) this.#finish();
      else if (this.#socket.isPaused()) {
        // The frame begun before the pause was held up by the bridge, not by the peer: its deadline starts again.
        if (this.#frameStartedAt !== undefined) this.#frameStartedAt = clock();
        this.#socket.resume();
      }
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
      if (outcome.enqueueError !== undefined) event.enqueueError = outcome.enqueueError;
      if (outcome.code === 'AE' || outcome.reason === 'unknown-sender' || outcome.reason === 'not-allowed') {
        const { sendingApplication, sendingFacility } = outcome.source;
        event.sender = { application: sendingApplication ?? '', facility: sendingFacility ?? '' };
      }
      emit(event);
      if (opts.onContent && outcome.text !== undefined) {
        try {
          opts.onContent({ code: outcome.code, reason: outcome.reason, message: outcome.text, ack });
        } catch {
          // A failing log hook must not break message handling.
        }
      }
      const socket = this.#socket;
      if (socket.destroyed || !socket.writable) return Promise.resolve();
      this.#writingSince = clock();
      return new Promise((resolve) => {
        // The callback also runs, with an error, when the socket is destroyed first.
        socket.write(frame(encodeAck(ack, outcome.charset)), () => {
          this.#writingSince = undefined;
          this.#lastActivityAt = clock();
          resolve();
        });
      });
    }
  }

  /** The connection to close for a new one when every slot is taken, or undefined when none is idle. */
  const victim = (): Connection | undefined => {
    let best: Connection | undefined;
    let bestRank: EvictionRank | undefined;
    for (const c of live) {
      const rank = c.evictionRank();
      if (rank === undefined) continue;
      if (
        bestRank === undefined ||
        rank.tier < bestRank.tier ||
        (rank.tier === bestRank.tier && rank.since < bestRank.since)
      ) {
        best = c;
        bestRank = rank;
      }
    }
    return best;
  };

  const onSocket = (socket: net.Socket): void => {
    if (closing) {
      socket.destroy();
      return;
    }
    if (live.size >= maxConnections) {
      const old = victim();
      if (old === undefined) {
        socket.destroy();
        emit({ type: 'connection', state: 'refused', connections: live.size });
        return;
      }
      old.evict();
    }
    live.add(new Connection(socket));
    emit({ type: 'connection', state: 'open', connections: live.size });
  };

  const server = opts.tls
    ? tls.createServer(
        // A TLS handshake is the first thing a new connection sends: it gets the first-frame deadline.
        { cert: opts.tls.cert, key: opts.tls.key, minVersion: 'TLSv1.2', handshakeTimeout: firstFrameTimeoutMs },
        onSocket,
      )
    : net.createServer(onSocket);
  // Slots are counted (and freed by eviction) once a connection speaks MLLP, after its TLS handshake: Node's own limit
  // only bounds handshakes in progress, at twice the slots. Plain TCP needs none: a connection over the limit is
  // evicted or destroyed as soon as it is accepted.
  if (opts.tls) server.maxConnections = 2 * maxConnections;
  // Raw sockets, TLS handshakes in progress included, so the grace deadline can destroy every one of them.
  const raw = new Set<net.Socket>();
  server.on('connection', (socket: net.Socket) => {
    raw.add(socket);
    socket.once('close', () => raw.delete(socket));
  });
  server.on('drop', () => emit({ type: 'connection', state: 'refused', connections: live.size }));
  if (opts.tls) server.on('tlsClientError', () => emit({ type: 'tls-error' }));
  const sweep = setInterval(() => {
    const t = clock();
    for (const c of live) c.check(t);
  }, sweepMs);
  sweep.unref();

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
          clearInterval(sweep);
          resolve();
        });
        for (const c of live) c.shutdown();
      });
    },
    connections: () => live.size,
  };
}
