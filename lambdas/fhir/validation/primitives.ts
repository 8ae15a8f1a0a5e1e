import { z } from 'zod';

/**
 * FHIR R4 primitive datatypes as zod schemas, built once at module load.
 * Regexes follow the R4 specification (http://hl7.org/fhir/R4/datatypes.html); FHIR JSON forbids empty
 * strings, so every string-based primitive requires at least one character.
 * Error messages say what is expected and never echo the input (it may be personal data).
 */

const YEAR = '([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)';
const MONTH = '(0[1-9]|1[0-2])';
const DAY = '(0[1-9]|[1-2][0-9]|3[0-1])';
const TIME = '([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\\.[0-9]+)?';
const ZONE = '(Z|(\\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))';

const DATE_RE = new RegExp(`^${YEAR}(-${MONTH}(-${DAY})?)?$`);
// A time requires a timezone; a partial date (year, year-month, full date) carries none.
const DATE_TIME_RE = new RegExp(`^${YEAR}(-${MONTH}(-${DAY}(T${TIME}${ZONE})?)?)?$`);
const INSTANT_RE = new RegExp(`^${YEAR}-${MONTH}-${DAY}T${TIME}${ZONE}$`);
const TIME_RE = new RegExp(`^${TIME}$`);
// Regexes below avoid repeated groups: V8 backtracks those recursively and overflows its stack on
// multi-megabyte input (a Binary.data, a hostile code). Character-class repetition is safe.
// A code has no leading/trailing whitespace, no whitespace but single spaces.
const CODE_BAD_WHITESPACE_RE = /^\s|\s$|\s\s|[^\S ]/;
const ID_RE = /^[A-Za-z0-9\-.]{1,64}$/;
const URI_RE = /^\S+$/;
const OID_ARC_RE = /^(?:0|[1-9][0-9]*)$/;
const UUID_RE = /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;
const HAS_WHITESPACE_RE = /\s/;
const ALL_WHITESPACE_RE = /\s/g;

/** Days per month in a leap year; February 29 is further checked against the year. */
const MONTH_DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * True when the calendar date part (if complete) exists: the regexes alone accept `2023-02-31`.
 * Only meaningful after a date/dateTime/instant regex matched, so positions are fixed.
 */
export function isRealCalendarDate(value: string): boolean {
  if (value.length < 10) return true;
  const year = Number(value.slice(0, 4));
  const month = Number(value.slice(5, 7));
  const day = Number(value.slice(8, 10));
  const max = MONTH_DAYS[month - 1] ?? 0;
  if (day > max) return false;
  if (month === 2 && day === 29) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return true;
}

/** True when the string is valid base64 (whitespace tolerated, as FHIR allows it). */
export function isBase64(value: string): boolean {
  const compact = HAS_WHITESPACE_RE.test(value) ? value.replace(ALL_WHITESPACE_RE, '') : value;
  return compact.length > 0 && compact.length % 4 === 0 && BASE64_RE.test(compact);
}

/** True for `urn:oid:` followed by an OID (first arc 0-2, at least two arcs, no leading zeros). */
export function isOidUri(value: string): boolean {
  if (!value.startsWith('urn:oid:')) return false;
  const arcs = value.slice(8).split('.');
  const first = arcs[0];
  return (
    arcs.length >= 2 && (first === '0' || first === '1' || first === '2') && arcs.every((arc) => OID_ARC_RE.test(arc))
  );
}

/** True for a FHIR code: non-empty, no leading/trailing whitespace, only single spaces inside. */
export function isCode(value: string): boolean {
  return !CODE_BAD_WHITESPACE_RE.test(value);
}

const EMPTY = 'must not be an empty string (FHIR JSON forbids empty strings)';

/**
 * A non-empty string that must pass `test`; one issue at most per value (the empty-string issue
 * comes from `min(1)`, so the format check stays silent on empty input).
 */
export function formatted(test: (value: string) => boolean, message: string) {
  return z
    .string()
    .min(1, EMPTY)
    .superRefine((value, ctx) => {
      if (value.length > 0 && !test(value)) ctx.addIssue({ code: 'custom', message, params: { fhirCode: 'value' } });
    });
}

const matches = (re: RegExp) => (value: string) => re.test(value);
const calendar = (re: RegExp) => (value: string) => re.test(value) && isRealCalendarDate(value);

export const fhirString = z.string().min(1, EMPTY);
export const markdown = fhirString;
export const code = formatted(isCode, 'must be a code without leading, trailing or repeated whitespace');
export const id = formatted(matches(ID_RE), 'must be an id: 1 to 64 characters among A-Z a-z 0-9 - .');
export const uri = formatted(matches(URI_RE), 'must be a URI without whitespace');
export const url = uri;
export const canonical = uri;
export const oid = formatted(isOidUri, 'must be an OID URI (urn:oid:...)');
export const uuid = formatted(matches(UUID_RE), 'must be a UUID URI (urn:uuid:..., lower case)');
export const date = formatted(
  calendar(DATE_RE),
  'must be a FHIR date (YYYY, YYYY-MM or YYYY-MM-DD) on an existing day',
);
export const dateTime = formatted(
  calendar(DATE_TIME_RE),
  'must be a FHIR dateTime (YYYY, YYYY-MM, YYYY-MM-DD, or YYYY-MM-DDThh:mm:ss[.fff] with a timezone) on an existing day',
);
export const instant = formatted(
  calendar(INSTANT_RE),
  'must be a FHIR instant (YYYY-MM-DDThh:mm:ss[.fff] with a timezone) on an existing day',
);
export const time = formatted(matches(TIME_RE), 'must be a FHIR time (hh:mm:ss[.fff])');
export const base64Binary = formatted(isBase64, 'must be base64-encoded content');

export const boolean = z.boolean();
export const decimal = z.number();
export const integer = z.number().int().min(-2_147_483_648).max(2_147_483_647);
export const positiveInt = z.number().int().min(1).max(2_147_483_647);
export const unsignedInt = z.number().int().min(0).max(2_147_483_647);
