/**
 * Composition of an MSSanté message carrying a CDA document (ANS conventions): subject `XDM/1.0/DDM+<title>`,
 * a plain-text body, the CDA and its `IHE_XDM.ZIP` as attachments, and the MSSanté headers `X-MSS-CODECDA`,
 * `X-MSS-INS`, `X-MSS-NIL` (plus `Disposition-Notification-To` when read receipts are wanted).
 */

import { createHash } from 'node:crypto';
import type { SendMailOptions } from 'nodemailer';
import type { CdaHeader } from './cda-header.js';

export interface MssanteMailInput {
  /** The BAL applicative sending the message. */
  from: string;
  to: string[];
  /** Free title after `XDM/1.0/DDM+`. */
  title: string;
  /** Plain-text body; a neutral default is used when absent. */
  text?: string;
  cda: { xml: string; header: CdaHeader; fileName?: string };
  xdmZip: Uint8Array;
  /** Software reference number from the convergence declaration (`X-MSS-NIL`, on every message). */
  nil: string;
  /** Mailbox receiving the disposition notifications (read receipts); no request when absent. */
  receiptsTo?: string;
  /** The Message-ID to send with (`<id@domain>`; brackets added when missing). Record it before sending. */
  messageId: string;
  replyTo?: string;
  /** Date header; default: now. */
  date?: Date;
}

export const DEFAULT_BODY =
  'Bonjour,\r\n\r\nVeuillez trouver ci-joint un document de santé au format CDA, ' +
  'accompagné de son archive IHE_XDM.ZIP.\r\n\r\nMessage envoyé automatiquement, merci de ne pas y répondre.\r\n';

// Header values travel on one line: no CR, LF or other control character.
// biome-ignore lint/suspicious/noControlCharactersInRegex: that is the point
const CONTROL = /[\u0000-\u001F\u007F]+/g;
const oneLine = (s: string) => s.replace(CONTROL, ' ').trim();

/** `<id@domain>` form of a Message-ID. */
export function bracketMessageId(id: string): string {
  const bare = oneLine(id).replace(/^<|>$/g, '');
  if (!/^[^\s<>@]+@[^\s<>@]+$/.test(bare)) throw new TypeError('messageId must look like id@domain');
  return `<${bare}>`;
}

/**
 * A Message-ID derived from a stable key (e.g. the Communication id): the same job always sends the same id,
 * so a redelivered job can be recognised by the worker and by the receiving operator.
 *
 * @example
 * ```ts
 * deterministicMessageId(`Communication/${id}/1`, 'pfi.hopital.mssante.fr'); // '<3f1c…@pfi.hopital.mssante.fr>'
 * ```
 */
export function deterministicMessageId(key: string, domain: string): string {
  return `<${createHash('sha256').update(key).digest('hex').slice(0, 32)}@${oneLine(domain)}>`;
}

/**
 * The nodemailer message for one CDA.
 *
 * @example
 * ```ts
 * const mail = composeMssanteMail({
 *   from: 'pfi@hopital.mssante.fr', to: ['dr.x@medecin.mssante.fr'], title: "CR d'examens biologiques",
 *   cda: { xml, header }, xdmZip: xdm.zip, nil: 'NIL-0001', messageId: deterministicMessageId(key, 'hopital.mssante.fr'),
 * });
 * const outcome = await sendMail(transport, mail);
 * ```
 */
export function composeMssanteMail(input: MssanteMailInput): SendMailOptions {
  const { header } = input.cda;
  const headers: Record<string, string> = {
    'X-MSS-CODECDA': oneLine(header.code.code),
    'X-MSS-INS': header.patient.insQualified ? 'O' : 'N',
    'X-MSS-NIL': oneLine(input.nil),
  };
  if (input.receiptsTo) headers['Disposition-Notification-To'] = oneLine(input.receiptsTo);
  return {
    from: oneLine(input.from),
    to: input.to.map(oneLine),
    ...(input.replyTo ? { replyTo: oneLine(input.replyTo) } : {}),
    subject: `XDM/1.0/DDM+${oneLine(input.title)}`,
    text: input.text ?? DEFAULT_BODY,
    messageId: bracketMessageId(input.messageId),
    date: input.date ?? new Date(),
    headers,
    attachments: [
      {
        filename: input.cda.fileName ?? 'DOC0001.XML',
        content: Buffer.from(input.cda.xml, 'utf8'),
        contentType: 'text/xml; charset=utf-8',
      },
      {
        filename: 'IHE_XDM.ZIP',
        content: Buffer.from(input.xdmZip.buffer, input.xdmZip.byteOffset, input.xdmZip.byteLength),
        contentType: 'application/zip',
      },
    ],
    // Attachments are in memory: never let a message read files or URLs.
    disableFileAccess: true,
    disableUrlAccess: true,
  };
}
