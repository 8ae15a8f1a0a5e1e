import { type SqlExecutor, sqlJson } from '../../adapters/sql/executor.js';
import type { StoredResource } from './repository.js';
import { indexVersionSql } from './write-sql.js';

/** A business identifier of a resource type, as the `identifier` search parameter indexes it. */
export interface IdentifierKey {
  type: string;
  system: string;
  value: string;
}

/** Keys per statement: keeps the statement and its answer small (the Data API answers at most 1 MiB). */
const MAX_KEYS = 500;

// Same match as `identifier=system|value` (exact system and code on the current token rows), one index
// probe per key (LATERAL … OFFSET 0: never turned into a hash join over the whole index table).
const LOOKUP_SQL = `SELECT DISTINCT r.resource_type, r.id, r.version, r.content,
    to_char(r.last_updated AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS updated
  FROM jsonb_to_recordset($1::jsonb) AS x(type text, system text, value text),
    LATERAL (SELECT t.id, t.version FROM sp_token t WHERE t.resource_type = x.type AND t.param = 'identifier'
      AND t.code = x.value AND t.system = x.system OFFSET 0) t,
    LATERAL (SELECT * FROM resource r WHERE r.resource_type = x.type AND r.id = t.id
      AND t.version = ${indexVersionSql('r', 'token')} AND NOT r.deleted OFFSET 0) r`;

interface LookupRow {
  [column: string]: string | number | boolean | null;
  resource_type: string;
  id: string;
  version: number;
  content: string;
  updated: string;
}

/**
 * The current resources carrying any of `keys` (one statement per 500 keys), in no particular order. What an HL7
 * batch reads before applying its messages: every Patient, Encounter, Practitioner… its messages designate.
 */
export async function findByIdentifiers(db: SqlExecutor, keys: IdentifierKey[]): Promise<StoredResource[]> {
  const out: StoredResource[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < keys.length; i += MAX_KEYS) {
    const res = await db.query<LookupRow>(LOOKUP_SQL, [sqlJson(keys.slice(i, i + MAX_KEYS))], {
      readOnly: true,
      plan: 'generic',
    });
    for (const r of res.rows) {
      const key = `${r.resource_type}/${r.id}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({
        resourceType: r.resource_type,
        id: r.id,
        versionId: Number(r.version),
        lastUpdated: r.updated,
        json: r.content,
      });
    }
  }
  return out;
}
