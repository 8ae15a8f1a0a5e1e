import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { frame, MllpDecoder, VT } from '../../mllp-bridge/src/framing.js';
import { createPartnerRegistry, openRegistry, type PartnerRegistry } from '../../mllp-bridge/src/registry.js';
import {
  type BridgeEvent,
  createMllpServer,
  type InboundMessage,
  type MllpServer,
  type MllpServerOptions,
} from '../../mllp-bridge/src/server.js';

// ---------------------------------------------------------------------------------------------------------------
// Test messages (synthetic PAM FR ADT^A01) and a tiny MLLP client

interface AdtOptions {
  app?: string;
  facility?: string;
  /** MSH-18; omitted when undefined. */
  charset?: string;
  family?: string;
  controlId?: string;
}

function adt(controlId: string, o: AdtOptions = {}): string {
  const app = o.app ?? 'GAM';
  const facility = o.facility ?? 'CHU-X';
  const msh18 = o.charset === undefined ? '' : `|||||FRA|${o.charset}|FR`;
  return `${[
    `MSH|^~\\&|${app}|${facility}|PFI|PFI|20240306111154||ADT^A01^ADT_A01|${controlId}|P|2.5^FRA^2.11${msh18}`,
    'EVN||20240306111154',
    `PID|1||4711^^^CHU-X&1.2.250.1.71.4.2.2&ISO^PI~2790399000000^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO^INS||${o.family ?? 'Durand'}^Marie^^^^^L||19790328|F`,
    'PV1|1|I|CARDIO^101^1',
  ].join('\r')}\r`;
}

interface Client {
  socket: net.Socket;
  send(bytes: Buffer | string): void;
  /** Next ACK payload (raw bytes). */
  nextAck(timeoutMs?: number): Promise<Buffer>;
  /** Bytes received so far. */
  received(): number;
  /** Resolves when the server closed the connection. */
  closed: Promise<void>;
}

function wrap(socket: net.Socket): Client {
  const decoder = new MllpDecoder({ maxFrameBytes: 1024 * 1024 });
  const frames: Buffer[] = [];
  const waiters: ((b: Buffer) => void)[] = [];
  let received = 0;
  socket.on('data', (chunk: Buffer) => {
    received += chunk.length;
    for (const e of decoder.push(chunk)) {
      if (e.type !== 'frame') continue;
      const waiter = waiters.shift();
      if (waiter) waiter(e.payload);
      else frames.push(e.payload);
    }
  });
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return {
    socket,
    send: (bytes) => socket.write(frame(typeof bytes === 'string' ? Buffer.from(bytes) : bytes)),
    nextAck(timeoutMs = 2000) {
      const ready = frames.shift();
      if (ready) return Promise.resolve(ready);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no ACK')), timeoutMs);
        waiters.push((b) => {
          clearTimeout(timer);
          resolve(b);
        });
      });
    },
    received: () => received,
    closed,
  };
}

function connect(port: number): Promise<Client> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => resolve(wrap(socket)));
    socket.once('error', reject);
  });
}

/** Field n (HL7 numbering) of segment `name` in an ACK. */
function field(ack: Buffer | string, name: string, n: number): string | undefined {
  const text = typeof ack === 'string' ? ack : ack.toString('latin1');
  const segment = text.split('\r').find((s) => s.startsWith(`${name}|`));
  return segment?.split('|')[name === 'MSH' ? n - 1 : n];
}

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
  reject(e: Error): void;
}

function deferred(): Deferred {
  let resolve = (): void => {};
  let reject = (_: Error): void => {};
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------------------------

let bridge: MllpServer | undefined;
const clients: Client[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.socket.destroy();
  await bridge?.close(100);
  bridge = undefined;
});

interface Started {
  port: number;
  enqueued: InboundMessage[];
  events: BridgeEvent[];
  client(): Promise<Client>;
}

async function start(overrides: Partial<MllpServerOptions> = {}): Promise<Started> {
  const enqueued: InboundMessage[] = [];
  const events: BridgeEvent[] = [];
  const enqueue = overrides.enqueue;
  bridge = createMllpServer({
    registry: openRegistry(),
    now: () => new Date('2024-03-06T10:11:54Z'),
    newControlId: () => 'ACK1',
    onEvent: (e) => events.push(e),
    ...overrides,
    enqueue: async (m) => {
      enqueued.push(m);
      if (enqueue) await enqueue(m);
    },
  });
  const port = await bridge.listen(0, '127.0.0.1');
  return {
    port,
    enqueued,
    events,
    async client() {
      const c = await connect(port);
      clients.push(c);
      return c;
    },
  };
}

describe('ACK after the durable enqueue', () => {
  it('writes AA only once enqueue resolved', async () => {
    const gate = deferred();
    const s = await start({ enqueue: () => gate.promise });
    const c = await s.client();
    c.send(adt('MSG1', { family: 'Lefèvre' }));
    await vi.waitFor(() => expect(s.enqueued).toHaveLength(1));
    await sleep(100);
    expect(c.received()).toBe(0);
    gate.resolve();
    const ack = await c.nextAck();
    expect(field(ack, 'MSA', 1)).toBe('AA');
    expect(field(ack, 'MSA', 2)).toBe('MSG1');
    expect(field(ack, 'MSH', 9)).toBe('ACK^A01^ACK');
    expect(field(ack, 'MSH', 10)).toBe('ACK1');
    expect(field(ack, 'MSH', 5)).toBe('GAM');
    expect(ack.toString('latin1')).not.toContain('ERR|');

    const m = s.enqueued[0];
    expect(m?.body).toBe(adt('MSG1', { family: 'Lefèvre' }));
    expect(m?.header.controlId).toBe('MSG1');
    expect(m?.groupId).toMatch(/^[0-9a-f]{64}$/);
    expect(m?.deduplicationId).toMatch(/^[0-9a-f]{64}$/);
    expect(m?.receivedAt.toISOString()).toBe('2024-03-06T10:11:54.000Z');
    const ackEvent = s.events.find((e) => e.type === 'ack');
    expect(ackEvent).toMatchObject({ type: 'ack', code: 'AA', reason: 'enqueued' });
    expect(ackEvent?.type === 'ack' && typeof ackEvent.enqueueMs).toBe('number');
    // Events never carry content: no name, no identifier, no raw control id.
    const logged = JSON.stringify(s.events);
    expect(logged).not.toContain('Lef');
    expect(logged).not.toContain('4711');
    expect(logged).not.toContain('MSG1');
  });

  it('answers AR (ERR 207) when enqueue rejects, so the sender retries', async () => {
    const s = await start({ enqueue: () => Promise.reject(new Error('queue down')) });
    const c = await s.client();
    c.send(adt('MSG2'));
    const ack = await c.nextAck();
    expect(field(ack, 'MSA', 1)).toBe('AR');
    expect(field(ack, 'MSA', 2)).toBe('MSG2');
    expect(field(ack, 'ERR', 3)).toBe('207^Application internal error^HL70357');
    expect(s.events).toContainEqual(expect.objectContaining({ type: 'ack', code: 'AR', reason: 'queue-error' }));
    // The connection stays usable.
    c.send(adt('MSG3'));
    expect(field(await c.nextAck(), 'MSA', 2)).toBe('MSG3');
  });

  it("reports a refused enqueue by the error's name or system code, never its message", async () => {
    const errors = [
      Object.assign(new Error('User is not authorized; body began MSH|^~\\&|GAM Lefèvre'), {
        name: 'AccessDeniedException',
      }),
      Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:443 Lefèvre'), { code: 'ECONNREFUSED' }),
      Object.assign(new Error('Lefèvre'), { code: 'free text, Lefèvre' }),
      'Lefèvre',
    ];
    let n = 0;
    const s = await start({ enqueue: () => Promise.reject(errors[n++]) });
    const c = await s.client();
    for (const id of ['E1', 'E2', 'E3', 'E4']) {
      c.send(adt(id, { family: 'Lefèvre' }));
      expect(field(await c.nextAck(), 'MSA', 1)).toBe('AR');
    }
    const names = s.events.flatMap((e) => (e.type === 'ack' ? [e.enqueueError] : []));
    expect(names).toEqual(['AccessDeniedException', 'ECONNREFUSED', 'Error', 'unknown']);
    expect(JSON.stringify(s.events)).not.toContain('Lef');
  });
});

describe('structurally invalid messages: AE, never enqueued', () => {
  const cases: {
    name: string;
    payload: string;
    err: string;
    erl: string;
    msa2: string;
    reason: string;
    /** MSH-3/MSH-4 in the ack event, for the refusal log ('' where the header was not read). */
    sender?: string;
  }[] = [
    {
      name: 'no MSH',
      payload: 'EVN||20240306111154\rPID|1||4711^^^CHU-X^PI\r',
      err: '100^Segment sequence error^HL70357',
      erl: 'MSH^1',
      msa2: '',
      reason: 'no-msh',
    },
    {
      name: 'empty frame',
      payload: '',
      err: '100^Segment sequence error^HL70357',
      erl: 'MSH^1',
      msa2: '',
      reason: 'no-msh',
    },
    {
      name: 'missing MSH-10',
      payload: adt(''),
      err: '101^Required field missing^HL70357',
      erl: 'MSH^1^10',
      msa2: '',
      reason: 'no-control-id',
      sender: 'GAM/CHU-X',
    },
    {
      name: 'missing MSH-9',
      payload: adt('MSG9').replace('ADT^A01^ADT_A01', ''),
      err: '101^Required field missing^HL70357',
      erl: 'MSH^1^9',
      msa2: 'MSG9',
      reason: 'no-type',
      sender: 'GAM/CHU-X',
    },
    {
      name: 'unusable separators',
      payload: 'MSH|^^\\&|GAM|CHU-X\r',
      err: '102^Data type error^HL70357',
      erl: 'MSH^1^2',
      msa2: '',
      reason: 'bad-separators',
    },
  ];
  it.each(cases)('$name', async ({ payload, err, erl, msa2, reason, sender = '/' }) => {
    const s = await start();
    const c = await s.client();
    c.send(payload);
    const ack = await c.nextAck();
    expect(field(ack, 'MSA', 1)).toBe('AE');
    expect(field(ack, 'MSA', 2)).toBe(msa2);
    expect(field(ack, 'ERR', 3)).toBe(err);
    expect(field(ack, 'ERR', 2)).toBe(erl);
    expect(s.enqueued).toHaveLength(0);
    expect(s.events).toContainEqual(expect.objectContaining({ type: 'ack', code: 'AE', reason }));
    const acks = s.events.flatMap((e) => (e.type === 'ack' && e.sender ? [e.sender] : []));
    expect(acks.map((a) => `${a.application}/${a.facility}`)).toEqual([sender]);
  });
});

describe('framing limits', () => {
  it('answers AR to an oversize frame and closes the connection', async () => {
    const s = await start({ maxFrameBytes: 200 });
    const c = await s.client();
    c.socket.write(Buffer.concat([Buffer.from([VT]), Buffer.from(adt('BIG').repeat(3))]));
    const ack = await c.nextAck();
    expect(field(ack, 'MSA', 1)).toBe('AR');
    expect(field(ack, 'ERR', 3)).toBe('207^Application internal error^HL70357');
    await c.closed;
    expect(s.enqueued).toHaveLength(0);
    expect(s.events).toContainEqual(expect.objectContaining({ type: 'oversize' }));
  });

  it('reports junk between frames as a count and still answers the next frame', async () => {
    const s = await start();
    const c = await s.client();
    c.socket.write(Buffer.concat([Buffer.from('garbage'), frame(Buffer.from(adt('J1')))]));
    expect(field(await c.nextAck(), 'MSA', 2)).toBe('J1');
    expect(s.events).toContainEqual({ type: 'junk', bytes: 7 });
  });

  it('handles two messages in one TCP write in order, one at a time', async () => {
    const gates = [deferred(), deferred()];
    let call = 0;
    const s = await start({ enqueue: () => (gates[call++] ?? deferred()).promise });
    const c = await s.client();
    c.socket.write(Buffer.concat([frame(Buffer.from(adt('M1'))), frame(Buffer.from(adt('M2')))]));
    await vi.waitFor(() => expect(s.enqueued).toHaveLength(1));
    await sleep(100);
    expect(s.enqueued).toHaveLength(1);
    expect(c.received()).toBe(0);
    gates[0]?.resolve();
    expect(field(await c.nextAck(), 'MSA', 2)).toBe('M1');
    await vi.waitFor(() => expect(s.enqueued).toHaveLength(2));
    expect(s.enqueued.map((m) => m.header.controlId)).toEqual(['M1', 'M2']);
    gates[1]?.resolve();
    expect(field(await c.nextAck(), 'MSA', 2)).toBe('M2');
  });
  it('stops reading a sender that gets ahead of its ACKs until they are written; a later write waits its turn', async () => {
    const gates = [deferred(), deferred()];
    let call = 0;
    const s = await start({ enqueue: () => (gates[call++] ?? deferred()).promise });
    const serverSockets: net.Socket[] = [];
    bridge?.server.on('connection', (socket: net.Socket) => serverSockets.push(socket));
    const c = await s.client();
    c.send(adt('P1'));
    await vi.waitFor(() => expect(s.enqueued).toHaveLength(1));
    // One message waiting for the queue, as a sender waiting for its ACK leaves it: still read (no pause/resume per
    // message).
    expect(serverSockets[0]?.isPaused()).toBe(false);
    c.send(adt('P2'));
    await vi.waitFor(() => expect(serverSockets[0]?.isPaused()).toBe(true));
    await sleep(100);
    expect(s.enqueued).toHaveLength(1);
    gates[0]?.resolve();
    expect(field(await c.nextAck(), 'MSA', 2)).toBe('P1');
    await vi.waitFor(() => expect(s.enqueued).toHaveLength(2));
    gates[1]?.resolve();
    expect(field(await c.nextAck(), 'MSA', 2)).toBe('P2');
    await vi.waitFor(() => expect(serverSockets[0]?.isPaused()).toBe(false));
  });
});

describe('fairness', () => {
  // Regression: the frames of one read were all handled before the event loop got a turn (their ACK writes complete
  // synchronously), so a sender pipelining hundreds of small frames delayed every other connection, and new
  // connections (Node accepts one per turn) waited seconds to be accepted.
  it('lets the event loop run between turns of frames pipelined by one sender', async () => {
    let sampled: number | undefined;
    const s = await start({
      enqueue: async () => {
        if (sampled === undefined) setImmediate(() => (sampled ??= s.enqueued.length));
      },
    });
    const c = await s.client();
    c.socket.write(Buffer.concat(Array.from({ length: 100 }, (_, i) => frame(Buffer.from(adt(`F${i}`))))));
    await vi.waitFor(() => expect(s.enqueued).toHaveLength(100));
    expect(sampled).toBeLessThan(100);
    expect(s.enqueued.map((m) => m.header.controlId)).toEqual(Array.from({ length: 100 }, (_, i) => `F${i}`));
  });
});

describe('charsets', () => {
  it('decodes an 8859/1 message to UTF-8 and encodes its ACK in latin1', async () => {
    const s = await start();
    const c = await s.client();
    const text = adt('L1', { charset: '8859/1', family: 'Lefèvre', facility: 'CLINIQUE-ÉTÉ' });
    c.send(Buffer.from(text, 'latin1'));
    const ack = await c.nextAck();
    expect(field(ack, 'MSA', 1)).toBe('AA');
    expect(s.enqueued[0]?.body).toContain('Lefèvre^Marie');
    expect(s.enqueued[0]?.body).toBe(text);
    // MSH-6 of the ACK echoes the facility: É is the single latin1 byte 0xC9, not UTF-8 C3 89.
    expect(ack.includes(Buffer.from('CLINIQUE-\xc9T\xc9', 'latin1'))).toBe(true);
    expect(ack.includes(Buffer.from('É', 'utf8'))).toBe(false);
  });

  it("uses the partner's charset fallback when MSH-18 is absent", async () => {
    const registry = createPartnerRegistry({
      strict: false,
      defaultCharset: 'utf-8',
      partners: [{ application: 'GAM', facility: 'CHU-W', allowed: true, charset: 'windows-1252' }],
    });
    const s = await start({ registry });
    const c = await s.client();
    // 0x80 is € in windows-1252; without the partner fallback it would be read as latin1 U+0080.
    const bytes = Buffer.from(adt('W1', { facility: 'CHU-W', family: 'Caf\x80' }), 'latin1');
    c.send(bytes);
    expect(field(await c.nextAck(), 'MSA', 1)).toBe('AA');
    expect(s.enqueued[0]?.body).toContain('Caf€^Marie');
    c.send(Buffer.from(adt('W2', { facility: 'CHU-OTHER', family: 'Caf\x80' }), 'latin1'));
    expect(field(await c.nextAck(), 'MSA', 1)).toBe('AA');
    expect(s.enqueued[1]?.body).toContain('Caf\u0080^Marie');
  });
});

describe('partner registry', () => {
  const config = (strict: boolean): PartnerRegistry =>
    createPartnerRegistry({
      strict,
      defaultCharset: 'utf-8',
      partners: [
        { application: 'GAM', facility: 'CHU-X', allowed: true },
        { application: 'OLD', facility: 'CHU-X', allowed: false },
      ],
    });

  it('strict mode refuses an unknown sender with AR 103 on MSH-3, not enqueued', async () => {
    const s = await start({ registry: config(true) });
    const c = await s.client();
    c.send(adt('U1', { facility: 'CHU-Y' }));
    const ack = await c.nextAck();
    expect(field(ack, 'MSA', 1)).toBe('AR');
    expect(field(ack, 'MSA', 2)).toBe('U1');
    expect(field(ack, 'ERR', 2)).toBe('MSH^1^3');
    expect(field(ack, 'ERR', 3)).toBe('103^Table value not found^HL70357');
    c.send(adt('U2'));
    expect(field(await c.nextAck(), 'MSA', 1)).toBe('AA');
    expect(s.enqueued.map((m) => m.header.controlId)).toEqual(['U2']);
    expect(s.events).toContainEqual(
      expect.objectContaining({
        type: 'ack',
        code: 'AR',
        reason: 'unknown-sender',
        sender: { application: 'GAM', facility: 'CHU-Y' },
      }),
    );
    // Only a refused sender is named.
    expect(s.events.filter((e) => e.type === 'ack' && e.sender !== undefined)).toHaveLength(1);
  });

  it('open mode accepts an unknown sender but still refuses a disallowed one', async () => {
    const s = await start({ registry: config(false) });
    const c = await s.client();
    c.send(adt('O1', { facility: 'CHU-Y' }));
    expect(field(await c.nextAck(), 'MSA', 1)).toBe('AA');
    c.send(adt('O2', { app: 'OLD' }));
    expect(field(await c.nextAck(), 'MSA', 1)).toBe('AR');
    expect(s.enqueued.map((m) => m.header.controlId)).toEqual(['O1']);
  });
});

describe('connections', () => {
  it('closes an idle connection after idleTimeoutMs', async () => {
    const s = await start({ idleTimeoutMs: 150 });
    const c = await s.client();
    const t0 = Date.now();
    await c.closed;
    expect(Date.now() - t0).toBeGreaterThanOrEqual(100);
    expect(s.events).toContainEqual({ type: 'idle-timeout' });
  });

  it('does not time out a connection whose message waits for the queue', async () => {
    const gate = deferred();
    const s = await start({ idleTimeoutMs: 100, enqueue: () => gate.promise });
    const c = await s.client();
    c.send(adt('SLOW'));
    await sleep(300);
    gate.resolve();
    expect(field(await c.nextAck(), 'MSA', 1)).toBe('AA');
  });

  // Regression: with Node's own maxConnections, silent connections took every slot and a real sender was refused.
  it('when full, gives a new connection the slot of one that never sent a frame, oldest first', async () => {
    const s = await start({ maxConnections: 3 });
    const sender = await s.client();
    sender.send(adt('K1'));
    expect(field(await sender.nextAck(), 'MSA', 1)).toBe('AA');
    const silent1 = await s.client();
    await vi.waitFor(() => expect(bridge?.connections()).toBe(2));
    const silent2 = await s.client();
    await vi.waitFor(() => expect(bridge?.connections()).toBe(3));
    const newcomer = await s.client();
    await silent1.closed;
    expect(s.events).toContainEqual({ type: 'connection', state: 'evicted', connections: 2 });
    newcomer.send(adt('K2'));
    expect(field(await newcomer.nextAck(), 'MSA', 1)).toBe('AA');
    // The sender idle since its message outranks the silent connection: the next newcomer takes silent2's slot.
    const another = await s.client();
    await silent2.closed;
    sender.send(adt('K3'));
    expect(field(await sender.nextAck(), 'MSA', 1)).toBe('AA');
    another.send(adt('K4'));
    expect(field(await another.nextAck(), 'MSA', 1)).toBe('AA');
    expect(s.events.filter((e) => e.type === 'connection' && e.state === 'refused')).toEqual([]);
  });

  it('when full of senders idle since their last message, evicts the one idle longest', async () => {
    const s = await start({ maxConnections: 2 });
    const older = await s.client();
    older.send(adt('I1'));
    expect(field(await older.nextAck(), 'MSA', 1)).toBe('AA');
    const recent = await s.client();
    recent.send(adt('I2'));
    expect(field(await recent.nextAck(), 'MSA', 1)).toBe('AA');
    older.send(adt('I3'));
    expect(field(await older.nextAck(), 'MSA', 1)).toBe('AA');
    await s.client();
    await recent.closed;
    older.send(adt('I4'));
    expect(field(await older.nextAck(), 'MSA', 1)).toBe('AA');
  });

  it('refuses a new connection when every slot has a message in flight or a frame begun', async () => {
    const gate = deferred();
    const s = await start({
      maxConnections: 2,
      enqueue: (m) => (m.header.controlId === 'Q1' ? gate.promise : Promise.resolve()),
    });
    const waiting = await s.client();
    waiting.send(adt('Q1'));
    await vi.waitFor(() => expect(s.enqueued).toHaveLength(1));
    const halfway = await s.client();
    const bytes = frame(Buffer.from(adt('Q2')));
    halfway.socket.write(bytes.subarray(0, 40));
    await vi.waitFor(() => expect(bridge?.connections()).toBe(2));
    await sleep(50);
    const extra = await s.client();
    await extra.closed;
    expect(extra.received()).toBe(0);
    expect(s.events).toContainEqual(expect.objectContaining({ type: 'connection', state: 'refused' }));
    halfway.socket.write(bytes.subarray(40));
    expect(field(await halfway.nextAck(), 'MSA', 2)).toBe('Q2');
    gate.resolve();
    expect(field(await waiting.nextAck(), 'MSA', 2)).toBe('Q1');
  });

  it('counts connections and reports open/close', async () => {
    const s = await start();
    const c = await s.client();
    await vi.waitFor(() => expect(bridge?.connections()).toBe(1));
    c.socket.end();
    await vi.waitFor(() => expect(bridge?.connections()).toBe(0));
    expect(s.events).toContainEqual({ type: 'connection', state: 'open', connections: 1 });
    expect(s.events).toContainEqual({ type: 'connection', state: 'close', connections: 0 });
  });

  it('survives a client that disconnects while its message is being enqueued', async () => {
    const gate = deferred();
    const s = await start({ enqueue: () => gate.promise });
    const c = await s.client();
    c.send(adt('GONE'));
    await vi.waitFor(() => expect(s.enqueued).toHaveLength(1));
    c.socket.destroy();
    await vi.waitFor(() => expect(bridge?.connections()).toBe(0));
    gate.resolve();
    const other = await s.client();
    other.send(adt('NEXT'));
    expect(field(await other.nextAck(), 'MSA', 1)).toBe('AA');
  });

  it('rejects keep-alive delays at or above the NLB idle timeout', () => {
    const base = { enqueue: async () => {}, registry: openRegistry() };
    expect(() => createMllpServer({ ...base, keepAliveMs: 350_000 })).toThrow(RangeError);
    expect(() => createMllpServer({ ...base, maxConnections: 0 })).toThrow(RangeError);
    expect(() => createMllpServer({ ...base, frameTimeoutMs: 0 })).toThrow(RangeError);
    expect(() => createMllpServer({ ...base, firstFrameTimeoutMs: 1.5 })).toThrow(RangeError);
    expect(() => createMllpServer({ ...base, closeGraceMs: -1 })).toThrow(RangeError);
  });
});

describe('peers that hold a connection without sending a message', () => {
  // Regression: each byte re-armed the idle timer, so a frame sent a byte at a time could take forever.
  it('closes a connection whose frame does not end within frameTimeoutMs, though bytes keep coming', async () => {
    const s = await start({ frameTimeoutMs: 200, idleTimeoutMs: 60_000 });
    const c = await s.client();
    const bytes = frame(Buffer.from(adt('SLOW')));
    let sent = 0;
    const drip = setInterval(() => {
      if (sent < bytes.length && !c.socket.destroyed) c.socket.write(bytes.subarray(sent, ++sent));
    }, 10);
    try {
      await c.closed;
    } finally {
      clearInterval(drip);
    }
    expect(sent).toBeLessThan(bytes.length);
    expect(c.received()).toBe(0);
    expect(s.enqueued).toHaveLength(0);
    expect(s.events).toContainEqual({ type: 'deadline', kind: 'frame' });
  });

  it('answers a frame that arrives in pieces within frameTimeoutMs', async () => {
    const s = await start({ frameTimeoutMs: 5_000 });
    const c = await s.client();
    const bytes = frame(Buffer.from(adt('PIECES')));
    for (const part of [bytes.subarray(0, 10), bytes.subarray(10, 100), bytes.subarray(100)]) {
      c.socket.write(part);
      await sleep(30);
    }
    expect(field(await c.nextAck(), 'MSA', 2)).toBe('PIECES');
    expect(s.events.some((e) => e.type === 'deadline')).toBe(false);
  });

  it('does not count junk as activity: a connection sending only junk is closed after firstFrameTimeoutMs', async () => {
    const s = await start({ firstFrameTimeoutMs: 200, idleTimeoutMs: 60_000 });
    const c = await s.client();
    const noise = setInterval(() => {
      if (!c.socket.destroyed) c.socket.write('junk without a frame');
    }, 10);
    try {
      await c.closed;
    } finally {
      clearInterval(noise);
    }
    expect(s.events).toContainEqual({ type: 'idle-timeout' });
    expect(s.events).toContainEqual(expect.objectContaining({ type: 'junk' }));
  });

  it('answers a frame whose sender omits the CR after FS', async () => {
    const s = await start();
    const c = await s.client();
    c.socket.write(Buffer.concat([Buffer.from([VT]), Buffer.from(adt('NOCR')), Buffer.from([0x1c])]));
    expect(field(await c.nextAck(), 'MSA', 2)).toBe('NOCR');
  });

  // Regression: the bridge ended the connection (FIN) and waited for the peer to close its side, forever.
  it('destroys a connection the peer leaves half-open for closeGraceMs after the bridge ended it', async () => {
    const s = await start({ idleTimeoutMs: 100, closeGraceMs: 100 });
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const sock = net.connect({ port: s.port, host: '127.0.0.1', allowHalfOpen: true }, () => resolve(sock));
      sock.once('error', reject);
    });
    socket.on('error', () => {});
    clients.push(wrap(socket));
    let ended = false;
    socket.on('end', () => {
      ended = true;
    });
    await vi.waitFor(() => expect(ended).toBe(true));
    // The peer never ends its side; the bridge frees the slot anyway.
    await vi.waitFor(() => expect(bridge?.connections()).toBe(0));
    expect(socket.destroyed).toBe(false);
  });

  // Regression: an oversize frame behind a message still being handled left the socket paused for good, so a peer
  // still writing the rest of it never finished its write, never closed, and kept its slot.
  it('after an oversize frame, drops what the peer still sends so that it gets the AR and the close', async () => {
    const gate = deferred();
    const s = await start({ maxFrameBytes: 2000, closeGraceMs: 60_000, enqueue: () => gate.promise });
    const c = await s.client();
    const rest = 16 * 1024 * 1024;
    c.socket.write(Buffer.concat([frame(Buffer.from(adt('FIRST'))), Buffer.from([VT]), Buffer.alloc(rest, 0x41)]));
    await vi.waitFor(() => expect(s.enqueued).toHaveLength(1));
    gate.resolve();
    expect(field(await c.nextAck(5_000), 'MSA', 2)).toBe('FIRST');
    expect(field(await c.nextAck(5_000), 'MSA', 1)).toBe('AR');
    await c.closed;
    expect(c.socket.bytesWritten).toBe(rest + frame(Buffer.from(adt('FIRST'))).length + 1);
  });
});

describe('a sender that never reads its ACKs', () => {
  // Regression: such a connection was paused, but kept its slot (and its buffers) for ever.
  it('is no longer read once its ACKs back up, keeps at most one ACK buffered, and is closed after frameTimeoutMs', async () => {
    const s = await start({ frameTimeoutMs: 300 });
    const serverSockets: net.Socket[] = [];
    bridge?.server.on('connection', (socket: net.Socket) => serverSockets.push(socket));
    const c = await s.client();
    c.socket.pause();
    // Frames the bridge answers with AE at once (no MSH): ACKs pile up fast, nothing is queued.
    const burst = Buffer.concat(Array.from({ length: 1000 }, () => frame(Buffer.from('EVN||20240306111154'))));
    let maxServerBuffered = 0;
    let pausedSeen = false;
    const deadline = () => s.events.some((e) => e.type === 'deadline' && e.kind === 'ack');
    while (!deadline()) {
      if (c.socket.writableLength < 256 * 1024 && !c.socket.destroyed) c.socket.write(burst);
      const server = serverSockets[0];
      if (server) {
        maxServerBuffered = Math.max(maxServerBuffered, server.writableLength);
        pausedSeen ||= server.isPaused();
      }
      await sleep(5);
    }
    expect(pausedSeen).toBe(true);
    // One ACK (an AE with its ERR segment, a few hundred bytes) at most waits in the bridge's own buffer.
    expect(maxServerBuffered).toBeLessThan(1024);
    await vi.waitFor(() => expect(bridge?.connections()).toBe(0));
  });
});

describe('graceful close', () => {
  it('stops accepting, waits for the in-flight ACK, then closes', async () => {
    const gate = deferred();
    const s = await start({ enqueue: () => gate.promise });
    const busy = await s.client();
    const idle = await s.client();
    busy.send(adt('F1'));
    await vi.waitFor(() => expect(s.enqueued).toHaveLength(1));
    let closed = false;
    const closing = bridge?.close(5000).then(() => {
      closed = true;
    });
    await idle.closed;
    await expect(connect(s.port)).rejects.toThrow(/ECONNREFUSED/);
    await sleep(100);
    expect(closed).toBe(false);
    gate.resolve();
    expect(field(await busy.nextAck(), 'MSA', 1)).toBe('AA');
    await busy.closed;
    await closing;
    expect(closed).toBe(true);
  });

  it('destroys connections still busy after the grace period', async () => {
    const s = await start({ enqueue: () => new Promise(() => {}) });
    const c = await s.client();
    c.send(adt('STUCK'));
    await vi.waitFor(() => expect(s.enqueued).toHaveLength(1));
    await bridge?.close(150);
    await c.closed;
    expect(c.received()).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------------------------

function selfSigned(): { cert: Buffer; key: Buffer } | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'pfi-mllp-tls-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    return { cert: readFileSync(join(dir, 'cert.pem')), key: readFileSync(join(dir, 'key.pem')) };
  } catch {
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const credentials = selfSigned();

describe.skipIf(credentials === undefined)('direct TLS (skipped when openssl is not available)', () => {
  const tlsConnect = (port: number, options: tls.ConnectionOptions): Promise<Client> =>
    new Promise((resolve, reject) => {
      const socket = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false, ...options }, () =>
        resolve(wrap(socket)),
      );
      socket.once('error', reject);
    });

  it('answers a TLS 1.2+ client and refuses TLS 1.1', async () => {
    if (credentials === undefined) return;
    const s = await start({ tls: credentials });
    const modern = await tlsConnect(s.port, { minVersion: 'TLSv1.2' });
    clients.push(modern);
    modern.send(adt('T1'));
    expect(field(await modern.nextAck(), 'MSA', 1)).toBe('AA');
    await expect(tlsConnect(s.port, { minVersion: 'TLSv1', maxVersion: 'TLSv1.1' })).rejects.toThrow();
    await vi.waitFor(() => expect(s.events).toContainEqual({ type: 'tls-error' }));
  });

  it('does not speak plain MLLP on the TLS port', async () => {
    if (credentials === undefined) return;
    const s = await start({ tls: credentials });
    const plain = await s.client();
    plain.send(adt('P1'));
    await plain.closed;
    expect(s.enqueued).toHaveLength(0);
  });
});
