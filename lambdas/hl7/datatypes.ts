/**
 * HL7 v2 data types → FHIR R4 data types, shared by every trigger event (the FHIR-Converter layout: one mapper per
 * data type). Each mapper takes a parsed repetition and returns `undefined` when there is nothing to map.
 */

import type { Hl7Component, Hl7Repetition } from './parser.js';

type Json = Record<string, unknown>;

export const V2_0203 = 'http://terminology.hl7.org/CodeSystem/v2-0203';
export const OID_RE = /^[0-2](\.(0|[1-9]\d*))+$/;

/** System URI of an assigning authority known only by its name (no OID). */
export const namespaceSystem = (name: string): string => `urn:pfi:hl7-authority:${encodeURIComponent(name)}`;

/**
 * System URI of an HL7 HD (assigning authority / facility): `urn:oid:` when its universal id is an OID (whatever
 * HD-3 says: French feeds write `&1.2.250…&ISO` but also `&M`/`&N` with a bare OID), otherwise a PFI namespace URI
 * built from the namespace id (or the universal id when that is all there is).
 */
export function authoritySystem(hd: Hl7Component | undefined): string | undefined {
  if (!hd) return undefined;
  const universal = hd.subcomponent(2).trim();
  if (OID_RE.test(universal)) return `urn:oid:${universal}`;
  const namespace = hd.subcomponent(1).trim() || universal;
  if (!namespace) return undefined;
  return namespaceSystem(namespace);
}

/** A CX (extended composite id): value, authority system, identifier type code (CX-5). */
export interface Cx {
  value: string;
  system: string | undefined;
  type: string;
  /** The assigning authority's namespace id (CX-4.1), for messages that name it without an OID. */
  authorityName: string;
}

export function readCx(rep: Hl7Repetition): Cx | undefined {
  const value = rep.component(1).value.trim();
  if (!value) return undefined;
  const authority = rep.component(4);
  return {
    value,
    system: authoritySystem(authority),
    type: rep.component(5).value.trim().toUpperCase(),
    authorityName: authority.subcomponent(1).trim(),
  };
}

/** Date of HL7 `YYYY[MM[DD]]` as FHIR date; undefined when not a date. */
export function hl7Date(value: string): string | undefined {
  const m = /^(\d{4})(\d{2})?(\d{2})?/.exec(value.trim());
  if (!m) return undefined;
  const [, y, mo, d] = m;
  if (mo && (Number(mo) < 1 || Number(mo) > 12)) return undefined;
  if (d && (Number(d) < 1 || Number(d) > 31)) return undefined;
  return [y, mo, d].filter(Boolean).join('-');
}

const HOUR = 3_600_000;

/** Last Sunday of `month` (0-based) in `year`, at 01:00 UTC: the EU summer-time switch instant. */
function lastSundayOneUtc(year: number, month: number): number {
  const lastDay = new Date(Date.UTC(year, month + 1, 0));
  const sunday = lastDay.getUTCDate() - lastDay.getUTCDay();
  return Date.UTC(year, month, sunday, 1);
}

/**
 * Offset of Europe/Paris (in hours: 1 or 2) for a local wall-clock time given as if it were UTC. EU rule (since
 * 1996): summer time from the last Sunday of March 01:00 UTC to the last Sunday of October 01:00 UTC. A repeated
 * autumn hour resolves to its first (summer) occurrence; a skipped spring hour is read as winter time.
 */
export function parisOffsetHours(localAsUtcMs: number): 1 | 2 {
  const year = new Date(localAsUtcMs).getUTCFullYear();
  const utcIfSummer = localAsUtcMs - 2 * HOUR;
  return utcIfSummer >= lastSundayOneUtc(year, 2) && utcIfSummer < lastSundayOneUtc(year, 9) ? 2 : 1;
}

const TS_RE = /^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.(\d{1,4}))?([+-]\d{4})?$/;

/**
 * HL7 TS/DTM → FHIR dateTime. Without an offset the time is Europe/Paris local time (PAM FR samples send none), and
 * the result carries the Paris offset of that date (+01:00 or +02:00). Date-only values stay dates. Minutes without
 * seconds get `:00` (FHIR needs seconds once there is a time). Undefined when the value is not a timestamp.
 */
export function hl7DateTime(value: string): string | undefined {
  const m = TS_RE.exec(value.trim());
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, offset] = m;
  if (!h) return hl7Date(value);
  if (!mo || !d) return undefined;
  const [Y, M, D, H, Mi, S] = [y, mo, d, h, mi ?? '00', s ?? '00'].map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (M < 1 || M > 12 || D < 1 || D > 31 || H > 23 || Mi > 59 || S > 59) return undefined;
  let tz: string;
  if (offset) {
    tz = `${offset.slice(0, 3)}:${offset.slice(3)}`;
  } else {
    tz = parisOffsetHours(Date.UTC(Y, M - 1, D, H, Mi, S)) === 2 ? '+02:00' : '+01:00';
  }
  const fraction = frac ? `.${frac}` : '';
  return `${y}-${mo}-${d}T${h}:${mi ?? '00'}:${s ?? '00'}${fraction}${tz}`;
}

/** An instant (FHIR `instant` needs seconds and a zone): as {@link hl7DateTime}, undefined for a date only. */
export function hl7Instant(value: string): string | undefined {
  const dt = hl7DateTime(value);
  return dt && dt.length > 10 ? dt : undefined;
}

const NAME_USE: Record<string, string> = { L: 'official', D: 'usual', M: 'maiden', N: 'nickname', A: 'anonymous' };

/**
 * XPN → HumanName. PAM FR: type `L` is the birth name (official: family + first birth given name; XPN-3 carries
 * the other birth given names), `D` the used name. The FR Core birth given-name list extension holds the full list.
 */
export function readXpn(rep: Hl7Repetition): Json | undefined {
  const family = rep.component(1).value.trim();
  const given = rep.component(2).value.trim();
  const more = rep.component(3).value.trim();
  const prefix = rep.component(5).value.trim();
  if (!family && !given) return undefined;
  const type = rep.component(7).value.trim().toUpperCase();
  const use = NAME_USE[type] ?? (type === '' ? undefined : 'usual');
  const name: Json = {};
  if (use) name['use'] = use;
  if (family) name['family'] = family;
  const givens = [given, ...more.split(/\s+/)].filter((g, i, all) => g !== '' && all.indexOf(g) === i);
  if (use === 'official' && given) {
    // Strict trait: exactly the first birth given name; the whole list goes in the FR Core extension.
    name['given'] = [given];
    const list = [given, ...more.split(/[\s,]+/)].filter((g) => g !== '');
    const unique = list.filter((g, i) => list.indexOf(g) === i);
    name['extension'] = [
      {
        url: 'https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-patient-birth-list-given-name',
        valueString: unique.join(' '),
      },
    ];
  } else if (givens.length) {
    name['given'] = givens;
  }
  if (prefix) name['prefix'] = [prefix];
  return name;
}

const ADDRESS_USE: Record<string, string> = { H: 'home', B: 'work', O: 'work', C: 'temp', BA: 'old' };

/** XAD → Address (the `BDL` birth-place repetition is handled by the Patient mapper). */
export function readXad(rep: Hl7Repetition): Json | undefined {
  const line = [rep.component(1).value, rep.component(2).value].map((v) => v.trim()).filter(Boolean);
  const city = rep.component(3).value.trim();
  const state = rep.component(4).value.trim();
  const postalCode = rep.component(5).value.trim();
  const country = rep.component(6).value.trim();
  if (!line.length && !city && !postalCode && !country) return undefined;
  const type = rep.component(7).value.trim().toUpperCase();
  const address: Json = {};
  if (ADDRESS_USE[type]) address['use'] = ADDRESS_USE[type];
  if (line.length) address['line'] = line;
  if (city) address['city'] = city;
  if (state) address['state'] = state;
  if (postalCode) address['postalCode'] = postalCode;
  if (country) address['country'] = country;
  return address;
}

const TELECOM_USE: Record<string, string> = { PRN: 'home', ORN: 'home', WPN: 'work', PRS: 'mobile', NET: 'home' };

/** XTN → ContactPoint: XTN-1 (v2.3 style) or XTN-12 (unformatted) or XTN-4 (email); XTN-2 use, XTN-3 equipment. */
export function readXtn(rep: Hl7Repetition): Json | undefined {
  const equipment = rep.component(3).value.trim().toUpperCase();
  const email = rep.component(4).value.trim();
  const phone = rep.component(12).value.trim() || rep.component(1).value.trim();
  const useCode = rep.component(2).value.trim().toUpperCase();
  const isEmail = equipment === 'INTERNET' || equipment === 'X.400' || useCode === 'NET';
  const value = isEmail ? email || phone : phone || email;
  if (!value) return undefined;
  const point: Json = { system: isEmail ? 'email' : equipment === 'FX' ? 'fax' : 'phone', value };
  const use = equipment === 'CP' ? 'mobile' : TELECOM_USE[useCode];
  if (use) point['use'] = use;
  return point;
}

/** XCN/CNN (a professional): id, names, and the identifier system (RPPS/ADELI OID from the assigning authority). */
export interface Xcn {
  id: string;
  system: string | undefined;
  family: string;
  given: string;
}

/** The national professional identifier systems (ANS): RPPS/idNat_PS. */
export const RPPS_SYSTEM = 'urn:oid:1.2.250.1.71.4.2.1';

export function readXcn(rep: Hl7Repetition): Xcn | undefined {
  const id = rep.component(1).value.trim();
  const family = rep.component(2).value.trim();
  if (!id && !family) return undefined;
  const authority = rep.component(9);
  // ANS samples write `ASIP-SANTE- PS` with a stray space: the OID is what identifies the authority.
  return { id, system: authoritySystem(authority), family, given: rep.component(3).value.trim() };
}

/** CE/CWE → CodeableConcept (first triplet, alternate triplet), `text` from the original text or the display. */
export function readCwe(rep: Hl7Repetition, systemOf: (hl7System: string) => string | undefined = codingSystem): Json {
  const codings: Json[] = [];
  for (const start of [1, 4]) {
    const code = rep.component(start).value.trim();
    const display = rep.component(start + 1).value.trim();
    const system = systemOf(rep.component(start + 2).value.trim());
    if (!code) continue;
    const coding: Json = { code };
    if (system) coding['system'] = system;
    if (display) coding['display'] = display;
    codings.push(coding);
  }
  const text = rep.component(9).value.trim() || rep.component(2).value.trim();
  const cc: Json = {};
  if (codings.length) cc['coding'] = codings;
  if (text) cc['text'] = text;
  return cc;
}

/** HL7 coding-system names (table 0396) → FHIR system URIs; unknown local names get a PFI URI. */
export function codingSystem(name: string): string | undefined {
  if (!name) return undefined;
  switch (name.toUpperCase()) {
    case 'LN':
      return 'http://loinc.org';
    case 'SCT':
    case 'SNM':
      return 'http://snomed.info/sct';
    case 'UCUM':
      return 'http://unitsofmeasure.org';
    case 'I10':
      return 'http://hl7.org/fhir/sid/icd-10';
    default:
      return OID_RE.test(name) ? `urn:oid:${name}` : `urn:pfi:hl7-coding-system:${encodeURIComponent(name)}`;
  }
}

/** `value` as a FHIR decimal, or undefined. */
export function hl7Decimal(value: string): number | undefined {
  const v = value.trim().replace(',', '.');
  if (!/^[+-]?(\d+(\.\d*)?|\.\d+)$/.test(v)) return undefined;
  return Number(v);
}
