/**
 * PV1 + ZBE → the visit facts of a message: the stay's identifier (PV1-19 visit number) and, for ITI-31 events, the
 * movement it records (PAM FR ZBE: movement id, date, INSERT/UPDATE/CANCEL, original event, responsibility units).
 */

import { hl7DateTime, readCx, readXcn, type Xcn } from '../datatypes.js';
import type { Hl7Message, Hl7Segment } from '../parser.js';
import type { BusinessIdentifier } from './patient.js';

export type MovementAction = 'INSERT' | 'UPDATE' | 'CANCEL';

/** One movement of a stay, as the Encounter keeps it (see ./movements.ts for how a stay is replayed from them). */
export interface Movement {
  /** ZBE-1 (id + authority), or `msh:<MSH-10>` for feeds that send no ZBE. */
  id: string;
  /** The event that created the movement (A01, A02, A21, A54…). */
  event: string;
  /** FHIR dateTime of the movement (ZBE-2, else EVN-6, EVN-2, MSH-7). */
  at: string | undefined;
  /** Responsibility unit (ZBE-7 medical UF, else ZBE-8 care UF): code and name. */
  unit?: { code: string; display: string };
  /** PV1-3 assigned location, as text (point of care / room / bed). */
  location?: string;
  /** PV1-7 attending doctor. */
  attending?: Xcn;
  /** ZBE-9 nature (S, H, M, L, D, SM, HMS…). */
  nature?: string;
}

export interface VisitFacts {
  /** PV1-19 (type VN). */
  identifier: BusinessIdentifier | undefined;
  /** PV1-2 patient class (I, O, E, R, N…). */
  patientClass: string;
  movement: Movement | undefined;
  action: MovementAction;
  /** The movement id an UPDATE/CANCEL designates (ZBE-1), when the message has a ZBE. */
  targetsMovementId: string | undefined;
}

/** Events whose cancellation is each key (IHE PAM: A11 cancels the admission/registration/pre-admission…). */
export const CANCELLED_BY: Record<string, readonly string[]> = {
  A11: ['A01', 'A04'],
  A38: ['A05'],
  A12: ['A02'],
  A13: ['A03'],
  A52: ['A21'],
  A53: ['A22'],
  A55: ['A54'],
  A27: ['A26'],
  A33: ['A32'],
};

/** ITI-31 events that record a movement (A08 included: many feeds still send it for visit updates). */
export const MOVEMENT_EVENTS = new Set([
  'A01',
  'A02',
  'A03',
  'A04',
  'A05',
  'A06',
  'A07',
  'A08',
  'A11',
  'A12',
  'A13',
  'A14',
  'A16',
  'A21',
  'A22',
  'A25',
  'A26',
  'A27',
  'A32',
  'A33',
  'A38',
  'A52',
  'A53',
  'A54',
  'A55',
  'Z99',
]);

function movementId(zbe: Hl7Segment | undefined, controlId: string): string | undefined {
  const ei = zbe?.field(1).repetition(0);
  const id = ei?.component(1).value.trim();
  if (!id) return controlId ? `msh:${controlId}` : undefined;
  const authority = ei!.component(3).value.trim() || ei!.component(2).value.trim();
  return authority ? `${id}@${authority}` : id;
}

function unitOf(zbe: Hl7Segment | undefined): Movement['unit'] {
  if (!zbe) return undefined;
  for (const n of [7, 8]) {
    const xon = zbe.field(n).repetition(0);
    const code = xon.component(10).value.trim();
    const display = xon.component(1).value.trim();
    if (code || display) return { code: code || display, display: display || code };
  }
  return undefined;
}

function locationText(pv1: Hl7Segment): string | undefined {
  const pl = pv1.field(3).repetition(0);
  const parts = [1, 2, 3].map((n) => pl.component(n).value.trim()).filter(Boolean);
  return parts.length ? parts.join(' / ') : undefined;
}

/** The action a message performs on its movement: ZBE-4, else the event's nature (cancellations cancel). */
function actionOf(zbe: Hl7Segment | undefined, event: string): MovementAction {
  const declared = zbe?.field(4).value.trim().toUpperCase();
  if (declared === 'INSERT' || declared === 'UPDATE' || declared === 'CANCEL') return declared;
  // ANS sample quirk (ADT_A03_SGL_sortie): ZBE-3 filled and the action shifted into ZBE-5.
  const shifted = zbe?.field(5).value.trim().toUpperCase();
  if (shifted === 'INSERT' || shifted === 'UPDATE' || shifted === 'CANCEL') return shifted;
  if (CANCELLED_BY[event]) return 'CANCEL';
  if (event === 'Z99' || event === 'A08') return 'UPDATE';
  return 'INSERT';
}

/**
 * Reads PV1/ZBE. `event` is the message's trigger (MSH-9.2). Returns undefined when there is no PV1.
 * The movement is undefined for events that record none (identity messages, results).
 */
export function readVisitFacts(msg: Hl7Message, event: string, controlId: string): VisitFacts | undefined {
  const pv1 = msg.get('PV1');
  if (!pv1) return undefined;
  const zbe = msg.get('ZBE');
  const vn = readCx(pv1.field(19).repetition(0));
  const identifier = vn?.system ? { system: vn.system, value: vn.value } : undefined;
  const action = actionOf(zbe, event);
  let movement: Movement | undefined;
  const id = movementId(zbe, controlId);
  if (MOVEMENT_EVENTS.has(event) && id) {
    const evn = msg.get('EVN');
    const at =
      hl7DateTime(zbe?.field(2).value ?? '') ??
      hl7DateTime(evn?.field(6).value ?? '') ??
      hl7DateTime(evn?.field(2).value ?? '') ??
      hl7DateTime(msg.get('MSH')?.field(7).value ?? '');
    // UPDATE/CANCEL name the original event in ZBE-6; an INSERT is the message's own event.
    const original = zbe?.field(6).value.trim().toUpperCase();
    movement = {
      id,
      event: action !== 'INSERT' && original ? original : event,
      at,
    };
    const unit = unitOf(zbe);
    if (unit) movement.unit = unit;
    const location = locationText(pv1);
    if (location) movement.location = location;
    const attending = readXcn(pv1.field(7).repetition(0));
    if (attending?.id) movement.attending = attending;
    const nature = zbe?.field(9).value.trim();
    if (nature) movement.nature = nature;
  }
  return {
    identifier,
    patientClass: pv1.field(2).value.trim().toUpperCase(),
    movement,
    action,
    targetsMovementId: zbe ? id : undefined,
  };
}
