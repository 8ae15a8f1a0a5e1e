/**
 * Turns one FHIR value found by a search parameter expression into index rows, by FHIR datatype.
 * Also the normalisations the query builder must apply identically to search values
 * (`normalizeString`, `dateRange`, `parseReference`).
 */
import type { SearchParamType } from './registry.js';

/** Receives the rows of one resource; the implementation deduplicates identical rows. */
export interface RowSink {
  /** `exact` as written; the sink stores it with its `normalizeString` form (and skips it if that is empty). */
  string(param: string, exact: string): void;
  token(param: string, system: string | null, code: string | null): void;
  date(param: string, low: string | null, high: string | null): void;
  reference(param: string, targetType: string | null, targetId: string | null, ref: string): void;
  quantity(param: string, value: number, system: string | null, code: string | null, unit: string | null): void;
  number(param: string, value: number): void;
  uri(param: string, uri: string): void;
}

/** FHIR primitive datatypes: their JSON values are strings, numbers or booleans. */
export const PRIMITIVES: ReadonlySet<string> = new Set([
  'base64Binary',
  'boolean',
  'canonical',
  'code',
  'date',
  'dateTime',
  'decimal',
  'id',
  'instant',
  'integer',
  'integer64',
  'markdown',
  'oid',
  'positiveInt',
  'string',
  'time',
  'unsignedInt',
  'uri',
  'url',
  'uuid',
  'xhtml',
]);

// --- strings -----------------------------------------------------------------------------------

/** Ligatures NFD does not decompose; French names and words use œ and æ ("Cœur", "Lætitia"). */
const LIGATURES: Record<string, string> = { œ: 'oe', æ: 'ae', ß: 'ss' };

/**
 * The form string searches compare: lower-case, accents removed, ligatures expanded, typographic
 * apostrophes made plain, whitespace collapsed and trimmed. `Lefèvre` and `LEFEVRE` both give `lefevre`.
 */
export function normalizeString(s: string): string {
  let out = s.toLowerCase();
  // Fast path: plain ASCII without doubled whitespace needs none of the costly steps below.
  if (/[^\x20-\x7e]|\s\s/.test(out)) {
    out = out
      .normalize('NFD')
      .replace(/\p{M}/gu, '')
      .replace(/[œæß]/g, (c) => LIGATURES[c] ?? c)
      .replace(/[\u2018\u2019\u02bc]/g, "'")
      .replace(/\s+/g, ' ');
  }
  return out.trim();
}

// --- dates -------------------------------------------------------------------------------------

const DATE_RE =
  /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

const pad = (n: number, width: number): string => String(n).padStart(width, '0');

/** ISO instant with milliseconds; unlike `toISOString`, year 10000 is written without a sign (Postgres reads it). */
function formatInstant(ms: number): string {
  const d = new Date(ms);
  return (
    `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}` +
    `T${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)}.${pad(d.getUTCMilliseconds(), 3)}Z`
  );
}

/** Like `Date.UTC` (month 0-based, overflow rolls over) without its mapping of years 0-99 to 1900-1999. */
function utc(year: number, month: number, day: number, h = 0, mi = 0, s = 0, ms = 0): number {
  const d = new Date(0);
  d.setUTCFullYear(year, month, day);
  return d.getTime() + ((h * 60 + mi) * 60 + s) * 1000 + ms;
}

function daysInMonth(year: number, month1: number): number {
  return new Date(utc(year, month1, 0)).getUTCDate();
}

/**
 * The instants [low, high) covered by a FHIR date, dateTime or instant at its own precision:
 * `2024` is the whole year, `2024-03-05T10:00:00+02:00` the second 08:00:00Z. Values without a
 * timezone are taken as UTC. Also accepts the search form without seconds (`2024-03-05T10:00`).
 * Returns undefined for anything unparseable or out of range.
 */
export function dateRange(value: string): { low: string; high: string } | undefined {
  const m = DATE_RE.exec(value);
  if (!m) return undefined;
  const [, ys, mos, ds, hs, mis, ss, fs, tz] = m;
  const year = Number(ys);
  if (year < 1) return undefined;
  if (mos === undefined) return { low: formatInstant(utc(year, 0, 1)), high: formatInstant(utc(year + 1, 0, 1)) };
  const month = Number(mos);
  if (month < 1 || month > 12) return undefined;
  if (ds === undefined) {
    return { low: formatInstant(utc(year, month - 1, 1)), high: formatInstant(utc(year, month, 1)) };
  }
  const day = Number(ds);
  if (day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hs === undefined || mis === undefined) {
    const low = utc(year, month - 1, day);
    return { low: formatInstant(low), high: formatInstant(utc(year, month - 1, day + 1)) };
  }
  const hour = Number(hs);
  const minute = Number(mis);
  // Second 60 is a FHIR-legal leap second; it rolls over to the next minute.
  const second = ss === undefined ? 0 : Number(ss);
  if (hour > 23 || minute > 59 || second > 60) return undefined;
  const millis = fs === undefined ? 0 : Number(fs.slice(0, 3).padEnd(3, '0'));
  let offsetMinutes = 0;
  if (tz !== undefined && tz !== 'Z') {
    const oh = Number(tz.slice(1, 3));
    const om = Number(tz.slice(4, 6));
    if (oh > 14 || om > 59) return undefined;
    offsetMinutes = (tz.startsWith('-') ? -1 : 1) * (oh * 60 + om);
  }
  const low = utc(year, month - 1, day, hour, minute, second, millis) - offsetMinutes * 60_000;
  const width = fs !== undefined ? 1 : ss !== undefined ? 1000 : 60_000;
  return { low: formatInstant(low), high: formatInstant(low + width) };
}

// --- references --------------------------------------------------------------------------------

const RELATIVE_REF_RE = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[A-Za-z0-9\-.]{1,64})?$/;
const ABSOLUTE_REF_RE =
  /^https?:\/\/[^?#]*\/([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[A-Za-z0-9\-.]{1,64})?$/;

/**
 * The target of a reference string: `Patient/1`, `Patient/1/_history/2` and
 * `https://host/fhir/Patient/1` give Patient/1; `#contained`, `urn:uuid:...` and other forms give nulls.
 */
export function parseReference(ref: string): { targetType: string | null; targetId: string | null } {
  const m = RELATIVE_REF_RE.exec(ref) ?? ABSOLUTE_REF_RE.exec(ref);
  if (!m) return { targetType: null, targetId: null };
  return { targetType: m[1] ?? null, targetId: m[2] ?? null };
}

// --- value -> rows -----------------------------------------------------------------------------

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 ? v : null);

function* strings(v: unknown): Generator<string> {
  if (typeof v === 'string') yield v;
  else if (Array.isArray(v)) for (const x of v) if (typeof x === 'string') yield x;
}

const HUMAN_NAME_PARTS = ['family', 'given', 'prefix', 'suffix', 'text'] as const;
const ADDRESS_PARTS = ['line', 'city', 'district', 'state', 'postalCode', 'country', 'text'] as const;
const QUANTITY_TYPES = new Set(['Quantity', 'SimpleQuantity', 'Age', 'Duration', 'Count', 'Distance', 'MoneyQuantity']);
const CONTACT_SYSTEMS = new Set(['phone', 'fax', 'email', 'pager', 'url', 'sms', 'other']);
const ISO_4217 = 'urn:iso:std:iso:4217';

function stringRows(sink: RowSink, param: string, value: unknown, type: string): void {
  if (typeof value === 'string') {
    sink.string(param, value);
    return;
  }
  if (!isObj(value)) return;
  const t =
    type || ('family' in value || 'given' in value ? 'HumanName' : 'line' in value || 'city' in value ? 'Address' : '');
  const parts = t === 'HumanName' ? HUMAN_NAME_PARTS : t === 'Address' ? ADDRESS_PARTS : undefined;
  if (!parts) return;
  for (const part of parts) for (const s of strings(value[part])) sink.string(param, s);
}

function codingRow(sink: RowSink, param: string, c: unknown): void {
  if (!isObj(c)) return;
  const system = str(c.system);
  const code = str(c.code);
  if (system !== null || code !== null) sink.token(param, system, code);
}

/** Datatype of an untyped object (fhirpath results without type info), from its shape. */
function guessTokenType(v: Obj): string {
  if (Array.isArray(v.coding) || ('text' in v && !('value' in v))) return 'CodeableConcept';
  if ('value' in v)
    return typeof v.system === 'string' && CONTACT_SYSTEMS.has(v.system) ? 'ContactPoint' : 'Identifier';
  return 'Coding';
}

function tokenRows(sink: RowSink, param: string, value: unknown, type: string): void {
  if (typeof value === 'boolean') {
    sink.token(param, null, value ? 'true' : 'false');
    return;
  }
  if (typeof value === 'string') {
    if (value.length > 0) sink.token(param, null, value);
    return;
  }
  if (!isObj(value)) return;
  const t = type === 'Coding' || type === 'CodeableConcept' || type === 'Identifier' || type === 'ContactPoint';
  switch (t ? type : guessTokenType(value)) {
    case 'Coding':
      codingRow(sink, param, value);
      return;
    case 'CodeableConcept':
      if (Array.isArray(value.coding)) for (const c of value.coding) codingRow(sink, param, c);
      return;
    case 'Identifier': {
      const v = str(value.value);
      if (v !== null) sink.token(param, str(value.system), v);
      return;
    }
    case 'ContactPoint': {
      const v = str(value.value);
      if (v !== null) sink.token(param, null, v);
      return;
    }
  }
}

function dateRows(sink: RowSink, param: string, value: unknown, type: string): void {
  if (typeof value === 'string') {
    const r = dateRange(value);
    if (r) sink.date(param, r.low, r.high);
    return;
  }
  if (!isObj(value)) return;
  if (type === 'Timing' || Array.isArray(value.event)) {
    for (const e of strings(value.event)) dateRows(sink, param, e, 'dateTime');
    return;
  }
  if (type === 'Period' || 'start' in value || 'end' in value) {
    const low = typeof value.start === 'string' ? (dateRange(value.start)?.low ?? null) : null;
    const high = typeof value.end === 'string' ? (dateRange(value.end)?.high ?? null) : null;
    if (low !== null || high !== null) sink.date(param, low, high);
  }
}

function referenceRows(sink: RowSink, param: string, value: unknown): void {
  // canonical / uri references: kept as written, no parsed target.
  if (typeof value === 'string') {
    if (value.length > 0) sink.reference(param, null, null, value);
    return;
  }
  if (!isObj(value)) return;
  const ref = str(value.reference);
  if (ref === null) return;
  const { targetType, targetId } = parseReference(ref);
  sink.reference(param, targetType, targetId, ref);
}

function quantityRows(sink: RowSink, param: string, value: unknown, type: string): void {
  if (!isObj(value) || typeof value.value !== 'number' || !Number.isFinite(value.value)) return;
  if (type === 'Money' || (typeof value.currency === 'string' && !('code' in value))) {
    sink.quantity(param, value.value, ISO_4217, str(value.currency), null);
    return;
  }
  if (type !== 'SampledData' && (QUANTITY_TYPES.has(type) || !('data' in value))) {
    sink.quantity(param, value.value, str(value.system), str(value.code), str(value.unit));
  }
}

/**
 * Adds the rows for one value of a parameter. `type` is the value's FHIR datatype (`HumanName`,
 * `dateTime`, `Period`...) when known, '' otherwise; unknown object shapes are then guessed.
 */
export function addValueRows(
  sink: RowSink,
  code: string,
  paramType: SearchParamType,
  value: unknown,
  type: string,
): void {
  // JSON that contradicts its declared datatype (a string where a HumanName belongs...) is not indexed.
  if (type !== '' && PRIMITIVES.has(type) === isObj(value)) return;
  switch (paramType) {
    case 'string':
      stringRows(sink, code, value, type);
      return;
    case 'token':
      tokenRows(sink, code, value, type);
      return;
    case 'date':
      dateRows(sink, code, value, type);
      return;
    case 'reference':
      referenceRows(sink, code, value);
      return;
    case 'quantity':
      quantityRows(sink, code, value, type);
      return;
    case 'number':
      if (typeof value === 'number' && Number.isFinite(value)) sink.number(code, value);
      return;
    case 'uri':
      if (typeof value === 'string' && value.length > 0) sink.uri(code, value);
      return;
  }
}
