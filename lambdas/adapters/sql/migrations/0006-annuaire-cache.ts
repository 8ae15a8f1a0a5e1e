/**
 * Annuaire Santé lookup cache, version 6 (see `lambdas/mssante/annuaire-cache.ts`): one row per lookup key
 * (resource type and business identifier) holding the mailboxes found, as JSON text, until `expires_at`;
 * expired rows are ignored on read and purged by `expires_at`.
 */
export const statements: readonly string[] = [
  `CREATE TABLE annuaire_cache (
    key text PRIMARY KEY,
    value text NOT NULL,
    expires_at timestamptz NOT NULL
  )`,
  'CREATE INDEX annuaire_cache_expires ON annuaire_cache (expires_at)',
];
