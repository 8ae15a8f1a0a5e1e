/**
 * The HL7 ingest use case: one queued message → one FHIR transaction. The raw message is kept in the document store
 * (for replay and audit) and a Provenance links it to every resource the message wrote. Redelivering the same
 * message changes nothing: every write is keyed by business identifiers and the Provenance id by the message hash.
 */

import { createHash } from 'node:crypto';
import type { DocumentStore } from '../adapters/documents/document-store.js';
import type { FhirService } from '../fhir/service.js';
import { ApplyContext, type IngestWarning, type Json, type Written } from './apply/context.js';
import { applyDocument } from './apply/documents.js';
import { applyVisit } from './apply/encounter.js';
import { changeIdentifier, mergePatients, upsertPatient } from './apply/patient.js';
import { applyReport } from './apply/results.js';
import { type MappedMessage, MappingError, type MessageKind, mapMessage } from './map/message.js';
import { Hl7ParseError, parseHl7 } from './parser.js';

export interface IngestDeps {
  service: FhirService;
  documents: DocumentStore;
  /** Practitioner ids by identifier, kept between messages (one lookup saved per message naming a doctor). */
  practitioners?: Map<string, string>;
}

export interface InboundHl7 {
  /** The message as UTF-8 text (the bridge decoded its charset). */
  message: string;
  /** ISO instant the bridge received it. */
  receivedAt: string;
  /** IPP authority the partner registry names for the sender, if any. */
  ippSystem?: string;
}

export interface IngestResult {
  kind: MessageKind;
  type: string;
  event: string;
  controlId: string;
  written: Written[];
  warnings: IngestWarning[];
  /** Provenance/<id> of this message. */
  provenance: string;
  /** Document-store key of the raw message. */
  rawKey: string;
}

/** A message that can never be applied as it is (unparseable, unsupported, missing what its kind needs). */
export class PoisonMessageError extends Error {
  override readonly name = 'PoisonMessageError';
  constructor(
    readonly code: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Prefix of raw messages in the document store (retention applies under it). */
export const RAW_MESSAGE_PREFIX = 'hl7/raw/';

export function rawMessageKey(sha256: string, receivedAt: string): string {
  const day = new Date(receivedAt);
  const d = Number.isNaN(day.getTime()) ? new Date(0) : day;
  const yyyy = d.getUTCFullYear();
  const mm = String(d.getUTCMonth() + 1).padStart(2, '0');
  const dd = String(d.getUTCDate()).padStart(2, '0');
  return `${RAW_MESSAGE_PREFIX}${yyyy}/${mm}/${dd}/${sha256}.hl7`;
}

function parse(inbound: InboundHl7): MappedMessage {
  try {
    return mapMessage(parseHl7(inbound.message), { ippSystem: inbound.ippSystem });
  } catch (err) {
    if (err instanceof Hl7ParseError) throw new PoisonMessageError('unparseable', err.message, { cause: err });
    if (err instanceof MappingError) throw new PoisonMessageError(err.code, err.message, { cause: err });
    throw err;
  }
}

async function apply(ctx: ApplyContext, m: MappedMessage): Promise<void> {
  let patient: Json;
  if (m.kind === 'merge') patient = await mergePatients(ctx, m.patient, m.previous);
  else if (m.kind === 'identifier-change') patient = await changeIdentifier(ctx, m.patient, m.previous);
  else patient = await upsertPatient(ctx, m.patient);
  const patientId = patient['id'] as string;
  const encounterRef = m.visit
    ? await applyVisit(ctx, patientId, m.visit, m.header.event, m.kind === 'movement')
    : undefined;
  for (const report of m.reports) await applyReport(ctx, report, patientId, encounterRef);
  if (m.document) await applyDocument(ctx, m.document, patientId, encounterRef);
}

function provenance(m: MappedMessage, id: string, written: Written[], inbound: InboundHl7, rawKey: string): Json {
  const targets = [...new Set(written.map((w) => w.reference))];
  const sender = `${m.header.sendingApplication}|${m.header.sendingFacility}`;
  return {
    resourceType: 'Provenance',
    id,
    target: targets.map((reference) => ({ reference })),
    recorded: new Date(inbound.receivedAt).toISOString(),
    activity: {
      coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0003', code: m.header.event }],
      text: `HL7 v2 ${m.header.type}^${m.header.event}`,
    },
    agent: [
      {
        type: {
          coding: [{ system: 'http://terminology.hl7.org/CodeSystem/provenance-participant-type', code: 'author' }],
        },
        who: { identifier: { system: 'urn:pfi:hl7-sender', value: sender }, display: sender },
      },
      {
        type: {
          coding: [{ system: 'http://terminology.hl7.org/CodeSystem/provenance-participant-type', code: 'assembler' }],
        },
        who: { display: 'PFI hl7-ingest' },
      },
    ],
    entity: [
      {
        role: 'source',
        what: {
          identifier: { system: 'urn:pfi:document-store', value: rawKey },
          display: `HL7 v2 ${m.header.type}^${m.header.event} message ${m.header.controlId}`,
        },
      },
    ],
  };
}

/**
 * Applies one inbound message in one database transaction.
 *
 * @throws {PoisonMessageError} when the message can never be applied (the worker dead-letters it after its
 *   attempts); any other error (database, validation of what the message says) fails this attempt only.
 *
 * @example
 * ```ts
 * const result = await ingestHl7({ service, documents }, { message, receivedAt: new Date().toISOString() });
 * ```
 */
export async function ingestHl7(deps: IngestDeps, inbound: InboundHl7): Promise<IngestResult> {
  if (Number.isNaN(Date.parse(inbound.receivedAt))) {
    throw new PoisonMessageError('bad-received-at', 'the queue message has no valid receivedAt instant');
  }
  const mapped = parse(inbound);
  const sha256 = createHash('sha256').update(inbound.message, 'utf8').digest('hex');
  const rawKey = rawMessageKey(sha256, inbound.receivedAt);
  // Written while the transaction runs (a file or S3 write costs as much as the whole transaction); the attempt
  // succeeds only once both are done, so a failed write makes the message come again (its FHIR part is then a no-op).
  const stored = deps.documents.put(rawKey, inbound.message, {
    contentType: 'x-application/hl7-v2+er7; charset=utf-8',
  });
  stored.catch(() => undefined); // awaited below; not an unhandled rejection while the transaction runs
  const provenanceId = `hl7-${sha256.slice(0, 40)}`;
  const result = await deps.service.repo.db.transaction(async (tx) => {
    const ctx = new ApplyContext(
      deps.service.withRepository(deps.service.repo.withExecutor(tx)),
      deps.documents,
      deps.practitioners,
    );
    await apply(ctx, mapped);
    const written = [...ctx.written];
    await ctx.write(provenance(mapped, provenanceId, written, inbound, rawKey));
    return {
      kind: mapped.kind,
      type: mapped.header.type,
      event: mapped.header.event,
      controlId: mapped.header.controlId,
      written,
      warnings: ctx.warnings,
      provenance: `Provenance/${provenanceId}`,
      rawKey,
    };
  });
  await stored;
  return result;
}

/** Deletes raw messages older than `days` (the retention of the raw HL7 archive). */
export async function purgeRawMessages(documents: DocumentStore, days: number, now = new Date()): Promise<number> {
  return documents.deleteOlderThan(RAW_MESSAGE_PREFIX, new Date(now.getTime() - days * 86_400_000));
}
