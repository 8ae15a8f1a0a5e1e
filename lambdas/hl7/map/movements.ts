/**
 * A stay as the list of its PAM movements, and the Encounter state replayed from them.
 *
 * The Encounter keeps every movement it has seen (in an extension), including cancelled ones as tombstones. The
 * state (status, period, location history, attending doctor) is recomputed from the movements sorted by date, so:
 * a repeated INSERT (same ZBE-1) changes nothing; a late event (an A02 dated before the A03 already received) lands
 * in its place without reopening the stay; a CANCEL removes its movement whatever arrived since, and a CANCEL that
 * arrives before its INSERT leaves a tombstone the INSERT then respects.
 */

import type { Xcn } from '../datatypes.js';
import { CANCELLED_BY, type Movement, type VisitFacts } from './visit.js';

export interface StoredMovement extends Movement {
  /** Arrival order, to break ties between movements of the same instant. */
  seq: number;
  cancelled?: boolean;
}

export interface MovementChange {
  movements: StoredMovement[];
  /** What happened, for the ingest result: `inserted`, `updated`, `cancelled`, or `ignored` with why. */
  outcome: 'inserted' | 'updated' | 'cancelled' | 'repeated' | 'cancelled-before-insert' | 'nothing-to-cancel';
}

const nextSeq = (list: StoredMovement[]) => list.reduce((m, x) => Math.max(m, x.seq), 0) + 1;

/** Applies one message's movement to the list (a new array; the input is not modified). */
export function applyMovement(current: StoredMovement[], event: string, facts: VisitFacts): MovementChange {
  const list = current.map((m) => ({ ...m }));
  const mv = facts.movement;
  if (!mv) return { movements: list, outcome: 'repeated' };
  const targetId = facts.targetsMovementId ?? mv.id;
  const existing = list.find((m) => m.id === targetId);

  if (facts.action === 'INSERT') {
    if (existing) return { movements: list, outcome: existing.cancelled ? 'cancelled-before-insert' : 'repeated' };
    list.push({ ...mv, seq: nextSeq(list) });
    return { movements: list, outcome: 'inserted' };
  }

  if (facts.action === 'UPDATE') {
    if (existing && !existing.cancelled) {
      // Z99: the movement's data change; the event that created it stays.
      Object.assign(existing, { ...mv, id: existing.id, event: existing.event, seq: existing.seq });
      return { movements: list, outcome: 'updated' };
    }
    if (existing?.cancelled) return { movements: list, outcome: 'cancelled-before-insert' };
    const latest = latestActive(list);
    if (latest && mv.id.startsWith('msh:')) {
      // A08 without ZBE: the current movement's location and doctor are updated.
      if (mv.location) latest.location = mv.location;
      if (mv.unit) latest.unit = mv.unit;
      if (mv.attending) latest.attending = mv.attending;
      return { movements: list, outcome: 'updated' };
    }
    // An UPDATE of a movement never received: record it as that movement.
    list.push({ ...mv, id: targetId, seq: nextSeq(list) });
    return { movements: list, outcome: 'inserted' };
  }

  // CANCEL
  if (existing) {
    if (existing.cancelled) return { movements: list, outcome: 'repeated' };
    existing.cancelled = true;
    return { movements: list, outcome: 'cancelled' };
  }
  const cancels = CANCELLED_BY[event];
  if (mv.id.startsWith('msh:') && cancels) {
    // No ZBE: cancel the latest movement of the cancelled kind.
    const victim = sortMovements(list.filter((m) => !m.cancelled && cancels.includes(m.event))).pop();
    if (!victim) return { movements: list, outcome: 'nothing-to-cancel' };
    victim.cancelled = true;
    return { movements: list, outcome: 'cancelled' };
  }
  list.push({ ...mv, id: targetId, seq: nextSeq(list), cancelled: true });
  return { movements: list, outcome: 'cancelled-before-insert' };
}

export function sortMovements(list: StoredMovement[]): StoredMovement[] {
  return [...list].sort((a, b) => {
    const ta = a.at ? Date.parse(a.at) : Number.POSITIVE_INFINITY;
    const tb = b.at ? Date.parse(b.at) : Number.POSITIVE_INFINITY;
    return ta - tb || a.seq - b.seq;
  });
}

function latestActive(list: StoredMovement[]): StoredMovement | undefined {
  return sortMovements(list.filter((m) => !m.cancelled)).pop();
}

export type EncounterStatus = 'planned' | 'in-progress' | 'onleave' | 'finished' | 'cancelled';

export interface StayState {
  status: EncounterStatus;
  start: string | undefined;
  end: string | undefined;
  /** Location history, oldest first; the last is current unless the stay is finished. */
  locations: { unit?: Movement['unit']; location?: string; start: string | undefined; end: string | undefined }[];
  attending: Xcn | undefined;
}

const STATUS_AFTER: Record<string, EncounterStatus> = {
  A05: 'planned',
  A14: 'planned',
  A21: 'onleave',
  A03: 'finished',
  A16: 'in-progress',
  A25: 'in-progress',
  A26: 'in-progress',
};

/** Replays the active movements into the stay's state. No active movement left = a cancelled stay. */
export function replayStay(list: StoredMovement[]): StayState {
  const active = sortMovements(list.filter((m) => !m.cancelled));
  if (active.length === 0)
    return { status: 'cancelled', start: undefined, end: undefined, locations: [], attending: undefined };
  let status: EncounterStatus = 'in-progress';
  let start: string | undefined;
  let end: string | undefined;
  let attending: Xcn | undefined;
  const locations: StayState['locations'] = [];
  for (const m of active) {
    // A leave of absence ends with the return (A22); any other movement after a discharge reopens nothing but
    // the order of dates decides: the last movement sets the status.
    status = STATUS_AFTER[m.event] ?? 'in-progress';
    if (m.event === 'A01' || m.event === 'A04' || (start === undefined && m.event !== 'A05' && m.event !== 'A14')) {
      start ??= m.at;
    }
    end = m.event === 'A03' ? m.at : undefined;
    if (m.attending) attending = m.attending;
    const last = locations.at(-1);
    const moved = (m.unit && m.unit.code !== last?.unit?.code) || (m.location && m.location !== last?.location);
    if (moved && m.event !== 'A03') {
      if (last) last.end = m.at;
      locations.push({
        unit: m.unit ?? last?.unit,
        location: m.location ?? last?.location,
        start: m.at,
        end: undefined,
      });
    }
  }
  const first = active[0];
  if (status === 'planned') start = first?.at;
  const current = locations.at(-1);
  if (status === 'finished' && current) current.end = end;
  return { status, start, end, locations, attending };
}
