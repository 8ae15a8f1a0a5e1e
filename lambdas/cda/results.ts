/**
 * The results of a DiagnosticReport, read once into a small model that the CDA body, its narrative table and the
 * PDF copy all render: code, value (decimal text kept as stored), unit, reference range, interpretation.
 *
 * Only results a biologist has released go in a report: final, amended, corrected, appended (CDA `completed`) and
 * cancelled ones (`aborted`, without value). Preliminary, registered and entered-in-error results are left out.
 */

import type { Resource } from '../fhir/types.js';
import { INTERPRETATION, OID } from './codes.js';
import { cdaCodings, conceptLabel, decimalText, type Json, list, obj, referencedId, str } from './fhir.js';
import { cdaDateTime } from './time.js';
import type { CdaCode } from './types.js';

export interface Quantity {
  value: string;
  /** UCUM code, when the quantity has one. */
  ucum?: string;
  /** The unit as shown to a reader (FHIR `unit`, else the code). */
  label?: string;
  comparator?: '<' | '<=' | '>' | '>=';
}

export type ResultValue =
  | { kind: 'quantity'; quantity: Quantity }
  | { kind: 'range'; low?: Quantity; high?: Quantity }
  | { kind: 'ratio'; numerator: Quantity; denominator: Quantity }
  | { kind: 'coded'; codes: CdaCode[]; text?: string }
  | { kind: 'text'; text: string }
  | { kind: 'boolean'; value: boolean }
  | { kind: 'dateTime'; value: string };

export interface ReferenceRange {
  low?: Quantity;
  high?: Quantity;
  text?: string;
}

export interface LabResult {
  /** LOINC first, then the other codings with an OID. Empty: a local code without OID (label only). */
  codes: CdaCode[];
  label: string;
  status: 'completed' | 'aborted';
  effectiveTime?: string;
  value?: ResultValue;
  interpretation?: CdaCode;
  range?: ReferenceRange;
  /** The results of a panel (hasMember), in order. */
  members: LabResult[];
}

const RELEASED = new Set(['final', 'amended', 'corrected', 'appended']);
const INTERPRETATION_SYSTEMS = new Set([
  'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation',
  'http://terminology.hl7.org/CodeSystem/v2-0078',
]);
const UCUM = 'http://unitsofmeasure.org';

function quantity(q: Json | undefined): Quantity | undefined {
  const value = decimalText(q?.['value']);
  if (!q || value === undefined) return undefined;
  const out: Quantity = { value };
  const code = str(q['code']);
  if (code && q['system'] === UCUM) out.ucum = code;
  const label = str(q['unit']) ?? code;
  if (label) out.label = label;
  const comparator = q['comparator'];
  if (comparator === '<' || comparator === '<=' || comparator === '>' || comparator === '>=')
    out.comparator = comparator;
  return out;
}

function readValue(o: Json): ResultValue | undefined {
  const q = quantity(obj(o['valueQuantity']));
  if (q) return { kind: 'quantity', quantity: q };
  const range = obj(o['valueRange']);
  if (range) {
    const low = quantity(obj(range['low']));
    const high = quantity(obj(range['high']));
    if (low || high) return { kind: 'range', ...(low ? { low } : {}), ...(high ? { high } : {}) };
  }
  const ratio = obj(o['valueRatio']);
  if (ratio) {
    const numerator = quantity(obj(ratio['numerator']));
    const denominator = quantity(obj(ratio['denominator']));
    if (numerator && denominator) return { kind: 'ratio', numerator, denominator };
  }
  const concept = obj(o['valueCodeableConcept']);
  if (concept) {
    const text = conceptLabel(concept);
    return { kind: 'coded', codes: cdaCodings(concept), ...(text ? { text } : {}) };
  }
  const text = str(o['valueString']);
  if (text) return { kind: 'text', text };
  if (typeof o['valueBoolean'] === 'boolean') return { kind: 'boolean', value: o['valueBoolean'] };
  const dt = cdaDateTime(o['valueDateTime']);
  if (dt) return { kind: 'dateTime', value: dt };
  const n = decimalText(o['valueInteger']);
  if (n !== undefined) return { kind: 'quantity', quantity: { value: n } };
  return undefined;
}

function interpretationOf(o: Json): CdaCode | undefined {
  for (const concept of list(o['interpretation'])) {
    for (const coding of list(concept['coding'])) {
      const code = str(coding['code']);
      if (!code || (coding['system'] !== undefined && !INTERPRETATION_SYSTEMS.has(coding['system'] as string)))
        continue;
      const displayName = INTERPRETATION[code];
      // A code outside the CI-SIS value set is left out rather than sent invalid.
      if (displayName) return { code, displayName, codeSystem: OID.interpretation };
    }
  }
  return undefined;
}

function rangeOf(o: Json): ReferenceRange | undefined {
  const r = list(o['referenceRange'])[0];
  if (!r) return undefined;
  const low = quantity(obj(r['low']));
  const high = quantity(obj(r['high']));
  const text = str(r['text']);
  if (!low && !high && !text) return undefined;
  return { ...(low ? { low } : {}), ...(high ? { high } : {}), ...(text ? { text } : {}) };
}

function codesOf(concept: unknown): CdaCode[] {
  const codes = cdaCodings(concept);
  return [...codes.filter((c) => c.codeSystem === OID.loinc), ...codes.filter((c) => c.codeSystem !== OID.loinc)];
}

function result(o: Json, byId: Map<string, Json>, depth: number): LabResult | undefined {
  const status = str(o['status']) ?? '';
  const released = RELEASED.has(status);
  if (!released && status !== 'cancelled') return undefined;
  const members =
    depth < 2
      ? list(o['hasMember'])
          .map((ref) => byId.get(referencedId(ref, 'Observation') ?? ''))
          .filter((m): m is Json => m !== undefined)
          .map((m) => result(m, byId, depth + 1))
          .filter((m): m is LabResult => m !== undefined)
      : [];
  // A panel none of whose results is released has nothing to report.
  if (list(o['hasMember']).length && !members.length) return undefined;
  const r: LabResult = {
    codes: codesOf(o['code']),
    label: conceptLabel(o['code']) ?? 'Résultat',
    status: released ? 'completed' : 'aborted',
    members,
  };
  const when = cdaDateTime(o['effectiveDateTime']) ?? cdaDateTime(obj(o['effectivePeriod'])?.['start']);
  if (when) r.effectiveTime = when;
  if (released && !members.length) {
    const value = readValue(o);
    if (value) r.value = value;
    const interpretation = interpretationOf(o);
    if (interpretation) r.interpretation = interpretation;
    const range = rangeOf(o);
    if (range) r.range = range;
  }
  return r;
}

/** The released results of a report, in `report.result` order, panels with their members. */
export function readResults(report: Resource, observations: Resource[]): LabResult[] {
  const byId = new Map<string, Json>();
  for (const o of observations) if (typeof o.id === 'string') byId.set(o.id, o);
  const members = new Set(
    observations.flatMap((o) => list(o['hasMember']).map((ref) => referencedId(ref, 'Observation') ?? '')),
  );
  const refs = list(report['result']);
  const top = refs.length
    ? refs.map((ref) => byId.get(referencedId(ref, 'Observation') ?? '')).filter((o): o is Json => o !== undefined)
    : observations.filter((o) => !(typeof o.id === 'string' && members.has(o.id)));
  return top.map((o) => result(o, byId, 0)).filter((r): r is LabResult => r !== undefined);
}

// --- text shown to a reader (narrative table, PDF) ---

function quantityText(q: Quantity): string {
  return q.comparator ? `${q.comparator} ${q.value}` : q.value;
}

/** The value as shown to a reader, without its unit. */
export function valueText(r: LabResult): string {
  if (r.status === 'aborted') return 'Annulé';
  const v = r.value;
  if (!v) return '';
  switch (v.kind) {
    case 'quantity':
      return quantityText(v.quantity);
    case 'range':
      return [v.low ? v.low.value : '', v.high ? v.high.value : ''].join(' - ');
    case 'ratio':
      return `${v.numerator.value}:${v.denominator.value}`;
    case 'coded':
      return v.text ?? v.codes[0]?.displayName ?? v.codes[0]?.code ?? '';
    case 'text':
      return v.text;
    case 'boolean':
      return v.value ? 'Oui' : 'Non';
    case 'dateTime':
      return v.value;
  }
}

/** The unit as shown to a reader. */
export function unitText(r: LabResult): string {
  const v = r.value;
  if (v?.kind === 'quantity') return v.quantity.label ?? '';
  if (v?.kind === 'range') return (v.low ?? v.high)?.label ?? '';
  return '';
}

/** The reference range as shown to a reader. */
export function rangeText(r: LabResult): string {
  const range = r.range;
  if (!range) return '';
  if (range.low && range.high) return `${range.low.value} - ${range.high.value}`;
  if (range.high) return `< ${range.high.value}`;
  if (range.low) return `> ${range.low.value}`;
  return range.text ?? '';
}
