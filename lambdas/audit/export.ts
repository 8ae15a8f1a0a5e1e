/**
 * Export of sealed audit batches to a write-once store (AWS: an S3 bucket with Object Lock in compliance mode): for
 * each seal not yet exported, one JSON-lines object holding the chain rows it covers (position, event id, previous
 * hash, hash, the AuditEvent as stored) and the seal itself, so the trail can be verified from the export alone even
 * if the database were lost or altered.
 */

import type { DocumentStore } from '../adapters/documents/document-store.js';
import type { SqlExecutor } from '../adapters/sql/executor.js';

const EXPORT_PREFIX = 'audit-chain';

/** Exports every sealed batch not yet exported; returns how many objects were written. */
export async function exportSealedBatches(db: SqlExecutor, store: DocumentStore, maxBatches = 10): Promise<number> {
  let exported = 0;
  for (let i = 0; i < maxBatches; i++) {
    const last = await db.query<{ position: number }>(
      'SELECT coalesce(max(position), 0)::int AS position FROM audit_export',
    );
    const from = (last.rows[0]?.position ?? 0) + 1;
    const seal = await db.query<{
      position: number;
      head_hash: string;
      mac: string;
      key_id: string;
      sealed_at: string;
    }>(
      `SELECT position::int AS position, head_hash, mac, key_id,
         to_char(sealed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS sealed_at
       FROM audit_seal WHERE position >= $1 ORDER BY position LIMIT 1`,
      [from],
    );
    const s = seal.rows[0];
    if (!s) break;
    const rows = await db.query<{
      position: number;
      event_id: string;
      prev_hash: string;
      hash: string;
      content: string;
    }>(
      `SELECT c.position::int AS position, c.event_id, c.prev_hash, c.hash, r.content
       FROM audit_chain c JOIN resource r ON r.resource_type = 'AuditEvent' AND r.id = c.event_id
       WHERE c.position BETWEEN $1 AND $2 ORDER BY c.position`,
      [from, s.position],
      { readOnly: true },
    );
    const lines = rows.rows.map((r) =>
      JSON.stringify({
        position: r.position,
        eventId: r.event_id,
        prevHash: r.prev_hash,
        hash: r.hash,
        event: JSON.parse(r.content),
      }),
    );
    lines.push(
      JSON.stringify({
        seal: { position: s.position, headHash: s.head_hash, mac: s.mac, keyId: s.key_id, sealedAt: s.sealed_at },
      }),
    );
    const key = `${EXPORT_PREFIX}/${String(from).padStart(12, '0')}-${String(s.position).padStart(12, '0')}.jsonl`;
    await store.put(key, `${lines.join('\n')}\n`, { contentType: 'application/x-ndjson' });
    await db.query(
      'INSERT INTO audit_export (position, from_position, object_key) VALUES ($1, $2, $3) ON CONFLICT (position) DO NOTHING',
      [s.position, from, key],
    );
    exported++;
  }
  return exported;
}
