/**
 * The archive of raw inbound HL7 messages (replay, audit), linked from each message's Provenance. Two stores:
 *
 * - `documents`: one object per message in the document store — S3 with SSE-KMS in AWS (the default there).
 * - `database`: one row per message in `hl7_raw_message`, written in the same transaction as the message's FHIR
 *   writes (the default locally). Creating a file costs 0.2–0.9 ms of system time on this project's machines
 *   against 5 µs for appending to one, which alone capped local ingestion near 1,000 messages/s; a row in the
 *   transaction costs nothing measurable, and the message and what it wrote commit together or not at all.
 *
 * Keys are the same in both (`hl7/raw/YYYY/MM/DD/<sha256>.hl7`), so a redelivered message keeps one copy.
 */

import type { DocumentStore } from '../adapters/documents/document-store.js';
import { type SqlExecutor, sqlJson, sqlTimestamp } from '../adapters/sql/executor.js';

export interface RawMessage {
  key: string;
  /** ISO instant the bridge received it. */
  receivedAt: string;
  /** The message as UTF-8 text. */
  body: string;
}

export interface RawMessageArchive {
  readonly kind: 'database' | 'documents';
  /** The Provenance entity identifier system of this archive's keys. */
  readonly system: string;
  /**
   * Keeps the messages. `true`: `store` must run on the transaction of the FHIR writes (`tx`), and the messages are
   * kept exactly when it commits; `false`: `tx` is ignored and a message may outlive a rolled-back attempt (its
   * redelivery writes the same key again).
   */
  readonly transactional: boolean;
  store(messages: RawMessage[], tx: SqlExecutor): Promise<void>;
  /** The message text, or undefined when not (or no longer) kept. */
  get(key: string): Promise<string | undefined>;
  /** Deletes the messages stored before `cutoff`; returns how many. */
  purge(cutoff: Date): Promise<number>;
  /** Removes one message for good (RGPD erasure); no error when absent. */
  erase(key: string): Promise<void>;
}

/** Prefix of raw messages in the document store (retention applies under it). */
export const RAW_MESSAGE_PREFIX = 'hl7/raw/';

export function rawMessageKey(sha256: string, receivedAt: string): string {
  const day = new Date(receivedAt);
  const d = Number.isNaN(day.getTime()) ? new Date(0) : day;
  const yyyy = d.getUTCFullYear();
  const mm = String(d.getUTCMonth() + 1).padStart(2, '0');
  const dd = String(d.getUTCDate()).padStart(2, '0');
  return `${RAW_MESSAGE_PREFIX}${yyyy}/${mm}/${dd}/${sha256}.hl7`;
}

const CONTENT_TYPE = 'x-application/hl7-v2+er7; charset=utf-8';
/** Rows per statement: keeps a statement under the Data API's 4 MiB request with messages of up to ~20 KB. */
const ROWS_PER_INSERT = 200;
const ROWS_PER_PURGE = 10_000;

/** One object per message in the document store. */
export function documentArchive(documents: DocumentStore): RawMessageArchive {
  return {
    kind: 'documents',
    system: 'urn:pfi:document-store',
    transactional: false,
    async store(messages) {
      await Promise.all(messages.map((m) => documents.put(m.key, m.body, { contentType: CONTENT_TYPE })));
    },
    async get(key) {
      try {
        return (await documents.get(key)).body.toString('utf8');
      } catch (err) {
        if ((err as { name?: string }).name === 'DocumentNotFoundError') return undefined;
        throw err;
      }
    },
    purge: (cutoff) => documents.deleteOlderThan(RAW_MESSAGE_PREFIX, cutoff),
    erase: (key) => documents.erase(key),
  };
}

const INSERT = `INSERT INTO hl7_raw_message (key, received_at, body)
  SELECT x.key, x.received_at::timestamptz, x.body
  FROM jsonb_to_recordset($1::jsonb) AS x(key text, received_at text, body text)
  ON CONFLICT (key) DO NOTHING`;

/** Rows of `hl7_raw_message` on `db` (migration 0003); `store` writes on the transaction it is given. */
export function databaseArchive(db: SqlExecutor): RawMessageArchive {
  return {
    kind: 'database',
    system: 'urn:pfi:hl7-raw-archive',
    transactional: true,
    async store(messages, tx) {
      // One row per key: a batch may hold the same message twice (a sender's resend after its deduplication window).
      const rows = [...new Map(messages.map((m) => [m.key, m])).values()].map((m) => ({
        key: m.key,
        received_at: m.receivedAt,
        body: m.body,
      }));
      for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
        await tx.query(INSERT, [sqlJson(rows.slice(i, i + ROWS_PER_INSERT))]);
      }
    },
    async get(key) {
      const res = await db.query<{ body: string }>('SELECT body FROM hl7_raw_message WHERE key = $1', [key]);
      return res.rows[0]?.body;
    },
    async purge(cutoff) {
      let total = 0;
      for (;;) {
        const res = await db.query(
          `DELETE FROM hl7_raw_message WHERE key IN (
             SELECT key FROM hl7_raw_message WHERE stored_at < $1::timestamptz LIMIT ${ROWS_PER_PURGE})`,
          [sqlTimestamp(cutoff)],
        );
        total += res.rowCount;
        if (res.rowCount < ROWS_PER_PURGE) return total;
      }
    },
    async erase(key) {
      await db.query('DELETE FROM hl7_raw_message WHERE key = $1', [key]);
    },
  };
}
