/**
 * Resolution of a Communication recipient to MSSanté mailbox addresses, in this order: the recipient's own
 * telecom (FR Core e-mail type MSSANTE, or an `mssante.fr` domain); for a PractitionerRole, its Practitioner's
 * telecom; then the Annuaire Santé by business identifier. Reasons given on failure never contain personal data.
 */

import type { Reference, Resource } from '../fhir/types.js';
import { isMailboxAddress, normalizeAddress, uniqueAddresses } from './address.js';
import type { AnnuaireClient, AnnuaireQuery } from './annuaire.js';
import { mssanteMailboxes } from './telecom.js';

/** idNatPs and RPPS identifier systems of a Practitioner. */
export const PRACTITIONER_ID_SYSTEMS: readonly string[] = ['urn:oid:1.2.250.1.71.4.2.1', 'https://rpps.esante.gouv.fr'];
/** idNatSt and FINESS identifier systems of an Organization. */
export const ORGANIZATION_ID_SYSTEMS: readonly string[] = [
  'urn:oid:1.2.250.1.71.4.2.2',
  'https://finess.esante.gouv.fr',
];

export type MailboxResolution =
  | { addresses: string[]; source: 'resource' | 'annuaire' }
  | { addresses: []; reason: string };

export interface ResolveMailboxOptions {
  /** Absent: only the repository resources are used (no `PFI_ANNUAIRE_URL`). */
  annuaire?: AnnuaireClient;
  /** Reads the Practitioner a PractitionerRole points to (`Practitioner/123`). */
  practitionerOf?: (ref: string) => Promise<Resource | undefined>;
  /** Reference time for contact point periods; default now. */
  now?: Date;
}

interface Identifier {
  system?: string;
  value?: string;
}

const MAX_ANNUAIRE_QUERIES = 4;

const identifiersOf = (r: Resource | undefined): Identifier[] =>
  Array.isArray(r?.identifier)
    ? (r.identifier as unknown[]).filter((i): i is Identifier => typeof i === 'object' && i !== null)
    : [];

function byKnownSystem(ids: Identifier[], systems: readonly string[]): AnnuaireQuery['identifier'][] {
  return systems.flatMap((system) =>
    ids
      .filter((i) => i.system === system && typeof i.value === 'string' && i.value.trim() !== '')
      .map((i) => ({ system, value: i.value!.trim() })),
  );
}

const found = (addresses: string[], source: 'resource' | 'annuaire'): MailboxResolution => ({
  addresses: uniqueAddresses(addresses),
  source,
});
const failed = (reason: string): MailboxResolution => ({ addresses: [], reason });

/**
 * Finds the MSSanté mailboxes of a recipient.
 *
 * @throws the annuaire's `AnnuaireError` when the Annuaire Santé cannot be reached: a temporary failure, the job
 * should be retried rather than the Communication failed.
 *
 * @example
 * ```ts
 * const r = await resolveMailboxes(practitionerRole, { annuaire, practitionerOf: (ref) => repo.readReference(ref) });
 * if ('reason' in r) markNotDone(r.reason);
 * else send(r.addresses);
 * ```
 */
export async function resolveMailboxes(
  recipient: Resource | { address: string },
  opts: ResolveMailboxOptions = {},
): Promise<MailboxResolution> {
  const now = opts.now ?? new Date();
  if (!('resourceType' in recipient)) {
    const address = recipient.address.trim();
    return isMailboxAddress(address)
      ? found([normalizeAddress(address)], 'resource')
      : failed('the recipient address is not a valid e-mail address');
  }

  const own = mssanteMailboxes(recipient, now);
  if (own.length)
    return found(
      own.map((m) => m.address),
      'resource',
    );

  let practitioner: Resource | undefined;
  const practitionerRef = (recipient.practitioner as Reference | undefined) ?? undefined;
  if (recipient.resourceType === 'PractitionerRole' && practitionerRef?.reference && opts.practitionerOf) {
    practitioner = await opts.practitionerOf(practitionerRef.reference);
    const inherited = mssanteMailboxes(practitioner, now);
    if (inherited.length)
      return found(
        inherited.map((m) => m.address),
        'resource',
      );
  }

  const queries = annuaireQueries(recipient, practitioner, practitionerRef);
  if (queries.length === 0) {
    return failed(
      `no MSSanté mailbox in the ${recipient.resourceType}'s telecom and no business identifier ` +
        '(idNatPs/RPPS, idNatSt/FINESS) to search the Annuaire Santé with',
    );
  }
  if (!opts.annuaire) {
    return failed(`no MSSanté mailbox in the ${recipient.resourceType}'s telecom (Annuaire Santé not configured)`);
  }
  // Several identifiers of one resource name the same entry: once it is found, the others are not asked.
  const known = new Set<string>();
  for (const q of queries.slice(0, MAX_ANNUAIRE_QUERIES)) {
    if (known.has(q.resourceType)) continue;
    const result = await opts.annuaire.findMailboxes(q);
    if (result.mailboxes.length)
      return found(
        result.mailboxes.map((m) => m.address),
        'annuaire',
      );
    if (result.found) known.add(q.resourceType);
  }
  return failed(
    known.size > 0
      ? `the Annuaire Santé lists the ${recipient.resourceType} without an MSSanté mailbox`
      : `the ${recipient.resourceType}'s identifier is unknown to the Annuaire Santé`,
  );
}

/** The annuaire lookups to try, most specific first. */
function annuaireQueries(
  recipient: Resource,
  practitioner: Resource | undefined,
  ref: Reference | undefined,
): AnnuaireQuery[] {
  const ids = identifiersOf(recipient);
  switch (recipient.resourceType) {
    case 'Practitioner':
      return byKnownSystem(ids, PRACTITIONER_ID_SYSTEMS).map((identifier) => ({
        resourceType: 'Practitioner',
        identifier,
      }));
    case 'Organization':
      return byKnownSystem(ids, ORGANIZATION_ID_SYSTEMS).map((identifier) => ({
        resourceType: 'Organization',
        identifier,
      }));
    case 'PractitionerRole': {
      const own = ids
        .filter((i) => typeof i.value === 'string' && i.value.trim() !== '')
        .map(
          (i): AnnuaireQuery => ({
            resourceType: 'PractitionerRole',
            identifier: { ...(i.system ? { system: i.system } : {}), value: i.value!.trim() },
          }),
        );
      const practitionerIds = [...identifiersOf(practitioner), ...(ref?.identifier ? [ref.identifier] : [])];
      const ofPractitioner = byKnownSystem(practitionerIds, PRACTITIONER_ID_SYSTEMS).map(
        (identifier): AnnuaireQuery => ({ resourceType: 'Practitioner', identifier }),
      );
      return [...own, ...ofPractitioner];
    }
    default:
      return [];
  }
}
