/**
 * Embedded SMTP sink for `npm start` and tests: an smtp-server that requires STARTTLS (TLS 1.2 or later) before
 * MAIL FROM, accepts any login (or none), and writes each message atomically as
 * `<dir>/<timestamp>-<id>.eml` (mode 0600) before answering 250.
 *
 * Certificates: unless `key`/`cert` are given, a private CA and a `localhost`/`127.0.0.1` server certificate
 * are generated in memory at each start (nothing is written to `dir`); the CA is returned as `caCertificate`
 * for the client's `ca` option. A client certificate can be required (`requireClientCert`).
 */

import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { generate } from 'selfsigned';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';

export interface SmtpSinkOptions {
  /** Where the `.eml` files go (created, mode 0700). */
  dir: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: an ephemeral port (see the returned `port`). */
  port?: number;
  /** Require a client certificate issued by this CA (PEM). */
  requireClientCert?: { ca: string };
  /** Server key and certificate (PEM); generated when absent. */
  key?: string;
  cert?: string;
  /** Largest message accepted; default 30 MB. */
  maxMessageBytes?: number;
  /** Told about connection and TLS failures (the error has no message content); default: ignored. */
  onError?: (err: Error) => void;
}

export interface SmtpSink {
  port: number;
  host: string;
  /** PEM the client must trust (the generated CA, or the given certificate). */
  caCertificate: string;
  close(): Promise<void>;
}

const EC = { keyType: 'ec', curve: 'P-256', algorithm: 'sha256' } as const;

/** A private CA and a server certificate for localhost, valid 1 year. */
async function localCertificates(): Promise<{ ca: string; key: string; cert: string }> {
  const ca = await generate([{ name: 'commonName', value: 'PFI local SMTP sink CA' }], {
    ...EC,
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    ],
  });
  const server = await generate([{ name: 'commonName', value: 'localhost' }], {
    ...EC,
    ca: { key: ca.private, cert: ca.cert },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  });
  return { ca: ca.cert, key: server.private, cert: server.cert };
}

const smtpError = (message: string, responseCode: number) => Object.assign(new Error(message), { responseCode });

/** `20261202T124500123Z`: sorts in arrival order and is safe in a file name. */
const stamp = (d: Date) => d.toISOString().replace(/[-:.]/g, '');

async function writeAtomically(dir: string, name: string, data: Buffer): Promise<void> {
  const tmp = path.join(dir, `.${name}.${randomBytes(4).toString('hex')}.tmp`);
  const handle = await open(tmp, 'wx', 0o600);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(tmp, path.join(dir, name));
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}

function readAll(stream: SMTPServerDataStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

/**
 * Starts the sink.
 *
 * @example
 * ```ts
 * const sink = await startSmtpSink({ dir: `${dataDir}/mssante-outbox` });
 * const transport = createMssanteTransport({ url: `smtp://127.0.0.1:${sink.port}`, ca: sink.caCertificate });
 * // … later
 * await sink.close();
 * ```
 */
export async function startSmtpSink(opts: SmtpSinkOptions): Promise<SmtpSink> {
  if ((opts.key === undefined) !== (opts.cert === undefined)) throw new Error('smtp sink: key and cert go together');
  const dir = path.resolve(opts.dir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tls = opts.key && opts.cert ? { ca: opts.cert, key: opts.key, cert: opts.cert } : await localCertificates();
  const host = opts.host ?? '127.0.0.1';
  let counter = 0;

  const server = new SMTPServer({
    secure: false,
    key: tls.key,
    cert: tls.cert,
    minVersion: 'TLSv1.2',
    ...(opts.requireClientCert
      ? { requestCert: true, rejectUnauthorized: true, ca: opts.requireClientCert.ca }
      : { requestCert: false }),
    name: 'localhost',
    banner: 'PFI local MSSanté sink',
    size: opts.maxMessageBytes ?? 30 * 1024 * 1024,
    authOptional: true,
    allowInsecureAuth: false,
    disableReverseLookup: true,
    logger: false,
    closeTimeout: 1000,
    onAuth(auth, _session, callback) {
      callback(null, { user: auth.username ?? 'anonymous' });
    },
    onMailFrom(_address, session: SMTPServerSession, callback) {
      if (!session.secure) return callback(smtpError('Must issue a STARTTLS command first', 530));
      callback();
    },
    onRcptTo(_address, session: SMTPServerSession, callback) {
      if (!session.secure) return callback(smtpError('Must issue a STARTTLS command first', 530));
      callback();
    },
    onData(stream, session, callback) {
      readAll(stream)
        .then(async (data) => {
          if (stream.sizeExceeded) throw smtpError('Message exceeds the size limit', 552);
          const name = `${stamp(new Date())}-${session.id}-${++counter}.eml`;
          await writeAtomically(dir, name, data);
          callback(null, `Stored as ${name}`);
        })
        .catch((err: Error & { responseCode?: number }) =>
          callback(err.responseCode ? err : smtpError('Could not store the message', 451)),
        );
    },
  });
  // Without a listener, one failed TLS handshake would crash the process (smtp-server emits 'error').
  server.on('error', (err) => opts.onError?.(err));

  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.server.off('error', reject);
      resolve();
    });
  });
  const address = server.server.address() as AddressInfo;
  return {
    port: address.port,
    host,
    caCertificate: tls.ca,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
