/**
 * The CR-BIO lab report (model BIO-CR-BIO 2024.01) from a DiagnosticReport and its Observations: CI-SIS header with
 * the CR-BIO parts (authenticator, lab performer, responsible biologist) and a structured body (lab specialty
 * section, result entries, PDF copy section).
 */

import type { Resource } from '../fhir/types.js';
import {
  CR_BIO_CODE,
  CR_BIO_TITLE,
  DEFAULT_SPECIALTY,
  OID,
  SPECIALTY_BY_SECTION,
  SPECIALTY_CODES,
  TEMPLATE,
} from './codes.js';
import { type ReportItem, specialtySection } from './cr-bio-body.js';
import { CdaInputError } from './errors.js';
import { cdaCodings, cdaIdOf, conceptLabel, list, obj, str } from './fhir.js';
import {
  checkDocumentIds,
  encompassingEncounter,
  encounterPeriod,
  HEADER_TEMPLATES,
  header,
  serviceEvent,
} from './header.js';
import type { CdaOrganisation } from './organisation.js';
import { assignedPerson, type CdaPerson, ii } from './parties.js';
import { ippOf } from './patient.js';
import { type ResultsPdfInput, type ResultsPdfRow, renderResultsPdf } from './pdf.js';
import { pdfCopySection } from './pdf-copy.js';
import { validatingBiologist } from './people.js';
import { type LabResult, rangeText, readResults, unitText, valueText } from './results.js';
import { cdaDateTime, cdaTimestamp, instantOf } from './time.js';
import type { CdaCode, CdaDocumentIds } from './types.js';
import { renderXml, type XmlElement } from './xml.js';

export type { CdaDocumentIds } from './types.js';

export interface CrBioInput {
  /** DiagnosticReport (as PFI stores it). */
  report: Resource;
  /** The Observations of report.result (may include hasMember panels). */
  observations: Resource[];
  patient: Resource;
  encounter?: Resource;
  /** Practitioners referenced by the report/observations (performer, resultsInterpreter), when known. */
  practitioners?: Resource[];
  organisation: CdaOrganisation;
  document: CdaDocumentIds;
  /** Include the PDF-copy section (default true). */
  pdf?: boolean;
  /** Confidentiality (default N). */
  confidentiality?: 'N' | 'R' | 'V';
  /** The lab specialty (chapter) of the report, when the caller knows better than the report's category. */
  specialty?: CdaCode;
}

const V2_0074 = 'http://terminology.hl7.org/CodeSystem/v2-0074';
const COMPLETED = new Set(['final', 'amended', 'corrected', 'appended']);

/** The chapter: the report's code when it is one, else its diagnostic service section, else "laboratory studies". */
function specialtyOf(report: Resource): CdaCode {
  const loinc = cdaCodings(report['code']).find((c) => c.codeSystem === OID.loinc && SPECIALTY_CODES.has(c.code));
  if (loinc) return loinc;
  for (const category of list(report['category'])) {
    for (const coding of list(category['coding'])) {
      const section = coding['system'] === V2_0074 ? str(coding['code']) : undefined;
      const chapter = section ? SPECIALTY_BY_SECTION[section.toUpperCase()] : undefined;
      if (chapter) return chapter;
    }
  }
  return DEFAULT_SPECIALTY;
}

function reportItem(report: Resource, results: LabResult[]): ReportItem {
  const status = str(report['status']) ?? '';
  const allAborted = results.every((r) => r.status === 'aborted');
  return {
    code: cdaCodings(report['code']).find((c) => c.codeSystem === OID.loinc),
    label: conceptLabel(report['code']) ?? 'Résultats',
    status: status === 'cancelled' || allAborted ? 'aborted' : COMPLETED.has(status) ? 'completed' : 'active',
    results,
  };
}

interface Times {
  /** Document, author and legal authentication time: when the results were released. */
  released: string;
  /** The act: from specimen (report effective time) to release. */
  low: string;
  high: string;
}

function timesOf(report: Resource, document: CdaDocumentIds): Times {
  const created = cdaTimestamp(document.effectiveTime);
  const issued = instantOf(report['issued']);
  const released = issued ? cdaTimestamp(issued) : created;
  const low =
    cdaDateTime(report['effectiveDateTime']) ?? cdaDateTime(obj(report['effectivePeriod'])?.['start']) ?? released;
  const comparable = (t: string) => t.length >= 14;
  return { released, low, high: comparable(low) && low > released ? low : released };
}

function authenticator(biologist: CdaPerson, org: CdaOrganisation, time: string): XmlElement {
  return {
    templateId: { '@_root': TEMPLATE.labAuthenticator },
    time: { '@_value': time },
    signatureCode: { '@_code': 'S' },
    assignedEntity: assignedPerson(biologist, org),
  };
}

function pdfRows(results: LabResult[], member = false): ResultsPdfRow[] {
  return results.flatMap((r): ResultsPdfRow[] => {
    if (r.members.length) {
      return [
        { name: r.label, value: '', unit: '', range: '', flag: '', kind: 'heading' },
        ...pdfRows(r.members, true),
      ];
    }
    const flag = r.interpretation?.displayName ?? '';
    const row: ResultsPdfRow = { name: r.label, value: valueText(r), unit: unitText(r), range: rangeText(r), flag };
    if (r.interpretation && r.interpretation.code !== 'N') row.abnormal = true;
    if (member) row.kind = 'member';
    return [row];
  });
}

function patientLabel(patient: Resource): string {
  const names = list(patient['name']);
  const n = names.find((x) => x['use'] === 'usual') ?? names.find((x) => x['use'] === 'official') ?? names[0];
  const given = Array.isArray(n?.['given']) ? (n['given'] as unknown[]).map(str).filter(Boolean).join(' ') : '';
  return [str(n?.['family'])?.toUpperCase(), given].filter(Boolean).join(' ');
}

function frenchDate(date: unknown): string | undefined {
  const m = typeof date === 'string' ? /^(\d{4})-(\d{2})-(\d{2})/.exec(date) : null;
  return m ? `${m[3]}/${m[2]}/${m[1]}` : undefined;
}

/** What the PDF copy shows, from the same results as the CDA body. */
export function resultsPdfInput(
  input: Pick<CrBioInput, 'patient' | 'organisation' | 'document'>,
  items: { title: string; results: LabResult[] }[],
  biologist: CdaPerson | undefined,
  reportDate: Date,
): ResultsPdfInput {
  const org = input.organisation;
  const lines = [
    ...(org.address?.lines ?? []),
    [org.address?.postalCode, org.address?.city].filter(Boolean).join(' '),
    org.telecom?.replace(/^tel:/, 'Tél. ') ?? '',
  ].filter(Boolean);
  const ipp = ippOf(input.patient)?.extension;
  const birthDate = frenchDate(input.patient['birthDate']);
  const pdf: ResultsPdfInput = {
    title: CR_BIO_TITLE,
    laboratory: { name: org.name, lines },
    patient: { name: patientLabel(input.patient), ...(birthDate ? { birthDate } : {}), ...(ipp ? { ipp } : {}) },
    reportDate,
    sections: items.map((i) => ({ title: i.title, rows: pdfRows(i.results) })),
  };
  if (biologist) pdf.validatedBy = [...biologist.name.given, biologist.name.family].filter(Boolean).join(' ');
  return pdf;
}

/**
 * Builds the CR-BIO (UTF-8 XML text with its declaration). Throws {@link CdaInputError} when the report has no
 * released result, no biologist with an idNat is known (report, observations, organisation), or the patient has
 * no usable identifier.
 *
 * @example
 * const xml = await buildCrBio({ report, observations, patient, organisation: EXAMPLE_CDA_ORGANISATION,
 *   document: { id, setId: id, versionNumber: 1, effectiveTime: new Date() } });
 */
export async function buildCrBio(input: CrBioInput): Promise<string> {
  checkDocumentIds(input.document);
  const org = input.organisation;
  const results = readResults(input.report, input.observations);
  if (!results.length) throw new CdaInputError('the report has no released result', 'no-result');
  const biologist = validatingBiologist(input.report, input.observations, input.practitioners ?? [], org);
  if (!biologist)
    throw new CdaInputError('no biologist with an idNat (report, observations or configuration)', 'no-author');

  const specialty = input.specialty ?? specialtyOf(input.report);
  const item = reportItem(input.report, results);
  const times = timesOf(input.report, input.document);
  const reportId = list(input.report['identifier'])
    .map(cdaIdOf)
    .find((i) => i !== undefined);
  const components: XmlElement[] = [specialtySection(specialty, [item])];
  if (input.pdf !== false) {
    const issued = instantOf(input.report['issued']) ?? input.document.effectiveTime;
    const pdf = await renderResultsPdf(
      resultsPdfInput(input, [{ title: `${specialty.displayName ?? ''} - ${item.label}`, results }], biologist, issued),
    );
    components.push(pdfCopySection(pdf, input.document.id));
  }

  const doc = {
    ClinicalDocument: {
      ...header({
        templateIds: [...HEADER_TEMPLATES, TEMPLATE.xdLab, TEMPLATE.crBio],
        document: input.document,
        code: CR_BIO_CODE,
        title: CR_BIO_TITLE,
        confidentiality: input.confidentiality ?? 'N',
        patient: input.patient,
        organisation: org,
        author: biologist,
        authorTime: times.released,
        authenticators: [authenticator(biologist, org, times.released)],
        documentationOf: [
          serviceEvent({
            ...(reportId ? { id: ii(reportId) } : {}),
            code: specialty,
            low: times.low,
            high: times.high,
            performer: biologist,
            organisation: org,
            performerTemplate: TEMPLATE.labPerformer,
            performerTime: times.released,
          }),
        ],
        componentOf: encompassingEncounter({
          encounter: input.encounter,
          organisation: org,
          fallbackLow: encounterPeriod(input.encounter)?.low ?? times.low,
          responsibleParty: biologist,
        }),
      }),
      component: { structuredBody: { component: components } },
    },
  };
  return renderXml(doc);
}
