/**
 * One HL7 message → what it says, as facts the store applies in one transaction (./../apply). Pure: no database,
 * no clock. This is what `npm run bench -- hl7` measures as "parse + map".
 */

import { namespaceSystem, readCx } from '../datatypes.js';
import type { Hl7Message } from '../parser.js';
import { type DocumentFacts, readMdmDocument } from './documents.js';
import { type BusinessIdentifier, LOCAL_ID_TYPES, type PatientFacts, readPatientFacts } from './patient.js';
import { type ReportFacts, readResults } from './results.js';
import { MOVEMENT_EVENTS, readVisitFacts, type VisitFacts } from './visit.js';

export interface MessageHeader {
  type: string;
  event: string;
  controlId: string;
  sendingApplication: string;
  sendingFacility: string;
  version: string;
}

export type MessageKind = 'identity' | 'movement' | 'merge' | 'identifier-change' | 'results' | 'document';

export interface MappedMessage {
  header: MessageHeader;
  kind: MessageKind;
  patient: PatientFacts;
  visit: VisitFacts | undefined;
  /** A40: the identifiers (MRG-1) of the patient merged into the message's patient; A47: the old identifiers. */
  previous: BusinessIdentifier[];
  reports: ReportFacts[];
  document: DocumentFacts | undefined;
}

/** Why a message cannot be applied. Goes to the dead-letter queue as the reason; never quotes content. */
export type MappingErrorCode =
  | 'unsupported-message'
  | 'no-pid'
  | 'no-patient-identifier'
  | 'no-merge-identifier'
  | 'no-document-id'
  | 'identifier-conflict';

export class MappingError extends Error {
  override readonly name = 'MappingError';
  constructor(
    readonly code: MappingErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const IDENTITY_EVENTS = new Set(['A28', 'A31']);
const DOCUMENT_EVENTS = new Set(['T02', 'T04', 'T10']);

/**
 * The message kind of a type/event pair, or undefined when PFI does not process it (ORM, OMI, ZAM, ACK, MDM T01…).
 * The MLLP bridge uses it to answer AE at once rather than queue what the worker would refuse.
 */
export function messageKind(type: string, event: string): MessageKind | undefined {
  const t = type.toUpperCase();
  const e = event.toUpperCase();
  if (t === 'ADT') {
    if (IDENTITY_EVENTS.has(e)) return 'identity';
    if (e === 'A40') return 'merge';
    if (e === 'A47') return 'identifier-change';
    if (MOVEMENT_EVENTS.has(e)) return 'movement';
    return undefined;
  }
  if (t === 'ORU' && e === 'R01') return 'results';
  if (t === 'MDM' && DOCUMENT_EVENTS.has(e)) return 'document';
  return undefined;
}

export function readHeader(msg: Hl7Message): MessageHeader {
  const msh = msg.get('MSH');
  const type = msh?.field(9).repetition(0);
  return {
    type: type?.component(1).value.trim().toUpperCase() ?? '',
    event: type?.component(2).value.trim().toUpperCase() ?? '',
    controlId: msh?.field(10).value.trim() ?? '',
    sendingApplication: msh?.field(3).value.trim() ?? '',
    sendingFacility: msh?.field(4).value.trim() ?? '',
    version: msh?.field(12).value.trim() ?? '',
  };
}

/**
 * Maps a parsed message. `ippSystem` is the IPP authority the partner registry names for this sender, if any.
 *
 * @throws {MappingError} for an unsupported type/event or a message missing what its kind needs.
 */
export function mapMessage(msg: Hl7Message, opts: { ippSystem?: string } = {}): MappedMessage {
  const header = readHeader(msg);
  const kind = messageKind(header.type, header.event);
  if (!kind) {
    throw new MappingError('unsupported-message', `${header.type}^${header.event} messages are not processed by PFI`);
  }
  const patient = readPatientFacts(msg, {
    ippSystem: opts.ippSystem,
    senderAuthority: header.sendingFacility ? namespaceSystem(header.sendingFacility) : undefined,
  });
  if (!patient) throw new MappingError('no-pid', `${header.type}^${header.event} message has no PID segment`);
  if (!patient.ipp && !patient.ins) {
    throw new MappingError(
      'no-patient-identifier',
      'PID-3 has neither an IPP (type PI) with an assigning authority nor a qualified INS',
    );
  }
  const visit = readVisitFacts(msg, header.event, header.controlId);
  const previous: BusinessIdentifier[] = [];
  if (kind === 'merge' || kind === 'identifier-change') {
    for (const mrg of msg.getAll('MRG')) {
      for (const rep of mrg.field(1).repetitions) {
        const cx = readCx(rep);
        const local = cx?.type !== undefined && LOCAL_ID_TYPES.includes(cx.type);
        const system = local ? (opts.ippSystem ?? cx?.system) : cx?.system;
        if (cx && system) previous.push({ system, value: cx.value });
      }
    }
    if (previous.length === 0) {
      throw new MappingError('no-merge-identifier', `ADT^${header.event} has no MRG-1 identifier with an authority`);
    }
  }
  let reports: ReportFacts[] = [];
  let document: DocumentFacts | undefined;
  if (kind === 'results') {
    const sender = `${header.sendingApplication}|${header.sendingFacility}`;
    reports = readResults(msg, {
      system: `urn:pfi:hl7-message:${encodeURIComponent(sender)}`,
      value: header.controlId,
    });
  } else if (kind === 'document') {
    document = readMdmDocument(msg, header.event);
    if (!document) throw new MappingError('no-document-id', `MDM^${header.event} has no TXA-12 unique document id`);
  }
  return { header, kind, patient, visit, previous, reports, document };
}
