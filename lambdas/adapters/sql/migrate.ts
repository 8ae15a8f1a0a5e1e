import { createHash } from 'node:crypto';
import { SqlError, type SqlExecutor } from './executor.js';
import { statements as fhirStore } from './migrations/0001-fhir-store.js';
import { statements as queue } from './migrations/0002-queue.js';
import { statements as hl7RawArchive } from './migrations/0003-hl7-raw-archive.js';
import { statements as queueReceivedIndex } from './migrations/0004-queue-received-index.js';
import { statements as contentHashInSql } from './migrations/0005-content-hash-in-sql.js';
import { statements as annuaireCache } from './migrations/0006-annuaire-cache.js';
import { statements as mssanteSendJournal } from './migrations/0007-mssante-send-journal.js';
import { statements as auditTrail } from './migrations/0008-audit-trail.js';
import { statements as erasureJournal } from './migrations/0009-erasure-journal.js';
import { statements as auditExport } from './migrations/0010-audit-export.js';
import { statements as queueHotReceive } from './migrations/0011-queue-hot-receive.js';
import { statements as indexDigest } from './migrations/0012-index-digest.js';

export interface Migration {
  version: number;
  name: string;
  statements: readonly string[];
}

/** Every schema change, in order. Never edit an applied migration: add a new one. */
export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: 'fhir-store', statements: fhirStore },
  { version: 2, name: 'queue', statements: queue },
  { version: 3, name: 'hl7-raw-archive', statements: hl7RawArchive },
  { version: 4, name: 'queue-received-index', statements: queueReceivedIndex },
  { version: 5, name: 'content-hash-in-sql', statements: contentHashInSql },
  { version: 6, name: 'annuaire-cache', statements: annuaireCache },
  { version: 7, name: 'mssante-send-journal', statements: mssanteSendJournal },
  { version: 8, name: 'audit-trail', statements: auditTrail },
  { version: 9, name: 'erasure-journal', statements: erasureJournal },
  { version: 10, name: 'audit-export', statements: auditExport },
  { version: 11, name: 'queue-hot-receive', statements: queueHotReceive },
  { version: 12, name: 'index-digest', statements: indexDigest },
];

// Arbitrary constant shared by every PFI process: the transaction-level advisory lock that
// serializes migrations when several processes (Lambdas, `npm start`, tests) start together.
const MIGRATION_LOCK = 727_100_001;
const UNDEFINED_TABLE = '42P01';

export const checksum = (m: Migration) => createHash('sha256').update(m.statements.join('\n;\n')).digest('hex');

/**
 * Applies pending migrations; safe to call on every start and from concurrent processes
 * (the advisory lock is transaction-scoped, so it also works over the Data API, which has no sessions).
 * Throws when an applied migration was modified after the fact.
 */
export async function migrate(db: SqlExecutor, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  const latest = migrations.at(-1)?.version ?? 0;
  try {
    const res = await db.query<{ v: number | null }>('SELECT max(version)::int AS v FROM pfi_schema_migrations');
    if ((res.rows[0]?.v ?? 0) >= latest) return [];
  } catch (err) {
    if (!(err instanceof SqlError) || err.code !== UNDEFINED_TABLE) throw err;
  }
  return db.transaction(async (tx) => {
    await tx.query(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`);
    await tx.query(`CREATE TABLE IF NOT EXISTS pfi_schema_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      checksum text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const done = await tx.query<{ version: number; checksum: string }>(
      'SELECT version, checksum FROM pfi_schema_migrations ORDER BY version',
    );
    const applied = new Map(done.rows.map((r) => [r.version, r.checksum]));
    const ran: number[] = [];
    for (const m of migrations) {
      const previous = applied.get(m.version);
      if (previous !== undefined) {
        if (previous !== checksum(m)) {
          throw new SqlError(
            `Migration ${m.version} (${m.name}) was changed after it was applied; add a new migration instead`,
          );
        }
        continue;
      }
      for (const statement of m.statements) await tx.query(statement);
      await tx.query('INSERT INTO pfi_schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
        m.version,
        m.name,
        checksum(m),
      ]);
      ran.push(m.version);
    }
    return ran;
  });
}
