/**
 * recordTarget from a FHIR Patient (FR Core, as PFI's PAM mapping stores it). The INS goes in only when the identity
 * is qualified (identity status VALI) and its strict traits are all there (birth name, first and all birth given
 * names, birth date, sex, INSEE birth place: structuration minimale rule); the IPP always, under its facility OID.
 */

import type { Resource } from '../fhir/types.js';
import { isInsSystem, nirProblem } from '../fhir/validation/ins.js';
import { GENDER } from './codes.js';
import { CdaInputError } from './errors.js';
import { cdaIdOf, codeIn, type Json, list, obj, personName, str } from './fhir.js';
import { addr, ce, fhirAddress, fhirTelecoms, ii, UNKNOWN } from './parties.js';
import { cdaDateTime } from './time.js';
import type { CdaId } from './types.js';
import { type XmlElement, xmlText } from './xml.js';

const IDENTITY_RELIABILITY = 'https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-identity-reliability';
const BIRTH_PLACE = 'http://hl7.org/fhir/StructureDefinition/patient-birthPlace';
const INSEE_CODE = 'https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-address-insee-code';
const BIRTH_GIVEN_NAMES = 'https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-patient-birth-list-given-name';
const V2_0203 = 'http://terminology.hl7.org/CodeSystem/v2-0203';

function extensions(el: Json | undefined, url: string): Json[] {
  return list(el?.['extension']).filter((e) => e['url'] === url);
}

/** The identity status (FR Core identityReliability → identityStatus), upper case. */
export function identityStatus(patient: Resource): string | undefined {
  for (const ext of extensions(patient, IDENTITY_RELIABILITY)) {
    const status = list(ext['extension']).find((e) => e['url'] === 'identityStatus');
    const code = str(obj(status?.['valueCoding'])?.['code']);
    if (code) return code.toUpperCase();
  }
  return undefined;
}

/** The INS matricule, only when the identity is qualified (VALI) and the key is valid. */
export function qualifiedIns(patient: Resource): CdaId | undefined {
  if (identityStatus(patient) !== 'VALI') return undefined;
  const ins = list(patient['identifier']).find(
    (i) => typeof i['system'] === 'string' && isInsSystem(i['system']) && i['use'] !== 'old',
  );
  const value = str(ins?.['value']);
  if (!ins || !value || nirProblem(value) !== undefined) return undefined;
  return cdaIdOf(ins);
}

/** The IPP (identifier typed PI, else `usual`), when its system is an OID. */
export function ippOf(patient: Resource): CdaId | undefined {
  const ids = list(patient['identifier']).filter(
    (i) => i['use'] !== 'old' && !(typeof i['system'] === 'string' && isInsSystem(i['system'])),
  );
  const typed = ids.filter((i) => codeIn(i['type'], V2_0203) === 'PI');
  for (const candidate of [...typed, ...ids.filter((i) => i['use'] === 'usual')]) {
    const id = cdaIdOf(candidate);
    if (id) return id;
  }
  return undefined;
}

interface Names {
  el: XmlElement;
  /** Birth name, first birth given name and the list of birth given names are all there. */
  strictTraits: boolean;
}

function names(patient: Resource): Names {
  const all = list(patient['name']).filter((n) => n['use'] !== 'old');
  const official = all.find((n) => n['use'] === 'official');
  const usual = all.find((n) => n['use'] === 'usual');
  const families: XmlElement[] = [];
  const givens: XmlElement[] = [];
  let strictTraits = false;
  if (official) {
    const n = personName(official);
    const birthList = str(extensions(official, BIRTH_GIVEN_NAMES)[0]?.['valueString']) ?? n.given.join(' ');
    if (n.family) families.push({ '@_qualifier': 'BR', '#text': xmlText(n.family) });
    if (birthList) givens.push({ '#text': xmlText(birthList) });
    if (n.given[0]) givens.push({ '@_qualifier': 'BR', '#text': xmlText(n.given[0]) });
    strictTraits = !!(n.family && n.given[0] && birthList);
  }
  if (usual) {
    const n = personName(usual);
    if (n.family) families.push({ '@_qualifier': 'CL', '#text': xmlText(n.family) });
    if (n.given[0]) givens.push({ '@_qualifier': 'CL', '#text': xmlText(n.given[0]) });
  }
  if (!official && !usual && all[0]) {
    const n = personName(all[0]);
    if (n.family) families.push({ '#text': xmlText(n.family) });
    for (const g of n.given) givens.push({ '#text': xmlText(g) });
  }
  const el: XmlElement = {};
  if (families.length) el['family'] = families;
  if (givens.length) el['given'] = givens;
  return { el: families.length || givens.length ? el : UNKNOWN, strictTraits };
}

function birthplace(patient: Resource): { el: XmlElement; insee: boolean } | undefined {
  const address = obj(extensions(patient, BIRTH_PLACE)[0]?.['valueAddress']);
  if (!address) return undefined;
  const insee = str(obj(extensions(address, INSEE_CODE)[0]?.['valueCoding'])?.['code']);
  const city = str(address['city']);
  if (!insee && !city) return undefined;
  const a: XmlElement = {};
  if (insee) a['county'] = xmlText(insee);
  if (city) a['city'] = xmlText(city);
  return { el: { place: { addr: a } }, insee: insee !== undefined };
}

/**
 * The recordTarget element. Throws {@link CdaInputError} when the patient has neither a qualified INS nor an IPP
 * under an OID.
 */
export function recordTarget(patient: Resource): XmlElement {
  const name = names(patient);
  const gender = GENDER[str(patient['gender']) ?? ''];
  const birthTime = cdaDateTime(patient['birthDate']);
  const place = birthplace(patient);
  // Without every strict trait the INS cannot be shared (structuration minimale): the IPP alone identifies.
  const traits = name.strictTraits && gender !== undefined && gender.code !== 'UN' && !!birthTime && !!place?.insee;
  const ins = traits ? qualifiedIns(patient) : undefined;
  const ipp = ippOf(patient);
  const ids = [ins, ipp].filter((i): i is CdaId => i !== undefined);
  if (!ids.length) {
    throw new CdaInputError('the patient has no qualified INS and no IPP under an OID', 'no-patient-identifier');
  }

  const addresses = list(patient['address']).filter((a) => a['use'] !== 'old');
  const home = fhirAddress(addresses.find((a) => a['use'] === 'home') ?? addresses[0]);
  const telecoms = fhirTelecoms(patient['telecom']);
  const person: XmlElement = {
    '@_classCode': 'PSN',
    name: name.el,
    administrativeGenderCode: gender ? ce(gender) : UNKNOWN,
    birthTime: birthTime ? { '@_value': birthTime } : UNKNOWN,
  };
  if (place) person['birthplace'] = place.el;
  return {
    patientRole: {
      id: ids.map(ii),
      addr: home ? addr(home.address, home.use) : UNKNOWN,
      telecom: telecoms.length ? telecoms : UNKNOWN,
      patient: person,
    },
  };
}
