/**
 * Small value formatters for IHE XDS/XDM ebRIM metadata: HL7 v2 data types (XCN, XON, CX, CE) as XDS writes
 * them, UTC DTM timestamps, and deterministic `urn:uuid:` ids.
 */

import { createHash } from 'node:crypto';
import type { CdaCode, CdaId } from '../cda/types.js';

/** idNat_PS (RPPS/ADELI-based national professional identifier). */
export const IDNAT_PS = '1.2.250.1.71.4.2.1';
/** idNat_Struct (national organisation identifier). */
export const IDNAT_STRUCT = '1.2.250.1.71.4.2.2';

// Characters not allowed in XML 1.0, removed from every metadata value.
// biome-ignore lint/suspicious/noControlCharactersInRegex: that is the point
const XML_INVALID = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g;

/** A value safe for XML text (control characters removed, whitespace collapsed). */
export const clean = (s: string): string => s.replace(XML_INVALID, '').replace(/\s+/g, ' ').trim();

/** Escapes the HL7 v2 delimiters inside one component (`|^~\&`). */
export function hl7(s: string | undefined): string {
  if (!s) return '';
  return clean(s).replace(
    /[\\|^~&]/g,
    (c) => ({ '\\': '\\E\\', '|': '\\F\\', '^': '\\S\\', '~': '\\R\\', '&': '\\T\\' })[c]!,
  );
}

/** XCN of a person (authorPerson, legalAuthenticator): `id^FAMILY^Given^^^^^^&OID&ISO^D^^^IDNPS`. */
export function xcn(p: { id?: CdaId; family?: string; given?: string }): string {
  const name = `${hl7(p.family)}^${hl7(p.given)}`;
  if (!p.id?.extension) return `^${name}`;
  const type = p.id.root === IDNAT_PS ? 'IDNPS' : 'EI';
  return `${hl7(p.id.extension)}^${name}^^^^^^&${p.id.root}&ISO^D^^^${type}`;
}

/** XON of an organisation (authorInstitution): `Name^^^^^&OID&ISO^IDNST^^^id`. */
export function xon(o: { id?: CdaId; name?: string }): string {
  const name = hl7(o.name);
  if (!o.id?.extension) return name;
  const type = o.id.root === IDNAT_STRUCT ? 'IDNST' : '';
  return `${name}^^^^^&${o.id.root}&ISO^${type}^^^${hl7(o.id.extension)}`;
}

/** CX of a patient identifier: `ext^^^&OID&ISO^type` (`NH` for the INS, `PI` for the IPP). */
export const cx = (id: CdaId, type: 'NH' | 'PI'): string => `${hl7(id.extension)}^^^&${id.root}&ISO^${type}`;

/** A code as an XDS CE string: `code^displayName^codeSystem`. */
export const ce = (c: CdaCode): string => `${hl7(c.code)}^${hl7(c.displayName)}^${c.codeSystem}`;

/** `root^extension` (or `root`): the XDS uniqueId of a CDA id. */
export const uniqueIdOf = (id: CdaId): string => (id.extension ? `${id.root}^${id.extension}` : id.root);

const TS = /^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.\d+)?([+-]\d{4})?$/;
const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/**
 * A CDA/HL7 TS as an XDS DTM in UTC at the same precision (seconds at most): `20261202134500+0100` →
 * `20261202124500`. A date without time, or a time without offset, is kept as written. Undefined when invalid.
 */
export function xdsTime(ts: string | undefined): string | undefined {
  if (!ts) return undefined;
  const m = TS.exec(ts.trim());
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, tz] = m;
  const digits = [y, mo, d, h, mi, s].filter((p) => p !== undefined).join('');
  if (!tz || h === undefined) return digits;
  const sign = tz.startsWith('-') ? -1 : 1;
  const offsetMin = sign * (Number(tz.slice(1, 3)) * 60 + Number(tz.slice(3, 5)));
  const utc = new Date(
    Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi ?? 0), Number(s ?? 0)) - offsetMin * 60_000,
  );
  const full =
    pad(utc.getUTCFullYear(), 4) +
    pad(utc.getUTCMonth() + 1) +
    pad(utc.getUTCDate()) +
    pad(utc.getUTCHours()) +
    pad(utc.getUTCMinutes()) +
    pad(utc.getUTCSeconds());
  return full.slice(0, digits.length);
}

/** A Date as an XDS DTM in UTC to the second. */
export const dtm = (d: Date): string => d.toISOString().replace(/[-:T]/g, '').slice(0, 14);

/** A name-based (SHA-1, version 5 layout) UUID URN: the same seed always gives the same id. */
export function uuidUrn(seed: string): string {
  const b = createHash('sha1').update(seed).digest();
  b[6] = (b[6]! & 0x0f) | 0x50;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.subarray(0, 16).toString('hex');
  return `urn:uuid:${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
