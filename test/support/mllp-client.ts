/** Test helpers driving the local platform from outside: one MLLP message and its ACK, and polling. */
import { connect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

/** Sends one message (UTF-8) in an MLLP frame on a new connection (TLS when `tls` is given); resolves with the ACK. */
export function sendMllp(port: number, message: string, tls?: { ca: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls ? tlsConnect({ port, host: '127.0.0.1', ca: tls.ca }) : connect(port, '127.0.0.1');
    let buffer = Buffer.alloc(0);
    socket.on('error', reject);
    socket.on('close', () => reject(new Error('connection closed before the ACK')));
    socket.on('data', (d: Buffer) => {
      buffer = Buffer.concat([buffer, d]);
      const end = buffer.indexOf(0x1c);
      if (end >= 0) {
        socket.end();
        resolve(buffer.subarray(1, end).toString('utf8'));
      }
    });
    socket.write(Buffer.concat([Buffer.from([0x0b]), Buffer.from(message, 'utf8'), Buffer.from([0x1c, 0x0d])]));
  });
}

/** Polls `fn` every 100 ms until it returns a value, or fails after `ms`. */
export async function eventually<T>(what: string, fn: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
