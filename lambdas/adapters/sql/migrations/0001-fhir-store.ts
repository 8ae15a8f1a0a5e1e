/**
 * FHIR store, version 1.
 *
 * - `resource`: the current version of each resource (JSON text + typed columns), one row per (type, id).
 * - `resource_history`: every version, written in the same statement as `resource`.
 * - `sp_*`: search index rows extracted from the official R4 SearchParameter expressions. Each row
 *   carries the resource `version` it was extracted from and searches join on it, so an index row
 *   left by a concurrent writer can never match a newer version (it is cleaned on the next write).
 * - `unique_identifier`: database-enforced uniqueness of the business identifiers we upsert on
 *   (IPP, INS, visit number, RPPS, FINESS…): concurrent conditional creates cannot both win.
 * - `outbox`: messages committed with the FHIR change that triggers them, relayed afterwards.
 */
export const statements: readonly string[] = [
  `CREATE TABLE resource (
    resource_type text NOT NULL,
    id text NOT NULL,
    version integer NOT NULL,
    last_updated timestamptz NOT NULL,
    deleted boolean NOT NULL DEFAULT false,
    content text NOT NULL,
    content_hash text NOT NULL,
    PRIMARY KEY (resource_type, id)
  )`,
  'CREATE INDEX resource_type_updated ON resource (resource_type, last_updated, id)',
  `CREATE TABLE resource_history (
    resource_type text NOT NULL,
    id text NOT NULL,
    version integer NOT NULL,
    last_updated timestamptz NOT NULL,
    deleted boolean NOT NULL DEFAULT false,
    content text,
    PRIMARY KEY (resource_type, id, version)
  )`,
  'CREATE INDEX resource_history_type_updated ON resource_history (resource_type, last_updated)',
  `CREATE TABLE sp_string (
    resource_type text NOT NULL, id text NOT NULL, version integer NOT NULL, param text NOT NULL,
    norm text NOT NULL, exact text NOT NULL
  )`,
  'CREATE INDEX sp_string_lookup ON sp_string (resource_type, param, norm text_pattern_ops)',
  'CREATE INDEX sp_string_resource ON sp_string (resource_type, id)',
  `CREATE TABLE sp_token (
    resource_type text NOT NULL, id text NOT NULL, version integer NOT NULL, param text NOT NULL,
    system text, code text
  )`,
  'CREATE INDEX sp_token_lookup ON sp_token (resource_type, param, code, system)',
  'CREATE INDEX sp_token_resource ON sp_token (resource_type, id)',
  `CREATE TABLE sp_date (
    resource_type text NOT NULL, id text NOT NULL, version integer NOT NULL, param text NOT NULL,
    low timestamptz, high timestamptz
  )`,
  'CREATE INDEX sp_date_low ON sp_date (resource_type, param, low)',
  'CREATE INDEX sp_date_high ON sp_date (resource_type, param, high)',
  'CREATE INDEX sp_date_resource ON sp_date (resource_type, id)',
  `CREATE TABLE sp_reference (
    resource_type text NOT NULL, id text NOT NULL, version integer NOT NULL, param text NOT NULL,
    target_type text, target_id text, ref text NOT NULL
  )`,
  'CREATE INDEX sp_reference_lookup ON sp_reference (resource_type, param, target_id)',
  'CREATE INDEX sp_reference_target ON sp_reference (target_type, target_id)',
  'CREATE INDEX sp_reference_resource ON sp_reference (resource_type, id)',
  `CREATE TABLE sp_quantity (
    resource_type text NOT NULL, id text NOT NULL, version integer NOT NULL, param text NOT NULL,
    value numeric NOT NULL, system text, code text, unit text
  )`,
  'CREATE INDEX sp_quantity_lookup ON sp_quantity (resource_type, param, value)',
  'CREATE INDEX sp_quantity_resource ON sp_quantity (resource_type, id)',
  `CREATE TABLE sp_number (
    resource_type text NOT NULL, id text NOT NULL, version integer NOT NULL, param text NOT NULL,
    value numeric NOT NULL
  )`,
  'CREATE INDEX sp_number_lookup ON sp_number (resource_type, param, value)',
  'CREATE INDEX sp_number_resource ON sp_number (resource_type, id)',
  `CREATE TABLE sp_uri (
    resource_type text NOT NULL, id text NOT NULL, version integer NOT NULL, param text NOT NULL,
    uri text NOT NULL
  )`,
  'CREATE INDEX sp_uri_lookup ON sp_uri (resource_type, param, uri)',
  'CREATE INDEX sp_uri_resource ON sp_uri (resource_type, id)',
  `CREATE TABLE unique_identifier (
    resource_type text NOT NULL,
    system text NOT NULL,
    value text NOT NULL,
    id text NOT NULL,
    PRIMARY KEY (resource_type, system, value)
  )`,
  'CREATE INDEX unique_identifier_resource ON unique_identifier (resource_type, id)',
  `CREATE TABLE outbox (
    seq bigserial PRIMARY KEY,
    topic text NOT NULL,
    payload text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    relayed_at timestamptz
  )`,
  'CREATE INDEX outbox_pending ON outbox (seq) WHERE relayed_at IS NULL',
];
