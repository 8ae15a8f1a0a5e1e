/**
 * SMTP submission to the MSSanté operator (nodemailer): STARTTLS required (never a word in clear), TLS 1.2 or
 * later, the server certificate checked against a configured CA (IGC-Santé in production), and the BAL
 * applicative's client certificate when configured. The result is classified for the worker: sent, permanent
 * refusal (5xx), temporary failure (4xx, network, TLS) to retry, or unknown: the whole message went to the relay but
 * its reply never came (connection dropped, timeout), so the relay may have taken it and a retry could deliver it twice.
 */

import nodemailer, {
  type NodemailerError,
  type SendMailOptions,
  type SMTPSentMessageInfo,
  type Transporter,
} from 'nodemailer';
import { redactAddresses } from './address.js';

export interface MssanteTransportOptions {
  /** `smtp://user:pass@host:587` (STARTTLS required) or `smtps://…:465` (implicit TLS). Credentials optional. */
  url: string;
  /** CA certificate(s) the server certificate must chain to (PEM). Default: Node's public CAs. */
  ca?: string | Buffer;
  /** Client certificate of the BAL applicative (PEM), with its key. */
  cert?: string | Buffer;
  key?: string | Buffer;
  /** Default true. `false` only for a local relay (`PFI_SMTP_TLS_REJECT_UNAUTHORIZED=false`). */
  rejectUnauthorized?: boolean;
  /** TLS server name (SNI and certificate check), default: the URL host. */
  servername?: string;
  /** Connection, greeting and socket inactivity timeout; default 30 s. */
  timeoutMs?: number;
  /**
   * Deadline of a whole send (connection to the final reply), default 90 s: a relay that trickles a byte now and then
   * never trips an inactivity timeout, and would hold the worker past its visibility timeout (a second delivery).
   */
  sendTimeoutMs?: number;
}

export type MssanteTransport = Transporter<SMTPSentMessageInfo>;

/** The send deadline of each transport made by {@link createMssanteTransport}. */
const sendTimeouts = new WeakMap<MssanteTransport, number>();

/**
 * Mail option (a function: nodemailer copies it by reference) called once the whole message has been read into the
 * SMTP connection: from then on, a send without a reply may have been taken by the relay.
 */
const ON_TRANSMITTED = 'pfiOnTransmitted';

/** Invalid transport settings. The message never contains the URL (it may hold a password). */
export class SmtpConfigError extends Error {
  override readonly name = 'SmtpConfigError';
}

/**
 * A nodemailer transport for MSSanté submission (no pool: one connection per message).
 *
 * @example
 * ```ts
 * const transport = createMssanteTransport({ url: 'smtp://127.0.0.1:2525', ca: sink.caCertificate });
 * const outcome = await sendMail(transport, mail);
 * ```
 */
export function createMssanteTransport(opts: MssanteTransportOptions): MssanteTransport {
  let url: URL;
  try {
    url = new URL(opts.url);
  } catch {
    throw new SmtpConfigError('SMTP URL is not a valid URL');
  }
  const implicitTls = url.protocol === 'smtps:';
  if (!implicitTls && url.protocol !== 'smtp:')
    throw new SmtpConfigError('SMTP URL must start with smtp:// or smtps://');
  if (!url.hostname) throw new SmtpConfigError('SMTP URL has no host');
  if ((opts.cert === undefined) !== (opts.key === undefined)) {
    throw new SmtpConfigError('the client certificate and its key must be given together');
  }
  const timeout = opts.timeoutMs ?? 30_000;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const user = decodeURIComponent(url.username);
  const transport = nodemailer.createTransport({
    host,
    port: url.port ? Number(url.port) : implicitTls ? 465 : 587,
    secure: implicitTls,
    requireTLS: true,
    ignoreTLS: false,
    opportunisticTLS: false,
    ...(user ? { auth: { user, pass: decodeURIComponent(url.password) } } : {}),
    tls: {
      minVersion: 'TLSv1.2',
      rejectUnauthorized: opts.rejectUnauthorized ?? true,
      ...(opts.ca !== undefined ? { ca: opts.ca } : {}),
      ...(opts.cert !== undefined ? { cert: opts.cert, key: opts.key } : {}),
      ...(opts.servername ? { servername: opts.servername } : {}),
    },
    connectionTimeout: timeout,
    greetingTimeout: timeout,
    socketTimeout: timeout,
    dnsTimeout: timeout,
    pool: false,
    logger: false,
    debug: false,
    transactionLog: false,
    disableFileAccess: true,
    disableUrlAccess: true,
  });
  sendTimeouts.set(transport, opts.sendTimeoutMs ?? 90_000);
  // The message stream ends when the connection has read all of it (the DATA terminator follows).
  transport.use('stream', (mail, done) => {
    const onTransmitted = (mail.data as Record<string, unknown>)[ON_TRANSMITTED];
    if (typeof onTransmitted === 'function') {
      mail.message.processFunc((input) => {
        input.once('end', () => onTransmitted());
        return input;
      });
    }
    done();
  });
  return transport;
}

export interface RejectedRecipient {
  address: string;
  /** The server's reply, addresses redacted. */
  reply: string;
  /** True for a 5xx refusal, false for a 4xx deferral. */
  permanent: boolean;
}

export type SendOutcome =
  | { kind: 'sent'; messageId: string; accepted: string[]; rejected: RejectedRecipient[]; response: string }
  | {
      kind: 'permanent';
      reply: string;
      /** Recipients that received the message: always empty for one SMTP transaction (nobody got it). */
      accepted: string[];
      rejected: RejectedRecipient[];
    }
  | { kind: 'temporary'; reply: string; rejected?: RejectedRecipient[] }
  /** The whole message was transmitted but no reply to it came: the relay may or may not have taken it. */
  | { kind: 'unknown'; reply: string };

const MAX_REPLY = 500;

/** A server text made safe for a statusReason or a log: one line, bounded, addresses redacted. */
export function safeReply(text: string | undefined): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: replies are multi-line
  const line = redactAddresses((text ?? '').replace(/[\u0000-\u001F\u007F]+/g, ' ')).trim();
  return line.length > MAX_REPLY ? `${line.slice(0, MAX_REPLY)}…` : line;
}

function rejectedOf(errors: NodemailerError[] | undefined): RejectedRecipient[] {
  return (errors ?? []).map((e) => ({
    address: e.recipient ?? '',
    reply: safeReply(e.response ?? e.message),
    permanent: (e.responseCode ?? 0) >= 500 && e.permanent !== false,
  }));
}

/** The message (envelope or content) was judged by the server, as opposed to a session/authentication problem. */
const MESSAGE_VERDICT = new Set(['EENVELOPE', 'EMESSAGE']);

/** A description of a failure without an SMTP reply (network, TLS, timeout…): codes and the library's text only. */
function failureText(err: NodemailerError): string {
  const codes = [err.code, err.originalCode].filter(Boolean).join('/');
  const reply = err.response ? safeReply(err.response) : safeReply(err.message);
  return codes ? `${codes}: ${reply}` : reply;
}

/**
 * Sends `mail` and classifies the result:
 * - `sent`: the server took the message for at least one recipient (`rejected` lists the others);
 * - `permanent`: a 5xx on the envelope or the data (every recipient refused, or the message refused);
 * - `temporary`: 4xx, 503, network, timeout, TLS or authentication failure before the message was transmitted —
 *   retry later;
 * - `unknown`: the connection failed (or the deadline passed) after the whole message was transmitted and before the
 *   server's reply to it — never retry blindly: the relay may have queued it.
 *
 * Reply strings are server text with e-mail addresses redacted; they never contain the message.
 */
export async function sendMail(transport: MssanteTransport, mail: SendMailOptions): Promise<SendOutcome> {
  let info: SMTPSentMessageInfo;
  let transmitted = false;
  const deadline = AbortSignal.timeout(sendTimeouts.get(transport) ?? 90_000);
  try {
    info = await transport.sendMail({
      ...mail,
      signal: mail.signal ? AbortSignal.any([mail.signal, deadline]) : deadline,
      [ON_TRANSMITTED]: () => {
        transmitted = true;
      },
    } as SendMailOptions);
  } catch (e) {
    const err = e as NodemailerError;
    const rejected = rejectedOf(err.rejectedErrors);
    const code = err.responseCode ?? 0;
    // No reply to a message the relay has in full: only the relay knows whether it kept it.
    if (transmitted && code === 0) return { kind: 'unknown', reply: failureText(err) };
    if (MESSAGE_VERDICT.has(err.code ?? '') && code >= 500 && err.permanent !== false) {
      return { kind: 'permanent', reply: safeReply(err.response ?? err.message), accepted: [], rejected };
    }
    return { kind: 'temporary', reply: failureText(err), ...(rejected.length ? { rejected } : {}) };
  }
  const accepted = info.accepted.map(String);
  const rejected = rejectedOf(info.rejectedErrors);
  for (const address of info.rejected.map(String)) {
    if (!rejected.some((r) => r.address === address)) rejected.push({ address, reply: '', permanent: true });
  }
  if (accepted.length === 0) {
    return { kind: 'permanent', reply: rejected[0]?.reply ?? safeReply(info.response), accepted, rejected };
  }
  return { kind: 'sent', messageId: info.messageId, accepted, rejected, response: safeReply(info.response) };
}
