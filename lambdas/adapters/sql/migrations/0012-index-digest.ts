/**
 * FHIR store, version 12: the resource row says which index rows are its own, per search index category (`string`,
 * `token`, `date`, `reference`, `quantity`, `number`, `uri`):
 *
 * - `index_digest`: a digest of the category's rows as last written (`{"token": "<sha1>", …}`; a category without
 *   rows is absent);
 * - `index_version`: the resource version those rows were written at (`{"token": 3, …}`).
 *
 * An HL7 feed updates the same Patient and Encounter all day, and most updates leave most of their index rows as they
 * were (a transfer changes the location period, not the identifiers, names or references). The bulk write compares
 * each category's digest with the stored one and rewrites only the categories that changed; the others keep their
 * rows and their version. Searches match a resource's rows of a category at that version, as they matched them at the
 * resource's version before: rows a concurrent writer left behind (a write's DELETE does not see rows committed after
 * its snapshot) carry another version and stay invisible.
 *
 * NULL (resources written before this migration, by the single-resource write, or deleted): every category's rows are
 * at the resource's version, and the next bulk write rewrites them all.
 */
export const statements: readonly string[] = [
  'ALTER TABLE resource ADD COLUMN index_digest jsonb',
  'ALTER TABLE resource ADD COLUMN index_version jsonb',
];
