/** Small readers of the FHIR JSON PFI stores (untyped beyond `resourceType`): codings, identifiers, names, references. */

import type { Resource } from '../fhir/types.js';
import { OID } from './codes.js';
import type { CdaCode, CdaId } from './types.js';

export type Json = Record<string, unknown>;

export function list(value: unknown): Json[] {
  return Array.isArray(value) ? value.filter((v): v is Json => typeof v === 'object' && v !== null) : [];
}

export function obj(value: unknown): Json | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : undefined;
}

export function str(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

const OID_RE = /^[0-2](\.(0|[1-9]\d*))+$/;
const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

const SYSTEM_OIDS: Record<string, string> = {
  'http://loinc.org': OID.loinc,
  'http://snomed.info/sct': OID.snomed,
  'http://unitsofmeasure.org': OID.ucum,
};

/** The OID of a FHIR system URI (`urn:oid:…`, a known terminology), or undefined. */
export function oidOf(system: unknown): string | undefined {
  if (typeof system !== 'string') return undefined;
  if (system.startsWith('urn:oid:')) {
    const oid = system.slice(8);
    return OID_RE.test(oid) ? oid : undefined;
  }
  if (OID_RE.test(system)) return system;
  return SYSTEM_OIDS[system];
}

/** A FHIR identifier as a CDA II (root = the OID or UUID of its system), or undefined when the system is neither. */
export function cdaIdOf(identifier: Json | undefined): CdaId | undefined {
  const value = str(identifier?.['value']);
  const system = identifier?.['system'];
  if (!value || typeof system !== 'string') return undefined;
  const oid = oidOf(system);
  if (oid) return { root: oid, extension: value };
  if (system.startsWith('urn:uuid:') && UUID_RE.test(system.slice(9)))
    return { root: system.slice(9), extension: value };
  return undefined;
}

/** The codings of a CodeableConcept expressible in CDA (system with an OID), display kept. */
export function cdaCodings(concept: unknown): CdaCode[] {
  const out: CdaCode[] = [];
  for (const coding of list(obj(concept)?.['coding'])) {
    const code = str(coding['code']);
    const codeSystem = oidOf(coding['system']);
    if (!code || !codeSystem) continue;
    const c: CdaCode = { code, codeSystem };
    const display = str(coding['display']);
    if (display) c.displayName = display;
    if (codeSystem === OID.loinc) c.codeSystemName = 'LOINC';
    out.push(c);
  }
  return out;
}

/** The human label of a CodeableConcept: its text, else the first display, else the first code. */
export function conceptLabel(concept: unknown): string | undefined {
  const cc = obj(concept);
  const codings = list(cc?.['coding']);
  return (
    str(cc?.['text']) ??
    codings.map((c) => str(c['display'])).find(Boolean) ??
    codings.map((c) => str(c['code'])).find(Boolean)
  );
}

/** The first coding of `system` in a CodeableConcept. */
export function codeIn(concept: unknown, system: string): string | undefined {
  return list(obj(concept)?.['coding'])
    .filter((c) => c['system'] === system)
    .map((c) => str(c['code']))
    .find(Boolean);
}

export interface PersonName {
  family?: string;
  given: string[];
  prefix: string[];
  suffix: string[];
}

export function personName(name: Json | undefined): PersonName {
  const words = (v: unknown) => (Array.isArray(v) ? v.map(str).filter((s): s is string => s !== undefined) : []);
  return {
    family: str(name?.['family']),
    given: words(name?.['given']),
    prefix: words(name?.['prefix']),
    suffix: words(name?.['suffix']),
  };
}

/** The id of a literal reference to `type` (`Practitioner/123`, or an absolute URL ending so). */
export function referencedId(reference: unknown, type: string): string | undefined {
  const ref = str(obj(reference)?.['reference']);
  if (!ref) return undefined;
  const m = new RegExp(`(?:^|/)${type}/([^/]+)(?:/_history/[^/]+)?$`).exec(ref);
  return m?.[1];
}

const RPPS_SYSTEM = 'https://rpps.esante.gouv.fr';
const IDNAT_PS_SYSTEM = 'urn:oid:1.2.250.1.71.4.2.1';

/**
 * The idNat_PS of a Practitioner: its idNatPs identifier as given (FR Core: never rebuilt), else `8` + its
 * 11-digit RPPS (the idNat rule for RPPS professionals). Undefined when it has neither: never invented.
 */
export function idNatOf(practitioner: Resource | undefined): string | undefined {
  const ids = list(practitioner?.['identifier']).filter((i) => i['use'] !== 'old');
  const idNat = ids
    .filter((i) => i['system'] === IDNAT_PS_SYSTEM)
    .map((i) => str(i['value']))
    .find(Boolean);
  if (idNat) return idNat;
  const rpps = ids
    .filter((i) => i['system'] === RPPS_SYSTEM)
    .map((i) => str(i['value']))
    .find((v) => v && /^\d{11}$/.test(v));
  return rpps ? `8${rpps}` : undefined;
}

/** Text of a FHIR decimal without reformatting it: a string is kept as sent, a number without exponent. */
export function decimalText(value: unknown): string | undefined {
  if (typeof value === 'string') return /^[+-]?(\d+(\.\d*)?|\.\d+)$/.test(value.trim()) ? value.trim() : undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) return undefined;
  const text = String(value);
  if (!/e/i.test(text)) return text;
  // Exponent notation (1e-7, 1e21) is not a CDA REAL: expand it exactly from the shortest round-trip digits.
  const [mantissa, exp] = text.toLowerCase().split('e') as [string, string];
  const negative = mantissa.startsWith('-');
  const digits = mantissa.replace(/^-/, '').replace('.', '');
  const point =
    (mantissa.replace(/^-/, '').indexOf('.') + 1 || mantissa.replace(/^-/, '').length + 1) - 1 + Number(exp);
  const body =
    point <= 0
      ? `0.${'0'.repeat(-point)}${digits}`
      : point >= digits.length
        ? digits + '0'.repeat(point - digits.length)
        : `${digits.slice(0, point)}.${digits.slice(point)}`;
  return negative ? `-${body}` : body;
}
