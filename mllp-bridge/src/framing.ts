/**
 * MLLP framing (HL7 v2 Minimal Lower Layer Protocol): `VT payload FS CR`.
 *
 * Pure and transport-independent: the TCP server feeds socket chunks to an {@link MllpDecoder} and acts on the
 * events it returns. Nothing here logs; events carry byte counts only, never message content.
 */

/** Start block (vertical tab). */
export const VT = 0x0b;
/** End block (file separator). */
export const FS = 0x1c;
/** Carriage return that must follow FS. */
export const CR = 0x0d;

/** What the decoder found in the bytes pushed so far, in stream order. */
export type DecoderEvent =
  | { type: 'frame'; payload: Buffer }
  | { type: 'junk'; bytes: number }
  | { type: 'oversize'; bytes: number };

/** Options for {@link MllpDecoder}. */
export interface MllpDecoderOptions {
  /** Largest accepted payload in bytes (delimiters excluded); callers default to 1 MiB. */
  maxFrameBytes: number;
}

/** `MSH|`: the start of every HL7 v2 message, used to recognise frames whose sender forgot VT. */
const MSH = Buffer.from('MSH|', 'latin1');
const EMPTY = Buffer.alloc(0);

/** `afterFs`: a frame just ended at FS; a CR next is its trailer (skipped), anything else is read as in `seek`. */
type State = 'seek' | 'frame' | 'afterFs' | 'discard';

/**
 * Wraps one HL7 v2 message in an MLLP frame.
 *
 * @param payload - the message bytes (already encoded in the message's charset).
 * @returns a new buffer `VT payload FS CR`.
 */
export function frame(payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(payload.length + 3);
  out[0] = VT;
  payload.copy(out, 1);
  out[payload.length + 1] = FS;
  out[payload.length + 2] = CR;
  return out;
}

/**
 * Incremental MLLP decoder: push socket chunks, get frames back.
 *
 * Rules (one decoder per connection):
 * - A frame starts at VT, or at `MSH|` when the sender forgot VT; it ends at FS CR. Frames may be split over any
 *   number of chunks and a chunk may hold several frames.
 * - Bytes outside frames are skipped and reported as `junk` (a count only). Junk is reported at the end of each
 *   `push` or before the next frame, so one run of junk spread over several reads may give several events.
 * - A frame is complete at its FS: it is returned at once, without waiting for the CR (a sender that omits the CR, or
 *   whose CR is late, is answered all the same). A CR right after the FS is the trailer, skipped; any other byte is
 *   read as if outside a frame: VT or `MSH|` start the next frame, anything else is reported as junk.
 * - A VT inside a frame means the sender gave up on the previous frame and started over: the abandoned bytes
 *   (its VT included) are reported as junk and a new frame starts.
 * - When a frame's payload exceeds `maxFrameBytes`, one `oversize` event is emitted (with the bytes seen so far)
 *   and everything is dropped silently until the next VT. Memory stays bounded: at most `maxFrameBytes` payload
 *   bytes (or the 3 bytes of a partial `MSH`) are ever buffered.
 * - An empty frame (`VT FS CR`) yields a `frame` event with an empty payload; judging it is the caller's job.
 *
 * Payloads are fresh copies. Incomplete frames keep references to the pushed chunks, so callers must not reuse a
 * chunk's memory after pushing it (Node sockets never do).
 */
export class MllpDecoder {
  readonly #maxFrameBytes: number;
  #state: State = 'seek';
  /** Payload pieces of the current frame; joined once at FS so big frames cost O(n), not O(n²). */
  #parts: Buffer[] = [];
  #partsLength = 0;
  /** 1 when the current frame was opened by VT, 0 when it was opened by `MSH|`: for junk accounting. */
  #startBytes = 0;
  /** A prefix of `MSH|` seen at the end of the previous chunk, outside a frame. */
  #held: Buffer = EMPTY;

  /**
   * @param opts - `maxFrameBytes`: positive integer, largest accepted payload.
   * @throws RangeError when `maxFrameBytes` is not a positive integer.
   */
  constructor(opts: MllpDecoderOptions) {
    if (!Number.isInteger(opts.maxFrameBytes) || opts.maxFrameBytes < 1) {
      throw new RangeError('maxFrameBytes must be a positive integer');
    }
    this.#maxFrameBytes = opts.maxFrameBytes;
  }

  /** Bytes buffered for an incomplete frame (payload so far, or a held partial `MSH`). */
  pending(): number {
    return this.#partsLength + this.#held.length;
  }

  /**
   * True while a frame has started and not ended: after its VT (or `MSH|`, or a prefix of it at the end of a read),
   * and while the rest of an oversize frame is being dropped. The server times frames from the moment this turns true.
   */
  inFrame(): boolean {
    return this.#state === 'frame' || this.#state === 'discard' || this.#held.length > 0;
  }

  /**
   * Feeds the next chunk read from the connection.
   *
   * @param chunk - bytes as received; may be empty.
   * @returns the events completed by this chunk, in stream order.
   */
  push(chunk: Buffer): DecoderEvent[] {
    const events: DecoderEvent[] = [];
    let junk = 0;
    const flushJunk = (): void => {
      if (junk > 0) {
        events.push({ type: 'junk', bytes: junk });
        junk = 0;
      }
    };

    let buf = chunk;
    if (this.#held.length > 0) {
      // At most 3 bytes from the last chunk: re-scan them with the new bytes.
      buf = Buffer.concat([this.#held, chunk]);
      this.#held = EMPTY;
    }

    let i = 0;
    while (i < buf.length) {
      switch (this.#state) {
        case 'seek': {
          const start = findStart(buf, i);
          if (start.kind === 'none') {
            junk += buf.length - i;
            i = buf.length;
          } else if (start.kind === 'partialMsh') {
            junk += start.at - i;
            this.#held = Buffer.from(buf.subarray(start.at));
            i = buf.length;
          } else {
            junk += start.at - i;
            flushJunk();
            if (start.kind === 'vt') {
              this.#open(1);
              i = start.at + 1;
            } else {
              // The MSH| bytes are payload: the frame state scans them like any other byte.
              this.#open(0);
              i = start.at;
            }
          }
          break;
        }
        case 'frame': {
          const delimiter = findFsOrVt(buf, i);
          const end = delimiter === -1 ? buf.length : delimiter;
          const size = this.#partsLength + (end - i);
          if (size > this.#maxFrameBytes) {
            events.push({ type: 'oversize', bytes: size });
            this.#reset('discard');
            i = end;
          } else if (delimiter === -1) {
            this.#append(buf.subarray(i));
            i = buf.length;
          } else if (buf[delimiter] === FS) {
            this.#append(buf.subarray(i, delimiter));
            events.push({ type: 'frame', payload: Buffer.concat(this.#parts, this.#partsLength) });
            this.#reset('afterFs');
            i = delimiter + 1;
          } else {
            // VT inside a frame: the sender restarted.
            junk += this.#startBytes + size;
            flushJunk();
            this.#reset('seek');
            this.#open(1);
            i = delimiter + 1;
          }
          break;
        }
        case 'afterFs': {
          this.#state = 'seek';
          // Without CR the byte is left for 'seek': a new start, or junk.
          if (buf[i] === CR) i += 1;
          break;
        }
        case 'discard': {
          const vt = buf.indexOf(VT, i);
          if (vt === -1) {
            i = buf.length;
          } else {
            this.#open(1);
            i = vt + 1;
          }
          break;
        }
      }
    }
    flushJunk();
    return events;
  }

  #open(startBytes: number): void {
    this.#state = 'frame';
    this.#startBytes = startBytes;
  }

  #append(part: Buffer): void {
    if (part.length === 0) return;
    this.#parts.push(part);
    this.#partsLength += part.length;
  }

  #reset(state: State): void {
    this.#state = state;
    this.#parts = [];
    this.#partsLength = 0;
    this.#startBytes = 0;
  }
}

type Start = { kind: 'none' } | { kind: 'vt' | 'msh' | 'partialMsh'; at: number };

/** First frame start at or after `from`: a VT, a full `MSH|`, or a prefix of `MSH|` cut by the end of `buf`. */
function findStart(buf: Buffer, from: number): Start {
  for (let j = from; j < buf.length; j++) {
    const b = buf[j];
    if (b === VT) return { kind: 'vt', at: j };
    if (b === MSH[0]) {
      const match = matchMsh(buf, j);
      if (match !== 'none') return { kind: match, at: j };
    }
  }
  return { kind: 'none' };
}

function matchMsh(buf: Buffer, at: number): 'msh' | 'partialMsh' | 'none' {
  for (let k = 0; k < MSH.length; k++) {
    if (at + k >= buf.length) return 'partialMsh';
    if (buf[at + k] !== MSH[k]) return 'none';
  }
  return 'msh';
}

/** Index of the first FS or VT at or after `from`, or -1. One pass, so a chunk of many frames stays linear. */
function findFsOrVt(buf: Buffer, from: number): number {
  for (let j = from; j < buf.length; j++) {
    const b = buf[j];
    if (b === FS || b === VT) return j;
  }
  return -1;
}
