/**
 * The minimum the MLLP bridge reads from an HL7 v2 message (charset, separators, MSH routing fields, patient key) and
 * the original-mode ACK it sends back. Pure functions, no I/O. Standalone: imports nothing from `lambdas/`.
 *
 * Field values are kept RAW (still escaped with the received escape sequences): the bridge only copies them back into
 * an ACK written with the same separators, or hashes them, so it never needs to unescape.
 */

import { isUtf8 } from 'node:buffer';
import { hash } from 'node:crypto';

/** Charsets the bridge decodes and encodes. */
export type Charset = 'utf-8' | 'latin1' | 'iso-8859-15' | 'windows-1252';

/** Fallback used when MSH-18 is absent/unknown and the bytes are not valid UTF-8 (or are invalid declared UTF-8). */
export type FallbackCharset = 'utf-8' | 'latin1' | 'windows-1252';

export interface Separators {
  field: string;
  component: string;
  repetition: string;
  escape: string;
  subcomponent: string;
  /** HL7 v2.7 truncation character (5th char of MSH-2), when present. */
  truncation?: string;
}

export interface PatientKey {
  /** CX-1, raw. */
  id: string;
  /** CX-4 assigning authority, raw (e.g. `CHU-X&000897406&N`). */
  authority: string;
}

export interface Header {
  separators: Separators;
  /** MSH-2 exactly as received (4 or 5 characters). */
  encodingCharacters: string;
  sendingApplication: string;
  sendingFacility: string;
  receivingApplication: string;
  receivingFacility: string;
  messageType: string;
  triggerEvent: string;
  messageStructure: string;
  controlId: string;
  processingId: string;
  version: string;
  charset: string;
  patient?: PatientKey;
}

/** What `buildAck` needs: any subset of a Header (missing MSH fields are left empty, separators default to `|^~\&`). */
export type AckSource = Partial<Header>;

export type HeaderErrorCode = 'no-msh' | 'no-type' | 'no-control-id' | 'bad-separators';

export interface HeaderError {
  error: HeaderErrorCode;
  /** MSH-10 when it could be read (i.e. for `no-type`). */
  controlId?: string;
  /** The MSH fields that could be read (for `no-type` / `no-control-id`), to answer with the received separators. */
  header?: AckSource;
}

export type AckCode = 'AA' | 'AE' | 'AR';

/** ERR-2 location (ERL): segment id, segment sequence (default 1), field, repetition, component. */
export interface ErrorLocation {
  segment: string;
  sequence?: number;
  field?: number;
  repetition?: number;
  component?: number;
}

export interface AckError {
  /** HL7 table 0357 code, e.g. `207`. */
  code: string;
  /** Code text, e.g. `Application internal error`. Never patient data. */
  text: string;
  /** HL7 table 0516: E error (default), W warning, F fatal. */
  severity?: 'E' | 'W' | 'F';
  location?: ErrorLocation;
}

export interface AckOptions {
  now: Date;
  /** MSH-10 of the ACK itself (a new id). */
  controlId: string;
  /** Only written for AE/AR. */
  error?: AckError;
}

const DEFAULT_SEPARATORS: Separators = { field: '|', component: '^', repetition: '~', escape: '\\', subcomponent: '&' };
const DEFAULT_ENCODING_CHARACTERS = '^~\\&';
const DEFAULT_VERSION = '2.5';

// ---------------------------------------------------------------------------------------------------------------
// Charsets

/** ISO-8859-15 differs from ISO-8859-1 at exactly these 8 bytes. */
const ISO_8859_15: ReadonlyMap<number, string> = new Map([
  [0xa4, '€'],
  [0xa6, 'Š'],
  [0xa8, 'š'],
  [0xb4, 'Ž'],
  [0xb8, 'ž'],
  [0xbc, 'Œ'],
  [0xbd, 'œ'],
  [0xbe, 'Ÿ'],
]);

/** windows-1252 0x80-0x9F (the 5 undefined bytes map to the same C1 code point, as in WHATWG). */
const WINDOWS_1252: ReadonlyMap<number, string> = new Map([
  [0x80, '€'],
  [0x82, '‚'],
  [0x83, 'ƒ'],
  [0x84, '„'],
  [0x85, '…'],
  [0x86, '†'],
  [0x87, '‡'],
  [0x88, 'ˆ'],
  [0x89, '‰'],
  [0x8a, 'Š'],
  [0x8b, '‹'],
  [0x8c, 'Œ'],
  [0x8e, 'Ž'],
  [0x91, '\u2018'],
  [0x92, '\u2019'],
  [0x93, '\u201c'],
  [0x94, '\u201d'],
  [0x95, '•'],
  [0x96, '–'],
  [0x97, '—'],
  [0x98, '˜'],
  [0x99, '™'],
  [0x9a, 'š'],
  [0x9b, '›'],
  [0x9c, 'œ'],
  [0x9e, 'ž'],
  [0x9f, 'Ÿ'],
]);

function decodeSingleByte(bytes: Buffer, overrides: ReadonlyMap<number, string>): string {
  let out = '';
  for (const b of bytes) out += overrides.get(b) ?? String.fromCharCode(b);
  return out;
}

/** Unencodable characters become `?` (Buffer's latin1 encoder would silently keep the low byte: `Œ` → `R`). */
function encodeSingleByte(text: string, overrides: ReadonlyMap<number, string>): Buffer {
  const reverse = new Map<string, number>();
  for (const [byte, ch] of overrides) reverse.set(ch, byte);
  const bytes: number[] = [];
  for (const ch of text) {
    const mapped = reverse.get(ch);
    const code = ch.codePointAt(0) ?? 0x3f;
    if (mapped !== undefined) bytes.push(mapped);
    else if (code < 0x100 && !overrides.has(code)) bytes.push(code);
    else bytes.push(0x3f);
  }
  return Buffer.from(bytes);
}

const NO_OVERRIDES: ReadonlyMap<number, string> = new Map();

function decodeAs(bytes: Buffer, charset: Charset): string {
  switch (charset) {
    case 'utf-8':
      return bytes.toString('utf8');
    case 'latin1':
      return bytes.toString('latin1');
    case 'iso-8859-15':
      return decodeSingleByte(bytes, ISO_8859_15);
    case 'windows-1252':
      return decodeSingleByte(bytes, WINDOWS_1252);
  }
}

/** Maps an MSH-18 value (HL7 table 0211) to a charset; undefined when absent or unknown. */
function charsetFromMsh18(value: string): Charset | undefined {
  switch (value.trim().toUpperCase()) {
    case 'UNICODE UTF-8':
    case 'UTF-8':
    case 'ASCII': // a subset of UTF-8; non-ASCII bytes are then checked like declared UTF-8
      return 'utf-8';
    case '8859/1':
      return 'latin1';
    case '8859/15':
      return 'iso-8859-15';
    default:
      return undefined;
  }
}

const MSH_BYTES = Buffer.from('MSH', 'latin1');

/** Where the segment that starts at `start` ends: its first CR or LF, else the end. */
function segmentEnd(bytes: Buffer, start: number): number {
  for (let i = start; i < bytes.length; i++) {
    if (bytes[i] === 0x0d || bytes[i] === 0x0a) return i;
  }
  return bytes.length;
}

/**
 * MSH-18 (first repetition) read from the raw bytes; the MSH segment itself is ASCII. Scans the bytes for the field
 * separators (MSH-18 follows the 17th, MSH-1 being the first) rather than splitting the segment: this runs for every
 * message the bridge receives.
 */
function rawMsh18(bytes: Buffer): string | undefined {
  const start = bytes[0] === 0x4d && bytes[1] === 0x53 && bytes[2] === 0x48 ? 0 : bytes.indexOf(MSH_BYTES);
  if (start < 0 || bytes.length < start + 8) return undefined;
  const end = segmentEnd(bytes, start);
  if (end < start + 4) return undefined;
  const fieldSep = bytes[start + 3];
  // MSH-2's second character, as long as MSH-2 has one (it may be empty or one character long).
  const repetitionAt = start + 5;
  const repetition =
    bytes[start + 4] !== fieldSep && repetitionAt < end && bytes[repetitionAt] !== fieldSep
      ? bytes[repetitionAt]
      : undefined;
  let separators = 1;
  let i = start + 4;
  for (; i < end && separators < 17; i++) if (bytes[i] === fieldSep) separators++;
  if (separators < 17) return undefined;
  let valueEnd = i;
  while (valueEnd < end && bytes[valueEnd] !== fieldSep && bytes[valueEnd] !== repetition) valueEnd++;
  return bytes.toString('latin1', i, valueEnd);
}

/**
 * Decodes a received message. MSH-18 decides (`UNICODE UTF-8`/`UTF-8`/`ASCII` → utf-8, `8859/1` → latin1, `8859/15`
 * → iso-8859-15); when it is absent or unknown, valid UTF-8 bytes are read as UTF-8, anything else with `fallbackCharset`.
 * Bytes declared UTF-8 but not valid UTF-8 also use the fallback, so no U+FFFD is ever produced silently.
 * A leading UTF-8 BOM is dropped.
 */
export function decodeMessage(
  bytes: Buffer,
  fallbackCharset: FallbackCharset = 'utf-8',
): { text: string; charset: Charset } {
  const body = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? bytes.subarray(3) : bytes;
  const msh18 = rawMsh18(body);
  const declared = msh18 === undefined ? undefined : charsetFromMsh18(msh18);
  let charset: Charset;
  if (declared === undefined || declared === 'utf-8') {
    // A 'utf-8' fallback on invalid bytes would insert U+FFFD: latin1 keeps every byte instead.
    charset = isUtf8(body) ? 'utf-8' : fallbackCharset === 'utf-8' ? 'latin1' : fallbackCharset;
  } else {
    charset = declared;
  }
  return { text: decodeAs(body, charset), charset };
}

/**
 * Encodes an ACK in the charset the message was received in. Characters that the charset cannot represent become `?`.
 */
export function encodeAck(text: string, charset: Charset): Buffer {
  switch (charset) {
    case 'utf-8':
      return Buffer.from(text, 'utf8');
    case 'latin1':
      return encodeSingleByte(text, NO_OVERRIDES);
    case 'iso-8859-15':
      return encodeSingleByte(text, ISO_8859_15);
    case 'windows-1252':
      return encodeSingleByte(text, WINDOWS_1252);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Header

function usableSeparator(ch: string): boolean {
  return ch.length === 1 && !/[A-Za-z0-9\r\n\s]/.test(ch);
}

function readSeparators(msh: string): { separators: Separators; encodingCharacters: string } | undefined {
  const field = msh.charAt(3);
  if (!usableSeparator(field)) return undefined;
  const endOfMsh2 = msh.indexOf(field, 4);
  const encodingCharacters = endOfMsh2 < 0 ? msh.slice(4) : msh.slice(4, endOfMsh2);
  if (encodingCharacters.length !== 4 && encodingCharacters.length !== 5) return undefined;
  const chars = [...encodingCharacters];
  if (!chars.every(usableSeparator) || new Set([field, ...chars]).size !== chars.length + 1) return undefined;
  const [component = '', repetition = '', esc = '', subcomponent = '', truncation] = chars;
  const separators: Separators = { field, component, repetition, escape: esc, subcomponent };
  if (truncation !== undefined) separators.truncation = truncation;
  return { separators, encodingCharacters };
}

/** PID-3: the first `PI` repetition, else the first that is not INS/INS-C/NH (never an INS or NIR). */
function readPatientKey(pid3: string, seps: Separators): PatientKey | undefined {
  const candidates = pid3
    .split(seps.repetition)
    .map((rep) => rep.split(seps.component))
    .filter((cx) => (cx[0] ?? '') !== '')
    .map((cx) => ({ id: cx[0] ?? '', authority: cx[3] ?? '', type: (cx[4] ?? '').toUpperCase() }));
  const chosen =
    candidates.find((c) => c.type === 'PI') ?? candidates.find((c) => !['INS', 'INS-C', 'NH'].includes(c.type));
  return chosen && { id: chosen.id, authority: chosen.authority };
}

/** Where the segment starting at `start` ends in `text`: its first CR or LF, else the end. */
function textSegmentEnd(text: string, start: number): number {
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x0d || c === 0x0a) return i;
  }
  return text.length;
}

/** The first segment named `name` after the MSH (segments end with CR, LF or CRLF), or undefined. */
function findSegment(text: string, name: string, field: string): string | undefined {
  for (let at = text.indexOf(name, 1); at >= 0; at = text.indexOf(name, at + 1)) {
    const before = text.charCodeAt(at - 1);
    if (before !== 0x0d && before !== 0x0a) continue;
    const after = at + name.length;
    const next = text.charAt(after);
    if (next === field || next === '\r' || next === '\n' || after === text.length) {
      return text.slice(at, textSegmentEnd(text, after));
    }
  }
  return undefined;
}

/** Field `n` of a segment other than MSH (`PID|1||x`: field 3 is `x`), empty when absent. */
function segmentField(segment: string, field: string, n: number): string {
  let from = 0;
  for (let k = 0; k < n; k++) {
    const at = segment.indexOf(field, from);
    if (at < 0) return '';
    from = at + 1;
  }
  const end = segment.indexOf(field, from);
  return end < 0 ? segment.slice(from) : segment.slice(from, end);
}

/**
 * Reads the MSH fields the bridge routes on, plus the patient key from PID-3. Segments may be separated by `\r`, `\n`
 * or `\r\n` (mixed). Returns a HeaderError when the text does not start with `MSH`, the separators are unusable, or
 * MSH-9 (message type) / MSH-10 (control id) is empty. Only the MSH and the first PID are looked at (this runs for
 * every message the bridge receives).
 */
export function readHeader(text: string): Header | HeaderError {
  if (!text.startsWith('MSH')) return { error: 'no-msh' };
  const msh = text.slice(0, textSegmentEnd(text, 0));
  const read = readSeparators(msh);
  if (!read) return { error: 'bad-separators' };
  const { separators, encodingCharacters } = read;
  // parts[0] = 'MSH', parts[1] = MSH-2, so MSH-n is parts[n - 1].
  const parts = msh.split(separators.field);
  const f = (n: number): string => parts[n - 1] ?? '';
  const msh9 = f(9).split(separators.component);
  const pid = findSegment(text, 'PID', separators.field);
  const patient = pid === undefined ? undefined : readPatientKey(segmentField(pid, separators.field, 3), separators);
  const header: Header = {
    separators,
    encodingCharacters,
    sendingApplication: f(3),
    sendingFacility: f(4),
    receivingApplication: f(5),
    receivingFacility: f(6),
    messageType: msh9[0] ?? '',
    triggerEvent: msh9[1] ?? '',
    messageStructure: msh9[2] ?? '',
    controlId: f(10),
    processingId: f(11),
    version: f(12),
    charset: f(18),
  };
  if (patient) header.patient = patient;
  if (header.messageType === '') {
    const error: HeaderError = { error: 'no-type', header };
    if (header.controlId !== '') error.controlId = header.controlId;
    return error;
  }
  if (header.controlId === '') return { error: 'no-control-id', header };
  return header;
}

/** Type guard for readHeader's result. */
export function isHeaderError(result: Header | HeaderError): result is HeaderError {
  return 'error' in result;
}

// ---------------------------------------------------------------------------------------------------------------
// ACK

/** Escapes our own text (error text, new control id) with the message's escape sequences. */
export function escapeValue(value: string, seps: Separators): string {
  const e = seps.escape;
  const table: Record<string, string> = {
    [seps.field]: `${e}F${e}`,
    [seps.component]: `${e}S${e}`,
    [seps.repetition]: `${e}R${e}`,
    [seps.subcomponent]: `${e}T${e}`,
    [e]: `${e}E${e}`,
  };
  if (seps.truncation !== undefined) table[seps.truncation] = `${e}P${e}`;
  let out = '';
  for (const ch of value) {
    if (ch === '\r' || ch === '\n') out += ' ';
    else out += table[ch] ?? ch;
  }
  return out;
}

/** `YYYYMMDDHHMMSS+hhmm` in Europe/Paris local time (summer time included). */
export function parisTimestamp(now: Date): string {
  // Formatting with Intl costs tens of µs: one formatting per second serves every ACK of that second.
  const second = Math.floor(now.getTime() / 1000);
  if (second !== cachedSecond) {
    cachedTimestamp = formatParis(now);
    cachedSecond = second;
  }
  return cachedTimestamp;
}

let cachedSecond = Number.NaN;
let cachedTimestamp = '';
const PARIS = new Intl.DateTimeFormat('en-GB', {
  timeZone: 'Europe/Paris',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hourCycle: 'h23',
  timeZoneName: 'longOffset',
});

function formatParis(now: Date): string {
  const parts = PARIS.formatToParts(now);
  const get = (type: Intl.DateTimeFormatPartTypes): string => parts.find((p) => p.type === type)?.value ?? '';
  // longOffset is `GMT+01:00`, `GMT+02:00`, or plain `GMT` for a zero offset.
  const offset = /^GMT([+-])(\d{2}):(\d{2})$/.exec(get('timeZoneName'));
  const zone = offset ? `${offset[1]}${offset[2]}${offset[3]}` : '+0000';
  return `${get('year')}${get('month')}${get('day')}${get('hour')}${get('minute')}${get('second')}${zone}`;
}

function errorLocation(loc: ErrorLocation, seps: Separators): string {
  const values = [loc.segment, String(loc.sequence ?? 1), loc.field, loc.repetition, loc.component].map((v) =>
    v === undefined ? '' : escapeValue(String(v), seps),
  );
  while (values.length > 0 && values[values.length - 1] === '') values.pop();
  return values.join(seps.component);
}

/**
 * Builds an original-mode ACK (`ACK^<trigger>^ACK`) with the received separators: sending and receiving
 * application/facility swapped, MSH-7 = `now` in Paris time, MSH-10 = `opts.controlId`, MSH-11/12 copied (default `P` /
 * `2.5`), no MSH-18 (encode the result with `encodeAck`). MSA-2 = received MSH-10 (empty when unknown). For AE/AR an
 * ERR segment carries `opts.error` (table 0357 code and text, 0516 severity; default `207^Application internal error`).
 * Copied MSH fields are raw from the same message, so they are already escaped and are not re-escaped.
 * Segments end with `\r`. Never contains patient data.
 */
export function buildAck(h: AckSource, code: AckCode, opts: AckOptions): string {
  const seps = h.separators ?? DEFAULT_SEPARATORS;
  // MSH-2 must match the separators actually used: take it from the message only together with its separators.
  const encodingCharacters = h.separators && h.encodingCharacters ? h.encodingCharacters : DEFAULT_ENCODING_CHARACTERS;
  const c = seps.component;
  const type = h.triggerEvent ? ['ACK', h.triggerEvent, 'ACK'].join(c) : 'ACK';
  const msh = [
    'MSH',
    encodingCharacters,
    h.receivingApplication ?? '',
    h.receivingFacility ?? '',
    h.sendingApplication ?? '',
    h.sendingFacility ?? '',
    parisTimestamp(opts.now),
    '',
    type,
    escapeValue(opts.controlId, seps),
    h.processingId || 'P',
    h.version || DEFAULT_VERSION,
  ].join(seps.field);
  const segments = [msh, ['MSA', code, h.controlId ?? ''].join(seps.field)];
  if (code !== 'AA') {
    const err = opts.error ?? { code: '207', text: 'Application internal error' };
    segments.push(
      [
        'ERR',
        '',
        err.location ? errorLocation(err.location, seps) : '',
        [escapeValue(err.code, seps), escapeValue(err.text, seps), 'HL70357'].join(c),
        err.severity ?? 'E',
      ].join(seps.field),
    );
  }
  return `${segments.join('\r')}\r`;
}

// ---------------------------------------------------------------------------------------------------------------
// SQS FIFO keys

const MESSAGE_GROUP_ID = /^[A-Za-z0-9!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]{1,128}$/;

// One-shot hashing: a Hash object per call costs as much as hashing a whole message.
const sha256Hex = (value: string): string => hash('sha256', value, 'hex');

/**
 * SQS FIFO MessageGroupId: messages for one patient of one sender stay ordered. With a patient key it is the sha256
 * hex of `<sendingFacility>|<IPP>` — an IPP identifies a person and group ids show in the SQS console and logs —
 * otherwise `<sendingFacility>` itself, hashed too when longer than 128 characters, empty, or outside the characters
 * SQS accepts.
 */
export function messageGroupKey(h: Header): string {
  if (h.patient) return sha256Hex(`${h.sendingFacility}|${h.patient.id}`);
  return MESSAGE_GROUP_ID.test(h.sendingFacility) ? h.sendingFacility : sha256Hex(h.sendingFacility);
}

/**
 * SQS FIFO deduplication id: sha256 hex of sending application, sending facility, control id and body (senders reuse
 * control ids with different bodies). Parts are NUL-separated so field boundaries cannot shift.
 */
export function deduplicationKey(h: Header, body: string): string {
  return sha256Hex([h.sendingApplication, h.sendingFacility, h.controlId, body].join('\u0000'));
}
