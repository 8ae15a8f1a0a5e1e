/**
 * The structured body of a CR-BIO: one lab specialty section (FR-CR-BIO-Chapitre) holding one report item section
 * (FR-CR-BIO-Sous-Chapitre) per DiagnosticReport, with its narrative table and its entry
 * (FR-Resultats-examens-de-biologie-medicale: an act whose results are observations, panels BATTERY organizers).
 */

import { OID, TEMPLATE } from './codes.js';
import { ce } from './parties.js';
import { type LabResult, type Quantity, rangeText, unitText, valueText } from './results.js';
import type { CdaCode } from './types.js';
import { type XmlElement, xmlText } from './xml.js';

export interface ReportItem {
  /** The report's code (OBR-4) when it is LOINC, else the chapter code is used. */
  code: CdaCode | undefined;
  label: string;
  status: 'completed' | 'active' | 'aborted';
  results: LabResult[];
}

const templates = (...roots: string[]) => roots.map((root) => ({ '@_root': root }));

/** Narrative ids (`content/@ID`) referenced by the entries' originalText: unique in the document. */
class Ids {
  private n = 0;
  next(): string {
    this.n++;
    return `res-${this.n}`;
  }
}

function pq(q: Quantity, extra?: XmlElement): XmlElement {
  const el: XmlElement = { '@_value': q.value };
  if (q.ucum) el['@_unit'] = xmlText(q.ucum);
  return extra ? { ...el, ...extra } : el;
}

const hasForeignUnit = (q: Quantity | undefined) => q !== undefined && q.ucum === undefined && q.label !== undefined;

function valueEl(r: LabResult): XmlElement | undefined {
  const v = r.value;
  if (!v) return undefined;
  switch (v.kind) {
    case 'quantity': {
      const q = v.quantity;
      // A unit that is not UCUM cannot go in PQ/@unit: the value is sent as text, as the reader sees it.
      if (hasForeignUnit(q)) return { '@_xsi:type': 'ST', '#text': xmlText(`${valueText(r)} ${q.label}`) };
      if (!q.comparator) return pq(q, { '@_xsi:type': 'PQ' });
      const inclusive = q.comparator.length === 2 ? 'true' : 'false';
      const bound = pq(q, { '@_inclusive': inclusive });
      return { '@_xsi:type': 'IVL_PQ', ...(q.comparator.startsWith('<') ? { high: bound } : { low: bound }) };
    }
    case 'range':
      if (hasForeignUnit(v.low) || hasForeignUnit(v.high)) {
        return { '@_xsi:type': 'ST', '#text': xmlText(`${valueText(r)} ${unitText(r)}`) };
      }
      return { '@_xsi:type': 'IVL_PQ', ...(v.low ? { low: pq(v.low) } : {}), ...(v.high ? { high: pq(v.high) } : {}) };
    case 'ratio':
      return { '@_xsi:type': 'RTO_PQ_PQ', numerator: pq(v.numerator), denominator: pq(v.denominator) };
    case 'coded': {
      const [first, ...others] = v.codes;
      const text = v.text ? { originalText: xmlText(v.text) } : {};
      if (!first) return { '@_xsi:type': 'CD', '@_nullFlavor': 'OTH', ...text };
      const translation = others.length ? { translation: others.map((c) => ce(c)) } : {};
      return ce(first, { '@_xsi:type': 'CD', ...text, ...translation });
    }
    case 'text':
      return { '@_xsi:type': 'ST', '#text': xmlText(v.text) };
    case 'boolean':
      return { '@_xsi:type': 'BL', '@_value': String(v.value) };
    case 'dateTime':
      return { '@_xsi:type': 'TS', '@_value': v.value };
  }
}

/**
 * The code of a result or panel: LOINC (with its displayName, required by CR-BIO), the other codes as
 * translations; without LOINC, nullFlavor OTH and the narrative label (a local code carries no LOINC attributes).
 */
function codeEl(codes: CdaCode[], label: string, ref: string): XmlElement {
  const [first, ...others] = codes;
  const originalText = { reference: { '@_value': `#${ref}` } };
  const named = (c: CdaCode): CdaCode => (c.displayName ? c : { ...c, displayName: label });
  if (first?.codeSystem === OID.loinc) {
    const translation = others.length ? { translation: others.map((c) => ce(named(c))) } : {};
    return ce(named(first), { originalText, ...translation });
  }
  const translation = codes.length ? { translation: codes.map((c) => ce(named(c))) } : {};
  return { '@_nullFlavor': 'OTH', originalText, ...translation };
}

function rangeEl(r: LabResult): XmlElement | undefined {
  const range = r.range;
  if (!range) return undefined;
  const coded = (range.low || range.high) && !hasForeignUnit(range.low) && !hasForeignUnit(range.high);
  const observationRange: XmlElement = { '@_classCode': 'OBS', '@_moodCode': 'EVN.CRT' };
  if (coded) {
    observationRange['value'] = {
      '@_xsi:type': 'IVL_PQ',
      ...(range.low ? { low: pq(range.low) } : {}),
      ...(range.high ? { high: pq(range.high) } : {}),
    };
  } else {
    observationRange['text'] = xmlText(range.text ?? `${rangeText(r)} ${unitText(r)}`.trim());
  }
  observationRange['interpretationCode'] = {
    '@_code': 'N',
    '@_displayName': 'Normal',
    '@_codeSystem': OID.interpretation,
  };
  return { '@_typeCode': 'REFV', observationRange };
}

interface Rendered {
  rows: XmlElement[];
  relationship: XmlElement;
}

function observationEl(r: LabResult, ref: string): XmlElement {
  const el: XmlElement = {
    '@_classCode': 'OBS',
    '@_moodCode': 'EVN',
    templateId: templates(TEMPLATE.labObservation, TEMPLATE.frLabObservation),
    code: codeEl(r.codes, r.label, ref),
    statusCode: { '@_code': r.status },
  };
  if (r.effectiveTime) el['effectiveTime'] = { '@_value': r.effectiveTime };
  const value = valueEl(r);
  if (value) el['value'] = value;
  if (r.interpretation) el['interpretationCode'] = ce(r.interpretation);
  const range = rangeEl(r);
  if (range) el['referenceRange'] = range;
  return el;
}

const cell = (text: string): XmlElement => (text ? { '#text': xmlText(text) } : {});

function row(r: LabResult, ref: string, indent: boolean): XmlElement {
  const label = { '@_ID': ref, '#text': xmlText(indent ? `\u00a0\u00a0${r.label}` : r.label) };
  return {
    td: [
      { content: label },
      cell(valueText(r)),
      cell(unitText(r)),
      cell(rangeText(r)),
      cell(r.interpretation?.displayName ?? ''),
    ],
  };
}

/** A result as narrative rows and the CDA element that codes it (observation, or organizer for a panel). */
function render(
  r: LabResult,
  ids: Ids,
  depth: number,
): { rows: XmlElement[]; el: XmlElement; kind: 'observation' | 'organizer' } {
  const ref = ids.next();
  if (!r.members.length) return { rows: [row(r, ref, depth > 0)], el: observationEl(r, ref), kind: 'observation' };
  const rows: XmlElement[] = [
    { td: [{ content: { '@_ID': ref, '@_styleCode': 'Bold', '#text': xmlText(r.label) } }, {}, {}, {}, {}] },
  ];
  const components: XmlElement[] = [];
  for (const m of r.members) {
    const child = render(m, ids, depth + 1);
    rows.push(...child.rows);
    components.push({ [child.kind]: child.el });
  }
  const organizer: XmlElement = {
    '@_classCode': 'BATTERY',
    '@_moodCode': 'EVN',
    templateId: templates(TEMPLATE.batteryOrganizer, TEMPLATE.frBattery),
    code: codeEl(r.codes, r.label, ref),
    statusCode: { '@_code': r.status },
  };
  if (r.effectiveTime) organizer['effectiveTime'] = { '@_value': r.effectiveTime };
  organizer['component'] = components;
  return { rows, el: organizer, kind: 'organizer' };
}

function resultRelationship(r: LabResult, ids: Ids): Rendered {
  const { rows, el, kind } = render(r, ids, 0);
  return { rows, relationship: { '@_typeCode': 'COMP', [kind]: el } };
}

const HEADINGS = ['Examen', 'Résultat', 'Unité', 'Valeurs de référence', 'Interprétation'];

function reportItemSection(item: ReportItem, specialty: CdaCode, ids: Ids): XmlElement {
  const rendered = item.results.map((r) => resultRelationship(r, ids));
  const code = ce(item.code ?? specialty);
  return {
    section: {
      templateId: templates(TEMPLATE.reportItemSection, TEMPLATE.frSubChapter),
      code,
      title: xmlText(item.label),
      text: {
        table: {
          '@_border': '1',
          thead: { tr: { th: HEADINGS.map((h) => ({ '#text': h })) } },
          tbody: { tr: rendered.flatMap((x) => x.rows) },
        },
      },
      entry: {
        '@_typeCode': 'DRIV',
        templateId: templates(TEMPLATE.dataProcessingEntry, TEMPLATE.frResultsEntry),
        act: {
          '@_classCode': 'ACT',
          '@_moodCode': 'EVN',
          code,
          statusCode: { '@_code': item.status },
          entryRelationship: rendered.map((x) => x.relationship),
        },
      },
    },
  };
}

/** The lab specialty section (chapter) with one report item section per report. */
export function specialtySection(specialty: CdaCode, items: ReportItem[]): XmlElement {
  const ids = new Ids();
  return {
    section: {
      templateId: templates(TEMPLATE.specialtySection, TEMPLATE.frChapter),
      code: ce(specialty),
      title: xmlText(specialty.displayName ?? specialty.code),
      component: items.map((item) => reportItemSection(item, specialty, ids)),
    },
  };
}
