/**
 * Applies a message's identity to the Patient it designates: upsert keyed by the IPP (else the INS), INS kept or
 * dropped by the identity status, identity vigilance on INS collisions, A40 merge and A47 identifier change.
 */

import { isInsSystem } from '../../fhir/validation/ins.js';
import { MappingError } from '../map/message.js';
import {
  type BusinessIdentifier,
  FR_CORE_0203,
  insIdentifier,
  ippIdentifier,
  type PatientFacts,
} from '../map/patient.js';
import type { ApplyContext, Json } from './context.js';

/** meta.tag of a Patient whose INS collides with another Patient's: an identity-vigilance cell must review it. */
export const VIGILANCE_TAG = {
  system: 'urn:pfi:identity-vigilance',
  code: 'ins-conflict',
  display: 'INS carried by another patient record: to review',
};

const BIRTH_PLACE = 'http://hl7.org/fhir/StructureDefinition/patient-birthPlace';
const IDENTITY_RELIABILITY = 'https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-identity-reliability';

type Identifier = { system?: string; value?: string; use?: string; type?: { coding?: { system?: string }[] } };

const isIns = (i: Identifier) => typeof i.system === 'string' && isInsSystem(i.system);
const same = (i: Identifier, b: BusinessIdentifier) => i.system === b.system && i.value === b.value;

function identifiersOf(p: Json | undefined): Identifier[] {
  return Array.isArray(p?.['identifier']) ? (p['identifier'] as Identifier[]) : [];
}

/** True when `patient` carries a current local id of `system` other than `ipp`. */
function hasOtherIpp(patient: Json, ipp: BusinessIdentifier): boolean {
  return identifiersOf(patient).some((i) => i.system === ipp.system && i.value !== ipp.value && i.use !== 'old');
}

function flag(patient: Json): Json {
  const meta = (patient['meta'] as Json | undefined) ?? {};
  const tags = Array.isArray(meta['tag']) ? (meta['tag'] as Json[]) : [];
  if (tags.some((t) => t['system'] === VIGILANCE_TAG.system && t['code'] === VIGILANCE_TAG.code)) return patient;
  return { ...patient, meta: { ...meta, tag: [...tags, VIGILANCE_TAG] } };
}

export interface PatientUpsertOptions {
  /** Use this Patient rather than looking it up (A47: found by the old identifier). */
  target?: Json;
  /** Id for a new Patient (A40 pre-assigns the survivor's id). */
  id?: string;
  /** Identifiers to keep as `use: old` (A40 merged IPPs, A47 previous IPP). */
  oldIdentifiers?: BusinessIdentifier[];
  /** Patient.link entries to add (A40: `replaces`). */
  links?: Json[];
}

/** Builds the Patient from what is stored and what the message says. */
function buildPatient(
  existing: Json | undefined,
  facts: PatientFacts,
  id: string,
  keepIns: boolean,
  opts: PatientUpsertOptions,
): Json {
  let identifiers = identifiersOf(existing).filter((i) => !(facts.ipp && same(i, facts.ipp)));
  if ((facts.ins && keepIns) || facts.insDowngraded) identifiers = identifiers.filter((i) => !isIns(i));
  const next: Identifier[] = [];
  if (facts.ipp) next.push(ippIdentifier(facts.ipp) as Identifier);
  if (facts.ins && keepIns) next.push(insIdentifier(facts.ins) as Identifier);
  for (const old of opts.oldIdentifiers ?? []) {
    identifiers = identifiers.filter((i) => !same(i, old));
    if (!(facts.ipp && same({ ...old }, facts.ipp))) next.push({ use: 'old', system: old.system, value: old.value });
  }
  const patient: Json = { ...(existing ?? {}), resourceType: 'Patient', id };
  patient['identifier'] = [...next, ...identifiers];
  const demo = facts.demographics;
  for (const key of ['name', 'birthDate', 'gender', 'address', 'telecom', 'maritalStatus'] as const) {
    if (demo[key] !== undefined) patient[key] = demo[key];
  }
  if (demo['deceasedDateTime'] !== undefined || demo['deceasedBoolean'] !== undefined) {
    delete patient['deceasedDateTime'];
    delete patient['deceasedBoolean'];
    Object.assign(
      patient,
      demo['deceasedDateTime'] ? { deceasedDateTime: demo['deceasedDateTime'] } : { deceasedBoolean: true },
    );
  }
  const newExt = Array.isArray(demo['extension']) ? (demo['extension'] as Json[]) : [];
  if (newExt.length) {
    const replaced = new Set(newExt.map((e) => e['url']));
    const kept = (Array.isArray(patient['extension']) ? (patient['extension'] as Json[]) : []).filter(
      (e) => !replaced.has(e['url']) || (e['url'] !== BIRTH_PLACE && e['url'] !== IDENTITY_RELIABILITY),
    );
    patient['extension'] = [...kept, ...newExt];
  }
  if (patient['active'] === undefined) patient['active'] = true;
  if (opts.links?.length) {
    const links = Array.isArray(patient['link']) ? [...(patient['link'] as Json[])] : [];
    for (const l of opts.links) {
      const ref = (l['other'] as Json)['reference'];
      if (!links.some((x) => (x['other'] as Json)?.['reference'] === ref && x['type'] === l['type'])) links.push(l);
    }
    patient['link'] = links;
  }
  return patient;
}

/**
 * Creates or updates the message's Patient and returns it as written. Identity vigilance: an INS already carried by
 * another Patient is never moved silently — both records get the {@link VIGILANCE_TAG} and this message is applied
 * without the INS.
 */
export async function upsertPatient(
  ctx: ApplyContext,
  facts: PatientFacts,
  opts: PatientUpsertOptions = {},
): Promise<Json> {
  const keys = [...(opts.target ? [] : facts.ipp ? [facts.ipp] : []), ...(facts.ins ? [facts.ins] : [])];
  const found = keys.length ? await ctx.findAny('Patient', keys) : [];
  const holds = (p: Json, id: BusinessIdentifier) => identifiersOf(p).some((i) => same(i, id) && i.use !== 'old');
  let target = opts.target ?? (facts.ipp ? found.find((p) => holds(p, facts.ipp!)) : undefined);
  const byIns = facts.ins ? found.find((p) => holds(p, facts.ins!)) : undefined;
  let conflict: Json | undefined;
  if (byIns) {
    if (!target) {
      // The INS is known, the IPP is not: the same person seen first without this IPP (a lab result keyed by the
      // INS), unless that record already has another IPP of the same facility — then it is someone else's record.
      if (facts.ipp && hasOtherIpp(byIns, facts.ipp)) conflict = byIns;
      else target = byIns;
    } else if (byIns['id'] !== target['id']) {
      conflict = byIns;
    }
  }
  const id = (target?.['id'] as string | undefined) ?? opts.id ?? ctx.newId();
  let patient = buildPatient(target, facts, id, conflict === undefined, opts);
  if (conflict) {
    ctx.warn('ins-conflict', 'the INS is carried by another patient record: both flagged for identity vigilance');
    patient = flag(patient);
    ctx.write(flag(conflict));
  }
  for (const w of facts.warnings) ctx.warn(w, warningText[w]);
  return ctx.write(patient);
}

const warningText: Record<PatientFacts['warnings'][number], string> = {
  'ins-not-qualified': 'PID-3 carries an INS but PID-32 is not VALI/QUAL: the INS was not recorded',
  'ins-invalid-key': 'PID-3 carries an INS whose NIR key is invalid: the INS was not recorded',
  'ins-unknown-authority': 'PID-3 has an INS-typed identifier whose authority is not an INS OID: not recorded',
  'ipp-no-authority': 'PID-3 has a local identifier without assigning authority: not recorded',
};

/** Types re-pointed from the merged Patient to the survivor on A40. */
const MERGE_REPOINTED = ['Encounter', 'Observation', 'DiagnosticReport', 'DocumentReference'];

/**
 * A40: the message's Patient survives; each Patient designated by MRG-1 becomes `active: false` with
 * `link: replaced-by` the survivor, loses its INS (the survivor's PID says which INS holds), and its encounters
 * and results are re-pointed to the survivor, which gets `link: replaces`.
 */
export async function mergePatients(
  ctx: ApplyContext,
  facts: PatientFacts,
  previous: BusinessIdentifier[],
): Promise<Json> {
  const survivorExisting = facts.ipp ? await ctx.find('Patient', facts.ipp) : undefined;
  const survivorId = (survivorExisting?.['id'] as string | undefined) ?? ctx.newId();
  const links: Json[] = [];
  const merged: Json[] = [];
  for (const prev of previous) {
    const p = await ctx.find('Patient', prev);
    if (!p) {
      ctx.warn('merge-unknown-patient', 'MRG-1 designates a patient PFI does not know: nothing to merge');
      continue;
    }
    if (p['id'] === survivorId || merged.some((m) => m['id'] === p['id'])) continue;
    merged.push(p);
    // The INS goes (the survivor's PID says which INS holds, and it is unique); the merged IPP stays, so a late
    // message for it still finds this record rather than creating a new one.
    const identifiers = identifiersOf(p).filter((i) => !isIns(i));
    ctx.write({
      ...p,
      identifier: identifiers,
      active: false,
      link: [{ other: { reference: `Patient/${survivorId}` }, type: 'replaced-by' }],
    });
    links.push({ other: { reference: `Patient/${p['id']}` }, type: 'replaces' });
  }
  const survivor = await upsertPatient(ctx, facts, { target: survivorExisting, id: survivorId, links });
  for (const p of merged) await repoint(ctx, p['id'] as string, survivorId);
  return survivor;
}

async function repoint(ctx: ApplyContext, fromId: string, toId: string): Promise<void> {
  for (const type of MERGE_REPOINTED) {
    for (;;) {
      const batch = await ctx.search(type, 'subject', `Patient/${fromId}`, 100);
      if (batch.length === 0) break;
      for (const r of batch) ctx.write({ ...r, subject: { reference: `Patient/${toId}` } });
    }
  }
}

/**
 * A47: the Patient found by the old identifier (MRG-1) takes the PID-3 identifiers; the old one is kept as
 * `use: old`. A new identifier already carried by another Patient is a conflict the message cannot resolve.
 */
export async function changeIdentifier(
  ctx: ApplyContext,
  facts: PatientFacts,
  previous: BusinessIdentifier[],
): Promise<Json> {
  let target: Json | undefined;
  for (const prev of previous) {
    target = await ctx.find('Patient', prev);
    if (target) break;
  }
  if (!target) {
    ctx.warn(
      'identifier-change-unknown-patient',
      'MRG-1 designates a patient PFI does not know: created under the new identifier',
    );
    return upsertPatient(ctx, facts);
  }
  if (facts.ipp) {
    const holder = await ctx.find('Patient', facts.ipp);
    if (holder && holder['id'] !== target['id']) {
      throw new MappingError(
        'identifier-conflict',
        'A47: the new identifier already belongs to another patient record (merge with A40 instead)',
      );
    }
  }
  return upsertPatient(ctx, facts, { target, oldIdentifiers: previous });
}

/** The INS identifier of a stored Patient (for tests and the vigilance report). */
export function insOf(patient: Json): Identifier | undefined {
  return identifiersOf(patient).find((i) => isIns(i) && (i.type?.coding ?? []).some((c) => c.system === FR_CORE_0203));
}
