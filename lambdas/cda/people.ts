/**
 * Who signs: the professional a document names, found among the Practitioners the caller passes, else the
 * organisation's configured biologist. An idNat is always taken from the data, never made up.
 */

import type { Resource } from '../fhir/types.js';
import type { Json } from './fhir.js';
import { codeIn, idNatOf, list, obj, referencedId, str } from './fhir.js';
import type { CdaOrganisation } from './organisation.js';
import { type CdaPerson, practitionerPerson } from './parties.js';
import type { CdaCode } from './types.js';

/**
 * A Practitioner as a header person, or undefined when it has no idNat. Its profession comes from its qualifications,
 * else the organisation's declared default for its feeds.
 */
export function personOf(practitioner: Resource | undefined, org?: CdaOrganisation): CdaPerson | undefined {
  const idNat = idNatOf(practitioner);
  if (!practitioner || !idNat) return undefined;
  const person = practitionerPerson(practitioner, idNat);
  const specialty = practitionerSpecialty(practitioner) ?? org?.defaultAuthorSpecialty;
  if (specialty) person.specialty = specialty;
  return person;
}

/** The organisation's configured biologist, when there is one. */
export function configuredBiologist(org: CdaOrganisation): CdaPerson | undefined {
  const b = org.biologist;
  if (!b) return undefined;
  const person: CdaPerson = {
    idNat: b.idNat,
    name: { family: b.family, given: b.given ? [b.given] : [], prefix: [], suffix: [] },
    telecoms: [],
  };
  if (b.specialty) person.specialty = b.specialty;
  return person;
}

/** The Practitioner a reference designates: by literal id, else by a business identifier. */
function resolve(reference: Json, practitioners: Resource[]): Resource | undefined {
  const id = referencedId(reference, 'Practitioner');
  if (id) return practitioners.find((p) => p.id === id);
  const identifier = obj(reference['identifier']);
  const system = str(identifier?.['system']);
  const value = str(identifier?.['value']);
  if (!system || !value) return undefined;
  const known = practitioners.find((p) =>
    list(p['identifier']).some((i) => i['system'] === system && i['value'] === value),
  );
  // A reference by identifier alone still names the professional when it is their idNat.
  return known ?? { resourceType: 'Practitioner', identifier: [{ system, value }], name: displayName(reference) };
}

function displayName(reference: Json): Json[] {
  const display = str(reference['display']);
  return display ? [{ text: display, family: display }] : [];
}

/**
 * The biologist who validated the results: the report's results interpreter, else its performer, else a
 * performer of its observations (each only with an idNat), else the organisation's biologist.
 */
export function validatingBiologist(
  report: Resource,
  observations: Resource[],
  practitioners: Resource[],
  org: CdaOrganisation,
): CdaPerson | undefined {
  const references = [
    ...list(report['resultsInterpreter']),
    ...list(report['performer']),
    ...observations.flatMap((o) => list(o['performer'])),
  ];
  for (const ref of references) {
    const person = personOf(resolve(ref, practitioners), org);
    if (person) return person;
  }
  return configuredBiologist(org);
}

/** The practitioner's profession/specialty from its qualifications (JDV_J01 code system), when it has one. */
export function practitionerSpecialty(practitioner: Resource | undefined): CdaCode | undefined {
  for (const q of list(practitioner?.['qualification'])) {
    const code = codeIn(q['code'], 'urn:oid:1.2.250.1.213.1.1.4.5');
    if (code) {
      const display = list(obj(q['code'])?.['coding']).find((c) => c['code'] === code)?.['display'];
      return {
        code,
        codeSystem: '1.2.250.1.213.1.1.4.5',
        ...(typeof display === 'string' ? { displayName: display } : {}),
      };
    }
  }
  return undefined;
}
