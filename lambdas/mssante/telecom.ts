/**
 * Reads MSSanté mailboxes from a FHIR resource's `telecom` (FR Core contact points, and the Annuaire Santé
 * `mailbox-mss` slice). Works on untrusted JSON: anything malformed is skipped.
 */

import { isMailboxAddress, isMssanteDomain, normalizeAddress } from './address.js';

/** FR Core extension giving the kind of e-mail (TRE_R256-TypeMessagerie: MSSANTE, APICRYPT…). */
export const EMAIL_TYPE_EXTENSION = 'https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-contact-point-email-type';
/** Annuaire Santé extension carrying the mailbox metadata (its `type` sub-extension: PER, CAB, ORG, APP). */
const MAILBOX_METADATA_SUFFIX = '/as-ext-mailbox-mss-metadata';

export type MailboxType = 'PER' | 'CAB' | 'ORG' | 'APP';

/** One MSSanté mailbox (BAL). */
export interface Mailbox {
  address: string;
  type?: MailboxType;
}

const MAILBOX_TYPES: ReadonlySet<string> = new Set(['PER', 'CAB', 'ORG', 'APP']);

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const asArray = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** Codes of a Coding, a CodeableConcept or a code value. */
function codesOf(ext: Json): string[] {
  const out: string[] = [];
  if (typeof ext.valueCode === 'string') out.push(ext.valueCode);
  if (isObject(ext.valueCoding) && typeof ext.valueCoding.code === 'string') out.push(ext.valueCoding.code);
  if (isObject(ext.valueCodeableConcept)) {
    for (const c of asArray(ext.valueCodeableConcept.coding)) {
      if (isObject(c) && typeof c.code === 'string') out.push(c.code);
    }
  }
  return out;
}

function mailboxType(extensions: unknown[]): MailboxType | undefined {
  for (const ext of extensions) {
    if (!isObject(ext) || typeof ext.url !== 'string' || !ext.url.endsWith(MAILBOX_METADATA_SUFFIX)) continue;
    for (const sub of asArray(ext.extension)) {
      if (!isObject(sub) || sub.url !== 'type') continue;
      const code = codesOf(sub).find((c) => MAILBOX_TYPES.has(c));
      if (code) return code as MailboxType;
    }
  }
  return undefined;
}

/** True when the contact point is typed MSSANTE with the FR Core e-mail type extension. */
function typedMssante(extensions: unknown[]): boolean {
  return extensions.some((e) => isObject(e) && e.url === EMAIL_TYPE_EXTENSION && codesOf(e).includes('MSSANTE'));
}

/**
 * The MSSanté mailboxes among `resource.telecom`: `system` = `email`, a valid address, and either the FR Core
 * e-mail type MSSANTE or an address in an `mssante.fr` domain. Contact points whose period has ended are skipped.
 *
 * @example
 * ```ts
 * mssanteMailboxes({ telecom: [{ system: 'email', value: 'dr.x@test.mssante.fr' }] });
 * // [{ address: 'dr.x@test.mssante.fr' }]
 * ```
 */
export function mssanteMailboxes(resource: unknown, now: Date = new Date()): Mailbox[] {
  if (!isObject(resource)) return [];
  const out: Mailbox[] = [];
  for (const cp of asArray(resource.telecom)) {
    if (!isObject(cp) || cp.system !== 'email' || typeof cp.value !== 'string') continue;
    const address = cp.value.trim().replace(/^mailto:/i, '');
    if (!isMailboxAddress(address)) continue;
    if (isObject(cp.period) && typeof cp.period.end === 'string' && Date.parse(cp.period.end) < now.getTime()) continue;
    const extensions = asArray(cp.extension);
    if (!typedMssante(extensions) && !isMssanteDomain(address)) continue;
    const type = mailboxType(extensions);
    out.push({ address: normalizeAddress(address), ...(type ? { type } : {}) });
  }
  return out;
}
