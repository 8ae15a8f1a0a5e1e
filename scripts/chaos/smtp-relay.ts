/**
 * A harness-controlled MSSanté relay for the chaos scenarios: a real smtp-server requiring STARTTLS (certificate of a
 * throw-away CA) behind a TCP front on a fixed port, whose mode the scenario switches:
 *
 * - `up`: the front pipes to the smtp-server;
 * - `down`: the port is closed (connections refused);
 * - `slow`: the front answers nothing until `slowMs` (longer than the client's timeouts), then pipes;
 * - `trickle`: the front greets, then answers EHLO with a continuation line every `trickleMs`, never the last one:
 *   bytes keep coming, so no inactivity timeout ever fires;
 * - `greet-421`: the front answers 421 and closes (a relay shedding load);
 * - `rcpt-451`, `data-451`: the smtp-server defers every recipient, or the message after DATA.
 *
 * Whatever the mode, recipients whose local part starts with `refuse-` get a 550; a message for a `drop-` recipient is
 * read in full and then the connection is cut before the 250; one for a `late-` recipient is answered 250 after
 * `lateMs` (after the client gave up). Both count as received: a real relay may deliver them.
 */

import { writeFile } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';
import { createTestPki } from '../../test/support/pki.js';

export type RelayMode = 'up' | 'down' | 'slow' | 'trickle' | 'greet-421' | 'rcpt-451' | 'data-451';

export interface RelayMessage {
  messageId: string | undefined;
  rcpt: string[];
  /** Cut before its 250 (`drop-`) or answered after the client's timeouts (`late-`). */
  unconfirmed: boolean;
}

export interface ChaosRelay {
  /** The front's port (the same across `down` and back). */
  readonly port: number;
  /** PEM file of the CA of the relay's certificate (PFI_SMTP_CA_FILE). */
  readonly caFile: string;
  mode(): RelayMode;
  setMode(mode: RelayMode): Promise<void>;
  /** Messages received in full (250 given, or cut / answered late). */
  readonly received: RelayMessage[];
  /** RCPT TO commands by address (refused ones included). */
  readonly rcptCalls: Map<string, number>;
  /** Connections the front accepted, by the mode they met. */
  readonly connections: Map<RelayMode, number>;
  close(): Promise<void>;
}

export interface ChaosRelayOptions {
  dir: string;
  /** `slow`: how long the front stays silent before it pipes (default 5 s). */
  slowMs?: number;
  /** `trickle`: the interval between continuation lines (default 300 ms). */
  trickleMs?: number;
  /** `late-` recipients: the delay of the 250 (default 5 s). */
  lateMs?: number;
}

/** The Message-ID header, folded or not. */
const MESSAGE_ID = /^message-id:\s*(<[^>]+>)/im;

const refusal = (code: number, message: string) => Object.assign(new Error(message), { responseCode: code });

export async function startChaosRelay(opts: ChaosRelayOptions): Promise<ChaosRelay> {
  const pki = await createTestPki();
  const caFile = join(opts.dir, 'chaos-relay-ca.pem');
  await writeFile(caFile, pki.ca);
  const slowMs = opts.slowMs ?? 5_000;
  const trickleMs = opts.trickleMs ?? 300;
  const lateMs = opts.lateMs ?? 5_000;
  let mode: RelayMode = 'up';
  const received: RelayMessage[] = [];
  const rcptCalls = new Map<string, number>();
  const connections = new Map<RelayMode, number>();
  /** Front sockets by the local port of their connection to the smtp-server (to cut a session from onData). */
  const fronts = new Map<number, Socket>();
  const open = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, fn: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
    return t;
  };

  const smtp = new SMTPServer({
    secure: false,
    key: pki.server.key,
    cert: pki.server.cert,
    minVersion: 'TLSv1.2',
    authOptional: true,
    disableReverseLookup: true,
    logger: false,
    closeTimeout: 200,
    size: 20 * 1024 * 1024,
    onMailFrom(_address, session, callback) {
      if (!session.secure) return callback(refusal(530, '5.7.0 Must issue a STARTTLS command first'));
      callback();
    },
    onRcptTo(address, _session, callback) {
      const a = address.address.toLowerCase();
      rcptCalls.set(a, (rcptCalls.get(a) ?? 0) + 1);
      if (a.startsWith('refuse-')) return callback(refusal(550, `5.1.1 <${a}>: Recipient address rejected`));
      if (mode === 'rcpt-451') return callback(refusal(451, '4.3.0 chaos relay: try again later'));
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        if (mode === 'data-451') return callback(refusal(451, '4.3.0 chaos relay: queue full, try again later'));
        const rcpt = session.envelope.rcptTo.map((r) => r.address.toLowerCase());
        const head =
          Buffer.concat(chunks)
            .subarray(0, 16_384)
            .toString('latin1')
            .split(/\r?\n\r?\n/)[0] ?? '';
        const drop = rcpt.some((a) => a.startsWith('drop-'));
        const late = rcpt.some((a) => a.startsWith('late-'));
        received.push({ messageId: MESSAGE_ID.exec(head)?.[1]?.replace(/\s+/g, ''), rcpt, unconfirmed: drop || late });
        if (drop) {
          // Taken in full, then the connection breaks before the reply.
          const front = fronts.get(session.remotePort);
          front?.destroy();
          return;
        }
        if (late) return void later(lateMs, () => callback(null, 'OK: queued late'));
        callback(null, 'OK: queued');
      });
    },
  });
  smtp.on('error', () => undefined);
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', () => resolve()));
  const smtpPort = (smtp.server.address() as { port: number }).port;

  const pipeToSmtp = (client: Socket) => {
    const upstream = connect(smtpPort, '127.0.0.1');
    upstream.once('connect', () => {
      if (upstream.localPort !== undefined) fronts.set(upstream.localPort, client);
    });
    const close = () => {
      if (upstream.localPort !== undefined) fronts.delete(upstream.localPort);
      client.destroy();
      upstream.destroy();
    };
    upstream.on('error', close);
    upstream.on('close', close);
    client.on('close', close);
    client.pipe(upstream);
    upstream.pipe(client);
  };

  const trickle = (client: Socket) => {
    client.write('220 chaos.relay ESMTP trickling\r\n');
    let timer: NodeJS.Timeout | undefined;
    client.on('data', (d: Buffer) => {
      if (timer || !/^(EHLO|HELO)/i.test(d.toString('latin1'))) return;
      client.write('250-chaos.relay\r\n');
      timer = setInterval(() => client.write('250-TRICKLE\r\n'), trickleMs);
    });
    client.on('close', () => clearInterval(timer));
  };

  const onConnection = (client: Socket) => {
    open.add(client);
    client.on('close', () => open.delete(client));
    client.on('error', () => client.destroy());
    const met = mode;
    connections.set(met, (connections.get(met) ?? 0) + 1);
    if (met === 'slow') {
      client.pause();
      later(slowMs, () => {
        if (client.destroyed) return;
        client.resume();
        pipeToSmtp(client);
      });
      return;
    }
    if (met === 'trickle') return trickle(client);
    if (met === 'greet-421') {
      client.end('421 4.3.2 chaos relay: service not available, closing transmission channel\r\n');
      return;
    }
    pipeToSmtp(client);
  };

  let front: Server | undefined;
  let port = 0;
  const listen = async () => {
    const server = createServer(onConnection);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    port = (server.address() as { port: number }).port;
    front = server;
  };
  const unlisten = async () => {
    const server = front;
    front = undefined;
    if (!server) return;
    // A closed port: the listener goes, and the connections it had (a relay that went down drops them).
    for (const s of open) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  await listen();

  return {
    get port() {
      return port;
    },
    caFile,
    mode: () => mode,
    async setMode(next) {
      if (next === 'down' && front) await unlisten();
      if (next !== 'down' && !front) await listen();
      mode = next;
    },
    received,
    rcptCalls,
    connections,
    async close() {
      for (const t of timers) clearTimeout(t);
      await unlisten();
      await new Promise<void>((resolve) => smtp.close(() => resolve()));
    },
  };
}
