/**
 * The CI-SIS header shared by every document PFI produces (structuration minimale, french-interop.md §3.1), in the
 * order of the CDA schema: realmCode … componentOf. The volet-specific parts (authenticator, documentationOf) are
 * given by the caller.
 */

import type { Resource } from '../fhir/types.js';
import { CONFIDENTIALITY, ENCOUNTER_TYPE, OID, TEMPLATE } from './codes.js';
import { CdaInputError } from './errors.js';
import { cdaIdOf, list, obj, str } from './fhir.js';
import type { CdaOrganisation } from './organisation.js';
import { addr, assignedPerson, type CdaPerson, ce, custodian, ii, organisationAddress } from './parties.js';
import { recordTarget } from './patient.js';
import { cdaDateTime, cdaTimestamp } from './time.js';
import type { CdaCode, CdaDocumentIds } from './types.js';
import { type XmlElement, xmlText } from './xml.js';

const OID_OR_UUID =
  /^([0-2](\.(0|[1-9]\d*))+|[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})$/;

/** Checks the ids the caller numbers the document with (roots OID/UUID, positive version, valid date). */
export function checkDocumentIds(ids: CdaDocumentIds): void {
  const ok =
    OID_OR_UUID.test(ids.id.root) &&
    OID_OR_UUID.test(ids.setId.root) &&
    Number.isInteger(ids.versionNumber) &&
    ids.versionNumber > 0 &&
    ids.effectiveTime instanceof Date &&
    !Number.isNaN(ids.effectiveTime.getTime());
  if (!ok)
    throw new CdaInputError(
      'document ids: roots must be OIDs or UUIDs, version a positive integer',
      'bad-document-ids',
    );
}

export interface HeaderInput {
  templateIds: string[];
  document: CdaDocumentIds;
  code: CdaCode;
  title: string;
  confidentiality: 'N' | 'R' | 'V';
  patient: Resource;
  organisation: CdaOrganisation;
  /** The author, also the legal authenticator (a document PFI produces is signed by the professional it names). */
  author: CdaPerson;
  /** When the author wrote / the legal authenticator signed (CDA TS). */
  authorTime: string;
  authenticators?: XmlElement[];
  documentationOf: XmlElement[];
  componentOf: XmlElement;
}

/** The header elements, in schema order, to spread into `ClinicalDocument` before its `component`. */
export function header(h: HeaderInput): XmlElement {
  const org = h.organisation;
  const el: XmlElement = {
    '@_xmlns': 'urn:hl7-org:v3',
    '@_xmlns:xsi': 'http://www.w3.org/2001/XMLSchema-instance',
    realmCode: { '@_code': 'FR' },
    typeId: { '@_root': '2.16.840.1.113883.1.3', '@_extension': 'POCD_HD000040' },
    templateId: h.templateIds.map((root) => ({ '@_root': root })),
    id: ii(h.document.id),
    code: ce(h.code),
    title: xmlText(h.title),
    effectiveTime: { '@_value': cdaTimestamp(h.document.effectiveTime) },
    confidentialityCode: ce(CONFIDENTIALITY[h.confidentiality]),
    languageCode: { '@_code': 'fr-FR' },
    setId: ii(h.document.setId),
    versionNumber: { '@_value': String(h.document.versionNumber) },
    recordTarget: recordTarget(h.patient),
    author: {
      time: { '@_value': h.authorTime },
      assignedAuthor: assignedPerson(h.author, org),
    },
    custodian: custodian(org),
    legalAuthenticator: {
      time: { '@_value': h.authorTime },
      signatureCode: { '@_code': 'S' },
      assignedEntity: assignedPerson(h.author, org, { practiceSetting: true }),
    },
  };
  if (h.authenticators?.length) el['authenticator'] = h.authenticators;
  el['documentationOf'] = h.documentationOf;
  el['componentOf'] = h.componentOf;
  return el;
}

export const HEADER_TEMPLATES = [TEMPLATE.hl7France, TEMPLATE.ciSis] as const;

/** documentationOf/serviceEvent: the act the document reports, with its performer and practice setting. */
export function serviceEvent(opts: {
  code?: CdaCode;
  id?: XmlElement;
  low: string;
  high?: string;
  performer: CdaPerson;
  organisation: CdaOrganisation;
  performerTemplate?: string;
  performerTime?: string;
}): XmlElement {
  const event: XmlElement = {};
  if (opts.id) event['id'] = opts.id;
  if (opts.code) event['code'] = ce(opts.code);
  event['effectiveTime'] = { low: { '@_value': opts.low }, ...(opts.high ? { high: { '@_value': opts.high } } : {}) };
  const performer: XmlElement = { '@_typeCode': 'PRF' };
  if (opts.performerTemplate) performer['templateId'] = { '@_root': opts.performerTemplate };
  if (opts.performerTime) performer['time'] = { high: { '@_value': opts.performerTime } };
  performer['assignedEntity'] = assignedPerson(opts.performer, opts.organisation, { practiceSetting: true });
  event['performer'] = performer;
  return { serviceEvent: event };
}

/** The encounter's period as CDA times (low, high), when the Encounter has a start. */
export function encounterPeriod(encounter: Resource | undefined): { low: string; high?: string } | undefined {
  const period = obj(encounter?.['period']);
  const low = cdaDateTime(period?.['start']);
  if (!low) return undefined;
  const high = cdaDateTime(period?.['end']);
  return high && high >= low ? { low, high } : { low };
}

/** componentOf/encompassingEncounter: the stay (id, type, period), a responsible party, the facility. */
export function encompassingEncounter(opts: {
  encounter?: Resource;
  organisation: CdaOrganisation;
  /** When the encounter has no period: the time of the act the document reports. */
  fallbackLow: string;
  responsibleParty?: CdaPerson;
}): XmlElement {
  const { encounter, organisation: org } = opts;
  const enc: XmlElement = {};
  const visit = list(encounter?.['identifier'])
    .map(cdaIdOf)
    .find((i) => i !== undefined);
  if (visit) enc['id'] = ii(visit);
  const klass = str(obj(encounter?.['class'])?.['code']);
  const type = klass ? ENCOUNTER_TYPE[klass] : undefined;
  if (type) enc['code'] = ce(type);
  const period = encounterPeriod(encounter) ?? { low: opts.fallbackLow };
  enc['effectiveTime'] = {
    low: { '@_value': period.low },
    ...(period.high ? { high: { '@_value': period.high } } : {}),
  };
  if (opts.responsibleParty) {
    enc['responsibleParty'] = { assignedEntity: assignedPerson(opts.responsibleParty, org) };
  }
  enc['location'] = {
    healthCareFacility: {
      id: ii({ root: OID.idNatStruct, extension: org.idNatStruct }),
      code: ce(org.facilityType),
      location: { name: xmlText(org.name), addr: addr(organisationAddress(org)) },
    },
  };
  return { encompassingEncounter: enc };
}
