/**
 * The hash chain over AuditEvents and its seals.
 *
 * Writers never queue behind one chain: AuditEvents commit independently, and a single sealer (a transaction-scoped
 * advisory lock) appends them to `audit_chain` shortly after commit, oldest first, each row holding the previous
 * row's hash and its own — SHA-256 over the previous hash, the event id and the event's stored JSON. Every
 * {@link SEAL_EVERY_ROWS} rows, or once a minute when rows were added, a seal stores a MAC of the chain head.
 * {@link verifyAuditChain} recomputes everything and names the first broken link.
 */

import { createHash } from 'node:crypto';
import type { SqlExecutor } from '../adapters/sql/executor.js';
import type { SealKey } from './seal-key.js';

export const GENESIS_HASH = '0'.repeat(64);
export const SEAL_EVERY_ROWS = 1000;
export const SEAL_EVERY_MS = 60_000;
/** AuditEvents younger than this are left for the next run: a transaction committing late can still land before. */
const SETTLE_MS = 2_000;
const CHAIN_LOCK = 727_100_008;
const PAGE = 1000;

/** The hash of a chain row. */
export const chainHash = (prevHash: string, eventId: string, content: string): string =>
  createHash('sha256').update(prevHash).update('\n').update(eventId).update('\n').update(content).digest('hex');

/** What a seal's MAC covers. */
export const sealMessage = (position: number, headHash: string): string => `pfi-audit-seal:${position}:${headHash}`;

export interface ChainRun {
  chained: number;
  sealed: boolean;
}

/**
 * Appends the committed, not yet chained AuditEvents to the chain and seals it when due.
 *
 * @example
 * await chainAuditEvents(db, localSealKey(`${dataDir}/keys`));
 */
export async function chainAuditEvents(
  db: SqlExecutor,
  key: SealKey,
  opts: { now?: Date; max?: number } = {},
): Promise<ChainRun> {
  const now = opts.now ?? new Date();
  return db.transaction(async (tx) => {
    await tx.query(`SELECT pg_advisory_xact_lock(${CHAIN_LOCK})`);
    const head = await tx.query<{ position: number; hash: string; last: string | null }>(
      `SELECT c.position::int AS position, c.hash,
         to_char(r.last_updated AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS last
       FROM audit_chain c LEFT JOIN resource r ON r.resource_type = 'AuditEvent' AND r.id = c.event_id
       ORDER BY c.position DESC LIMIT 1`,
    );
    let position = head.rows[0]?.position ?? 0;
    let hash = head.rows[0]?.hash ?? GENESIS_HASH;
    // Candidates: from a minute before the newest chained event (a late commit), not yet chained, settled.
    const since = head.rows[0]?.last ? new Date(Date.parse(head.rows[0].last) - 60_000) : new Date(0);
    const events = await tx.query<{ id: string; content: string }>(
      `SELECT r.id, r.content FROM resource r
       WHERE r.resource_type = 'AuditEvent' AND r.last_updated >= $1::timestamptz AND r.last_updated <= $2::timestamptz
         AND NOT EXISTS (SELECT 1 FROM audit_chain c WHERE c.event_id = r.id)
       ORDER BY r.last_updated, r.id LIMIT $3::int`,
      [since.toISOString(), new Date(now.getTime() - SETTLE_MS).toISOString(), opts.max ?? 5000],
    );
    const rows: { position: number; event_id: string; prev_hash: string; hash: string }[] = [];
    for (const e of events.rows) {
      const next = chainHash(hash, e.id, e.content);
      rows.push({ position: ++position, event_id: e.id, prev_hash: hash, hash: next });
      hash = next;
    }
    if (rows.length) {
      await tx.query(
        `INSERT INTO audit_chain (position, event_id, prev_hash, hash)
         SELECT x.position, x.event_id, x.prev_hash, x.hash
         FROM jsonb_to_recordset($1::jsonb) AS x(position bigint, event_id text, prev_hash text, hash text)`,
        [JSON.stringify(rows)],
      );
    }
    const lastSeal = await tx.query<{ position: number; at: string }>(
      `SELECT position::int AS position, to_char(sealed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at
       FROM audit_seal ORDER BY position DESC LIMIT 1`,
    );
    const sealedTo = lastSeal.rows[0]?.position ?? 0;
    const sealedAt = lastSeal.rows[0] ? Date.parse(lastSeal.rows[0].at) : 0;
    const due =
      position > sealedTo && (position - sealedTo >= SEAL_EVERY_ROWS || now.getTime() - sealedAt >= SEAL_EVERY_MS);
    if (due) {
      await tx.query('INSERT INTO audit_seal (position, head_hash, mac, key_id) VALUES ($1, $2, $3, $4)', [
        position,
        hash,
        await key.mac(sealMessage(position, hash)),
        key.keyId,
      ]);
    }
    return { chained: rows.length, sealed: due };
  });
}

export interface ChainBreak {
  position: number;
  eventId?: string;
  problem: string;
}

export interface VerifyReport {
  ok: boolean;
  auditEvents: number;
  chained: number;
  seals: number;
  /** Chain rows after the last seal. */
  unsealedRows: number;
  /** AuditEvents not yet in the chain, and the age of the oldest (seconds). */
  unchained: number;
  oldestUnchainedSeconds: number | undefined;
  /** Seconds since the last seal (undefined without seals). */
  lastSealAgeSeconds: number | undefined;
  firstBreak: ChainBreak | undefined;
}

/** Recomputes every chain hash and every seal; `ok` is false on any break. */
export async function verifyAuditChain(
  db: SqlExecutor,
  key: SealKey,
  opts: { now?: Date } = {},
): Promise<VerifyReport> {
  const now = opts.now ?? new Date();
  let firstBreak: ChainBreak | undefined;
  let expectedPrev = GENESIS_HASH;
  let expectedPosition = 1;
  let chained = 0;
  const heads = new Map<number, string>();
  for (let after = 0; !firstBreak; ) {
    const page = await db.query<{
      position: number;
      event_id: string;
      prev_hash: string;
      hash: string;
      content: string | null;
    }>(
      `SELECT c.position::int AS position, c.event_id, c.prev_hash, c.hash, r.content
       FROM audit_chain c LEFT JOIN resource r ON r.resource_type = 'AuditEvent' AND r.id = c.event_id
       WHERE c.position > $1 ORDER BY c.position LIMIT ${PAGE}`,
      [after],
      { readOnly: true },
    );
    for (const row of page.rows) {
      const at = { position: row.position, eventId: row.event_id };
      if (row.position !== expectedPosition) firstBreak = { ...at, problem: `position ${expectedPosition} is missing` };
      else if (row.prev_hash !== expectedPrev) firstBreak = { ...at, problem: 'previous hash does not match' };
      else if (row.content === null) firstBreak = { ...at, problem: 'the AuditEvent is missing' };
      else if (chainHash(row.prev_hash, row.event_id, row.content) !== row.hash) {
        firstBreak = { ...at, problem: 'the AuditEvent was altered (hash mismatch)' };
      }
      if (firstBreak) break;
      heads.set(row.position, row.hash);
      expectedPrev = row.hash;
      expectedPosition++;
      chained++;
    }
    if (page.rows.length < PAGE) break;
    after = page.rows.at(-1)!.position;
  }
  const seals = await db.query<{ position: number; head_hash: string; mac: string; key_id: string; age: number }>(
    `SELECT position::int AS position, head_hash, mac, key_id,
       extract(epoch FROM ($1::timestamptz - sealed_at))::float8 AS age
     FROM audit_seal ORDER BY position`,
    [now.toISOString()],
    { readOnly: true },
  );
  for (const s of seals.rows) {
    if (firstBreak && s.position >= firstBreak.position) break;
    if (heads.get(s.position) !== s.head_hash) {
      firstBreak = { position: s.position, problem: 'a seal does not match the chain head it covers' };
      break;
    }
    if (!(await key.verify(sealMessage(s.position, s.head_hash), s.mac, s.key_id))) {
      firstBreak = { position: s.position, problem: `the seal's MAC does not verify (key ${s.key_id})` };
      break;
    }
  }
  const counts = await db.query<{ total: number; unchained: number; oldest: number | null }>(
    `SELECT count(*)::int AS total,
       count(*) FILTER (WHERE c.event_id IS NULL)::int AS unchained,
       max(extract(epoch FROM ($1::timestamptz - r.last_updated))) FILTER (WHERE c.event_id IS NULL)::float8 AS oldest
     FROM resource r LEFT JOIN audit_chain c ON c.event_id = r.id
     WHERE r.resource_type = 'AuditEvent'`,
    [now.toISOString()],
    { readOnly: true },
  );
  const c = counts.rows[0]!;
  const lastSeal = seals.rows.at(-1);
  const totalChain = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_chain', [], {
    readOnly: true,
  });
  return {
    ok: firstBreak === undefined,
    auditEvents: c.total,
    chained,
    seals: seals.rows.length,
    unsealedRows: (totalChain.rows[0]?.n ?? 0) - (lastSeal?.position ?? 0),
    unchained: c.unchained,
    oldestUnchainedSeconds: c.oldest === null ? undefined : Math.round(c.oldest),
    lastSealAgeSeconds: lastSeal ? Math.round(lastSeal.age) : undefined,
    firstBreak,
  };
}
