/**
 * Applies a message's visit to the Encounter keyed by its visit number (PV1-19): the movement is added to, updated
 * in or cancelled from the stay's movement list, and the Encounter's status, period, locations and attending doctor
 * are replayed from that list (./../map/movements.ts).
 */

import type { Xcn } from '../datatypes.js';
import { applyMovement, replayStay, type StoredMovement } from '../map/movements.js';
import type { VisitFacts } from '../map/visit.js';
import type { ApplyContext, Json } from './context.js';

export const MOVEMENT_EXTENSION = 'urn:pfi:fhir:StructureDefinition:pam-movement';
const MAX_CACHED_PRACTITIONERS = 10_000;
const UF_SYSTEM = 'urn:pfi:hl7:unite-fonctionnelle';
const ACT_CODE = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';

const CLASS: Record<string, { code: string; display: string }> = {
  I: { code: 'IMP', display: 'inpatient encounter' },
  O: { code: 'AMB', display: 'ambulatory' },
  R: { code: 'AMB', display: 'ambulatory' },
  E: { code: 'EMER', display: 'emergency' },
  P: { code: 'PRENC', display: 'pre-admission' },
  N: { code: 'AMB', display: 'ambulatory' },
  B: { code: 'IMP', display: 'inpatient encounter' },
};

type Field = { url: string; [value: string]: unknown };

/** Movement → extension (sub-extensions keep it valid FHIR and readable by any client). */
function encodeMovement(m: StoredMovement): Json {
  const ext: Field[] = [
    { url: 'id', valueString: m.id },
    { url: 'event', valueCode: m.event },
    { url: 'seq', valueInteger: m.seq },
  ];
  if (m.at) ext.push({ url: 'at', valueDateTime: m.at });
  if (m.cancelled) ext.push({ url: 'cancelled', valueBoolean: true });
  if (m.unit) ext.push({ url: 'unitCode', valueString: m.unit.code }, { url: 'unitName', valueString: m.unit.display });
  if (m.location) ext.push({ url: 'location', valueString: m.location });
  if (m.nature) ext.push({ url: 'nature', valueString: m.nature });
  if (m.attending) {
    ext.push({ url: 'attendingId', valueString: m.attending.id });
    if (m.attending.system) ext.push({ url: 'attendingSystem', valueUri: m.attending.system });
    if (m.attending.family) ext.push({ url: 'attendingFamily', valueString: m.attending.family });
    if (m.attending.given) ext.push({ url: 'attendingGiven', valueString: m.attending.given });
  }
  return { url: MOVEMENT_EXTENSION, extension: ext };
}

function decodeMovement(ext: Json): StoredMovement | undefined {
  const fields = new Map<string, unknown>();
  for (const f of (ext['extension'] as Field[] | undefined) ?? []) {
    const value = Object.entries(f).find(([k]) => k.startsWith('value'))?.[1];
    fields.set(f.url, value);
  }
  const id = fields.get('id');
  const event = fields.get('event');
  if (typeof id !== 'string' || typeof event !== 'string') return undefined;
  const m: StoredMovement = {
    id,
    event,
    at: fields.get('at') as string | undefined,
    seq: Number(fields.get('seq') ?? 0),
  };
  if (fields.get('cancelled') === true) m.cancelled = true;
  const unitCode = fields.get('unitCode');
  if (typeof unitCode === 'string') m.unit = { code: unitCode, display: String(fields.get('unitName') ?? unitCode) };
  if (typeof fields.get('location') === 'string') m.location = fields.get('location') as string;
  if (typeof fields.get('nature') === 'string') m.nature = fields.get('nature') as string;
  const attendingId = fields.get('attendingId');
  if (typeof attendingId === 'string') {
    m.attending = {
      id: attendingId,
      system: fields.get('attendingSystem') as string | undefined,
      family: String(fields.get('attendingFamily') ?? ''),
      given: String(fields.get('attendingGiven') ?? ''),
    };
  }
  return m;
}

/** The movements stored on an Encounter. */
export function movementsOf(encounter: Json | undefined): StoredMovement[] {
  const exts = Array.isArray(encounter?.['extension']) ? (encounter['extension'] as Json[]) : [];
  return exts
    .filter((e) => e['url'] === MOVEMENT_EXTENSION)
    .map(decodeMovement)
    .filter((m): m is StoredMovement => m !== undefined);
}

/** The Practitioner of an RPPS/ADELI number: found, or created from the message's name. */
export async function practitionerRef(ctx: ApplyContext, doctor: Xcn): Promise<Json | undefined> {
  if (!doctor.system || !doctor.id) return undefined;
  const identifier = { system: doctor.system, value: doctor.id };
  const key = `${identifier.system}|${identifier.value}`;
  const cached = ctx.practitioners.get(key);
  if (cached) return { reference: `Practitioner/${cached}` };
  const existing = await ctx.find('Practitioner', identifier);
  if (existing) {
    // Only committed ids are cached (one created by this batch could still roll back).
    if (ctx.isStored('Practitioner', existing['id'] as string)) {
      if (ctx.practitioners.size >= MAX_CACHED_PRACTITIONERS) ctx.practitioners.clear();
      ctx.practitioners.set(key, existing['id'] as string);
    }
    return { reference: `Practitioner/${existing['id']}` };
  }
  const id = ctx.newId();
  const name: Json = {};
  if (doctor.family) name['family'] = doctor.family;
  if (doctor.given) name['given'] = [doctor.given];
  // The Annuaire Santé is the reference for professionals: only create what the message says, never overwrite.
  ctx.write({
    resourceType: 'Practitioner',
    id,
    identifier: [identifier],
    ...(Object.keys(name).length ? { name: [name] } : {}),
  });
  return { reference: `Practitioner/${id}` };
}

/**
 * Applies the visit. `recordsMovement`: the message is an ITI-31 movement (else — results, documents — the
 * Encounter is only created when unknown, and left as is otherwise). Returns the Encounter reference, or undefined
 * when the message has no visit number.
 */
export async function applyVisit(
  ctx: ApplyContext,
  patientId: string,
  visit: VisitFacts,
  event: string,
  recordsMovement: boolean,
): Promise<string | undefined> {
  if (!visit.identifier) {
    if (recordsMovement) ctx.warn('no-visit-number', 'PV1-19 has no visit number with an authority: no Encounter');
    return undefined;
  }
  const existing = await ctx.find('Encounter', visit.identifier);
  const id = (existing?.['id'] as string | undefined) ?? ctx.newId();
  const subject = { reference: `Patient/${patientId}` };
  const otherPatient = existing && (existing['subject'] as Json | undefined)?.['reference'] !== subject.reference;
  if (!recordsMovement && existing) {
    if (!otherPatient) return `Encounter/${id}`;
    // A result or document must not point at someone else's stay: it is recorded without one.
    ctx.warn('encounter-other-patient', 'the visit number belongs to a stay of another patient: not linked');
    return undefined;
  }
  if (otherPatient) {
    ctx.warn('encounter-moved-patient', 'the visit number belonged to a stay of another patient: moved to this one');
  }

  const change = recordsMovement ? applyMovement(movementsOf(existing), event, visit) : undefined;
  if (change && change.outcome !== 'inserted' && change.outcome !== 'updated' && change.outcome !== 'cancelled') {
    ctx.warn(`movement-${change.outcome}`, `the movement was ${change.outcome.replace(/-/g, ' ')}: stay unchanged`);
  }
  const movements = change?.movements ?? movementsOf(existing);
  const state = replayStay(movements);
  const klass = CLASS[visit.patientClass] ?? CLASS['I']!;
  const encounter: Json = {
    ...(existing ?? {}),
    resourceType: 'Encounter',
    id,
    identifier: [
      {
        use: 'official',
        type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'VN' }] },
        system: visit.identifier.system,
        value: visit.identifier.value,
      },
    ],
    status: recordsMovement ? state.status : 'unknown',
    class: { system: ACT_CODE, ...klass },
    subject,
  };
  const period: Json = {};
  if (state.start) period['start'] = state.start;
  if (state.end) period['end'] = state.end;
  if (Object.keys(period).length) encounter['period'] = period;
  else delete encounter['period'];
  if (state.locations.length) {
    encounter['location'] = state.locations.map((l, i) => {
      const last = i === state.locations.length - 1;
      const loc: Json = {
        location: {
          ...(l.unit ? { identifier: { system: UF_SYSTEM, value: l.unit.code } } : {}),
          display: [l.unit?.display, l.location].filter(Boolean).join(' — '),
        },
        status: last && state.status !== 'finished' ? (state.status === 'planned' ? 'planned' : 'active') : 'completed',
      };
      const p: Json = {};
      if (l.start) p['start'] = l.start;
      if (l.end) p['end'] = l.end;
      if (Object.keys(p).length) loc['period'] = p;
      return loc;
    });
  } else delete encounter['location'];
  if (state.attending) {
    const ref = await practitionerRef(ctx, state.attending);
    encounter['participant'] = [
      {
        type: [
          {
            coding: [
              {
                system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType',
                code: 'ATND',
                display: 'attender',
              },
            ],
          },
        ],
        individual: ref ?? { display: [state.attending.given, state.attending.family].filter(Boolean).join(' ') },
      },
    ];
  } else delete encounter['participant'];
  const otherExt = (Array.isArray(encounter['extension']) ? (encounter['extension'] as Json[]) : []).filter(
    (e) => e['url'] !== MOVEMENT_EXTENSION,
  );
  const ext = [...otherExt, ...movements.map(encodeMovement)];
  if (ext.length) encounter['extension'] = ext;
  else delete encounter['extension'];
  ctx.write(encounter);
  return `Encounter/${id}`;
}
