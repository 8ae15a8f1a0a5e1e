/**
 * Recording AuditEvents durably without slowing requests: an event is committed in the `outbox` (topic
 * {@link AUDIT_TOPIC}) — in the very statement of a write (so a write and its AuditEvent commit together), or for
 * reads in a batched insert shared by the requests that arrive together (one statement for all of them, awaited
 * before the response: a process that dies after answering has recorded the access). The audit writer
 * (./writer.ts) then turns the outbox rows into AuditEvent resources and the sealer chains them (./chain.ts).
 */

import { coalesce } from '../adapters/queue/coalesce.js';
import type { SqlExecutor } from '../adapters/sql/executor.js';
import type { OutboxMessage } from '../fhir/repository/repository.js';
import { type AuditFacts, buildAuditEvent } from './audit-event.js';

export const AUDIT_TOPIC = 'audit-event';

/** The outbox row of an AuditEvent (for a write's own statement). */
export const auditOutboxMessage = (facts: AuditFacts): OutboxMessage => ({
  topic: AUDIT_TOPIC,
  payload: JSON.stringify(buildAuditEvent(facts)),
});

export interface AuditRecorder {
  /** Durable when it resolves. */
  record(facts: AuditFacts): Promise<void>;
}

const INSERT = `INSERT INTO outbox (topic, payload)
  SELECT $1::text, p FROM jsonb_array_elements_text($2::jsonb) AS p`;

/** Records into the outbox of `db`, batching concurrent records into one statement. */
export function outboxAuditRecorder(db: SqlExecutor, opts: { maxBatch?: number } = {}): AuditRecorder {
  const insert = coalesce(
    async (payloads: string[]) => {
      await db.query(INSERT, [AUDIT_TOPIC, JSON.stringify(payloads)]);
      return payloads.map(() => ({ ok: true as const, value: undefined }));
    },
    { maxBatch: opts.maxBatch ?? 200, maxInFlight: 2 },
  );
  return { record: (facts) => insert(JSON.stringify(buildAuditEvent(facts))) };
}

/** Records each event with its own statement on `db` (inside a transaction: the transaction's executor). */
export function directAuditRecorder(db: SqlExecutor): AuditRecorder {
  return {
    async record(facts) {
      await db.query(INSERT, [AUDIT_TOPIC, JSON.stringify([JSON.stringify(buildAuditEvent(facts))])]);
    },
  };
}

/** A recorder that keeps events in memory (tests of code that audits, not of auditing). */
export function memoryAuditRecorder(): AuditRecorder & { events: AuditFacts[] } {
  const events: AuditFacts[] = [];
  return {
    events,
    async record(facts) {
      events.push(facts);
    },
  };
}
