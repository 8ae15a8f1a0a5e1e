/**
 * The audit writer: moves the AuditEvents committed in the outbox (./recorder.ts) into AuditEvent resources —
 * searchable through `/fhir/AuditEvent`, append-only in the database — in one transaction per batch, then hands
 * them to the sealer. Concurrent writers skip each other's rows.
 */

import type { SqlExecutor } from '../adapters/sql/executor.js';
import { type FhirRepository, newResourceId } from '../fhir/repository/repository.js';
import type { Resource } from '../fhir/types.js';
import { AUDIT_TOPIC } from './recorder.js';

const PENDING = `SELECT seq::text AS seq, payload FROM outbox
  WHERE relayed_at IS NULL AND topic = $1::text ORDER BY outbox.seq LIMIT $2::int FOR UPDATE SKIP LOCKED`;
const DONE = 'DELETE FROM outbox WHERE seq = ANY(ARRAY(SELECT jsonb_array_elements_text($1::jsonb)::bigint))';

/** Writes up to `max` pending AuditEvents; returns how many. */
export async function writeAuditEvents(db: SqlExecutor, repo: FhirRepository, max = 500): Promise<number> {
  return db.transaction(async (tx) => {
    const rows = await tx.query<{ seq: string; payload: string }>(PENDING, [AUDIT_TOPIC, max]);
    if (rows.rows.length === 0) return 0;
    const writer = repo.bulkWriter();
    for (const row of rows.rows) {
      const event = JSON.parse(row.payload) as Resource;
      writer.add({ resource: { ...event, id: newResourceId() }, expectedVersion: 0, patientLinks: [] });
    }
    await writer.execute(tx);
    await tx.query(DONE, [JSON.stringify(rows.rows.map((r) => r.seq))]);
    return rows.rows.length;
  });
}
