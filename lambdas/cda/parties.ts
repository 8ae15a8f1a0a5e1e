/**
 * CDA building blocks for the parties of a document: ids, codes, addresses, telecoms, names, the organisation and
 * the professionals (author, authenticators, performer, responsible party).
 */

import { OID } from './codes.js';
import { type Json, list, obj, type PersonName, personName, str } from './fhir.js';
import type { CdaOrganisation } from './organisation.js';
import type { CdaAddress, CdaCode, CdaId } from './types.js';
import { type XmlElement, xmlText } from './xml.js';

export function ii(id: CdaId): XmlElement {
  const el: XmlElement = { '@_root': id.root };
  if (id.extension !== undefined) el['@_extension'] = xmlText(id.extension);
  return el;
}

export function ce(c: CdaCode, extra?: XmlElement): XmlElement {
  const el: XmlElement = { '@_code': xmlText(c.code) };
  if (c.displayName) el['@_displayName'] = xmlText(c.displayName);
  el['@_codeSystem'] = c.codeSystem;
  if (c.codeSystemName) el['@_codeSystemName'] = xmlText(c.codeSystemName);
  return extra ? { ...el, ...extra } : el;
}

export const UNKNOWN: XmlElement = { '@_nullFlavor': 'UNK' };

export function ts(value: string): XmlElement {
  return { '@_value': value };
}

/**
 * A CDA address. Free address lines cannot be mixed with structured parts (structuration minimale: an addr is
 * either streetAddressLine only or structured parts only), so with lines the postal code, city and country follow
 * as lines, as the ANS examples write them; without lines the parts stay structured.
 */
export function addr(a: CdaAddress | undefined, use?: string): XmlElement {
  if (!a || (!a.lines.length && !a.postalCode && !a.city)) return UNKNOWN;
  const el: XmlElement = {};
  if (use) el['@_use'] = use;
  if (a.lines.length) {
    const town = [a.postalCode, a.city].filter(Boolean).join(' ');
    el['streetAddressLine'] = [...a.lines, town, a.country ?? ''].filter(Boolean).map(xmlText);
    return el;
  }
  if (a.postalCode) el['postalCode'] = xmlText(a.postalCode);
  if (a.city) el['city'] = xmlText(a.city);
  if (a.country) el['country'] = xmlText(a.country);
  return el;
}

const ADDRESS_USE: Record<string, string> = { home: 'H', work: 'WP', temp: 'TMP', old: 'OLD' };

/** A FHIR Address as a CDA address (`use` mapped), undefined when empty. */
export function fhirAddress(address: Json | undefined): { address: CdaAddress; use?: string } | undefined {
  if (!address) return undefined;
  const lines = (Array.isArray(address['line']) ? address['line'] : []).map(str).filter((s): s is string => !!s);
  const a: CdaAddress = { lines };
  const postalCode = str(address['postalCode']);
  const city = str(address['city']);
  const country = str(address['country']);
  if (postalCode) a.postalCode = postalCode;
  if (city) a.city = city;
  if (country) a.country = country;
  if (!lines.length && !postalCode && !city) return undefined;
  const use = ADDRESS_USE[str(address['use']) ?? ''];
  return use ? { address: a, use } : { address: a };
}

const TELECOM_USE: Record<string, string> = { home: 'H', work: 'WP', mobile: 'MC', temp: 'TMP', old: 'BAD' };
const TELECOM_SCHEME: Record<string, string> = { phone: 'tel:', fax: 'fax:', email: 'mailto:', url: '' };

/** FHIR ContactPoints as CDA telecoms (`tel:`, `fax:`, `mailto:` URLs). */
export function fhirTelecoms(points: unknown): XmlElement[] {
  const out: XmlElement[] = [];
  for (const p of list(points)) {
    const value = str(p['value']);
    const scheme = TELECOM_SCHEME[str(p['system']) ?? 'phone'];
    if (!value || scheme === undefined) continue;
    const url =
      scheme === 'tel:' || scheme === 'fax:' ? `${scheme}${value.replace(/[\s.]/g, '')}` : `${scheme}${value}`;
    const el: XmlElement = { '@_value': xmlText(url) };
    const use = TELECOM_USE[str(p['use']) ?? ''];
    if (use) el['@_use'] = use;
    out.push(el);
  }
  return out;
}

export function telecom(url: string | undefined, use = 'WP'): XmlElement {
  return url ? { '@_value': xmlText(url), '@_use': use } : UNKNOWN;
}

/** A professional's name (PN): prefix, given, family, suffix. */
export function personNameEl(name: PersonName): XmlElement {
  const el: XmlElement = {};
  if (name.prefix.length) el['prefix'] = name.prefix.map(xmlText);
  if (name.given.length) el['given'] = name.given.map(xmlText);
  if (name.family) el['family'] = xmlText(name.family);
  if (name.suffix.length) el['suffix'] = name.suffix.map(xmlText);
  return el;
}

/** A professional as the header needs them (author, authenticators, performer, responsible party). */
export interface CdaPerson {
  /** idNat_PS (OID 1.2.250.1.71.4.2.1). */
  idNat: string;
  name: PersonName;
  /** Profession/specialty (JDV_J01); unknown → nullFlavor, never guessed. */
  specialty?: CdaCode;
  address?: CdaAddress;
  telecoms: XmlElement[];
}

/** The organisation's address, as a CDA address. */
export function organisationAddress(org: CdaOrganisation): CdaAddress | undefined {
  return org.address
    ? { lines: org.address.lines, postalCode: org.address.postalCode, city: org.address.city }
    : undefined;
}

/** Organization (representedOrganization, scopingOrganization): id, name, telecom, addr, practice setting. */
export function organisationEl(org: CdaOrganisation, withPracticeSetting: boolean): XmlElement {
  const el: XmlElement = {
    id: ii({ root: OID.idNatStruct, extension: org.idNatStruct }),
    name: xmlText(org.name),
    telecom: telecom(org.telecom),
    addr: addr(organisationAddress(org)),
  };
  if (withPracticeSetting) el['standardIndustryClassCode'] = ce(org.practiceSetting);
  return el;
}

/** AssignedEntity / AssignedAuthor of a person: id, code, addr, telecom, person, organisation. */
export function assignedPerson(
  person: CdaPerson,
  org: CdaOrganisation,
  opts: { organisation?: boolean; practiceSetting?: boolean } = {},
): XmlElement {
  const el: XmlElement = {
    id: ii({ root: OID.idNatPs, extension: person.idNat }),
    code: person.specialty ? ce(person.specialty) : UNKNOWN,
    addr: addr(person.address ?? organisationAddress(org)),
    telecom: person.telecoms.length ? person.telecoms : telecom(org.telecom),
    assignedPerson: { name: personNameEl(person.name) },
  };
  if (opts.organisation !== false) el['representedOrganization'] = organisationEl(org, opts.practiceSetting ?? false);
  return el;
}

/** The custodian: the platform organisation keeps the documents it produces. */
export function custodian(org: CdaOrganisation): XmlElement {
  return {
    assignedCustodian: {
      representedCustodianOrganization: {
        id: ii({ root: OID.idNatStruct, extension: org.idNatStruct }),
        name: xmlText(org.name),
        telecom: telecom(org.telecom),
        addr: addr(organisationAddress(org)),
      },
    },
  };
}

/** Reads the FHIR facts of a Practitioner usable in a header (the idNat is resolved by the caller). */
export function practitionerPerson(practitioner: Json, idNat: string): CdaPerson {
  const names = list(practitioner['name']);
  const official = names.find((n) => n['use'] === 'official') ?? names.find((n) => n['use'] !== 'old') ?? names[0];
  const address = list(practitioner['address']).find((a) => a['use'] === 'work') ?? list(practitioner['address'])[0];
  const person: CdaPerson = { idNat, name: personName(official), telecoms: fhirTelecoms(practitioner['telecom']) };
  const fromFhir = fhirAddress(obj(address));
  if (fromFhir) person.address = fromFhir.address;
  return person;
}
