/**
 * Single-statement writes: the resource row, its history row, its search index rows, its unique
 * identifiers, the Patient-link check and any outbox rows go in ONE data-modifying CTE statement, so a
 * write costs one round trip (on the Data API, one HTTPS call) and is atomic without BEGIN/COMMIT.
 */

const INDEX_TABLES = {
  string: { table: 'sp_string', columns: 'norm text, exact text', insert: 'norm, exact', select: 'x.norm, x.exact' },
  token: { table: 'sp_token', columns: 'system text, code text', insert: 'system, code', select: 'x.system, x.code' },
  date: {
    table: 'sp_date',
    columns: 'low text, high text',
    insert: 'low, high',
    select: 'x.low::timestamptz, x.high::timestamptz',
  },
  reference: {
    table: 'sp_reference',
    columns: '"targetType" text, "targetId" text, ref text',
    insert: 'target_type, target_id, ref',
    select: 'x."targetType", x."targetId", x.ref',
  },
  quantity: {
    table: 'sp_quantity',
    columns: 'value numeric, system text, code text, unit text',
    insert: 'value, system, code, unit',
    select: 'x.value, x.system, x.code, x.unit',
  },
  number: { table: 'sp_number', columns: 'value numeric', insert: 'value', select: 'x.value' },
  uri: { table: 'sp_uri', columns: 'uri text', insert: 'uri', select: 'x.uri' },
} as const;

export const INDEX_TABLE_NAMES = Object.values(INDEX_TABLES).map((t) => t.table);

/**
 * CTEs replacing the index rows of ($type, $id) by those in the `$idx` JSON parameter, guarded by
 * the CTE `guard` (which returns the new `version` when the write happened).
 */
function indexCtes(p: { type: string; id: string; idx: string }): string[] {
  const ctes: string[] = [];
  for (const [key, t] of Object.entries(INDEX_TABLES)) {
    ctes.push(
      `del_${key} AS (DELETE FROM ${t.table} WHERE resource_type = ${p.type} AND id = ${p.id} AND EXISTS (SELECT 1 FROM guard))`,
      `ins_${key} AS (INSERT INTO ${t.table} (resource_type, id, version, param, ${t.insert})
        SELECT ${p.type}, ${p.id}, guard.version, x.param, ${t.select}
        FROM guard, jsonb_to_recordset(${p.idx}::jsonb -> '${key}') AS x(param text, ${t.columns}))`,
    );
  }
  return ctes;
}

/** CTEs keeping unique_identifier in step: drop identifiers no longer present, add new ones (23505 on a clash). */
function uniqueCtes(p: { type: string; id: string; uniq: string }): string[] {
  return [
    `uniq_new AS (SELECT x.system, x.value FROM jsonb_to_recordset(${p.uniq}::jsonb) AS x(system text, value text))`,
    `uniq_del AS (DELETE FROM unique_identifier u WHERE u.resource_type = ${p.type} AND u.id = ${p.id}
        AND EXISTS (SELECT 1 FROM guard)
        AND NOT EXISTS (SELECT 1 FROM uniq_new n WHERE n.system = u.system AND n.value = u.value))`,
    `uniq_ins AS (INSERT INTO unique_identifier (resource_type, system, value, id)
        SELECT ${p.type}, n.system, n.value, ${p.id} FROM uniq_new n, guard
        WHERE NOT EXISTS (SELECT 1 FROM unique_identifier u WHERE u.resource_type = ${p.type}
          AND u.system = n.system AND u.value = n.value AND u.id = ${p.id}))`,
  ];
}

const missingLinksCte = (links: string) =>
  `missing AS (SELECT x.id FROM jsonb_array_elements_text(${links}::jsonb) AS x(id)
     WHERE NOT EXISTS (SELECT 1 FROM resource p WHERE p.resource_type = 'Patient' AND p.id = x.id AND NOT p.deleted))`;

const outboxCte = (outbox: string) =>
  `ins_outbox AS (INSERT INTO outbox (topic, payload)
     SELECT x.topic, x.payload FROM guard, jsonb_to_recordset(${outbox}::jsonb) AS x(topic text, payload text))`;

/** The new version's last_updated on update: the caller's instant, but always after the previous one. */
const NEXT_UPDATED = "GREATEST($3::timestamptz, r.last_updated + interval '1 millisecond')";

/** FHIR instant text of a timestamptz, as JavaScript's toISOString writes it. */
const isoText = (ts: string) => `to_char((${ts}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * Create with a new id, or update-or-create with a client id (PUT). Parameters:
 * $1 type, $2 id, $3 last_updated (ISO), $4 content for version 1, $5 content hash, $6 index rows JSON,
 * $7 unique identifiers JSON, $8 Patient ids that must exist (JSON array), $9 expected version (If-Match) or null,
 * $10 version placeholder in the content (replaced by the new version in SQL), $11 outbox rows JSON,
 * $12 true to refuse when the row exists (plain create), $13 lastUpdated placeholder in the content.
 *
 * `last_updated` is never earlier than the previous version's (+1 ms): concurrent writers get their
 * versions in lock order, and lastUpdated must grow with the version whatever the callers' clocks say.
 *
 * Returns one row: `version`/`content` when written; otherwise the previous state to explain why not.
 */
export const UPSERT_SQL = `WITH
  ${missingLinksCte('$8')},
  prev AS (SELECT version, deleted, content_hash, content FROM resource WHERE resource_type = $1 AND id = $2),
  guard AS (
    INSERT INTO resource AS r (resource_type, id, version, last_updated, deleted, content, content_hash)
    SELECT $1, $2, 1, $3::timestamptz, false, replace(replace($4, $10, '1'), $13, ${isoText('$3::timestamptz')}), $5
    WHERE NOT EXISTS (SELECT 1 FROM missing) AND NOT ($12::boolean AND EXISTS (SELECT 1 FROM prev))
      AND ($9::int IS NULL OR EXISTS (SELECT 1 FROM prev))
    ON CONFLICT (resource_type, id) DO UPDATE SET
      version = r.version + 1,
      last_updated = ${NEXT_UPDATED},
      deleted = false,
      content = replace(replace($4, $10, (r.version + 1)::text), $13, ${isoText(NEXT_UPDATED)}),
      content_hash = EXCLUDED.content_hash
    WHERE NOT $12::boolean AND (r.content_hash <> EXCLUDED.content_hash OR r.deleted)
      AND ($9::int IS NULL OR r.version = $9::int)
    RETURNING r.version, r.content, r.last_updated
  ),
  hist AS (
    INSERT INTO resource_history (resource_type, id, version, last_updated, deleted, content)
    SELECT $1, $2, guard.version, guard.last_updated, false, guard.content FROM guard
  ),
  ${indexCtes({ type: '$1', id: '$2', idx: '$6' }).join(',\n  ')},
  ${uniqueCtes({ type: '$1', id: '$2', uniq: '$7' }).join(',\n  ')},
  ${outboxCte('$11')}
SELECT
  (SELECT version FROM guard) AS version,
  (SELECT content FROM guard) AS content,
  (SELECT extract(epoch FROM last_updated)::float8 * 1000 FROM guard) AS last_updated_ms,
  (SELECT string_agg(id, ',') FROM missing) AS missing,
  (SELECT version FROM prev) AS prev_version,
  (SELECT deleted FROM prev) AS prev_deleted,
  (SELECT content_hash = $5 FROM prev) AS prev_same,
  (SELECT content FROM prev) AS prev_content,
  (SELECT extract(epoch FROM last_updated)::float8 * 1000 FROM resource WHERE resource_type = $1 AND id = $2) AS prev_last_updated_ms`;

/**
 * Delete: a new version marked deleted, index rows and unique identifiers dropped.
 * $1 type, $2 id, $3 last_updated, $4 expected version or null, $5 outbox rows JSON.
 */
export const DELETE_SQL = `WITH
  prev AS (SELECT version, deleted FROM resource WHERE resource_type = $1 AND id = $2),
  guard AS (
    UPDATE resource SET version = version + 1,
      last_updated = GREATEST($3::timestamptz, last_updated + interval '1 millisecond'), deleted = true
    WHERE resource_type = $1 AND id = $2 AND NOT deleted AND ($4::int IS NULL OR version = $4::int)
    RETURNING version, last_updated
  ),
  hist AS (
    INSERT INTO resource_history (resource_type, id, version, last_updated, deleted, content)
    SELECT $1, $2, guard.version, guard.last_updated, true, NULL FROM guard
  ),
  ${Object.entries(INDEX_TABLES)
    .map(
      ([key, t]) =>
        `del_${key} AS (DELETE FROM ${t.table} WHERE resource_type = $1 AND id = $2 AND EXISTS (SELECT 1 FROM guard))`,
    )
    .join(',\n  ')},
  uniq_del AS (DELETE FROM unique_identifier WHERE resource_type = $1 AND id = $2 AND EXISTS (SELECT 1 FROM guard)),
  ${outboxCte('$5')}
SELECT (SELECT version FROM guard) AS version, (SELECT version FROM prev) AS prev_version,
  (SELECT deleted FROM prev) AS prev_deleted`;
