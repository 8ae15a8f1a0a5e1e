/**
 * Cache of Annuaire Santé lookups with a time to live, so that a burst of messages to the same professional
 * costs one API call. The SQL implementation uses the `annuaire_cache` table (migration 6); entries hold
 * professional mailbox data only (never patient data), and can be dropped one by one or by content for an
 * erasure request.
 */

import { type SqlExecutor, sqlTimestamp } from '../adapters/sql/executor.js';

export interface AnnuaireCache {
  /** The live (not expired) value for `key`. */
  get(key: string): Promise<string | undefined>;
  put(key: string, value: string, expiresAt: Date): Promise<void>;
  /** Deletes expired entries; returns how many. */
  purgeExpired(): Promise<number>;
  /** Deletes one entry; returns how many (0 or 1). */
  delete(key: string): Promise<number>;
  /** Deletes every entry whose key or value contains `fragment` (an identifier, an address); returns how many. */
  deleteMatching(fragment: string): Promise<number>;
}

/**
 * {@link AnnuaireCache} on the `annuaire_cache` table. `now` decides expiry (inject a clock in tests).
 *
 * @example
 * ```ts
 * const cache = sqlAnnuaireCache(db);
 * const annuaire = createAnnuaireClient({ baseUrl, apiKey, cache });
 * ```
 */
export function sqlAnnuaireCache(db: SqlExecutor, opts: { now?: () => Date } = {}): AnnuaireCache {
  const now = opts.now ?? (() => new Date());
  return {
    async get(key) {
      const res = await db.query<{ value: string }>(
        'SELECT value FROM annuaire_cache WHERE key = $1 AND expires_at > $2::timestamptz',
        [key, sqlTimestamp(now())],
        { readOnly: true },
      );
      return res.rows[0]?.value;
    },
    async put(key, value, expiresAt) {
      await db.query(
        `INSERT INTO annuaire_cache (key, value, expires_at) VALUES ($1, $2, $3::timestamptz)
         ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at`,
        [key, value, sqlTimestamp(expiresAt)],
      );
    },
    async purgeExpired() {
      const res = await db.query('DELETE FROM annuaire_cache WHERE expires_at <= $1::timestamptz', [
        sqlTimestamp(now()),
      ]);
      return res.rowCount;
    },
    async delete(key) {
      return (await db.query('DELETE FROM annuaire_cache WHERE key = $1', [key])).rowCount;
    },
    async deleteMatching(fragment) {
      if (fragment === '') return 0;
      const res = await db.query('DELETE FROM annuaire_cache WHERE strpos(key, $1) > 0 OR strpos(value, $1) > 0', [
        fragment,
      ]);
      return res.rowCount;
    },
  };
}

/** In-memory {@link AnnuaireCache} (one process; tests, or a Lambda without a database at hand). */
export function memoryAnnuaireCache(opts: { now?: () => Date; maxEntries?: number } = {}): AnnuaireCache {
  const now = opts.now ?? (() => new Date());
  const max = opts.maxEntries ?? 10_000;
  const entries = new Map<string, { value: string; expiresAt: number }>();
  const drop = (pred: (k: string, v: string) => boolean) => {
    let n = 0;
    for (const [k, e] of entries) {
      if (pred(k, e.value)) {
        entries.delete(k);
        n++;
      }
    }
    return n;
  };
  return {
    async get(key) {
      const e = entries.get(key);
      return e && e.expiresAt > now().getTime() ? e.value : undefined;
    },
    async put(key, value, expiresAt) {
      entries.delete(key);
      if (entries.size >= max) entries.delete(entries.keys().next().value!);
      entries.set(key, { value, expiresAt: expiresAt.getTime() });
    },
    async purgeExpired() {
      const t = now().getTime();
      return drop((k) => (entries.get(k)?.expiresAt ?? 0) <= t);
    },
    async delete(key) {
      return entries.delete(key) ? 1 : 0;
    },
    async deleteMatching(fragment) {
      return fragment === '' ? 0 : drop((k, v) => k.includes(fragment) || v.includes(fragment));
    },
  };
}
