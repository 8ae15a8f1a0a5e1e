/**
 * The MSSanté send journal (migration 0007): written before the SMTP send and after it, so a job redelivered after a
 * crash knows whether its message may already have left.
 */

import type { SqlExecutor } from '../adapters/sql/executor.js';

export type SendState = 'sending' | 'sent' | 'refused';

export interface SendRecord {
  communicationId: string;
  communicationVersion: number;
  messageId: string;
  state: SendState;
  accepted?: number;
  rejected?: number;
  reply?: string;
}

export interface SendJournal {
  get(communicationId: string): Promise<SendRecord | undefined>;
  put(record: SendRecord): Promise<void>;
  /** RGPD erasure and tests: forget a Communication's sends. */
  delete(communicationId: string): Promise<void>;
}

export function sqlSendJournal(db: SqlExecutor): SendJournal {
  return {
    async get(communicationId) {
      const res = await db.query<{
        v: number;
        message_id: string;
        state: string;
        accepted: number | null;
        rejected: number | null;
        reply: string | null;
      }>(
        `SELECT communication_version AS v, message_id, state, accepted, rejected, reply
         FROM mssante_send WHERE communication_id = $1`,
        [communicationId],
      );
      const row = res.rows[0];
      if (!row) return undefined;
      return {
        communicationId,
        communicationVersion: row.v,
        messageId: row.message_id,
        state: row.state as SendState,
        ...(row.accepted === null ? {} : { accepted: row.accepted }),
        ...(row.rejected === null ? {} : { rejected: row.rejected }),
        ...(row.reply === null ? {} : { reply: row.reply }),
      };
    },
    async put(r) {
      await db.query(
        `INSERT INTO mssante_send (communication_id, communication_version, message_id, state, accepted, rejected, reply, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, now())
         ON CONFLICT (communication_id) DO UPDATE SET communication_version = excluded.communication_version,
           message_id = excluded.message_id, state = excluded.state, accepted = excluded.accepted,
           rejected = excluded.rejected, reply = excluded.reply, updated_at = now()`,
        [
          r.communicationId,
          r.communicationVersion,
          r.messageId,
          r.state,
          r.accepted ?? null,
          r.rejected ?? null,
          r.reply ?? null,
        ],
      );
    },
    async delete(communicationId) {
      await db.query('DELETE FROM mssante_send WHERE communication_id = $1', [communicationId]);
    },
  };
}
