import { type SqlParam, sqlJson } from '../../adapters/sql/executor.js';

/**
 * Single-statement writes: the resource row, its history row, its search index rows, its unique
 * identifiers, the Patient-link check and any outbox rows go in ONE data-modifying CTE statement, so a
 * write costs one round trip (on the Data API, one HTTPS call) and is atomic without BEGIN/COMMIT.
 */

export const INDEX_TABLES = {
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

/** CTEs keeping unique_identifier in step: drop identifiers no longer present, add new ones (23505 on a clash). */
function uniqueCtes(p: { type: string; id: string; uniq: string }, dropOld: boolean): string[] {
  const ctes = [
    `uniq_new AS (SELECT x.system, x.value FROM jsonb_to_recordset(${p.uniq}::jsonb) AS x(system text, value text))`,
    `uniq_ins AS (INSERT INTO unique_identifier (resource_type, system, value, id)
        SELECT ${p.type}, n.system, n.value, ${p.id} FROM uniq_new n, guard
        WHERE NOT EXISTS (SELECT 1 FROM unique_identifier u WHERE u.resource_type = ${p.type}
          AND u.system = n.system AND u.value = n.value AND u.id = ${p.id}))`,
  ];
  if (!dropOld) return ctes;
  return [
    ...ctes,
    `uniq_del AS (DELETE FROM unique_identifier u WHERE u.resource_type = ${p.type} AND u.id = ${p.id}
        AND EXISTS (SELECT 1 FROM guard)
        AND NOT EXISTS (SELECT 1 FROM uniq_new n WHERE n.system = u.system AND n.value = u.value))`,
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
export const isoText = (ts: string) => `to_char((${ts}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

export type IndexCategory = keyof typeof INDEX_TABLES;

/**
 * The version of the index rows of `category` that belong to the resource row `alias` (migration 0012): the one the
 * bulk write recorded for that category, else the resource's own.
 */
export const indexVersionSql = (alias: string, category: IndexCategory): string =>
  `coalesce((${alias}.index_version ->> '${category}')::int, ${alias}.version)`;

/** The statement text of a write shape, built once per shape (the texts depend only on which parts are present). */
export function textForShape<S>(cache: Map<string, string>, shape: S, build: (shape: S) => string): string {
  const key = JSON.stringify(shape);
  let text = cache.get(key);
  if (text === undefined) {
    text = build(shape);
    cache.set(key, text);
  }
  return text;
}

/**
 * The content hash of a resource, computed by the database from its JSON (`jsonb`, an already-parsed value): MD5
 * of the jsonb text — keys in jsonb's fixed order, whitespace normalized — without the server-managed
 * `meta.versionId` and `meta.lastUpdated` (and without `meta` when nothing else is in it). HL7 feeds resend the
 * same A31/Z99 content all day: an equal hash means no new version. Computed here rather than in JavaScript, where
 * a key-sorted serialization cost about 80 µs per resource on the ingest path.
 */
export function contentHashSql(jsonb: string): string {
  const meta = `((${jsonb} -> 'meta') - 'versionId' - 'lastUpdated')`;
  return `md5((CASE WHEN ${jsonb} -> 'meta' IS NULL THEN ${jsonb}
    WHEN ${meta} = '{}'::jsonb THEN ${jsonb} - 'meta'
    ELSE jsonb_set(${jsonb}, '{meta}', ${meta}) END)::text)`;
}

export interface UpsertInput {
  type: string;
  id: string;
  /** ISO instant of the write (the database keeps it increasing per resource). */
  now: string;
  /** Resource JSON with the two placeholders below in meta. */
  json: string;
  versionPlaceholder: string;
  updatedPlaceholder: string;
  /** Index rows per category (JSON-serializable). */
  index: Record<IndexCategory, unknown[]>;
  unique: { system: string; value: string }[];
  /** Whether the type keeps unique identifiers (an update must then drop the ones no longer present). */
  uniqueType: boolean;
  links: string[];
  ifMatch: number | null;
  outbox: { topic: string; payload: string }[];
  /** Plain create with a fresh server id: no previous row can exist. */
  createOnly: boolean;
}

interface Shape {
  categories: IndexCategory[];
  createOnly: boolean;
  unique: boolean;
  links: boolean;
  ifMatch: boolean;
  outbox: boolean;
}

/**
 * Builds the single statement of a create or update. Only the parts a write needs are in the text
 * (planning a 20-CTE statement costs milliseconds on PGlite), and the text depends only on the write's
 * shape, so it is built once per shape.
 *
 * Parameters: $1 type, $2 id, $3 instant, $4 content, $5 version placeholder, $6 lastUpdated placeholder, then
 * the optional ones in order: index rows, unique identifiers, Patient ids, expected
 * version (If-Match), outbox rows.
 *
 * The row returned has `version`, `content`, `last_updated_ms` when written; `missing` (Patient ids not
 * found) when links are checked; and, for updates, the previous state to explain a refusal
 * (`prev_version`, `prev_deleted`, `prev_same`, `prev_content`, `prev_last_updated_ms`).
 */
export function buildUpsert(input: UpsertInput): { text: string; values: SqlParam[] } {
  const shape: Shape = {
    categories: (Object.keys(INDEX_TABLES) as IndexCategory[]).filter((c) => input.index[c].length > 0),
    createOnly: input.createOnly,
    unique: input.createOnly ? input.unique.length > 0 : input.uniqueType,
    links: input.links.length > 0,
    ifMatch: input.ifMatch !== null,
    outbox: input.outbox.length > 0,
  };
  const text = textForShape(upsertTexts, shape, upsertText);
  const values: SqlParam[] = [
    input.type,
    input.id,
    input.now,
    input.json,
    input.versionPlaceholder,
    input.updatedPlaceholder,
  ];
  if (shape.categories.length) {
    values.push(sqlJson(Object.fromEntries(shape.categories.map((c) => [c, input.index[c]]))));
  }
  if (shape.unique) values.push(sqlJson(input.unique));
  if (shape.links) values.push(sqlJson(input.links));
  if (shape.ifMatch) values.push(input.ifMatch);
  if (shape.outbox) values.push(sqlJson(input.outbox));
  return { text, values };
}

const upsertTexts = new Map<string, string>();

function upsertText(shape: Shape): string {
  let n = 6;
  const idx = shape.categories.length ? `$${++n}` : '';
  const uniq = shape.unique ? `$${++n}` : '';
  const links = shape.links ? `$${++n}` : '';
  const ifMatch = shape.ifMatch ? `$${++n}::int` : '';
  const outbox = shape.outbox ? `$${++n}` : '';

  const ctes: string[] = [
    `h AS (SELECT ${contentHashSql('x.j')} AS hash FROM (SELECT $4::text::jsonb AS j OFFSET 0) x)`,
  ];
  if (links) ctes.push(missingLinksCte(links));
  if (!shape.createOnly) {
    ctes.push(
      'prev AS (SELECT version, deleted, content_hash, content FROM resource WHERE resource_type = $1 AND id = $2)',
    );
  }
  const guards = [
    ...(links ? ['NOT EXISTS (SELECT 1 FROM missing)'] : []),
    ...(ifMatch ? ['EXISTS (SELECT 1 FROM prev)'] : []),
  ];
  const firstContent = `replace(replace($4, $5, '1'), $6, ${isoText('$3::timestamptz')})`;
  // index_digest and index_version NULL: this write replaces every index row, at the resource's version, and keeps no
  // digest of them (migration 0012).
  const insert = `INSERT INTO resource AS r (resource_type, id, version, last_updated, deleted, content, content_hash,
      index_digest, index_version)
    SELECT $1, $2, 1, $3::timestamptz, false, ${firstContent}, h.hash, NULL, NULL FROM h${guards.length ? ` WHERE ${guards.join(' AND ')}` : ''}`;
  const onConflict = shape.createOnly
    ? ''
    : `
    ON CONFLICT (resource_type, id) DO UPDATE SET
      version = r.version + 1,
      last_updated = ${NEXT_UPDATED},
      deleted = false,
      content = replace(replace($4, $5, (r.version + 1)::text), $6, ${isoText(NEXT_UPDATED)}),
      content_hash = EXCLUDED.content_hash,
      index_digest = NULL,
      index_version = NULL
    WHERE (r.content_hash <> EXCLUDED.content_hash OR r.deleted)${ifMatch ? ` AND r.version = ${ifMatch}` : ''}`;
  ctes.push(`guard AS (${insert}${onConflict}
    RETURNING r.version, r.content, r.last_updated)`);
  ctes.push(`hist AS (INSERT INTO resource_history (resource_type, id, version, last_updated, deleted, content)
    SELECT $1, $2, guard.version, guard.last_updated, false, guard.content FROM guard)`);
  if (!shape.createOnly) {
    // Old index rows of any category may exist: clear them all.
    for (const [key, t] of Object.entries(INDEX_TABLES)) {
      ctes.push(
        `del_${key} AS (DELETE FROM ${t.table} WHERE resource_type = $1 AND id = $2 AND EXISTS (SELECT 1 FROM guard))`,
      );
    }
  }
  for (const key of shape.categories) {
    const t = INDEX_TABLES[key];
    ctes.push(`ins_${key} AS (INSERT INTO ${t.table} (resource_type, id, version, param, ${t.insert})
      SELECT $1, $2, guard.version, x.param, ${t.select}
      FROM guard, jsonb_to_recordset(${idx}::jsonb -> '${key}') AS x(param text, ${t.columns}))`);
  }
  if (uniq) ctes.push(...uniqueCtes({ type: '$1', id: '$2', uniq }, !shape.createOnly));
  if (outbox) ctes.push(outboxCte(outbox));

  const columns = [
    '(SELECT version FROM guard) AS version',
    '(SELECT content FROM guard) AS content',
    '(SELECT extract(epoch FROM last_updated)::float8 * 1000 FROM guard) AS last_updated_ms',
  ];
  if (links) columns.push("(SELECT string_agg(id, ',') FROM missing) AS missing");
  if (!shape.createOnly) {
    columns.push(
      '(SELECT version FROM prev) AS prev_version',
      '(SELECT deleted FROM prev) AS prev_deleted',
      '(SELECT content_hash = (SELECT hash FROM h) FROM prev) AS prev_same',
      '(SELECT content FROM prev) AS prev_content',
      '(SELECT extract(epoch FROM last_updated)::float8 * 1000 FROM resource WHERE resource_type = $1 AND id = $2) AS prev_last_updated_ms',
    );
  }
  return `WITH\n  ${ctes.join(',\n  ')}\nSELECT ${columns.join(',\n  ')}`;
}

/**
 * Delete: a new version marked deleted, index rows and unique identifiers dropped.
 * $1 type, $2 id, $3 last_updated, $4 expected version or null, $5 outbox rows JSON.
 */
export const DELETE_SQL = `WITH
  prev AS (SELECT version, deleted FROM resource WHERE resource_type = $1 AND id = $2),
  guard AS (
    UPDATE resource SET version = version + 1,
      last_updated = GREATEST($3::timestamptz, last_updated + interval '1 millisecond'), deleted = true,
      index_digest = NULL, index_version = NULL
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
