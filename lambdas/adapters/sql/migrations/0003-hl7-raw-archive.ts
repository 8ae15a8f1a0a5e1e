/**
 * Raw HL7 archive in the database, version 3 (see `lambdas/hl7/raw-archive.ts`): one row per distinct inbound
 * message, keyed like the document store's object (`hl7/raw/YYYY/MM/DD/<sha256>.hl7`), written in the transaction
 * of the message's FHIR writes; purged by `stored_at` after the retention period.
 */
export const statements: readonly string[] = [
  `CREATE TABLE hl7_raw_message (
    key text PRIMARY KEY,
    received_at timestamptz NOT NULL,
    stored_at timestamptz NOT NULL DEFAULT now(),
    body text NOT NULL
  )`,
  'CREATE INDEX hl7_raw_message_stored ON hl7_raw_message (stored_at)',
];
