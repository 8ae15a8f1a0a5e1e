/**
 * The unit of work of an HL7 batch: what its messages read and write, held in memory and written at the end in one
 * call ({@link FhirService.updateMany}), so that a batch of messages costs a few statements rather than a few per
 * message (a statement costs about 350 µs of system time on this project's machines).
 *
 * Reads go through an identity map: a resource is read once, and every later lookup — by the same message or the
 * next one of the batch — sees its current in-memory state. Lookups by business identifier consult the database once
 * per identifier, then answer from memory. Each resource read from the store is written back with the version it was
 * read at (optimistic locking: a concurrent writer makes the flush fail with 409 and the batch is retried), each new
 * one with "must not exist", and resources whose id derives from their content (Provenance, Binary) as upserts.
 */

import type { SqlExecutor } from '../../adapters/sql/executor.js';
import type { AuthContext } from '../../auth/verify.js';
import { sameContent } from '../../fhir/content.js';
import { preconditionFailed } from '../../fhir/errors.js';
import type { IdentifierKey } from '../../fhir/repository/identifier-lookup.js';
import type { OutboxMessage, StoredResource } from '../../fhir/repository/repository.js';
import { extractIdentifierRows } from '../../fhir/search/extract.js';
import { FhirService } from '../../fhir/service.js';
import type { Resource } from '../../fhir/types.js';
import type { BusinessIdentifier } from '../map/patient.js';

type Json = Record<string, unknown>;

/** Resources prepared between two yields to the event loop (a few milliseconds of CPU). */
const YIELD_EVERY = 8;

/** The pending changes of a unit, validated and ready to write. */
export interface PreparedFlush {
  commit(db?: SqlExecutor): Promise<void>;
}

/** What the flush did to a resource. */
export interface WriteOutcome {
  versionId: number;
  /** 201: created; 200: updated (or unchanged: same content, no new version). */
  status: number;
}

interface Entry {
  type: string;
  id: string;
  /** Version and content in the store, as read or last written by this unit; undefined: not read from it. */
  stored: { version: number; state: Json } | undefined;
  /** An id this unit generated: the resource must not exist yet. */
  fresh: boolean;
  state: Json;
  dirty: boolean;
  outbox: OutboxMessage[];
  keys: string[];
  outcome?: WriteOutcome;
}

const keyOf = (type: string, system: string, value: string) => `${type}\u0000${system}\u0000${value}`;

/** The identifier keys a lookup by `identifier=system|value` would match this resource under. */
function identifierKeys(resource: Json): string[] {
  const rows = extractIdentifierRows(resource as unknown as Resource).token;
  const type = resource['resourceType'] as string;
  return rows.filter((r) => r.system !== null && r.code !== null).map((r) => keyOf(type, r.system!, r.code!));
}

export class UnitOfWork {
  private readonly entries = new Map<string, Entry>();
  /** Resources (refs) carrying an identifier key in their current state. */
  private readonly byKey = new Map<string, Set<string>>();
  /** Identifier keys already looked up in the store. */
  private readonly consulted = new Set<string>();
  /** Ids from {@link newId}: their resources must not exist in the store. */
  private readonly generated = new Set<string>();

  /**
   * @param service FHIR service the reads go through (bound to a transaction when `transactional`).
   * @param transactional the unit runs inside one database transaction from its first read: searches, which must
   *   see the unit's own writes, are then allowed (they flush first).
   */
  constructor(
    private readonly service: FhirService,
    private readonly auth: AuthContext,
    private readonly transactional: boolean,
  ) {}

  /** Reads, in one statement, every resource carrying one of `identifiers` (those not consulted yet). */
  async prefetch(identifiers: (BusinessIdentifier & { type: string })[]): Promise<void> {
    const todo = new Map<string, IdentifierKey>();
    for (const i of identifiers) {
      const key = keyOf(i.type, i.system, i.value);
      if (!this.consulted.has(key)) todo.set(key, { type: i.type, system: i.system, value: i.value });
    }
    if (todo.size === 0) return;
    const found = await this.service.findByIdentifiers(this.auth, [...todo.values()]);
    for (const r of found) this.adopt(r);
    for (const key of todo.keys()) this.consulted.add(key);
  }

  /** The single current resource of `type` carrying `identifier` (412 when several do), undefined when none. */
  async find(type: string, identifier: BusinessIdentifier): Promise<Json | undefined> {
    await this.prefetch([{ type, ...identifier }]);
    const refs = this.byKey.get(keyOf(type, identifier.system, identifier.value));
    if (!refs || refs.size === 0) return undefined;
    if (refs.size > 1) throw preconditionFailed(`The conditional query matches more than one ${type}`);
    return this.entries.get([...refs][0]!)!.state;
  }

  /** The current resources of `type` carrying any of `identifiers`. */
  async findAny(type: string, identifiers: BusinessIdentifier[]): Promise<Json[]> {
    await this.prefetch(identifiers.map((i) => ({ type, ...i })));
    const refs = new Set<string>();
    for (const i of identifiers) {
      for (const ref of this.byKey.get(keyOf(type, i.system, i.value)) ?? []) refs.add(ref);
    }
    return [...refs].map((ref) => this.entries.get(ref)!.state);
  }

  /**
   * Resources of `type` whose `param` is `value` (at most `count`), the unit's writes included. Only in a
   * transactional unit: pending writes are flushed first, so the search sees them.
   */
  async search(type: string, param: string, value: string, count: number): Promise<Json[]> {
    if (!this.transactional) throw new Error('UnitOfWork.search needs a transactional unit');
    await this.flush();
    const { result } = await this.service.search(this.auth, type, [
      [param, value],
      ['_count', String(count)],
    ]);
    return result.matches.map((m) => {
      const existing = this.entries.get(`${type}/${m.id}`);
      if (existing) return existing.state;
      return this.adopt(m).state;
    });
  }

  /** True when `type/id` was read from the store (so it existed, committed, before this unit). */
  isStored(type: string, id: string): boolean {
    return this.entries.get(`${type}/${id}`)?.stored !== undefined;
  }

  /** A new server id for a resource this unit creates. */
  newId(): string {
    const id = FhirService.newId();
    this.generated.add(id);
    return id;
  }

  /** Records `resource` (it must have an id) as the new state of its resource; written by {@link flush}. */
  write(resource: Json, opts: { outbox?: OutboxMessage[] } = {}): void {
    const type = resource['resourceType'] as string;
    const id = resource['id'] as string;
    const ref = `${type}/${id}`;
    let entry = this.entries.get(ref);
    if (!entry) {
      entry = {
        type,
        id,
        stored: undefined,
        fresh: this.generated.has(id),
        state: resource,
        dirty: true,
        outbox: [],
        keys: [],
      };
      this.entries.set(ref, entry);
    }
    entry.state = resource;
    entry.dirty = true;
    entry.outcome = undefined;
    if (opts.outbox?.length) entry.outbox.push(...opts.outbox);
    this.index(entry);
  }

  /** The outcome of the flush for a resource this unit wrote (after {@link flush}). */
  outcome(type: string, id: string): WriteOutcome | undefined {
    return this.entries.get(`${type}/${id}`)?.outcome;
  }

  /** Writes every pending change in one call (on `db`, e.g. a transaction's executor). */
  async flush(db?: SqlExecutor): Promise<void> {
    await (await this.prepareFlush()).commit(db);
  }

  /**
   * Validates and prepares the pending changes (the CPU part of a flush, yielding to the event loop every few
   * resources); `commit` then writes them. Changes made after the preparation are not part of it.
   */
  async prepareFlush(): Promise<PreparedFlush> {
    const writer = this.service.bulkWriter(this.auth);
    const pending: { entry: Entry; state: Json }[] = [];
    let sinceYield = 0;
    for (const entry of this.entries.values()) {
      if (!entry.dirty) continue;
      if (entry.stored && sameContent(entry.stored.state, entry.state)) {
        // Same content as stored: no new version, no outbox (as a single write would do).
        entry.dirty = false;
        entry.outbox = [];
        entry.outcome = { versionId: entry.stored.version, status: 200 };
        continue;
      }
      writer.add({
        resource: entry.state as unknown as Resource,
        expectedVersion: entry.stored ? entry.stored.version : entry.fresh ? 0 : undefined,
        outbox: entry.outbox.length ? entry.outbox : undefined,
      });
      pending.push({ entry, state: entry.state });
      if (++sinceYield === YIELD_EVERY) {
        sinceYield = 0;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    }
    return {
      commit: async (db) => {
        if (pending.length === 0) return;
        const results = await writer.commit(db);
        for (const [i, { entry, state }] of pending.entries()) {
          const version = results[i]!.resource!.versionId;
          entry.stored = { version, state };
          entry.fresh = false;
          entry.outcome = { versionId: version, status: results[i]!.status };
          // Written after the preparation: still to flush.
          if (entry.state !== state) continue;
          entry.dirty = false;
          entry.outbox = [];
        }
      },
    };
  }

  /** Takes a resource read from the store into the map (a resource already there keeps its in-memory state). */
  private adopt(r: StoredResource): Entry {
    const ref = `${r.resourceType}/${r.id}`;
    const existing = this.entries.get(ref);
    if (existing) return existing;
    const state = JSON.parse(r.json) as Json;
    const entry: Entry = {
      type: r.resourceType,
      id: r.id,
      stored: { version: r.versionId, state },
      fresh: false,
      state,
      dirty: false,
      outbox: [],
      keys: [],
    };
    this.entries.set(ref, entry);
    this.index(entry);
    return entry;
  }

  private index(entry: Entry): void {
    const ref = `${entry.type}/${entry.id}`;
    for (const key of entry.keys) this.byKey.get(key)?.delete(ref);
    entry.keys = identifierKeys(entry.state);
    for (const key of entry.keys) {
      let refs = this.byKey.get(key);
      if (!refs) {
        refs = new Set();
        this.byKey.set(key, refs);
      }
      refs.add(ref);
    }
  }
}
