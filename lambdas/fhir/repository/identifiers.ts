import type { Resource } from '../types.js';

export interface UniqueIdentifier {
  system: string;
  value: string;
}

interface Identifier {
  system?: string;
  value?: string;
  use?: string;
  type?: { coding?: { code?: string }[] };
}

/** Types whose business identifiers are unique in the database (what HL7 and clients upsert on). */
const UNIQUE_TYPES = new Set(['Patient', 'Encounter', 'Practitioner', 'Organization']);

/** Whether resources of `type` keep unique identifiers. */
export const hasUniqueIdentifiers = (type: string): boolean => UNIQUE_TYPES.has(type);

/**
 * The identifiers of `resource` the database keeps unique per type: IPP and INS for Patient, the
 * visit number for Encounter, RPPS/ADELI for Practitioner, FINESS/SIRET for Organization.
 * Old and secondary identifiers are not unique, nor a Patient's insured number (type NH): in France
 * a dependant may carry the NIR of the insured person.
 */
export function uniqueIdentifiers(resource: Resource): UniqueIdentifier[] {
  if (!UNIQUE_TYPES.has(resource.resourceType) || !Array.isArray(resource.identifier)) return [];
  const seen = new Set<string>();
  const out: UniqueIdentifier[] = [];
  for (const id of resource.identifier as Identifier[]) {
    if (!id?.system || !id.value || id.use === 'old' || id.use === 'secondary') continue;
    if (resource.resourceType === 'Patient' && id.type?.coding?.some((c) => c.code === 'NH')) continue;
    const key = `${id.system}|${id.value}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ system: id.system, value: id.value });
  }
  return out;
}
