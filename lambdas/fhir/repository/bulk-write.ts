import { hash, randomUUID } from 'node:crypto';
import { SqlError, type SqlExecutor, sqlJson, UNIQUE_VIOLATION } from '../../adapters/sql/executor.js';
import { badRequest, conflict, tooLarge, unprocessable } from '../errors.js';
import { extractIndexRows } from '../search/extract.js';
import type { Resource } from '../types.js';
import {
  type BulkAnswerRow,
  type BulkInput,
  type BulkRow,
  buildBulkWrite,
  STALE_UNIQUE_SQL,
} from './bulk-write-sql.js';
import { hasUniqueIdentifiers, uniqueIdentifiers } from './identifiers.js';
import {
  DuplicateIdentifierError,
  FHIR_ID,
  type OutboxMessage,
  type StoredResource,
  type WriteResult,
} from './repository.js';
import type { IndexCategory } from './write-sql.js';

/**
 * The bulk statements reach every row by per-row key probes, and their only estimates (the JSON inputs' row counts)
 * do not depend on the values: one generic plan fits every execution. Measured on the PostgreSQL server, letting it
 * choose re-planned the write statement at every execution (2 to 15 ms of a 40–50 ms statement).
 */
const BULK_PLAN = { plan: 'generic' } as const;

/** One resource of {@link writeMany}. */
export interface BulkWrite {
  /** The resource with its id; meta may carry tags, never versionId/lastUpdated (the store assigns them). */
  resource: Resource;
  /**
   * The version the writer read: the write fails with 409 when the stored version differs (0: the resource must not
   * exist). Omitted: written whatever is stored (a blind upsert, for resources whose id derives from their content).
   */
  expectedVersion?: number;
  patientLinks?: { expression: string; id: string }[];
  /** Committed with the write, only when the resource actually changes. */
  outbox?: OutboxMessage[];
}

/**
 * Largest JSON sent in one statement (resources and their index rows): the RDS Data API takes at most 4 MiB per
 * request. A bigger batch goes out in several statements of the same transaction.
 */
const MAX_STATEMENT_CHARS = 1_500_000;

interface Prepared {
  write: BulkWrite;
  row: BulkRow;
  index: Record<IndexCategory, ({ k: number } & Record<string, unknown>)[]>;
  unique: { k: number; system: string; value: string }[];
  chars: number;
  placeholders: { version: string; updated: string };
}

function prepare(write: BulkWrite, k: number, now: string, nonce: string, maxBytes: number): Prepared {
  const resource = write.resource;
  const type = resource.resourceType;
  const id = resource.id;
  if (!id || !FHIR_ID.test(id)) throw badRequest(`'${String(id).slice(0, 64)}' is not a valid resource id`);
  const placeholders = { version: `pfi-version-${nonce}`, updated: `pfi-last-updated-${nonce}` };
  const meta = { ...(resource.meta ?? {}), versionId: placeholders.version, lastUpdated: placeholders.updated };
  const { resourceType: _t, id: _i, meta: _m, ...rest } = resource;
  const json = JSON.stringify({ resourceType: type, id, meta, ...rest });
  if (Buffer.byteLength(json) > maxBytes) {
    throw tooLarge(
      `The ${type} is larger than the ${maxBytes} bytes a stored resource may hold; large content belongs in a document (Binary/DocumentReference)`,
    );
  }
  const rows = extractIndexRows({ ...resource, meta: { ...meta, lastUpdated: now } });
  const index = {} as Prepared['index'];
  const digest: Record<string, string> = {};
  let chars = json.length;
  for (const [cat, list] of Object.entries(rows) as [IndexCategory, Record<string, unknown>[]][]) {
    index[cat] = list.map((r) => ({ k, ...r }));
    if (list.length > 0) digest[cat] = hash('sha1', JSON.stringify(list), 'base64');
    chars += list.length * 64;
  }
  const uniq = hasUniqueIdentifiers(type);
  return {
    write,
    row: {
      k,
      type,
      id,
      json,
      expected: write.expectedVersion ?? null,
      uniq,
      digest,
    },
    index,
    unique: uniq ? uniqueIdentifiers(resource).map((u) => ({ k, ...u })) : [],
    chars,
    placeholders,
  };
}

/** Patients first: a resource linking to a Patient written in the same call finds it in an earlier statement. */
function chunks(items: Prepared[]): Prepared[][] {
  const ordered = [...items].sort(
    (a, b) => Number(b.row.type === 'Patient') - Number(a.row.type === 'Patient') || a.row.k - b.row.k,
  );
  const out: Prepared[][] = [];
  let current: Prepared[] = [];
  let size = 0;
  for (const p of ordered) {
    if (current.length && size + p.chars > MAX_STATEMENT_CHARS) {
      out.push(current);
      current = [];
      size = 0;
    }
    current.push(p);
    size += p.chars;
  }
  if (current.length) out.push(current);
  return out;
}

function bulkInput(items: Prepared[], now: string, nonce: string, staleUniqueDropped: boolean): BulkInput {
  const index = {} as BulkInput['index'];
  for (const p of items) {
    for (const [cat, list] of Object.entries(p.index) as [IndexCategory, BulkInput['index'][IndexCategory]][]) {
      if (!index[cat]) index[cat] = [];
      index[cat].push(...list);
    }
  }
  for (const cat of ['string', 'token', 'date', 'reference', 'quantity', 'number', 'uri'] as IndexCategory[]) {
    index[cat] ??= [];
  }
  return {
    rows: items.map((p) => p.row),
    now,
    versionPlaceholder: `pfi-version-${nonce}`,
    updatedPlaceholder: `pfi-last-updated-${nonce}`,
    index,
    unique: items.flatMap((p) => p.unique),
    links: items.flatMap((p) => (p.write.patientLinks ?? []).map((l) => ({ k: p.row.k, id: l.id }))),
    outbox: items.flatMap((p) => (p.write.outbox ?? []).map((o) => ({ k: p.row.k, ...o }))),
    staleUniqueDropped,
  };
}

/** The stored resource; its JSON (the same substitution the statement made) is built only if read. */
function stored(p: Prepared, version: number, updated: string): StoredResource {
  let json: string | undefined;
  return {
    resourceType: p.row.type,
    id: p.row.id,
    versionId: version,
    lastUpdated: updated,
    get json() {
      json ??= p.row.json.replace(p.placeholders.version, String(version)).replace(p.placeholders.updated, updated);
      return json;
    },
  };
}

function outcome(p: Prepared, a: BulkAnswerRow): WriteResult {
  if (a.version !== null) {
    return {
      resource: stored(p, Number(a.version), String(a.updated)),
      created: a.prev_version === null || a.prev_deleted === true,
      unchanged: false,
    };
  }
  const expectation = p.row.expected === null || p.row.expected === Number(a.prev_version ?? 0);
  if (expectation && a.prev_version !== null && a.prev_same === true && a.prev_deleted !== true) {
    return { resource: stored(p, Number(a.prev_version), String(a.prev_updated)), created: false, unchanged: true };
  }
  // Read at another version than the stored one, or overtaken by a concurrent writer: the caller may retry.
  throw conflict(`${p.row.type}/${p.row.id} was modified concurrently; retry the request`);
}

function missingLinks(items: Prepared[], missing: string): never {
  const byK = new Map(items.map((p) => [p.row.k, p]));
  const issues = missing.split(',').flatMap((pair) => {
    const at = pair.indexOf(':');
    const p = byK.get(Number(pair.slice(0, at)));
    const id = pair.slice(at + 1);
    return (p?.write.patientLinks ?? [])
      .filter((l) => l.id === id)
      .map((l) => ({
        severity: 'error' as const,
        code: 'invariant',
        diagnostics: `Referenced Patient/${l.id} does not exist (a Patient link is mandatory)`,
        expression: [l.expression],
      }));
  });
  throw unprocessable(issues);
}

/**
 * A batch of writes built one resource at a time (the CPU part: JSON, content hash, index rows — callers may yield
 * between additions) and written later by {@link BulkWriter.execute}.
 */
export class BulkWriter {
  private readonly now = new Date().toISOString();
  private readonly nonce = randomUUID();
  private readonly items: Prepared[] = [];
  private readonly refs = new Set<string>();

  constructor(private readonly maxResourceBytes: number) {}

  get size(): number {
    return this.items.length;
  }

  /** Prepares one write; throws 400 on a bad id or a resource added twice, 413 on a resource too large. */
  add(write: BulkWrite): void {
    const p = prepare(write, this.items.length, this.now, this.nonce, this.maxResourceBytes);
    const key = `${p.row.type}/${p.row.id}`;
    if (this.refs.has(key)) throw badRequest(`${key} appears twice in one write`);
    this.refs.add(key);
    this.items.push(p);
  }

  /**
   * Writes everything in one transaction on `db` (joined when `db` is one already), with as few statements as the
   * batch allows: one, plus one when several resources of a type with unique identifiers are written; more only
   * past the Data API's request size. Results come in the order of addition. Throws on the first refusal (409 lost
   * race or {@link DuplicateIdentifierError}, 422 missing Patient link); the transaction is then rolled back.
   */
  async execute(db: SqlExecutor): Promise<WriteResult[]> {
    const items = this.items;
    if (items.length === 0) return [];
    const { now, nonce } = this;
    const uniqueRows = items.filter((p) => p.row.uniq);
    const staleFirst = uniqueRows.length > 1;
    const results: WriteResult[] = new Array(items.length);
    try {
      await db.transaction(async (tx) => {
        if (staleFirst) {
          const keys = uniqueRows.map((p) => ({
            type: p.row.type,
            id: p.row.id,
            keys: p.unique.map((u) => `${u.system}|${u.value}`),
          }));
          await tx.query(STALE_UNIQUE_SQL, [sqlJson(keys)], BULK_PLAN);
        }
        for (const chunk of chunks(items)) {
          const statement = buildBulkWrite(bulkInput(chunk, now, nonce, staleFirst));
          const res = await tx.query<BulkAnswerRow>(statement.text, statement.values, BULK_PLAN);
          const byK = new Map(chunk.map((p) => [p.row.k, p]));
          const missing = res.rows.find((r) => r.missing !== null)?.missing;
          if (missing) missingLinks(chunk, missing);
          for (const a of res.rows) {
            const p = byK.get(Number(a.k))!;
            results[p.row.k] = outcome(p, a);
          }
        }
      });
    } catch (err) {
      if (err instanceof SqlError && err.code === UNIQUE_VIOLATION) {
        if (err.message.includes('resource_pkey')) throw conflict('A resource of this write already exists');
        throw new DuplicateIdentifierError(uniqueRows[0]?.row.type ?? items[0]!.row.type, { cause: err });
      }
      if (err instanceof SqlError && err.code?.startsWith('22')) {
        throw unprocessable([
          {
            severity: 'error',
            code: 'value',
            diagnostics: 'A date or number of a resource is outside the range the store supports',
          },
        ]);
      }
      throw err;
    }
    return results;
  }
}

/**
 * Creates or updates many resources in one transaction ({@link BulkWriter}). Same rules as a single write: no new
 * version when the content is unchanged, unique business identifiers (409 {@link DuplicateIdentifierError}),
 * mandatory Patient links (422), outbox rows committed with the change.
 *
 * @example
 * ```ts
 * const [patient, encounter] = await writeMany(db, [
 *   { resource: patient, expectedVersion: 3 },
 *   { resource: encounter, expectedVersion: 0, patientLinks: [{ expression: 'Encounter.subject', id: patient.id }] },
 * ], 60_000);
 * ```
 */
export async function writeMany(
  db: SqlExecutor,
  writes: BulkWrite[],
  maxResourceBytes: number,
): Promise<WriteResult[]> {
  const writer = new BulkWriter(maxResourceBytes);
  for (const w of writes) writer.add(w);
  return writer.execute(db);
}
