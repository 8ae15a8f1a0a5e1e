/**
 * PID (+ ZFD) → the identity facts of a message (PAM FR rules, french-interop.md §1 and §2.4).
 *
 * The INS is kept only when PID-32 says the identity is validated or qualified (`VALI`, `QUAL`): FR Core allows the
 * INS matricule only on a qualified identity. A PID-32 with any other status is a downgrade: the store removes an INS
 * it holds for that patient. Without PID-32 the message says nothing about the INS and changes nothing.
 */

import { isInsSystem, nirProblem } from '../../fhir/validation/ins.js';
import { hl7Date, hl7DateTime, readCx, readXad, readXpn, readXtn, V2_0203 } from '../datatypes.js';
import type { Hl7Message, Hl7Repetition, Hl7Segment } from '../parser.js';

type Json = Record<string, unknown>;

export const FR_CORE_0203 = 'https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203';
const FR_CORE_0445 = 'https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0445';
const IDENTITY_RELIABILITY = 'https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-identity-reliability';
const BIRTH_PLACE = 'http://hl7.org/fhir/StructureDefinition/patient-birthPlace';
const INSEE_CODE = 'https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-address-insee-code';
const INSEE_SYSTEM = 'https://mos.esante.gouv.fr/NOS/TRE_R13-CommuneOM/FHIR/TRE-R13-CommuneOM';

/** FR Core identifier type of each INS OID (french-interop.md §1.1). */
const INS_TYPES: Record<string, { code: string; use: 'official' | 'temp' }> = {
  'urn:oid:1.2.250.1.213.1.4.8': { code: 'INS-NIR', use: 'official' },
  'urn:oid:1.2.250.1.213.1.4.9': { code: 'INS-NIA', use: 'temp' },
  'urn:oid:1.2.250.1.213.1.4.10': { code: 'INS-NIR-TEST', use: 'official' },
  'urn:oid:1.2.250.1.213.1.4.11': { code: 'INS-NIR-DEMO', use: 'official' },
};

/**
 * CX-5 types of the local patient identifier, best first: PAM FR sends `PI` (the IPP); other feeds send `MR`
 * (medical record number), `PT` or `PN`, or no type at all.
 */
export const LOCAL_ID_TYPES: readonly string[] = ['PI', 'MR', 'PT', 'PN', ''];

/** Identity statuses under which the INS may be used (RNIV): validated and qualified. */
const INS_STATUSES = new Set(['VALI', 'QUAL']);

export interface BusinessIdentifier {
  system: string;
  value: string;
}

/** Why an identity fact was left out (reported by the ingest result and metrics; never the value itself). */
export type PatientWarning = 'ins-not-qualified' | 'ins-invalid-key' | 'ins-unknown-authority' | 'ipp-no-authority';

export interface PatientFacts {
  /** The local patient identifier (PID-3 type PI). */
  ipp: BusinessIdentifier | undefined;
  /** The INS, when present AND the identity is validated/qualified AND its key is valid. */
  ins: BusinessIdentifier | undefined;
  /** PID-32 codes (table 0445), upper case. Empty when the message sends none. */
  identityStatus: string[];
  /** PID-32 was sent and is neither VALI nor QUAL: any INS the patient holds must go. */
  insDowngraded: boolean;
  /** The demographic elements the message carries (only those present): name, gender, birthDate, address… */
  demographics: Json;
  warnings: PatientWarning[];
}

const GENDER: Record<string, string> = { M: 'male', F: 'female', U: 'unknown', O: 'other', A: 'other', N: 'unknown' };
const MARITAL = new Set(['A', 'D', 'I', 'L', 'M', 'P', 'S', 'T', 'U', 'W']);

/** The INS identifier element (FR Core slice) for a matricule under an INS system. */
export function insIdentifier(ins: BusinessIdentifier): Json {
  const type = INS_TYPES[ins.system] ?? { code: 'INS-NIR', use: 'official' as const };
  return {
    use: type.use,
    type: { coding: [{ system: FR_CORE_0203, code: type.code }] },
    system: ins.system,
    value: ins.value,
  };
}

/** The IPP identifier element. */
export function ippIdentifier(ipp: BusinessIdentifier): Json {
  return { use: 'usual', type: { coding: [{ system: V2_0203, code: 'PI' }] }, system: ipp.system, value: ipp.value };
}

function birthPlace(rep: Hl7Repetition): Json | undefined {
  const insee = rep.component(9).value.trim();
  const city = rep.component(3).value.trim();
  if (!insee && !city) return undefined;
  const address: Json = {};
  if (insee) address['extension'] = [{ url: INSEE_CODE, valueCoding: { system: INSEE_SYSTEM, code: insee } }];
  if (city) address['city'] = city;
  const country = rep.component(6).value.trim();
  if (country) address['country'] = country;
  return { url: BIRTH_PLACE, valueAddress: address };
}

function identityReliability(status: string | undefined, zfd: Hl7Segment | undefined): Json | undefined {
  if (!status) return undefined;
  const ext: Json[] = [{ url: 'identityStatus', valueCoding: { system: FR_CORE_0445, code: status } }];
  const method = zfd?.field(5).value.trim();
  if (method) ext.push({ url: 'methodCollection', valueString: method });
  const queried = zfd ? hl7Date(zfd.field(6).value) : undefined;
  if (queried) ext.push({ url: 'dateInterrogationINSi', valueDate: queried });
  return { url: IDENTITY_RELIABILITY, extension: ext };
}

/**
 * Reads the identity of the message's PID (and ZFD). `ippSystem` overrides the IPP authority when the partner
 * registry names it (feeds that send a bare namespace in CX-4). Returns undefined when there is no PID.
 */
export function readPatientFacts(
  msg: Hl7Message,
  opts: { ippSystem?: string; senderAuthority?: string } = {},
  pid = msg.get('PID'),
): PatientFacts | undefined {
  if (!pid) return undefined;
  const warnings: PatientWarning[] = [];
  const identityStatus = pid
    .field(32)
    .repetitions.map((r) => r.value.trim().toUpperCase())
    .filter(Boolean);
  const qualified = identityStatus.some((s) => INS_STATUSES.has(s));
  let ipp: BusinessIdentifier | undefined;
  let ins: BusinessIdentifier | undefined;
  let localRank = Number.POSITIVE_INFINITY;
  for (const rep of pid.field(3).repetitions) {
    const cx = readCx(rep);
    if (!cx) continue;
    const rank = LOCAL_ID_TYPES.indexOf(cx.type);
    if (rank >= 0 && rank < localRank) {
      // An id without assigning authority is local to its sender (MSH-4).
      const system = opts.ippSystem ?? cx.system ?? opts.senderAuthority;
      if (system) {
        ipp = { system, value: cx.value };
        localRank = rank;
      } else warnings.push('ipp-no-authority');
    } else if (cx.type.startsWith('INS') && !ins) {
      if (!cx.system || !isInsSystem(cx.system)) warnings.push('ins-unknown-authority');
      else if (!qualified) warnings.push('ins-not-qualified');
      else if (nirProblem(cx.value) !== undefined) warnings.push('ins-invalid-key');
      else ins = { system: cx.system, value: cx.value };
    }
  }

  const demographics: Json = {};
  const names = pid
    .field(5)
    .repetitions.map(readXpn)
    .filter((n): n is Json => n !== undefined);
  if (names.length) demographics['name'] = names;
  const birthDate = hl7Date(pid.field(7).value);
  if (birthDate) demographics['birthDate'] = birthDate;
  const gender = GENDER[pid.field(8).value.trim().toUpperCase()];
  if (gender) demographics['gender'] = gender;
  const addresses: Json[] = [];
  const extensions: Json[] = [];
  for (const rep of pid.field(11).repetitions) {
    if (rep.component(7).value.trim().toUpperCase() === 'BDL') {
      const place = birthPlace(rep);
      if (place) extensions.push(place);
    } else {
      const a = readXad(rep);
      if (a) addresses.push(a);
    }
  }
  if (addresses.length) demographics['address'] = addresses;
  const telecom = [...pid.field(13).repetitions, ...pid.field(14).repetitions]
    .map(readXtn)
    .filter((t): t is Json => t !== undefined);
  if (telecom.length) demographics['telecom'] = telecom;
  const marital = pid.field(16).value.trim().toUpperCase();
  if (MARITAL.has(marital)) {
    demographics['maritalStatus'] = {
      coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-MaritalStatus', code: marital }],
    };
  }
  const death = hl7DateTime(pid.field(29).value);
  if (death) demographics['deceasedDateTime'] = death;
  else if (pid.field(30).value.trim().toUpperCase() === 'Y') demographics['deceasedBoolean'] = true;
  const reliability = identityReliability(identityStatus[0], msg.get('ZFD'));
  if (reliability) extensions.push(reliability);
  if (extensions.length) demographics['extension'] = extensions;

  return {
    ipp,
    ins,
    identityStatus,
    insDowngraded: identityStatus.length > 0 && !qualified,
    demographics,
    warnings,
  };
}
