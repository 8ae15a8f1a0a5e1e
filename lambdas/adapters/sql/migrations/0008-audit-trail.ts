/**
 * The tamper-evident audit trail (see `lambdas/audit/chain.ts`):
 * - AuditEvent rows of `resource` / `resource_history` are append-only: a trigger refuses UPDATE and DELETE of them
 *   to every role of the application (only a superuser disabling the trigger can, and the chain then shows it);
 * - `audit_chain`: one row per AuditEvent in chain order, with the previous row's hash and its own (SHA-256 over the
 *   previous hash, the event id and its stored JSON), appended by a single sealer shortly after commit;
 * - `audit_seal`: a MAC (HMAC-SHA-256: KMS GenerateMac in AWS, the local key otherwise) over the chain head, taken
 *   every N rows or every minute.
 * Both tables are append-only too, and TRUNCATE is refused.
 */
export const statements: readonly string[] = [
  `CREATE FUNCTION pfi_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    RAISE EXCEPTION 'the audit trail is append-only: % refused on %', TG_OP, TG_TABLE_NAME USING ERRCODE = '42501';
  END
  $$`,
  `CREATE TRIGGER audit_event_immutable BEFORE UPDATE OR DELETE ON resource
    FOR EACH ROW WHEN (OLD.resource_type = 'AuditEvent') EXECUTE FUNCTION pfi_audit_append_only()`,
  `CREATE TRIGGER audit_event_history_immutable BEFORE UPDATE OR DELETE ON resource_history
    FOR EACH ROW WHEN (OLD.resource_type = 'AuditEvent') EXECUTE FUNCTION pfi_audit_append_only()`,
  `CREATE TABLE audit_chain (
    position bigint PRIMARY KEY,
    event_id text NOT NULL UNIQUE,
    prev_hash text NOT NULL,
    hash text NOT NULL,
    chained_at timestamptz NOT NULL DEFAULT now()
  )`,
  `CREATE TABLE audit_seal (
    position bigint PRIMARY KEY,
    head_hash text NOT NULL,
    mac text NOT NULL,
    key_id text NOT NULL,
    sealed_at timestamptz NOT NULL DEFAULT now()
  )`,
  `CREATE TRIGGER audit_chain_append_only BEFORE UPDATE OR DELETE ON audit_chain
    FOR EACH ROW EXECUTE FUNCTION pfi_audit_append_only()`,
  `CREATE TRIGGER audit_chain_no_truncate BEFORE TRUNCATE ON audit_chain
    FOR EACH STATEMENT EXECUTE FUNCTION pfi_audit_append_only()`,
  `CREATE TRIGGER audit_seal_append_only BEFORE UPDATE OR DELETE ON audit_seal
    FOR EACH ROW EXECUTE FUNCTION pfi_audit_append_only()`,
  `CREATE TRIGGER audit_seal_no_truncate BEFORE TRUNCATE ON audit_seal
    FOR EACH STATEMENT EXECUTE FUNCTION pfi_audit_append_only()`,
  `CREATE TRIGGER resource_no_truncate BEFORE TRUNCATE ON resource
    FOR EACH STATEMENT EXECUTE FUNCTION pfi_audit_append_only()`,
];
