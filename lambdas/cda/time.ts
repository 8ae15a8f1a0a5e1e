/**
 * CDA timestamps (TS): local time in Europe/Paris with its UTC offset, e.g. `20261202134500+0100`, as the CI-SIS
 * requires ("en temps local du producteur"). Inputs are instants (Date, FHIR dateTime with a zone); FHIR dates
 * without a time stay dates (a birth date has no zone).
 */

const PARIS = new Intl.DateTimeFormat('en-GB', {
  timeZone: 'Europe/Paris',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hourCycle: 'h23',
});

const HOUR_MS = 3_600_000;
// The Paris offset only changes on whole hours: one Intl call per distinct hour, not per timestamp.
const offsets = new Map<number, number>();

function parisOffsetMinutes(ms: number): number {
  const hour = Math.floor(ms / HOUR_MS);
  let offset = offsets.get(hour);
  if (offset === undefined) {
    const p: Record<string, string> = {};
    for (const part of PARIS.formatToParts(new Date(hour * HOUR_MS))) p[part.type] = part.value;
    const local = Date.UTC(+p['year']!, +p['month']! - 1, +p['day']!, +p['hour']!, +p['minute']!, +p['second']!);
    offset = Math.round((local - hour * HOUR_MS) / 60_000);
    if (offsets.size > 10_000) offsets.clear();
    offsets.set(hour, offset);
  }
  return offset;
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/**
 * An instant as a CDA timestamp to the second, in Paris time with its offset.
 *
 * @example cdaTimestamp(new Date('2026-12-02T12:45:00Z')) // '20261202134500+0100'
 */
export function cdaTimestamp(instant: Date): string {
  const ms = instant.getTime();
  if (Number.isNaN(ms)) throw new RangeError('invalid date');
  const offset = parisOffsetMinutes(ms);
  const local = new Date(ms + offset * 60_000);
  const sign = offset < 0 ? '-' : '+';
  const abs = Math.abs(offset);
  return (
    `${pad(local.getUTCFullYear(), 4)}${pad(local.getUTCMonth() + 1)}${pad(local.getUTCDate())}` +
    `${pad(local.getUTCHours())}${pad(local.getUTCMinutes())}${pad(local.getUTCSeconds())}` +
    `${sign}${pad(Math.floor(abs / 60))}${pad(abs % 60)}`
  );
}

const FHIR_DATE = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$/;

/**
 * A FHIR `date`/`dateTime`/`instant` as a CDA TS: a date (or year, year-month) keeps its precision and gets no
 * zone; a dateTime becomes Paris time with its offset. Undefined when the value is not a FHIR date.
 *
 * @example cdaDateTime('1979-03-28') // '19790328'
 * @example cdaDateTime('2026-03-05T08:00:00+01:00') // '20260305080000+0100'
 */
export function cdaDateTime(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const date = FHIR_DATE.exec(value);
  if (date) return `${date[1]}${date[2] ?? ''}${date[3] ?? ''}`;
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(value)) return undefined;
  const instant = new Date(value);
  return Number.isNaN(instant.getTime()) ? undefined : cdaTimestamp(instant);
}

/** A FHIR dateTime as an instant (undefined for a date without time or an invalid value). */
export function instantOf(value: unknown): Date | undefined {
  if (typeof value !== 'string' || !value.includes('T')) return undefined;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? undefined : d;
}
