/**
 * RGPD erasure of a patient (`POST /fhir/Patient/<id>/$expunge?everything=true&reason=…`): the patient's compartment
 * is physically removed — every version of every resource, their search index rows and unique identifiers, the
 * stored documents (every S3 object version), the raw HL7 messages, the queued work naming the patient, the MSSanté
 * send journal of their Communications. AuditEvents are kept (legal retention; they hold technical ids only).
 *
 * A Patient under legal hold (`meta.security` {@link LEGAL_HOLD}) is refused (409): medical records have a legal
 * retention, and the hold is how a DPO says so. The erasure is journaled (technical ids only) in the database and
 * in the document store before it starts and when it completes, so it resumes when interrupted, answers the same
 * counts when asked again, and is re-applied after a database restore ({@link reapplyErasures}).
 */

import type { DocumentStore } from '../adapters/documents/document-store.js';
import type { SqlExecutor } from '../adapters/sql/executor.js';
import type { AuthContext } from '../auth/verify.js';
import { externalContentKey } from '../fhir/binary-content.js';
import { conflict, notFound } from '../fhir/errors.js';
import type { RawMessageArchive } from '../hl7/raw-archive.js';
import { agentOf } from './audit-event.js';
import type { AuditRecorder } from './recorder.js';

/** The security label of a legal hold on a Patient. */
export const LEGAL_HOLD = { system: 'urn:pfi:legal-hold', code: 'hold' } as const;
/** Where the journal copies live in the document store. */
export const ERASURE_JOURNAL_PREFIX = 'erasure-journal';

export interface ErasureCounts {
  resources: number;
  versions: number;
  indexRows: number;
  documents: number;
  rawMessages: number;
  queuedMessages: number;
  sendJournal: number;
}

export interface ErasureResult {
  counts: ErasureCounts;
  /** True when an earlier request had already erased the patient. */
  already: boolean;
}

export interface ErasureDeps {
  db: SqlExecutor;
  documents: DocumentStore | undefined;
  archive: RawMessageArchive | undefined;
  audit: AuditRecorder | undefined;
}

type Json = Record<string, unknown>;
const BATCH = 200;
const INDEX_TABLES = ['sp_string', 'sp_token', 'sp_date', 'sp_reference', 'sp_quantity', 'sp_number', 'sp_uri'];
/** Types never removed with a compartment: the audit trail, and other patients (a link is not ownership). */
const KEPT_TYPES = new Set(['AuditEvent', 'Patient']);

const zero = (): ErasureCounts => ({
  resources: 0,
  versions: 0,
  indexRows: 0,
  documents: 0,
  rawMessages: 0,
  queuedMessages: 0,
  sendJournal: 0,
});

interface Ref {
  t: string;
  id: string;
}
const key = (r: Ref) => `${r.t}/${r.id}`;

/** Everything the patient's data consists of: resources referring to them, and what refers to those (Provenance…). */
async function compartment(db: SqlExecutor, patientId: string): Promise<Ref[]> {
  const found = new Map<string, Ref>([[`Patient/${patientId}`, { t: 'Patient', id: patientId }]]);
  let frontier: Ref[] = [{ t: 'Patient', id: patientId }];
  for (let depth = 0; depth < 3 && frontier.length; depth++) {
    const res = await db.query<{ t: string; id: string }>(
      `SELECT DISTINCT r.resource_type AS t, r.id FROM sp_reference r
       JOIN jsonb_to_recordset($1::jsonb) AS x(t text, id text) ON r.target_type = x.t AND r.target_id = x.id`,
      [JSON.stringify(frontier)],
    );
    frontier = [];
    for (const row of res.rows) {
      if (KEPT_TYPES.has(row.t) || found.has(key(row))) continue;
      found.set(key(row), row);
      frontier.push(row);
    }
  }
  return [...found.values()];
}

/** Binaries a compartment's documents and reports point to (`Binary/<id>` attachment URLs), and their store keys. */
async function attachments(db: SqlExecutor, refs: Ref[]): Promise<{ binaries: Ref[]; keys: string[]; raw: string[] }> {
  const binaries = new Map<string, Ref>();
  const keys: string[] = [];
  const raw: string[] = [];
  for (let i = 0; i < refs.length; i += BATCH) {
    const res = await db.query<{ t: string; id: string; content: string }>(
      `SELECT r.resource_type AS t, r.id, h.content FROM resource_history h
       JOIN jsonb_to_recordset($1::jsonb) AS x(t text, id text) ON h.resource_type = x.t AND h.id = x.id
       JOIN resource r ON r.resource_type = h.resource_type AND r.id = h.id`,
      [JSON.stringify(refs.slice(i, i + BATCH))],
    );
    for (const row of res.rows) {
      for (const m of row.content.matchAll(/"url":"Binary\/([A-Za-z0-9.-]{1,64})"/g)) {
        binaries.set(m[1]!, { t: 'Binary', id: m[1]! });
      }
      if (row.t === 'Binary') {
        const k = externalContentKey(JSON.parse(row.content) as Json);
        if (k) keys.push(k);
      }
      // A Provenance of an HL7 message names its raw message in the archive.
      if (row.t === 'Provenance') {
        for (const m of row.content.matchAll(/"value":"(hl7\/raw\/[^"]+)"/g)) raw.push(m[1]!);
      }
    }
  }
  return { binaries: [...binaries.values()], keys, raw };
}

async function storeKeysOfBinaries(db: SqlExecutor, binaries: Ref[]): Promise<string[]> {
  const keys: string[] = [];
  for (let i = 0; i < binaries.length; i += BATCH) {
    const res = await db.query<{ content: string }>(
      `SELECT h.content FROM resource_history h
       JOIN jsonb_to_recordset($1::jsonb) AS x(t text, id text) ON h.resource_type = 'Binary' AND h.id = x.id`,
      [JSON.stringify(binaries.slice(i, i + BATCH))],
    );
    for (const row of res.rows) {
      const k = externalContentKey(JSON.parse(row.content) as Json);
      if (k) keys.push(k);
    }
  }
  return keys;
}

async function deleteRows(db: SqlExecutor, refs: Ref[], counts: ErasureCounts): Promise<void> {
  for (let i = 0; i < refs.length; i += BATCH) {
    const batch = JSON.stringify(refs.slice(i, i + BATCH));
    await db.transaction(async (tx) => {
      const using = `USING jsonb_to_recordset($1::jsonb) AS x(t text, id text) WHERE d.resource_type = x.t AND d.id = x.id`;
      for (const table of INDEX_TABLES)
        counts.indexRows += (await tx.query(`DELETE FROM ${table} d ${using}`, [batch])).rowCount;
      await tx.query(`DELETE FROM unique_identifier d ${using}`, [batch]);
      counts.versions += (await tx.query(`DELETE FROM resource_history d ${using}`, [batch])).rowCount;
      counts.resources += (await tx.query(`DELETE FROM resource d ${using}`, [batch])).rowCount;
    });
  }
}

export interface JournalEntry {
  patientId: string;
  requestedAt: string;
  completedAt?: string;
  reason: string;
  requestedBy: string;
  counts?: ErasureCounts;
}

async function writeJournalCopy(documents: DocumentStore | undefined, entry: JournalEntry): Promise<void> {
  await documents?.put(`${ERASURE_JOURNAL_PREFIX}/${entry.patientId}.json`, JSON.stringify(entry), {
    contentType: 'application/json',
  });
}

/**
 * Erases `Patient/<patientId>` (see the module comment).
 *
 * @throws FhirError 404 (no such patient and no erasure of it), 409 (legal hold)
 */
export async function expungePatient(
  deps: ErasureDeps,
  auth: AuthContext,
  patientId: string,
  reason: string,
): Promise<ErasureResult> {
  const journal = await deps.db.query<{ completed: boolean; counts: string | null; requested_at: string }>(
    `SELECT completed_at IS NOT NULL AS completed, counts,
       to_char(requested_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS requested_at
     FROM erasure_journal WHERE patient_id = $1`,
    [patientId],
  );
  const previous = journal.rows[0];
  const patient = await deps.db.query<{ content: string }>(
    `SELECT content FROM resource WHERE resource_type = 'Patient' AND id = $1`,
    [patientId],
  );
  const row = patient.rows[0];
  if (!row && previous?.completed) {
    return { counts: JSON.parse(previous.counts ?? 'null') ?? zero(), already: true };
  }
  if (!row && !previous) throw notFound(`Patient/${patientId} not found`);
  if (row) {
    const meta = (JSON.parse(row.content) as Json)['meta'] as
      | { security?: { system?: string; code?: string }[] }
      | undefined;
    if (meta?.security?.some((s) => s.system === LEGAL_HOLD.system && s.code === LEGAL_HOLD.code)) {
      throw conflict(`Patient/${patientId} is under legal hold: its records must be kept`);
    }
  }
  const entry: JournalEntry = {
    patientId,
    requestedAt: previous?.requested_at ?? new Date().toISOString(),
    reason,
    requestedBy: auth.clientId ?? auth.subject,
  };
  await deps.db.query(
    `INSERT INTO erasure_journal (patient_id, requested_at, reason, requested_by) VALUES ($1, $2::timestamptz, $3, $4)
     ON CONFLICT (patient_id) DO UPDATE SET completed_at = NULL`,
    [patientId, entry.requestedAt, reason, entry.requestedBy],
  );
  await writeJournalCopy(deps.documents, entry);

  const counts = zero();
  const refs = await compartment(deps.db, patientId);
  const found = await attachments(deps.db, refs);
  const binaries = found.binaries.filter((b) => !refs.some((r) => r.t === 'Binary' && r.id === b.id));
  const storeKeys = [...new Set([...found.keys, ...(await storeKeysOfBinaries(deps.db, binaries))])];
  const all = [...refs, ...binaries];

  // Work still queued about the patient: HL7 messages naming one of their identifiers in PID-3, jobs and outbox
  // rows naming their resources.
  const identifiers = row
    ? (((JSON.parse(row.content) as Json)['identifier'] as { value?: string }[] | undefined) ?? [])
        .map((i) => i.value)
        .filter((v): v is string => typeof v === 'string' && v.length >= 4)
    : [];
  for (const value of identifiers) {
    counts.queuedMessages += (
      await deps.db.query(`DELETE FROM queue_message WHERE queue LIKE 'hl7-inbound%' AND position($1 IN body) > 0`, [
        `|${value}^`,
      ])
    ).rowCount;
    counts.queuedMessages += (
      await deps.db.query(`DELETE FROM queue_message WHERE queue LIKE 'hl7-inbound%' AND position($1 IN body) > 0`, [
        `~${value}^`,
      ])
    ).rowCount;
  }
  const refList = JSON.stringify(all.map(key));
  counts.queuedMessages += (
    await deps.db.query(`DELETE FROM queue_message WHERE group_id IN (SELECT jsonb_array_elements_text($1::jsonb))`, [
      refList,
    ])
  ).rowCount;
  await deps.db.query(
    `DELETE FROM outbox WHERE topic <> 'audit-event' AND EXISTS (
       SELECT 1 FROM jsonb_array_elements_text($1::jsonb) AS r(ref) WHERE position('"' || r.ref || '"' IN outbox.payload) > 0)`,
    [refList],
  );
  const communications = all.filter((r) => r.t === 'Communication').map((r) => r.id);
  if (communications.length) {
    counts.sendJournal += (
      await deps.db.query(
        `DELETE FROM mssante_send WHERE communication_id IN (SELECT jsonb_array_elements_text($1::jsonb))`,
        [JSON.stringify(communications)],
      )
    ).rowCount;
  }

  // Contents outside the database first: a crash after them leaves rows the next attempt finds again.
  for (const k of storeKeys) {
    await deps.documents?.erase(k);
    counts.documents++;
  }
  for (const k of new Set(found.raw)) {
    await deps.archive?.erase(k);
    counts.rawMessages++;
  }
  await deleteRows(deps.db, all, counts);

  const completedAt = new Date().toISOString();
  const completed: JournalEntry = { ...entry, completedAt, counts };
  await deps.db.query(`UPDATE erasure_journal SET completed_at = $2::timestamptz, counts = $3 WHERE patient_id = $1`, [
    patientId,
    completedAt,
    JSON.stringify(counts),
  ]);
  await writeJournalCopy(deps.documents, completed);
  await deps.audit?.record({
    what: { kind: 'rest', interaction: 'operation' },
    action: 'D',
    outcome: '0',
    outcomeDesc: `erased: ${counts.resources} resources, ${counts.versions} versions, ${counts.documents} documents, ${counts.rawMessages} raw messages, ${counts.queuedMessages} queued messages`,
    agent: agentOf(auth, auth.address),
    source: 'pfi-fhir-api',
    entities: [`Patient/${patientId}`],
    detail: '$expunge',
  });
  return { counts, already: false };
}

/** The patients the journal copies in the document store name (they outlive a database restore). */
export async function journaledErasures(documents: DocumentStore): Promise<JournalEntry[]> {
  const entries: JournalEntry[] = [];
  for (const k of await documents.list(ERASURE_JOURNAL_PREFIX)) {
    if (!k.endsWith('.json')) continue;
    entries.push(JSON.parse((await documents.get(k)).body.toString('utf8')) as JournalEntry);
  }
  return entries;
}

/**
 * Re-applies every journaled erasure after a database restore: a patient a backup brought back is erased again; the
 * database journal gets back the entries the restore lost. Returns the patients erased again.
 */
export async function reapplyErasures(
  deps: ErasureDeps & { documents: DocumentStore },
  auth: AuthContext,
): Promise<string[]> {
  const again: string[] = [];
  for (const entry of await journaledErasures(deps.documents)) {
    const present = await deps.db.query(`SELECT 1 FROM resource WHERE resource_type = 'Patient' AND id = $1`, [
      entry.patientId,
    ]);
    if (present.rows.length > 0) {
      await expungePatient(deps, auth, entry.patientId, `${entry.reason} (re-applied after a database restore)`);
      again.push(entry.patientId);
      continue;
    }
    await deps.db.query(
      `INSERT INTO erasure_journal (patient_id, requested_at, completed_at, reason, requested_by, counts)
       VALUES ($1, $2::timestamptz, $3::timestamptz, $4, $5, $6) ON CONFLICT (patient_id) DO NOTHING`,
      [
        entry.patientId,
        entry.requestedAt,
        entry.completedAt ?? entry.requestedAt,
        entry.reason,
        entry.requestedBy,
        JSON.stringify(entry.counts ?? zero()),
      ],
    );
  }
  return again;
}
