/**
 * ORU^R01 → result facts: one report per OBR (DiagnosticReport), its OBX results (Observations) and its embedded
 * documents (OBX ED: a CDA lab report as Ségur sends it → DocumentReference + Binary).
 */

import { codingSystem, hl7DateTime, hl7Decimal, readCwe } from '../datatypes.js';
import type { Hl7Message, Hl7Segment } from '../parser.js';
import type { DocumentFacts } from './documents.js';
import { documentType, readEi } from './documents.js';
import {
  type EmbeddedContent,
  isInstruction,
  readCdaHeader,
  readEmbeddedContent,
  readInstructions,
} from './embedded-document.js';
import type { BusinessIdentifier } from './patient.js';

type Json = Record<string, unknown>;

export interface ObservationFacts {
  identifier: BusinessIdentifier;
  /** The Observation without subject/encounter (the store adds them). */
  resource: Json;
}

export interface ReportFacts {
  identifier: BusinessIdentifier;
  /** The DiagnosticReport without subject, encounter, result and presentedForm. */
  resource: Json;
  observations: ObservationFacts[];
  documents: DocumentFacts[];
}

const REPORT_STATUS: Record<string, string> = {
  F: 'final',
  C: 'corrected',
  A: 'partial',
  P: 'preliminary',
  R: 'preliminary',
  I: 'registered',
  O: 'registered',
  S: 'registered',
  X: 'cancelled',
};

const OBSERVATION_STATUS: Record<string, string> = {
  F: 'final',
  C: 'corrected',
  D: 'entered-in-error',
  W: 'entered-in-error',
  P: 'preliminary',
  R: 'preliminary',
  S: 'preliminary',
  I: 'registered',
  X: 'cancelled',
};

const INTERPRETATION_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation';
const UCUM = 'http://unitsofmeasure.org';

function quantity(value: number, obx: Hl7Segment): Json {
  const unit = obx.field(6).repetition(0);
  const code = unit.component(1).value.trim();
  const display = unit.component(2).value.trim() || code;
  const system = unit.component(3).value.trim().toUpperCase();
  const q: Json = { value };
  if (display) q['unit'] = display;
  // Lab feeds mostly send UCUM codes without naming the system; a named other system is kept as is.
  if (code && (system === 'UCUM' || system === '')) {
    q['system'] = UCUM;
    q['code'] = code;
  } else if (code) {
    q['system'] = codingSystem(system);
    q['code'] = code;
  }
  return q;
}

function value(obx: Hl7Segment): Json {
  const type = obx.field(2).value.trim().toUpperCase();
  const reps = obx.field(5).repetitions;
  if (reps.length === 0) return {};
  const first = reps[0]!;
  switch (type) {
    case 'NM': {
      const n = hl7Decimal(first.value);
      return n === undefined ? { valueString: first.value } : { valueQuantity: quantity(n, obx) };
    }
    case 'SN': {
      const comparator = first.component(1).value.trim();
      const n1 = hl7Decimal(first.component(2).value);
      const sep = first.component(3).value.trim();
      const n2 = hl7Decimal(first.component(4).value);
      if (n1 !== undefined && (sep === '-' || sep === ':') && n2 !== undefined) {
        if (sep === ':') return { valueRatio: { numerator: { value: n1 }, denominator: { value: n2 } } };
        return { valueRange: { low: quantity(n1, obx), high: quantity(n2, obx) } };
      }
      if (n1 !== undefined) {
        const q = quantity(n1, obx);
        if (['<', '<=', '>', '>='].includes(comparator)) q['comparator'] = comparator;
        return { valueQuantity: q };
      }
      return { valueString: first.raw };
    }
    case 'CE':
    case 'CWE':
    case 'CNE':
      return { valueCodeableConcept: readCwe(first) };
    case 'DT':
    case 'TS':
    case 'DTM': {
      const dt = hl7DateTime(first.value);
      return dt ? { valueDateTime: dt } : { valueString: first.value };
    }
    default:
      // ST, TX, FT and anything else: the text, repetitions as lines.
      return {
        valueString: reps
          .map((r) =>
            r.components
              .map((c) => c.value)
              .join(' ')
              .trim(),
          )
          .join('\n'),
      };
  }
}

function referenceRange(obx: Hl7Segment): Json[] | undefined {
  const text = obx.field(7).value.trim();
  if (!text) return undefined;
  const range = /^\s*([+-]?[\d.,]+)\s*-\s*([+-]?[\d.,]+)\s*$/.exec(text);
  if (range) {
    const low = hl7Decimal(range[1]!);
    const high = hl7Decimal(range[2]!);
    if (low !== undefined && high !== undefined) return [{ low: quantity(low, obx), high: quantity(high, obx) }];
  }
  const bound = /^\s*([<>])=?\s*([+-]?[\d.,]+)\s*$/.exec(text);
  if (bound) {
    const n = hl7Decimal(bound[2]!);
    if (n !== undefined) return [bound[1] === '<' ? { high: quantity(n, obx) } : { low: quantity(n, obx) }];
  }
  return [{ text }];
}

function interpretation(obx: Hl7Segment): Json[] | undefined {
  const codes = obx
    .field(8)
    .repetitions.map((r) => r.value.trim())
    .filter(Boolean);
  if (!codes.length) return undefined;
  return codes.map((code) => ({ coding: [{ system: INTERPRETATION_SYSTEM, code }] }));
}

/** The OBR's report identifier: filler order number (OBR-3, else ORC-3), else placer (OBR-2, ORC-2). */
function reportIdentifier(obr: Hl7Segment, orc: Hl7Segment | undefined): BusinessIdentifier | undefined {
  for (const f of [obr.field(3), orc?.field(3), obr.field(2), orc?.field(2)]) {
    const ei = f ? readEi(f.repetition(0)) : undefined;
    if (ei) return ei;
  }
  return undefined;
}

/**
 * Reads every OBR group of an ORU. `fallbackId` identifies a report whose OBR has no order number (message
 * control id + sender); each group then gets `<fallbackId>-<OBR-1>`.
 */
export function readResults(msg: Hl7Message, fallbackId: BusinessIdentifier): ReportFacts[] {
  const reports: ReportFacts[] = [];
  let orc: Hl7Segment | undefined;
  let current: { obr: Hl7Segment; orc: Hl7Segment | undefined; obxs: Hl7Segment[] } | undefined;
  const groups: NonNullable<typeof current>[] = [];
  for (const seg of msg.segments) {
    if (seg.name === 'ORC') orc = seg;
    else if (seg.name === 'OBR') {
      current = { obr: seg, orc, obxs: [] };
      groups.push(current);
    } else if (seg.name === 'OBX' && current) current.obxs.push(seg);
  }
  for (const [index, g] of groups.entries()) {
    const identifier = reportIdentifier(g.obr, g.orc) ?? {
      system: fallbackId.system,
      value: `${fallbackId.value}-${g.obr.field(1).value.trim() || index + 1}`,
    };
    const orderControl = g.orc?.field(1).value.trim().toUpperCase();
    const status =
      orderControl === 'CA' || orderControl === 'OC'
        ? 'cancelled'
        : (REPORT_STATUS[g.obr.field(25).value.trim().toUpperCase()] ?? 'final');
    const effective = hl7DateTime(g.obr.field(7).value) ?? hl7DateTime(msg.get('MSH')?.field(7).value ?? '');
    const resource: Json = {
      resourceType: 'DiagnosticReport',
      identifier: [{ system: identifier.system, value: identifier.value }],
      status,
      category: [
        {
          coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0074', code: 'LAB', display: 'Laboratory' }],
        },
      ],
      code: readCwe(g.obr.field(4).repetition(0)),
    };
    if (effective) resource['effectiveDateTime'] = effective;
    const issued = hl7DateTime(g.obr.field(22).value);
    if (issued && issued.length > 10) resource['issued'] = issued;

    const observations: ObservationFacts[] = [];
    const contents: EmbeddedContent[] = [];
    const seen = new Map<string, number>();
    for (const obx of g.obxs) {
      if (isInstruction(obx)) continue;
      const ed = readEmbeddedContent(obx);
      if (ed) {
        contents.push(ed);
        continue;
      }
      const code = obx.field(3).repetition(0).component(1).value.trim();
      const sub = obx.field(4).value.trim();
      let key = `${identifier.value}/${code}${sub ? `/${sub}` : ''}`;
      const dup = seen.get(key) ?? 0;
      seen.set(key, dup + 1);
      if (dup) key = `${key}#${obx.field(1).value.trim() || dup + 1}`;
      const obs: Json = {
        resourceType: 'Observation',
        identifier: [{ system: identifier.system, value: key }],
        status: OBSERVATION_STATUS[obx.field(11).value.trim().toUpperCase()] ?? 'final',
        category: [
          {
            coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }],
          },
        ],
        code: readCwe(obx.field(3).repetition(0)),
        ...value(obx),
      };
      const when = hl7DateTime(obx.field(14).value) ?? effective;
      if (when) obs['effectiveDateTime'] = when;
      const range = referenceRange(obx);
      if (range) obs['referenceRange'] = range;
      const interp = interpretation(obx);
      if (interp) obs['interpretation'] = interp;
      observations.push({ identifier: { system: identifier.system, value: key }, resource: obs });
    }

    const instructions = readInstructions(g.obxs);
    const documents: DocumentFacts[] = contents.map((c, n) => {
      const header = readCdaHeader(c);
      const deleted = c.status === 'D' || status === 'cancelled';
      const replaced = c.status === 'C' || orderControl === 'RO';
      return {
        // A CDA names itself; a document without a readable header is the n-th document of its report.
        identifier: header?.id ?? { system: identifier.system, value: `${identifier.value}/document/${n + 1}` },
        action: deleted ? 'delete' : replaced && header?.replaces ? 'replace' : 'upsert',
        replaces: header?.replaces,
        type: documentType(c.code.code, c.code.display, c.code.system),
        date: effective,
        docStatus: c.status === 'P' ? 'preliminary' : 'final',
        contents: [c],
        instructions,
      };
    });
    reports.push({ identifier, resource, observations, documents });
  }
  return reports;
}
