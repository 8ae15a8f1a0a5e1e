/**
 * Which message types the bridge queues. The worker refuses the others (it would dead-letter them), so the bridge
 * answers AE at once. The list is configuration (`PFI_MLLP_ACCEPT`) because the bridge stands alone; its default is
 * the worker's set, and a test compares the two (test/mllp-bridge/accepted-types.test.ts).
 */

/** `TYPE^EVENT` entries; `TYPE^*` accepts every event of a type. */
export const DEFAULT_ACCEPTED_TYPES = [
  // ITI-30 identity, merge, identifier change
  'ADT^A28',
  'ADT^A31',
  'ADT^A40',
  'ADT^A47',
  // ITI-31 movements (A08 still sent by many feeds; Z99 = PAM FR movement update)
  ...['A01', 'A02', 'A03', 'A04', 'A05', 'A06', 'A07', 'A08', 'A11', 'A12', 'A13', 'A14', 'A16'].map((e) => `ADT^${e}`),
  ...['A21', 'A22', 'A25', 'A26', 'A27', 'A32', 'A33', 'A38', 'A52', 'A53', 'A54', 'A55', 'Z99'].map((e) => `ADT^${e}`),
  'ORU^R01',
  'MDM^T02',
  'MDM^T04',
  'MDM^T10',
].join(',');

/** Thrown for a malformed list; names the entry position, not its content. */
export class AcceptListError extends Error {
  override readonly name = 'AcceptListError';
}

/**
 * Parses a comma-separated `TYPE^EVENT` list into the `accepts` function of `createMllpServer`.
 *
 * @example
 * ```ts
 * const accepts = parseAcceptList('ADT^*,ORU^R01');
 * accepts('ADT', 'A01'); // true
 * ```
 */
export function parseAcceptList(spec: string): (type: string, event: string) => boolean {
  const exact = new Set<string>();
  const anyEvent = new Set<string>();
  spec
    .split(',')
    .map((s) => s.trim().toUpperCase())
    .forEach((entry, i) => {
      const m = /^([A-Z0-9]{3})\^([A-Z0-9]{3}|\*)$/.exec(entry);
      if (!m) throw new AcceptListError(`entry ${i + 1} must be TYPE^EVENT or TYPE^*`);
      if (m[2] === '*') anyEvent.add(m[1]!);
      else exact.add(entry);
    });
  return (type, event) => {
    const t = type.toUpperCase();
    return anyEvent.has(t) || exact.has(`${t}^${event.toUpperCase()}`);
  };
}
