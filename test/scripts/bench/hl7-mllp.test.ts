import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { adtPlan } from '../../../scripts/bench/hl7-messages.js';
import {
  type BareAckServer,
  controlIdOf,
  frameSplitter,
  mllpFrame,
  parseAck,
  runMllpClient,
  startBareAckServer,
} from '../../../scripts/bench/hl7-mllp.js';

describe('frameSplitter', () => {
  it('returns frames split over chunks and several frames in one chunk', () => {
    const split = frameSplitter();
    const a = mllpFrame(Buffer.from('MSH|one'));
    const b = mllpFrame(Buffer.from('MSH|two'));
    const all = Buffer.concat([a, b]);
    expect(split(all.subarray(0, 5))).toEqual([]);
    expect(split(all.subarray(5, a.length + 2)).map(String)).toEqual(['MSH|one']);
    expect(split(all.subarray(a.length + 2)).map(String)).toEqual(['MSH|two']);
  });

  it('keeps an FS not followed by CR inside the payload', () => {
    const split = frameSplitter();
    const payload = Buffer.from([0x41, 0x1c, 0x42]);
    expect(split(mllpFrame(payload))).toEqual([payload]);
  });
});

describe('parseAck', () => {
  it('reads MSA-1 and MSA-2 with the message separators', () => {
    expect(parseAck('MSH|^~\\&|A|B\rMSA|AA|CTL1\r')).toEqual({ code: 'AA', controlId: 'CTL1' });
    expect(parseAck('MSH#^~\\&#A\nMSA#AE#X^Y\nERR#')).toEqual({ code: 'AE', controlId: 'X' });
  });

  it('is undefined without MSH or MSA', () => {
    expect(parseAck('MSA|AA|1')).toBeUndefined();
    expect(parseAck('MSH|^~\\&|A\r')).toBeUndefined();
  });
});

describe('controlIdOf', () => {
  it('reads MSH-10 from the first segment', () => {
    expect(controlIdOf(Buffer.from('MSH|^~\\&|A|B|C|D|T||ADT^A01|CTL42|P|2.5\rPID|1'))).toBe('CTL42');
    expect(controlIdOf(Buffer.from('MSH|^~\\&|A'))).toBe('');
  });
});

describe('runMllpClient against the bare ACK server', () => {
  let bare: BareAckServer | undefined;
  afterEach(async () => {
    await bare?.close();
    bare = undefined;
  });

  it('gets one AA per message, echoing each control id, with a latency for each', async () => {
    bare = await startBareAckServer();
    const plan = adtPlan(60, 4);
    const r = await runMllpClient({ host: '127.0.0.1', port: bare.port, connections: plan.connections });
    expect(r).toMatchObject({ sent: 60, aa: 60, ae: 0, ar: 0, bad: 0, errors: [] });
    expect(r.latenciesMs).toHaveLength(60);
    expect(r.finishedAt).toBeGreaterThanOrEqual(r.startedAt);
  });

  it('counts AE, AR and ACKs with another control id', async () => {
    const codes = ['AE', 'AR', 'AA'];
    let n = 0;
    const server = net.createServer((socket) => {
      const split = frameSplitter();
      socket.on('data', (chunk: Buffer) => {
        for (const payload of split(chunk)) {
          const code = codes[n++ % codes.length];
          const id = n === 3 ? 'OTHER' : controlIdOf(payload);
          socket.write(mllpFrame(Buffer.from(`MSH|^~\\&|X||||T||ACK|1|P|2.5\rMSA|${code}|${id}\r`)));
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const plan = adtPlan(6, 1);
      const r = await runMllpClient({ host: '127.0.0.1', port, connections: plan.connections });
      expect(r).toMatchObject({ sent: 6, ae: 2, ar: 2, aa: 1, bad: 1 });
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('stops a connection the server closes and reports it', async () => {
    const server = net.createServer((socket) => socket.on('data', () => socket.destroy()));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const plan = adtPlan(4, 1);
      const r = await runMllpClient({ host: '127.0.0.1', port, connections: plan.connections });
      expect(r.sent).toBe(1);
      expect(r.latenciesMs).toHaveLength(0);
      // A FIN gives closed-by-server; a reset, its code.
      expect(r.errors).toHaveLength(1);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
