/**
 * Exports of sealed audit batches (see `lambdas/audit/export.ts`): one row per exported batch, the last chain
 * position it covers and the object key; append-only like the chain.
 */
export const statements: readonly string[] = [
  `CREATE TABLE audit_export (
    position bigint PRIMARY KEY,
    from_position bigint NOT NULL,
    object_key text NOT NULL,
    exported_at timestamptz NOT NULL DEFAULT now()
  )`,
  `CREATE TRIGGER audit_export_append_only BEFORE UPDATE OR DELETE ON audit_export
    FOR EACH ROW EXECUTE FUNCTION pfi_audit_append_only()`,
];
