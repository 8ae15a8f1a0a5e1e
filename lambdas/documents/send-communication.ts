/**
 * The MSSanté send use case (mssante worker): a Communication whose payload is a DocumentReference to a CDA is mailed
 * to its recipients' MSSanté mailboxes, as MSSanté requires (IHE XDM archive, X-MSS headers), then completed.
 *
 * Outcomes on the Communication: `completed` with `sent` when every recipient accepted it; `stopped` when some did
 * and others were refused or had no mailbox; `not-done` when none did (permanent refusal, no mailbox, no usable
 * document), each with the reason in `statusReason` (SMTP reply with addresses redacted). Temporary failures (4xx,
 * network, TLS) throw {@link TemporarySendError}: the queue retries with backoff, then dead-letters.
 *
 * Exactly once: the send journal records the Message-ID before the SMTP transaction and the result after it. A job
 * redelivered after the result finalises the Communication without sending; one redelivered after a crash in the
 * middle of the SMTP transaction cannot know whether the relay took the message: it marks the Communication
 * `unknown` with the Message-ID to look up, rather than risk a second copy. So does a send whose whole message went to
 * the relay but whose reply never came back (connection cut, timeout). Updating that Communication back to
 * `preparation` (a new version) asks for a new send.
 */

import { createHash, randomBytes } from 'node:crypto';
import type { SendMailOptions } from 'nodemailer';
import { agentOf } from '../audit/audit-event.js';
import { auditOutboxMessage } from '../audit/recorder.js';
import type { AuthContext } from '../auth/verify.js';
import { binaryBytes } from '../fhir/binary-content.js';
import { FhirError } from '../fhir/errors.js';
import type { FhirService } from '../fhir/service.js';
import type { Resource } from '../fhir/types.js';
import { redactAddresses } from '../mssante/address.js';
import type { AnnuaireClient } from '../mssante/annuaire.js';
import { type CdaHeader, readCdaHeader } from '../mssante/cda-header.js';
import { resolveMailboxes } from '../mssante/mailbox.js';
import { composeMssanteMail } from '../mssante/message.js';
import type { SendOutcome } from '../mssante/smtp.js';
import { buildXdmArchive } from '../mssante/xdm.js';
import type { SendJournal, SendRecord } from './send-journal.js';

/** The Message-ID of a Communication's e-mail, as an identifier of the Communication. */
export const MESSAGE_ID_SYSTEM = 'urn:ietf:rfc:5322';

export interface MssanteSettings {
  /** The BAL applicative address the platform sends from. */
  from: string;
  /** X-MSS-NIL: the product reference number given when declaring the software (convergence.esante.gouv.fr). */
  nil: string;
  /** Ask for MDN receipts to this address (Disposition-Notification-To). */
  receiptsTo?: string;
  /** OID of the sending system (XDM submission set sourceId). */
  sourceId: string;
  /** Right-hand side of the Message-IDs. */
  messageIdDomain: string;
}

export interface SendCommunicationDeps {
  service: FhirService;
  journal: SendJournal;
  send(mail: SendMailOptions): Promise<SendOutcome>;
  annuaire?: AnnuaireClient;
  settings: MssanteSettings;
  now?: () => Date;
}

export type SendResult =
  | { status: 'completed' | 'stopped' | 'not-done' | 'unknown'; messageId?: string }
  | { status: 'skipped'; reason: string };

/** A failure the next attempt may not meet (4xx, network, TLS): the job is retried. */
export class TemporarySendError extends Error {
  override readonly name = 'TemporarySendError';
}

type Json = Record<string, unknown>;
type Reference = { reference?: string; identifier?: { system?: string; value?: string }; display?: string };

const TO_SEND = new Set(['preparation', 'in-progress']);

/** An MSSanté address given directly as the recipient: `identifier` mailto: or RFC 5322 system. */
function directAddress(ref: Reference): string | undefined {
  const value = ref.identifier?.value;
  if (!value) return undefined;
  if (value.startsWith('mailto:')) return value.slice('mailto:'.length);
  if (ref.identifier?.system === MESSAGE_ID_SYSTEM || ref.identifier?.system === 'urn:ietf:rfc:822') return value;
  return undefined;
}

/** A UUID-derived OID (ISO/IEC 9834-8 `2.25.<integer>`), deterministic from `seed`. */
const uuidOid = (seed: string) =>
  `2.25.${BigInt(`0x${createHash('sha256').update(seed).digest('hex').slice(0, 32)}`).toString()}`;

interface Prepared {
  cda: { xml: string; header: CdaHeader };
  addresses: string[];
  unresolved: number;
}

/** Why a Communication cannot be sent at all (answered as `not-done`). */
class NotSendable extends Error {}

async function readOptional(service: FhirService, auth: AuthContext, reference: string): Promise<Json | undefined> {
  const m = /^(Practitioner|PractitionerRole|Organization|DocumentReference|Binary)\/([A-Za-z0-9.-]{1,64})$/.exec(
    reference,
  );
  if (!m) return undefined;
  try {
    const r = await service.read(auth, m[1]!, m[2]!);
    return JSON.parse(r.resource!.json) as Json;
  } catch (err) {
    if (err instanceof FhirError && (err.status === 404 || err.status === 410)) return undefined;
    throw err;
  }
}

async function prepare(deps: SendCommunicationDeps, auth: AuthContext, comm: Json): Promise<Prepared> {
  const payload = (comm['payload'] as { contentReference?: Reference }[] | undefined) ?? [];
  const docRef = payload.map((p) => p.contentReference?.reference).find((r) => r?.startsWith('DocumentReference/'));
  const document = docRef ? await readOptional(deps.service, auth, docRef) : undefined;
  if (!document) throw new NotSendable('the payload DocumentReference cannot be read');
  if (document['status'] === 'entered-in-error') throw new NotSendable('the document is entered-in-error');
  const contents = (document['content'] as { attachment?: { url?: string; contentType?: string } }[] | undefined) ?? [];
  const url = contents
    .map((c) => c.attachment)
    .find((a) => a?.url?.startsWith('Binary/') && /xml/.test(a.contentType ?? 'text/xml'))?.url;
  if (!url) throw new NotSendable('the document has no CDA content (Binary, text/xml)');
  const binary = await deps.service.read(auth, 'Binary', url.slice('Binary/'.length)).catch((err: unknown) => {
    if (err instanceof FhirError && err.status < 500) throw new NotSendable('the document content cannot be read');
    throw err;
  });
  const xml = (await binaryBytes(binary.resource!, undefined)).bytes.toString('utf8');
  let header: CdaHeader;
  try {
    header = readCdaHeader(xml);
  } catch {
    throw new NotSendable('the document content is not a CDA document');
  }

  const addresses = new Set<string>();
  let unresolved = 0;
  for (const recipient of (comm['recipient'] as Reference[] | undefined) ?? []) {
    const direct = directAddress(recipient);
    const target = direct
      ? { address: direct }
      : recipient.reference
        ? await readOptional(deps.service, auth, recipient.reference)
        : undefined;
    if (!target) {
      unresolved++;
      continue;
    }
    const found = await resolveMailboxes(target as Resource | { address: string }, {
      annuaire: deps.annuaire,
      practitionerOf: async (ref: string) => (await readOptional(deps.service, auth, ref)) as Resource | undefined,
    });
    if (found.addresses.length === 0) unresolved++;
    for (const a of found.addresses) addresses.add(a);
  }
  if (addresses.size === 0) throw new NotSendable('no recipient has an MSSanté mailbox');
  return { cda: { xml, header }, addresses: [...addresses], unresolved };
}

function outcomeOf(record: SendRecord, unresolved: number): 'completed' | 'stopped' | 'not-done' {
  if (record.state === 'refused' || !record.accepted) return 'not-done';
  return (record.rejected ?? 0) > 0 || unresolved > 0 ? 'stopped' : 'completed';
}

async function finalize(
  deps: SendCommunicationDeps,
  auth: AuthContext,
  comm: Json,
  status: 'completed' | 'stopped' | 'not-done' | 'unknown',
  detail: { messageId?: string; reason?: string; sent?: Date },
): Promise<void> {
  const id = String(comm['id']);
  for (let attempt = 0; ; attempt++) {
    const updated: Json = { ...comm, status };
    if (detail.sent) updated['sent'] = detail.sent.toISOString();
    if (detail.reason) updated['statusReason'] = { text: detail.reason };
    else delete updated['statusReason'];
    if (detail.messageId) {
      const others = ((comm['identifier'] as { system?: string }[] | undefined) ?? []).filter(
        (i) => i.system !== MESSAGE_ID_SYSTEM,
      );
      updated['identifier'] = [...others, { system: MESSAGE_ID_SYSTEM, value: detail.messageId }];
    }
    const version = Number((comm['meta'] as { versionId?: string } | undefined)?.versionId);
    const subject = (comm['subject'] as { reference?: string } | undefined)?.reference;
    const documents = ((comm['payload'] as { contentReference?: { reference?: string } }[] | undefined) ?? [])
      .map((p) => p.contentReference?.reference)
      .filter((r): r is string => typeof r === 'string');
    const audit = auditOutboxMessage({
      what: { kind: 'pfi', event: 'mssante-send' },
      action: 'E',
      outcome: status === 'completed' ? '0' : status === 'unknown' ? '8' : '4',
      ...(detail.reason ? { outcomeDesc: detail.reason } : {}),
      agent: agentOf(auth, auth.address),
      source: 'pfi-mssante-worker',
      entities: [`Communication/${id}`, ...documents],
      patients: subject?.startsWith('Patient/') ? [subject] : [],
      detail: status,
    });
    try {
      await deps.service.update(auth, 'Communication', id, updated as Resource, { ifMatch: version, outbox: [audit] });
      return;
    } catch (err) {
      // A client changed the Communication meanwhile: apply the outcome to its current version.
      if (!(err instanceof FhirError && err.status === 412) || attempt > 2) throw err;
      comm = JSON.parse((await deps.service.read(auth, 'Communication', id)).resource!.json) as Json;
    }
  }
}

/**
 * Sends `Communication/<communicationId>` if it is still to send.
 *
 * @throws {@link TemporarySendError} when the relay answers 4xx or cannot be reached (retry later)
 */
export async function sendCommunication(
  deps: SendCommunicationDeps,
  auth: AuthContext,
  communicationId: string,
): Promise<SendResult> {
  let comm: Json;
  try {
    comm = JSON.parse((await deps.service.read(auth, 'Communication', communicationId)).resource!.json) as Json;
  } catch (err) {
    if (err instanceof FhirError && (err.status === 404 || err.status === 410)) {
      return { status: 'skipped', reason: 'the Communication no longer exists' };
    }
    throw err;
  }
  if (!TO_SEND.has(String(comm['status']))) return { status: 'skipped', reason: `status ${String(comm['status'])}` };
  const version = Number((comm['meta'] as { versionId?: string } | undefined)?.versionId);

  const previous = await deps.journal.get(communicationId);
  if (previous && previous.state !== 'sending') {
    // Sent (or refused) by an earlier delivery of this job that stopped before completing the Communication.
    const status = outcomeOf(previous, 0);
    await finalize(deps, auth, comm, status, {
      messageId: previous.messageId,
      reason: previous.reply,
      sent: status === 'not-done' ? undefined : (deps.now?.() ?? new Date()),
    });
    return { status, messageId: previous.messageId };
  }
  if (previous?.state === 'sending' && previous.communicationVersion === version) {
    await finalize(deps, auth, comm, 'unknown', {
      messageId: previous.messageId,
      reason: `the send was interrupted: look up Message-ID ${previous.messageId} at the relay before sending again`,
    });
    return { status: 'unknown', messageId: previous.messageId };
  }

  let prepared: Prepared;
  try {
    prepared = await prepare(deps, auth, comm);
  } catch (err) {
    if (!(err instanceof NotSendable)) throw err;
    await finalize(deps, auth, comm, 'not-done', { reason: err.message });
    return { status: 'not-done' };
  }

  const now = deps.now?.() ?? new Date();
  const messageId = `<pfi.${communicationId}.${version}.${randomBytes(6).toString('hex')}@${deps.settings.messageIdDomain}>`;
  const { header } = prepared.cda;
  const xdm = buildXdmArchive({
    documents: [prepared.cda],
    submission: {
      sourceId: deps.settings.sourceId,
      uniqueId: uuidOid(messageId),
      submissionTime: now,
      intendedRecipients: prepared.addresses,
    },
  });
  const mail = composeMssanteMail({
    from: deps.settings.from,
    to: prepared.addresses,
    title: header.title,
    text: (comm['payload'] as { contentString?: string }[]).find((p) => typeof p.contentString === 'string')
      ?.contentString,
    cda: prepared.cda,
    xdmZip: xdm.zip,
    nil: deps.settings.nil,
    receiptsTo: deps.settings.receiptsTo,
    messageId,
  });

  await deps.journal.put({ communicationId, communicationVersion: version, messageId, state: 'sending' });
  const outcome = await deps.send(mail);
  if (outcome.kind === 'temporary') {
    // No 250 for the message: the relay did not take it, the next attempt sends it again.
    await deps.journal.delete(communicationId);
    throw new TemporarySendError(`temporary SMTP failure: ${redactAddresses(outcome.reply)}`);
  }
  if (outcome.kind === 'unknown') {
    // The relay has the whole message but its answer was lost: sending again could deliver it twice. The journal
    // keeps `sending`, so a redelivered job comes to the same conclusion.
    await finalize(deps, auth, comm, 'unknown', {
      messageId,
      reason:
        `the relay did not confirm the message (${redactAddresses(outcome.reply).slice(0, 300)}): ` +
        `look up Message-ID ${messageId} at the relay before sending again`,
    });
    return { status: 'unknown', messageId };
  }
  const record: SendRecord = {
    communicationId,
    communicationVersion: version,
    messageId,
    state: outcome.kind === 'sent' ? 'sent' : 'refused',
    accepted: outcome.accepted.length,
    rejected: outcome.rejected.length,
  };
  const replies = outcome.kind === 'permanent' ? [outcome.reply] : outcome.rejected.map((r) => r.reply);
  if (prepared.unresolved > 0) replies.push(`${prepared.unresolved} recipient(s) without an MSSanté mailbox`);
  if (replies.length) record.reply = redactAddresses([...new Set(replies)].join('; ')).slice(0, 1000);
  await deps.journal.put(record);
  const status = outcomeOf(record, prepared.unresolved);
  await finalize(deps, auth, comm, status, {
    messageId,
    reason: record.reply,
    sent: record.accepted ? now : undefined,
  });
  return { status, messageId };
}
