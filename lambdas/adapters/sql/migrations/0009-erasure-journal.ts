/**
 * RGPD erasure journal (see `lambdas/audit/erasure.ts`): one row per erased Patient, technical ids only — written
 * when the erasure starts, completed with its counts. A copy of each entry is kept in the document store (S3 with
 * Object Lock in AWS), outside the database, so that an erasure is re-applied after a restore from backup.
 */
export const statements: readonly string[] = [
  `CREATE TABLE erasure_journal (
    patient_id text PRIMARY KEY,
    requested_at timestamptz NOT NULL,
    completed_at timestamptz,
    reason text NOT NULL,
    requested_by text NOT NULL,
    counts text
  )`,
];
