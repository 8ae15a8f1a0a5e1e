/**
 * A real smtp-server on 127.0.0.1:0 for the MSSanté tests: STARTTLS required (unless disabled), optional client
 * certificate, per-recipient and per-message refusals, and what it received.
 */

import type { TLSSocket } from 'node:tls';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import type { TestPki } from './pki.js';

export interface Received {
  raw: Buffer;
  user?: string;
  tlsProtocol: string | null;
  clientCn?: string;
  rcpt: string[];
}

export interface TestServer {
  port: number;
  received: Received[];
  mailFromCalls: number;
  errors: Error[];
  close(): Promise<void>;
}

/** A real smtp-server on 127.0.0.1:0 requiring STARTTLS (unless disabled), recording what it gets. */
export async function startTestSmtpServer(
  pki: TestPki,
  opts: {
    requireClientCert?: boolean;
    noStartTls?: boolean;
    rcpt?: (address: string) => { code: number; message: string } | undefined;
    data?: () => { code: number; message: string } | undefined;
  } = {},
): Promise<TestServer> {
  const state: TestServer = { port: 0, received: [], mailFromCalls: 0, errors: [], close: async () => {} };
  const sessions = new Map<string, { tlsProtocol: string | null; clientCn?: string }>();
  const fail = (r: { code: number; message: string }) => Object.assign(new Error(r.message), { responseCode: r.code });
  const options: SMTPServerOptions = {
    secure: false,
    key: pki.server.key,
    cert: pki.server.cert,
    ca: pki.ca,
    minVersion: 'TLSv1.2',
    requestCert: opts.requireClientCert ?? false,
    rejectUnauthorized: opts.requireClientCert ?? false,
    disabledCommands: opts.noStartTls ? ['STARTTLS'] : [],
    authOptional: true,
    authMethods: ['PLAIN', 'LOGIN'],
    disableReverseLookup: true,
    logger: false,
    closeTimeout: 200,
    onAuth(auth, _session, callback) {
      if (auth.username === 'pfi' && auth.password === 'secret') return callback(null, { user: 'pfi' });
      callback(Object.assign(new Error('Invalid credentials'), { responseCode: 535 }));
    },
    onSecure(socket, session, callback) {
      const tls = socket as TLSSocket;
      const peer = tls.getPeerCertificate();
      sessions.set(session.id, {
        tlsProtocol: tls.getProtocol(),
        ...(peer?.subject?.CN ? { clientCn: String(peer.subject.CN) } : {}),
      });
      callback();
    },
    onMailFrom(_address, session, callback) {
      state.mailFromCalls++;
      if (!session.secure) return callback(fail({ code: 530, message: 'Must issue a STARTTLS command first' }));
      callback();
    },
    onRcptTo(address, _session, callback) {
      const refusal = opts.rcpt?.(address.address);
      callback(refusal ? fail(refusal) : undefined);
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const refusal = opts.data?.();
        if (refusal) return callback(fail(refusal));
        state.received.push({
          raw: Buffer.concat(chunks),
          rcpt: session.envelope.rcptTo.map((r) => r.address),
          ...(typeof session.user === 'string' ? { user: session.user } : {}),
          ...(sessions.get(session.id) ?? { tlsProtocol: null }),
        });
        callback(null, 'OK: queued as TEST1');
      });
    },
  };
  const server = new SMTPServer(options);
  server.on('error', (err) => state.errors.push(err));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  state.port = (server.server.address() as { port: number }).port;
  state.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return state;
}
