import { type SqlParam, sqlJson } from '../../adapters/sql/executor.js';
import { contentHashSql, INDEX_TABLES, type IndexCategory, isoText, textForShape } from './write-sql.js';

/**
 * The statement of {@link FhirRepository.writeMany}: many resources created or updated in ONE data-modifying CTE
 * statement — resource rows, history rows, search index rows, unique identifiers, Patient-link check and outbox rows —
 * so that a worker applying many HL7 messages pays one round trip for all their writes. An updated resource's index
 * rows are rewritten only in the categories whose rows changed (digests compared, migration 0012).
 *
 * Each input row carries the version its writer read (`expected`, optimistic locking: 0 = must not exist, null = any
 * state, a blind upsert). A row is written when its content hash differs from the stored one (or it is new or was
 * deleted) and its expectation holds; the final SELECT returns, per input row, what was written or why not, so the
 * caller can tell "unchanged" from "lost a race" (it then rolls its transaction back).
 */

/** One resource of the statement. */
export interface BulkRow {
  k: number;
  type: string;
  id: string;
  /**
   * Resource JSON with the version and lastUpdated placeholders in meta. It travels as a JSON value, not a string
   * (`json` keeps its text verbatim, so no escaping and unescaping of every quote of every resource).
   */
  json: string;
  expected: number | null;
  /** The type keeps unique identifiers (stale ones are dropped on update). */
  uniq: boolean;
  /** Per index category with rows, a digest of them (stored as `resource.index_digest`: migration 0012). */
  digest: Record<string, string>;
}

export interface BulkInput {
  rows: BulkRow[];
  /** ISO instant of the write (each resource's lastUpdated stays increasing). */
  now: string;
  versionPlaceholder: string;
  updatedPlaceholder: string;
  /** Index rows per category, each tagged with its resource's `k`. */
  index: Record<IndexCategory, ({ k: number } & Record<string, unknown>)[]>;
  unique: { k: number; system: string; value: string }[];
  /** Patient ids each row must link to (Ségur rule). */
  links: { k: number; id: string }[];
  outbox: { k: number; topic: string; payload: string }[];
  /**
   * Stale unique identifiers were already dropped by {@link STALE_UNIQUE_SQL} (needed when several resources of a
   * type are written together: one may take an identifier another gives up, and the sub-statements of one statement
   * run in no defined order).
   */
  staleUniqueDropped: boolean;
}

/** One row of the statement's answer, per input row, in `k` order. */
export interface BulkAnswerRow {
  [column: string]: string | number | boolean | null;
  k: number;
  /** Version written, or null when the row was not written. */
  version: number | null;
  /** lastUpdated written, as the JSON holds it. */
  updated: string | null;
  /** What was stored before the statement (null: nothing). */
  prev_version: number | null;
  prev_deleted: boolean | null;
  prev_same: boolean | null;
  prev_updated: string | null;
  /** `k:id` of Patient links not found, comma-separated (null: all found). */
  missing: string | null;
}

/**
 * Drops (by row address, found with per-resource index probes) the unique identifiers the resources of `$1` (`[{type, id, keys: ["system|value"…]}]`) no longer carry.
 * Run before the write statement in the same transaction when several resources of a unique type are written.
 */
export const STALE_UNIQUE_SQL = `DELETE FROM unique_identifier WHERE ctid = ANY (ARRAY(
    SELECT u.ctid FROM jsonb_to_recordset($1::jsonb) AS x(type text, id text, keys jsonb),
      LATERAL (SELECT ctid, system, value FROM unique_identifier
        WHERE resource_type = x.type AND id = x.id OFFSET 0) u
    WHERE NOT x.keys @> to_jsonb(u.system || '|' || u.value)))`;

interface Shape {
  categories: IndexCategory[];
  unique: boolean;
  staleInline: boolean;
  links: boolean;
  outbox: boolean;
}

const texts = new Map<string, string>();

/** Builds the statement; its text depends only on which parts are present, so it is built once per shape. */
export function buildBulkWrite(input: BulkInput): { text: string; values: SqlParam[] } {
  const shape: Shape = {
    categories: (Object.keys(INDEX_TABLES) as IndexCategory[]).filter((c) => input.index[c].length > 0),
    unique: input.rows.some((r) => r.uniq),
    staleInline: !input.staleUniqueDropped && input.rows.some((r) => r.uniq),
    links: input.links.length > 0,
    outbox: input.outbox.length > 0,
  };
  const text = textForShape(texts, shape, bulkText);
  const values: SqlParam[] = [
    { sqlType: 'json', value: rowsJson(input.rows) },
    input.now,
    input.versionPlaceholder,
    input.updatedPlaceholder,
  ];
  if (shape.categories.length) {
    values.push(sqlJson(Object.fromEntries(shape.categories.map((c) => [c, input.index[c]]))));
  }
  if (shape.unique) values.push(sqlJson(input.unique));
  if (shape.links) values.push(sqlJson(input.links));
  if (shape.outbox) values.push(sqlJson(input.outbox));
  return { text, values };
}

/** The rows as JSON text, each resource's JSON embedded as is. */
function rowsJson(rows: BulkRow[]): string {
  let out = '[';
  for (const [i, r] of rows.entries()) {
    if (i > 0) out += ',';
    out += `{"k":${r.k},"type":${JSON.stringify(r.type)},"id":${JSON.stringify(r.id)},"content":${r.json},`;
    out += `"expected":${r.expected === null ? 'null' : r.expected},"uniq":${r.uniq},"digest":${JSON.stringify(r.digest)}}`;
  }
  return `${out}]`;
}

/**
 * Whether the rows of `cat` are written for the source row `s` (with pv, pdel, digest, pdigest): all of them when the
 * resource is new, was deleted, or has no stored digests (written by the single-resource write or before migration
 * 0012, its rows are at its version); else those whose digest changed.
 */
const rewritten = (s: string, cat: IndexCategory): string =>
  `(${s}.pv IS NULL OR ${s}.pdel OR ${s}.pdigest IS NULL OR ${s}.pdigest ->> '${cat}' IS DISTINCT FROM ${s}.digest ->> '${cat}')`;

/** index_version of the row written for `s`: per category with rows, the new version if rewritten, else the stored one. */
function indexVersions(s: string): string {
  const cats = Object.keys(INDEX_TABLES) as IndexCategory[];
  const pairs = cats.map(
    (c) => `'${c}', CASE WHEN ${s}.digest ? '${c}' THEN CASE WHEN ${rewritten(s, c)} THEN ${s}.nv
      ELSE coalesce((${s}.pindex ->> '${c}')::int, ${s}.pv) END END`,
  );
  return `jsonb_strip_nulls(jsonb_build_object(${pairs.join(', ')}))`;
}

/** Joins the rows of a per-resource input `x` (tagged with `k`) to the resources the statement wrote. */
const JOIN_WRITTEN = 'JOIN input i ON i.k = x.k JOIN guard g ON g.resource_type = i.type AND g.id = i.id';

function bulkText(shape: Shape): string {
  let n = 4;
  const idx = shape.categories.length ? `$${++n}` : '';
  const uniq = shape.unique ? `$${++n}` : '';
  const links = shape.links ? `$${++n}` : '';
  const outbox = shape.outbox ? `$${++n}` : '';
  const ctes: string[] = [
    // (OFFSET 0 keeps the jsonb parse of each resource from being repeated in every use of it.)
    `input AS (SELECT x.k, x.type, x.id, x.content::text AS json, ${contentHashSql('c.j')} AS hash, x.expected, x.uniq,
         x.digest::jsonb AS digest
       FROM json_to_recordset($1::json) AS x(k int, type text, id text, content json, expected int, uniq boolean,
         digest json),
         LATERAL (SELECT x.content::jsonb AS j OFFSET 0) c)`,
    // Per-row primary-key probes (LATERAL … OFFSET 0 is never flattened into a join): the planner knows nothing of
    // the input's size and, on a young table, would hash the whole table instead.
    `src AS (SELECT i.*, p.version AS pv, p.deleted AS pdel, p.content_hash AS phash, p.last_updated AS plu,
       p.index_digest AS pdigest, p.index_version AS pindex,
       coalesce(p.version, 0) + 1 AS nv,
       GREATEST($2::timestamptz, p.last_updated + interval '1 millisecond') AS nlu
     FROM input i LEFT JOIN LATERAL (SELECT r.version, r.deleted, r.content_hash, r.last_updated, r.index_digest,
         r.index_version FROM resource r
       WHERE r.resource_type = i.type AND r.id = i.id OFFSET 0) p ON true)`,
  ];
  if (links) {
    // A Patient written by this same statement exists once it has run.
    ctes.push(`missing AS (SELECT l.k, l.id FROM jsonb_to_recordset(${links}::jsonb) AS l(k int, id text)
       WHERE NOT EXISTS (SELECT 1 FROM resource p WHERE p.resource_type = 'Patient' AND p.id = l.id AND NOT p.deleted
           OFFSET 0)
         AND NOT EXISTS (SELECT 1 FROM input i WHERE i.type = 'Patient' AND i.id = l.id))`);
  }
  // The ON CONFLICT arm re-checks the version against the row as it is now: a concurrent writer that committed
  // after this statement's snapshot makes the row fail the check, and the caller sees it as not written.
  ctes.push(`guard AS (INSERT INTO resource AS r (resource_type, id, version, last_updated, deleted, content, content_hash,
       index_digest, index_version)
     SELECT s.type, s.id, s.nv, s.nlu, false,
       replace(replace(s.json, $3, s.nv::text), $4, ${isoText('s.nlu')}), s.hash, s.digest, ${indexVersions('s')}
     FROM src s
     WHERE (s.pv IS NULL OR s.pdel OR s.phash <> s.hash) AND (s.expected IS NULL OR s.expected = coalesce(s.pv, 0))
       ${links ? 'AND NOT EXISTS (SELECT 1 FROM missing)' : ''}
     ORDER BY s.type, s.id
     ON CONFLICT (resource_type, id) DO UPDATE SET version = EXCLUDED.version, last_updated = EXCLUDED.last_updated,
       deleted = false, content = EXCLUDED.content, content_hash = EXCLUDED.content_hash,
       index_digest = EXCLUDED.index_digest, index_version = EXCLUDED.index_version
     WHERE r.version = EXCLUDED.version - 1
     RETURNING r.resource_type, r.id, r.version, r.last_updated, r.content)`);
  ctes.push(`hist AS (INSERT INTO resource_history (resource_type, id, version, last_updated, deleted, content)
     SELECT g.resource_type, g.id, g.version, g.last_updated, false, g.content FROM guard g)`);
  // The resources written, with what {@link rewritten} needs (migration 0012): only the index categories whose rows
  // changed are deleted and inserted again; the others keep their rows, at the version index_version records.
  ctes.push(`reidx AS (SELECT s.k, g.resource_type, g.id, g.version, s.pv, s.pdel, s.digest, s.pdigest
     FROM guard g JOIN src s ON s.type = g.resource_type AND s.id = g.id)`);
  const changed = (cat: IndexCategory) => rewritten('g', cat);
  for (const [cat, t] of Object.entries(INDEX_TABLES) as [IndexCategory, (typeof INDEX_TABLES)[IndexCategory]][]) {
    ctes.push(`del_${cat} AS (DELETE FROM ${t.table} t USING reidx g
       WHERE g.version > 1 AND ${changed(cat)} AND t.resource_type = g.resource_type AND t.id = g.id)`);
  }
  for (const cat of shape.categories) {
    const t = INDEX_TABLES[cat];
    ctes.push(`ins_${cat} AS (INSERT INTO ${t.table} (resource_type, id, version, param, ${t.insert})
       SELECT g.resource_type, g.id, g.version, x.param, ${t.select}
       FROM jsonb_to_recordset(${idx}::jsonb -> '${cat}') AS x(k int, param text, ${t.columns})
         JOIN reidx g ON g.k = x.k
       WHERE ${changed(cat)})`);
  }
  if (uniq) {
    ctes.push(`uniq_new AS (SELECT * FROM jsonb_to_recordset(${uniq}::jsonb) AS x(k int, system text, value text))`);
    ctes.push(`uniq_ins AS (INSERT INTO unique_identifier (resource_type, system, value, id)
       SELECT g.resource_type, x.system, x.value, g.id FROM uniq_new x ${JOIN_WRITTEN}
       WHERE NOT EXISTS (SELECT 1 FROM unique_identifier u WHERE u.resource_type = g.resource_type
         AND u.system = x.system AND u.value = x.value AND u.id = g.id OFFSET 0))`);
    if (shape.staleInline) {
      ctes.push(`uniq_del AS (DELETE FROM unique_identifier u USING guard g, input i
         WHERE i.uniq AND i.type = g.resource_type AND i.id = g.id AND u.resource_type = g.resource_type AND u.id = g.id
           AND NOT EXISTS (SELECT 1 FROM uniq_new x WHERE x.k = i.k AND x.system = u.system AND x.value = u.value))`);
    }
  }
  if (outbox) {
    ctes.push(`ins_outbox AS (INSERT INTO outbox (topic, payload)
       SELECT x.topic, x.payload FROM jsonb_to_recordset(${outbox}::jsonb) AS x(k int, topic text, payload text)
       ${JOIN_WRITTEN})`);
  }
  const columns = [
    's.k',
    'g.version',
    `${isoText('g.last_updated')} AS updated`,
    's.pv AS prev_version',
    's.pdel AS prev_deleted',
    's.phash = s.hash AS prev_same',
    `CASE WHEN s.plu IS NULL THEN NULL ELSE ${isoText('s.plu')} END AS prev_updated`,
    links ? "(SELECT string_agg(m.k || ':' || m.id, ',') FROM missing m) AS missing" : 'NULL::text AS missing',
  ];
  return `WITH\n  ${ctes.join(',\n  ')}
SELECT ${columns.join(', ')}
FROM src s LEFT JOIN guard g ON g.resource_type = s.type AND g.id = s.id
ORDER BY s.k`;
}
