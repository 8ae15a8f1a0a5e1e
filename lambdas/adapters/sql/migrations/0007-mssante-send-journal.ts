/**
 * MSSanté send journal (see `lambdas/documents/send-communication.ts`): one row per Communication, written before
 * the SMTP send (`sending`, with the Message-ID) and after it (`sent` or `refused`, with counts and the redacted
 * SMTP reply). A redelivered job reads it and never sends twice. No address, no content: technical ids only.
 */
export const statements: readonly string[] = [
  `CREATE TABLE mssante_send (
    communication_id text PRIMARY KEY,
    communication_version integer NOT NULL,
    message_id text NOT NULL,
    state text NOT NULL CHECK (state IN ('sending', 'sent', 'refused')),
    accepted integer,
    rejected integer,
    reply text,
    updated_at timestamptz NOT NULL DEFAULT now()
  )`,
];
