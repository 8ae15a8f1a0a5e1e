/**
 * E-mail address checks shared by the mailbox resolution, the annuaire client and the SMTP outcome:
 * a plain RFC 5322 addr-spec test and the MSSanté domain rule.
 */

// dot-atom local part (no quoted strings: MSSanté operators never issue them) and a DNS host name.
const ATEXT = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]";
const LOCAL = `${ATEXT}+(?:\\.${ATEXT}+)*`;
const LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const ADDR_SPEC = new RegExp(`^(${LOCAL})@(${LABEL}(?:\\.${LABEL})+)$`);

/**
 * True when `value` is a bare addr-spec (`local@domain.tld`, at most 254 characters, local part at most 64).
 *
 * @example
 * ```ts
 * isMailboxAddress('dr.martin@test-ci-sis.mssante.fr'); // true
 * isMailboxAddress('Dr Martin <dr.martin@x.fr>'); // false: a display name is not an addr-spec
 * ```
 */
export function isMailboxAddress(value: string): boolean {
  if (value.length > 254) return false;
  const m = ADDR_SPEC.exec(value);
  return m !== null && m[1]!.length <= 64;
}

/** The address with a lower-cased domain (the local part stays as written: it is case-sensitive in theory). */
export function normalizeAddress(value: string): string {
  const at = value.lastIndexOf('@');
  return at < 0 ? value : value.slice(0, at) + value.slice(at).toLowerCase();
}

/**
 * True when the address belongs to the MSSanté trust space: domain `mssante.fr` or any `*.mssante.fr`
 * (`medecin.mssante.fr`, `<hospital>.mssante.fr`, `patient.mssante.fr`…).
 */
export function isMssanteDomain(address: string): boolean {
  const domain = address.slice(address.lastIndexOf('@') + 1).toLowerCase();
  return domain === 'mssante.fr' || domain.endsWith('.mssante.fr');
}

const ANY_ADDRESS = /[^\s<>()[\]\\,;:"@]+@[A-Za-z0-9.-]+/g;

/**
 * Replaces every e-mail address in a server text by `[redacted]`: SMTP replies often echo the recipient, and a
 * patient mailbox's local part is the patient's INS.
 */
export function redactAddresses(text: string): string {
  return text.replace(ANY_ADDRESS, '[redacted]');
}

/** Deduplicates addresses (case-insensitively), keeping the first spelling. */
export function uniqueAddresses(addresses: Iterable<string>): string[] {
  const seen = new Map<string, string>();
  for (const a of addresses) {
    const key = a.toLowerCase();
    if (!seen.has(key)) seen.set(key, a);
  }
  return [...seen.values()];
}
