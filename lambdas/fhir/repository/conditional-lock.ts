import { createHash } from 'node:crypto';
import type { SqlExecutor } from '../../adapters/sql/executor.js';

/**
 * Conditional interactions (`If-None-Exist`, `PUT Type?query`) search, then write: two clients sending the same
 * condition at once would both find nothing and both create. Only some types keep their identifiers unique in the
 * database (./identifiers.ts); for the others — an Observation or a DocumentReference by identifier — nothing else
 * stops the duplicate. So a conditional interaction runs in a transaction that first takes a transaction-scoped
 * advisory lock named by its condition: the second client waits until the first has committed, and its search (a new
 * snapshot under READ COMMITTED) then finds what the first created. PGlite has one session, so its transactions are
 * serialized anyway; the lock costs one statement there.
 */

/** The first key of PFI's two-key advisory locks of conditional interactions ('PFIC'). */
const CONDITIONAL_LOCK_SPACE = 0x50464943;

/** The lock of a condition: the type and its name/value pairs in a fixed order (so `a=1&b=2` is `b=2&a=1`). */
export function conditionalLockKey(type: string, pairs: readonly [string, string][]): number {
  const canonical = [...pairs]
    .filter(([k]) => k !== '_format' && k !== '_pretty')
    .map(([k, v]) => `${k}=${v}`)
    .sort()
    .join('&');
  return createHash('sha256').update(`${type}?${canonical}`).digest().readInt32BE(0);
}

/**
 * Takes the locks of these conditions in the transaction `tx`, in ascending order (two transactions locking several
 * conditions never wait for each other in a circle), each once. Released at commit or rollback.
 */
export async function lockConditions(tx: SqlExecutor, keys: readonly number[]): Promise<void> {
  for (const key of [...new Set(keys)].sort((a, b) => a - b)) {
    await tx.query('SELECT pg_advisory_xact_lock($1::int, $2::int)', [CONDITIONAL_LOCK_SPACE, key]);
  }
}
