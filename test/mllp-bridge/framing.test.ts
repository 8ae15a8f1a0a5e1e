import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CR, type DecoderEvent, FS, frame, MllpDecoder, VT } from '../../mllp-bridge/src/framing.js';

const vt = String.fromCharCode(VT);
const fs = String.fromCharCode(FS);
const cr = String.fromCharCode(CR);

const bytes = (s: string): Buffer => Buffer.from(s, 'latin1');

/** Events with payloads as latin1 strings, so expectations stay readable. */
type Readable =
  | { type: 'frame'; payload: string }
  | { type: 'junk'; bytes: number }
  | { type: 'oversize'; bytes: number };

const readable = (events: DecoderEvent[]): Readable[] =>
  events.map((e) => (e.type === 'frame' ? { type: 'frame', payload: e.payload.toString('latin1') } : e));

function decodeAll(decoder: MllpDecoder, chunks: Buffer[]): DecoderEvent[] {
  return chunks.flatMap((c) => decoder.push(c));
}

const f = (payload: string): Readable => ({ type: 'frame', payload });
const junk = (n: number): Readable => ({ type: 'junk', bytes: n });
const oversize = (n: number): Readable => ({ type: 'oversize', bytes: n });

const ADT = 'MSH|^~\\&|SIH|CHU|PFI|PFI|20240101120000||ADT^A01|42|P|2.5' + cr + 'PID|1||123^^^CHU';

interface Case {
  name: string;
  max?: number;
  chunks: string[];
  events: Readable[];
  pending?: number;
}

const cases: Case[] = [
  { name: 'one frame in one read', chunks: [vt + 'abc' + fs + cr], events: [f('abc')] },
  {
    name: 'one frame in 1-byte reads',
    chunks: (vt + 'abc' + fs + cr).split(''),
    events: [f('abc')],
  },
  {
    name: 'frame split at every delimiter',
    chunks: [vt, 'ab', 'c', fs, cr],
    events: [f('abc')],
  },
  { name: 'segment CRs inside the payload are kept', chunks: [vt + ADT + fs + cr], events: [f(ADT)] },
  {
    name: 'two frames in one read',
    chunks: [vt + 'a' + fs + cr + vt + 'b' + fs + cr],
    events: [f('a'), f('b')],
  },
  {
    name: 'frame plus the start of the next, remainder in the next read',
    chunks: [vt + 'a' + fs + cr + vt + 'b', 'c' + fs + cr],
    events: [f('a'), f('bc')],
  },
  { name: 'junk before a frame', chunks: ['xyz' + vt + 'a' + fs + cr], events: [junk(3), f('a')] },
  {
    name: 'junk between frames (LF after FS CR)',
    chunks: [vt + 'a' + fs + cr + '\n' + vt + 'b' + fs + cr],
    events: [f('a'), junk(1), f('b')],
  },
  { name: 'junk only', chunks: ['hello'], events: [junk(5)], pending: 0 },
  { name: 'junk over two reads is reported per read', chunks: ['ab', 'cde'], events: [junk(2), junk(3)] },
  { name: 'empty frame', chunks: [vt + fs + cr], events: [f('')] },
  { name: 'empty read', chunks: [''], events: [] },
  { name: 'missing VT: frame starts at MSH|', chunks: [ADT + fs + cr], events: [f(ADT)] },
  {
    name: 'missing VT after junk',
    chunks: ['\r\n' + ADT + fs + cr],
    events: [junk(2), f(ADT)],
  },
  {
    name: 'missing VT with MSH| split over reads',
    chunks: ['x' + 'M', 'S', 'H|a' + fs + cr],
    events: [junk(1), f('MSH|a')],
  },
  {
    name: 'missing VT after a frame in the same read',
    chunks: [vt + 'a' + fs + cr + 'MSH|b' + fs + cr],
    events: [f('a'), f('MSH|b')],
  },
  { name: 'MSH without | is junk', chunks: ['MSHX' + vt + 'a' + fs + cr], events: [junk(4), f('a')] },
  { name: 'held MS prefix that does not complete is junk', chunks: ['MS', 'X'], events: [junk(3)] },
  { name: 'held prefix is pending, not yet junk', chunks: ['abMS'], events: [junk(2)], pending: 2 },
  {
    name: 'MSH| inside a VT frame is just payload',
    chunks: [vt + 'xMSH|y' + fs + cr],
    events: [f('xMSH|y')],
  },
  { name: 'FS followed by a stray byte', chunks: [vt + 'a' + fs + 'x'], events: [f('a'), junk(1)] },
  {
    name: 'FS followed by LF (no CR)',
    chunks: [vt + 'a' + fs + '\n' + vt + 'b' + fs + cr],
    events: [f('a'), junk(1), f('b')],
  },
  {
    name: 'FS directly followed by VT starts the next frame',
    chunks: [vt + 'a' + fs + vt + 'b' + fs + cr],
    events: [f('a'), f('b')],
  },
  {
    name: 'FS directly followed by MSH| starts the next frame',
    chunks: [vt + 'a' + fs + 'MSH|b' + fs + cr],
    events: [f('a'), f('MSH|b')],
  },
  { name: 'FS at the end of a read, CR in the next', chunks: [vt + 'a' + fs, cr], events: [f('a')] },
  { name: 'FS at the end of a read, stray byte in the next', chunks: [vt + 'a' + fs, 'x'], events: [f('a'), junk(1)] },
  // Regression: the frame used to wait for the byte after FS, so a sender that omits the CR never got its ACK.
  { name: 'FS at the end of the stream ends the frame at once', chunks: [vt + 'a' + fs], events: [f('a')], pending: 0 },
  {
    name: 'a CR after FS in a later read is the trailer, not junk',
    chunks: [vt + 'a' + fs, cr, vt + 'b' + fs + cr],
    events: [f('a'), f('b')],
  },
  {
    name: 'VT inside a frame abandons it as junk',
    chunks: [vt + 'ab' + vt + 'c' + fs + cr],
    events: [junk(3), f('c')],
  },
  {
    name: 'VT inside a VT-less frame abandons it as junk',
    chunks: ['MSH|a', vt + 'c' + fs + cr],
    events: [junk(5), f('c')],
  },
  { name: 'incomplete frame is pending', chunks: [vt + 'abc', 'de'], events: [], pending: 5 },
  { name: 'frame of exactly maxFrameBytes is accepted', max: 4, chunks: [vt + 'abcd' + fs + cr], events: [f('abcd')] },
  {
    name: 'oversize in one read, then recovery at the next VT',
    max: 4,
    chunks: [vt + 'abcde' + fs + cr + vt + 'ok' + fs + cr],
    events: [oversize(5), f('ok')],
    pending: 0,
  },
  {
    name: 'oversize reported once over many reads, bytes dropped until VT',
    max: 4,
    chunks: [vt + 'abc', 'de', 'fgh', 'ijk' + fs + cr, 'more junk', vt + 'ok' + fs + cr],
    events: [oversize(5), f('ok')],
  },
  {
    name: 'oversize frame without FS, then VT',
    max: 2,
    chunks: [vt + 'abc' + vt + 'ok' + fs + cr],
    events: [oversize(3), f('ok')],
  },
  {
    name: 'after oversize only VT resynchronises, not MSH|',
    max: 4,
    chunks: [vt + 'abcdef' + fs + cr + 'MSH|b' + fs + cr],
    events: [oversize(6)],
    pending: 0,
  },
  {
    name: 'oversize applies to VT-less frames too',
    max: 3,
    chunks: ['MSH|a' + fs + cr],
    events: [oversize(5)],
  },
];

describe('MllpDecoder (table)', () => {
  it.each(cases)('$name', ({ max, chunks, events, pending }) => {
    const decoder = new MllpDecoder({ maxFrameBytes: max ?? 1024 });
    expect(readable(decodeAll(decoder, chunks.map(bytes)))).toEqual(events);
    if (pending !== undefined) expect(decoder.pending()).toBe(pending);
  });
});

describe('MllpDecoder', () => {
  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])('rejects maxFrameBytes %s', (max) => {
    expect(() => new MllpDecoder({ maxFrameBytes: max })).toThrow(RangeError);
  });

  it('drops buffered bytes on oversize (memory stays bounded)', () => {
    const decoder = new MllpDecoder({ maxFrameBytes: 10 });
    decoder.push(bytes(vt + '0123456789'));
    expect(decoder.pending()).toBe(10);
    expect(readable(decoder.push(bytes('x')))).toEqual([oversize(11)]);
    expect(decoder.pending()).toBe(0);
    decoder.push(Buffer.alloc(1000, 0x41));
    expect(decoder.pending()).toBe(0);
  });

  it('inFrame() is true from the first byte of a frame to its end (what the server frame deadline times)', () => {
    const decoder = new MllpDecoder({ maxFrameBytes: 4 });
    expect(decoder.inFrame()).toBe(false);
    decoder.push(bytes('junk'));
    expect(decoder.inFrame()).toBe(false);
    decoder.push(bytes(vt));
    expect(decoder.inFrame()).toBe(true);
    decoder.push(bytes('ab' + fs));
    expect(decoder.inFrame()).toBe(false);
    decoder.push(bytes(cr + 'MS'));
    expect(decoder.inFrame()).toBe(true);
    decoder.push(bytes('X'));
    expect(decoder.inFrame()).toBe(false);
    // The rest of an oversize frame, dropped until the next VT, is still that frame.
    decoder.push(bytes(vt + 'abcdef'));
    expect(decoder.inFrame()).toBe(true);
    decoder.push(bytes(fs + cr));
    expect(decoder.inFrame()).toBe(true);
  });

  it('decodes a 1 MiB frame pushed in 16-byte chunks', () => {
    const payload = Buffer.alloc(1024 * 1024);
    for (let k = 0; k < payload.length; k++) payload[k] = 0x20 + (k % 90);
    const wire = frame(payload);
    const decoder = new MllpDecoder({ maxFrameBytes: 1024 * 1024 });
    const events: DecoderEvent[] = [];
    for (let k = 0; k < wire.length; k += 16) events.push(...decoder.push(wire.subarray(k, k + 16)));
    expect(events).toHaveLength(1);
    const [only] = events;
    expect(only?.type).toBe('frame');
    expect(only?.type === 'frame' && only.payload.equals(payload)).toBe(true);
    expect(decoder.pending()).toBe(0);
  });

  it('returns payloads that do not alias the pushed chunks', () => {
    const chunk = bytes(vt + 'abc' + fs + cr);
    const [event] = new MllpDecoder({ maxFrameBytes: 10 }).push(chunk);
    chunk.fill(0x78);
    expect(event?.type === 'frame' && event.payload.toString('latin1')).toBe('abc');
  });
});

describe('frame', () => {
  it('wraps the payload in VT ... FS CR', () => {
    expect([...frame(bytes('ab'))]).toEqual([VT, 0x61, 0x62, FS, CR]);
    expect([...frame(Buffer.alloc(0))]).toEqual([VT, FS, CR]);
  });

  it('round-trips through the decoder', () => {
    const events = new MllpDecoder({ maxFrameBytes: 1024 }).push(frame(bytes(ADT)));
    expect(readable(events)).toEqual([f(ADT)]);
  });
});

// ---- properties ----

/** Splits `buf` at the given cut points (any integers; reduced modulo the length). */
function split(buf: Buffer, cuts: number[]): Buffer[] {
  if (buf.length === 0) return [buf];
  const points = [...new Set(cuts.map((c) => Math.abs(c) % buf.length))].filter((p) => p > 0).sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(buf.subarray(prev, p));
    prev = p;
  }
  out.push(buf.subarray(prev));
  return out;
}

const oneByteChunks = (buf: Buffer): Buffer[] => Array.from({ length: buf.length }, (_, k) => buf.subarray(k, k + 1));

/** A chunking strategy: 1-byte reads, or random cut points. */
const chunking = fc.oneof(
  fc.constant<'bytes'>('bytes'),
  fc.array(fc.nat(), { maxLength: 20 }).map((cuts) => ({ cuts })),
);

const applyChunking = (buf: Buffer, how: 'bytes' | { cuts: number[] }): Buffer[] =>
  how === 'bytes' ? oneByteChunks(buf) : split(buf, how.cuts);

const M = 0x4d;
const payloadByte = fc.integer({ min: 0, max: 255 }).filter((b) => b !== VT && b !== FS);
/** Junk: never VT, never 'M' (so it can neither open a frame nor start an MSH| with what follows). */
const junkByte = fc.integer({ min: 0, max: 255 }).filter((b) => b !== VT && b !== M);

const message = fc.record({
  body: fc.array(payloadByte, { maxLength: 60 }).map((a) => Buffer.from(a)),
  msh: fc.boolean(),
  omitVt: fc.boolean(),
  junkBefore: fc.array(junkByte, { maxLength: 8 }),
});

describe('MllpDecoder (properties)', () => {
  it('yields exactly the framed payloads in order, whatever the junk and chunking', () => {
    fc.assert(
      fc.property(fc.array(message, { maxLength: 8 }), chunking, (messages, how) => {
        const parts: Buffer[] = [];
        const expected: Buffer[] = [];
        for (const m of messages) {
          const payload = m.msh ? Buffer.concat([bytes('MSH|'), m.body]) : m.body;
          parts.push(Buffer.from(m.junkBefore));
          // Only messages starting with MSH| may omit VT.
          parts.push(m.msh && m.omitVt ? Buffer.concat([payload, Buffer.from([FS, CR])]) : frame(payload));
          expected.push(payload);
        }
        const decoder = new MllpDecoder({ maxFrameBytes: 64 + 4 });
        const events = decodeAll(decoder, applyChunking(Buffer.concat(parts), how));
        const frames = events.flatMap((e) => (e.type === 'frame' ? [e.payload.toString('hex')] : []));
        expect(frames).toEqual(expected.map((p) => p.toString('hex')));
        expect(events.some((e) => e.type === 'oversize')).toBe(false);
        const junkTotal = events.reduce((n, e) => n + (e.type === 'junk' ? e.bytes : 0), 0);
        expect(junkTotal).toBe(messages.reduce((n, m) => n + m.junkBefore.length, 0));
        expect(decoder.pending()).toBe(0);
      }),
      { numRuns: 1000 },
    );
  });

  // Inputs biased towards the bytes the decoder cares about.
  const anyByte = fc.oneof(fc.constantFrom(VT, FS, CR, M, 0x53, 0x48, 0x7c), fc.integer({ min: 0, max: 255 }));
  const anyInput = fc.array(anyByte, { maxLength: 400 }).map((a) => Buffer.from(a));

  it('never throws and keeps pending() bounded on arbitrary input', () => {
    fc.assert(
      fc.property(anyInput, fc.integer({ min: 1, max: 64 }), chunking, (input, max, how) => {
        const decoder = new MllpDecoder({ maxFrameBytes: max });
        for (const chunk of applyChunking(input, how)) {
          const events = decoder.push(chunk);
          // Never more than maxFrameBytes, or the 3 bytes of a partial MSH held between reads. (A bound of
          // maxFrameBytes + chunk size failed on an empty chunk with max < 3 and a held "MSH": a test bug.)
          expect(decoder.pending()).toBeLessThanOrEqual(Math.max(max, 3));
          for (const e of events) {
            if (e.type === 'frame') {
              expect(e.payload.length).toBeLessThanOrEqual(max);
              expect(e.payload.includes(VT) || e.payload.includes(FS)).toBe(false);
            } else if (e.type === 'junk') {
              expect(e.bytes).toBeGreaterThan(0);
            } else {
              expect(e.bytes).toBeGreaterThan(max);
            }
          }
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('gives the same frames, oversize count and junk total however the input is chunked', () => {
    fc.assert(
      fc.property(anyInput, fc.integer({ min: 1, max: 64 }), chunking, (input, max, how) => {
        const summary = (events: DecoderEvent[]) => ({
          frames: events.flatMap((e) => (e.type === 'frame' ? [e.payload.toString('hex')] : [])),
          oversize: events.filter((e) => e.type === 'oversize').length,
          junk: events.reduce((n, e) => n + (e.type === 'junk' ? e.bytes : 0), 0),
        });
        const whole = summary(new MllpDecoder({ maxFrameBytes: max }).push(input));
        const pieces = summary(decodeAll(new MllpDecoder({ maxFrameBytes: max }), applyChunking(input, how)));
        expect(pieces).toEqual(whole);
      }),
      { numRuns: 1000 },
    );
  });
});
