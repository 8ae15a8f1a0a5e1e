import type { DocumentStore } from '../adapters/documents/document-store.js';
import type { SqlExecutor } from '../adapters/sql/executor.js';
import { type AuditAction, type AuditFacts, agentOf, patientsOf, type RestInteraction } from '../audit/audit-event.js';
import { type AuditRecorder, auditOutboxMessage, directAuditRecorder } from '../audit/recorder.js';
import { allows, type Interaction } from '../auth/scopes.js';
import type { AuthContext } from '../auth/verify.js';
import { withBinaryContent } from './binary-content.js';
import { badRequest, FhirError, forbidden, notAllowed, preconditionFailed, unprocessable } from './errors.js';
import { conditionalLockKey, lockConditions } from './repository/conditional-lock.js';
import type { IdentifierKey } from './repository/identifier-lookup.js';
import {
  DuplicateIdentifierError,
  FHIR_ID,
  type FhirRepository,
  newResourceId,
  type OutboxMessage,
  type StoredResource,
} from './repository/repository.js';
import { type HistoryPage, runHistory, runSearch, type SearchResult } from './repository/search.js';
import { parseSearch, type SearchRequest } from './search/parse.js';
import { isSupportedType, type Resource } from './types.js';
import { requiredPatientLinks, validateResource } from './validation/index.js';

/** One resource of {@link FhirService.updateMany}. */
export interface BulkItem {
  resource: Resource;
  /** The version read (optimistic lock); 0: must not exist; omitted: any. */
  expectedVersion?: number;
  outbox?: OutboxMessage[];
}

/**
 * Work a write triggers, committed with it (outbox rows): e.g. a Communication to send over MSSanté. Called with the
 * resource as it will be stored (its id assigned); returns no message for resources that trigger nothing.
 */
export type WriteTrigger = (resource: Resource) => OutboxMessage[];

/** Types clients may read and search but never write (the platform writes them). */
const READ_ONLY_TYPES = new Set(['AuditEvent']);

/** Outcome of one interaction, independent of HTTP (also used for Bundle entries). */
export interface InteractionResult {
  status: number;
  resource?: StoredResource;
  /** The JSON body to send when there is no stored resource (Bundles, OperationOutcome…). */
  body?: unknown;
}

export function requireType(type: string): void {
  if (!isSupportedType(type))
    throw new FhirError(404, [
      { severity: 'error', code: 'not-supported', diagnostics: `Resource type ${type} is not supported` },
    ]);
}

export function requireScope(auth: AuthContext, type: string, interaction: Interaction): void {
  if (!allows(auth.scopes, type, interaction)) {
    const names = { c: 'create', r: 'read', u: 'update', d: 'delete', s: 'search' };
    throw forbidden(`The token's scopes do not allow ${names[interaction]} on ${type}`);
  }
}

function requireWritable(type: string): void {
  if (READ_ONLY_TYPES.has(type)) throw notAllowed(`${type} is written by the platform only`);
}

/** Parses a request body as a FHIR resource of `type` (400 on bad JSON or a type mismatch). */
export function parseResourceBody(body: string | undefined, type?: string): Resource {
  if (body === undefined || body.trim() === '') throw badRequest('The request has no body');
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    throw badRequest('The body is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw badRequest('The body is not a FHIR resource');
  const resource = value as Resource;
  if (typeof resource.resourceType !== 'string') throw badRequest('The body has no resourceType', ['resourceType']);
  if (type && resource.resourceType !== type) {
    throw badRequest(`resourceType ${resource.resourceType} does not match the URL (${type})`, ['resourceType']);
  }
  return resource;
}

/** Parses `If-None-Exist`/conditional URL queries into name/value pairs. */
export function queryPairs(query: string): [string, string][] {
  return [...new URLSearchParams(query.startsWith('?') ? query.slice(1) : query)];
}

/** Validates a resource and returns the Patient links the repository must check. */
function validate(resource: Resource, type: string): { expression: string; id: string }[] {
  const issues = validateResource(resource, type);
  if (issues.length) throw unprocessable(issues);
  return requiredPatientLinks(resource)
    .filter((l) => l.reference?.startsWith('Patient/'))
    .map((l) => ({ expression: l.expression, id: l.reference!.slice('Patient/'.length).split('/')[0]! }));
}

/**
 * FHIR interactions on a repository, with validation and scope checks: what the HTTP router and
 * Bundle processing both call.
 */
/** Auditing of the interactions of a service (absent: nothing is audited, e.g. in unit tests of the store). */
export interface FhirAudit {
  recorder: AuditRecorder;
  source: AuditFacts['source'];
}

const referenceOf = (r: { resourceType: string; id: string }) => `${r.resourceType}/${r.id}`;
/** Entities named in one AuditEvent at most (a search page of 1,000 resources names the first ones). */
const MAX_AUDIT_ENTITIES = 200;

export class FhirService {
  /**
   * @param documents where Binary contents too large for a row live (./binary-content.ts); reads of such a
   * Binary fail with 500 without it.
   */
  constructor(
    readonly repo: FhirRepository,
    readonly documents?: DocumentStore,
    readonly trigger?: WriteTrigger,
    readonly audit?: FhirAudit,
  ) {}

  /** The same service on another repository (a transaction's): its AuditEvents are recorded in that transaction. */
  withRepository(repo: FhirRepository): FhirService {
    const audit = this.audit && { ...this.audit, recorder: directAuditRecorder(repo.db) };
    return new FhirService(repo, this.documents, this.trigger, audit);
  }

  private audited(auth: AuthContext): boolean {
    return this.audit !== undefined && auth.internal !== true;
  }

  /** Records a read-side interaction (durable before the caller answers). */
  private async recordAccess(
    auth: AuthContext,
    interaction: RestInteraction,
    resources: { resourceType: string; id: string; json?: string }[],
    queryParameters?: string[],
  ): Promise<void> {
    if (!this.audited(auth)) return;
    const named = resources.slice(0, MAX_AUDIT_ENTITIES);
    const patients = named.flatMap((r) => (r.json ? patientsOf(JSON.parse(r.json) as Resource) : []));
    await this.audit!.recorder.record({
      what: { kind: 'rest', interaction },
      action: 'R',
      outcome: '0',
      agent: agentOf(auth, auth.address),
      source: this.audit!.source,
      entities: named.map(referenceOf),
      patients,
      queryParameters,
      ...(resources.length > named.length
        ? { outcomeDesc: `${resources.length} resources, the first ${named.length} named` }
        : {}),
    });
  }

  /** The AuditEvent of a write, committed in the write's own statement. */
  private auditOfWrite(
    auth: AuthContext,
    interaction: RestInteraction,
    action: AuditAction,
    resource: Resource,
  ): OutboxMessage[] {
    if (!this.audited(auth)) return [];
    return [
      auditOutboxMessage({
        what: { kind: 'rest', interaction },
        action,
        outcome: '0',
        agent: agentOf(auth, auth.address),
        source: this.audit!.source,
        entities: [`${resource.resourceType}/${resource.id}`],
        patients: patientsOf(resource),
      }),
    ];
  }

  private outboxFor(resource: Resource, given: OutboxMessage[] | undefined): OutboxMessage[] | undefined {
    const triggered = this.trigger?.(resource) ?? [];
    if (triggered.length === 0) return given;
    return [...(given ?? []), ...triggered];
  }

  private async content(stored: StoredResource): Promise<StoredResource> {
    if (stored.resourceType !== 'Binary' || !this.documents) return stored;
    return withBinaryContent(stored, this.documents);
  }

  async read(auth: AuthContext, type: string, id: string): Promise<InteractionResult> {
    requireType(type);
    requireScope(auth, type, 'r');
    const resource = await this.content(await this.repo.read(type, id));
    await this.recordAccess(auth, 'read', [resource]);
    return { status: 200, resource };
  }

  async vread(auth: AuthContext, type: string, id: string, vid: string): Promise<InteractionResult> {
    requireType(type);
    requireScope(auth, type, 'r');
    const resource = await this.content(await this.repo.vread(type, id, vid));
    await this.recordAccess(auth, 'vread', [resource]);
    return { status: 200, resource };
  }

  async search(
    auth: AuthContext,
    type: string,
    params: [string, string][],
    lenient = false,
  ): Promise<{ req: SearchRequest; result: SearchResult }> {
    requireType(type);
    requireScope(auth, type, 's');
    const req = parseSearch(type, params, lenient);
    for (const f of req.filters) if (f.chain) requireScope(auth, f.chain.targetType, 's');
    for (const inc of req.revinclude) requireScope(auth, inc.sourceType, 'r');
    const result = await runSearch(this.repo.db, req);
    // _include'd resources the token may not read are left out rather than leaked.
    result.included = result.included.filter((r) => allows(auth.scopes, r.resourceType, 'r'));
    await this.recordAccess(
      auth,
      'search-type',
      [...result.matches, ...result.included],
      params.map(([k]) => k),
    );
    return { req, result };
  }

  async history(
    auth: AuthContext,
    type: string,
    id: string | undefined,
    params: [string, string][],
  ): Promise<HistoryPage> {
    requireType(type);
    requireScope(auth, type, 'r');
    if (!id) requireScope(auth, type, 's');
    const get = (n: string) => params.find(([k]) => k === n)?.[1];
    const countRaw = get('_count');
    if (countRaw !== undefined && !/^\d+$/.test(countRaw)) throw badRequest('_count must be a non-negative integer');
    const since = get('_since');
    if (since !== undefined && Number.isNaN(Date.parse(since))) throw badRequest('_since must be an instant');
    const unknown = params
      .map(([k]) => k)
      .filter((k) => !['_count', '_since', '_cursor', '_format', '_pretty'].includes(k));
    if (unknown.length) throw badRequest(`history does not support ${unknown.join(', ')}`);
    const cursor = get('_cursor');
    const page = await runHistory(this.repo.db, {
      resourceType: type,
      id,
      count: Math.min(Number(countRaw ?? 20), 1000),
      since,
      cursor,
    });
    if (id && page.entries.length === 0 && cursor === undefined && since === undefined) {
      throw new FhirError(404, [{ severity: 'error', code: 'not-found', diagnostics: `${type}/${id} not found` }]);
    }
    await this.recordAccess(
      auth,
      id ? 'history-instance' : 'history-type',
      page.entries.map((e) => (e.deleted ? { resourceType: e.resourceType, id: e.id } : e)),
      params.map(([k]) => k),
    );
    return page;
  }

  /**
   * Create, or conditional create when `ifNoneExist` is given (0 → 201, 1 → 200, >1 → 412). A conditional create
   * searches and writes in one transaction holding the condition's lock (./repository/conditional-lock.ts), so
   * clients racing on one condition create one resource whatever its type.
   */
  async create(
    auth: AuthContext,
    type: string,
    resource: Resource,
    opts: { ifNoneExist?: string; id?: string } = {},
  ): Promise<InteractionResult> {
    requireType(type);
    requireWritable(type);
    requireScope(auth, type, 'c');
    if (resource.resourceType !== type) throw badRequest(`resourceType must be ${type}`, ['resourceType']);
    const ifNoneExist = opts.ifNoneExist;
    if (ifNoneExist === undefined) return this.createNew(auth, type, resource, opts.id);
    requireScope(auth, type, 's');
    const pairs = queryPairs(ifNoneExist);
    try {
      return await this.repo.db.transaction(async (tx) => {
        await lockConditions(tx, [conditionalLockKey(type, pairs)]);
        const t = this.withRepository(this.repo.withExecutor(tx));
        const existing = await t.matchOne(type, ifNoneExist);
        if (existing) return { status: 200, resource: existing };
        return t.createNew(auth, type, resource, opts.id);
      });
    } catch (err) {
      // A concurrent create under another condition took the business identifier: answer with its resource. Inside
      // a transaction Bundle the failed statement aborted it: the search fails too, keep the 409.
      if (err instanceof DuplicateIdentifierError) {
        const existing = await this.matchOne(type, ifNoneExist).catch(() => undefined);
        if (existing) return { status: 200, resource: existing };
      }
      throw err;
    }
  }

  /** A plain create (no condition): with the given id (a transaction's pre-assigned one) or a new one. */
  private async createNew(
    auth: AuthContext,
    type: string,
    resource: Resource,
    givenId: string | undefined,
  ): Promise<InteractionResult> {
    const links = validate({ ...resource, id: undefined }, type);
    const id = givenId ?? newResourceId();
    const written = await this.repo.create(resource, {
      patientLinks: links,
      id,
      outbox: this.outboxFor({ ...resource, id }, this.auditOfWrite(auth, 'create', 'C', { ...resource, id })),
    });
    return { status: 201, resource: written.resource };
  }

  /** The single match of a conditional query (search scope needed), undefined for none, 412 for several. */
  async conditionalMatch(auth: AuthContext, type: string, query: string): Promise<StoredResource | undefined> {
    requireType(type);
    requireScope(auth, type, 's');
    return this.matchOne(type, query);
  }

  private async matchOne(type: string, query: string): Promise<StoredResource | undefined> {
    const req = parseSearch(type, queryPairs(query));
    // `_count=1` alone would match any resource: a conditional interaction needs real criteria.
    if (req.filters.length === 0) throw badRequest('The conditional query has no search criteria');
    req.count = 2;
    req.include = [];
    req.revinclude = [];
    req.total = 'none';
    req.cursor = undefined;
    const found = await runSearch(this.repo.db, req);
    if (found.matches.length > 1) throw preconditionFailed(`The conditional query matches more than one ${type}`);
    return found.matches[0];
  }

  async update(
    auth: AuthContext,
    type: string,
    id: string,
    resource: Resource,
    opts: { ifMatch?: number; outbox?: OutboxMessage[] } = {},
  ): Promise<InteractionResult> {
    requireType(type);
    requireWritable(type);
    requireScope(auth, type, 'u');
    if (!FHIR_ID.test(id)) throw badRequest(`'${id}' is not a valid resource id`);
    if (resource.resourceType !== type) throw badRequest(`resourceType must be ${type}`, ['resourceType']);
    if (resource.id !== id) throw badRequest(`The resource id must match the URL (${type}/${id})`, [`${type}.id`]);
    const links = validate(resource, type);
    if (!allows(auth.scopes, type, 'c')) {
      // Update-as-create needs the create scope: without it, the resource must already exist.
      await this.repo.read(type, id).catch((err: unknown) => {
        if (err instanceof FhirError && err.status === 404)
          throw forbidden(`The token's scopes do not allow create on ${type}`);
        if (!(err instanceof FhirError && err.status === 410)) throw err;
      });
    }
    const written = await this.repo.update(resource, {
      patientLinks: links,
      ifMatch: opts.ifMatch,
      outbox: this.outboxFor(resource, [...(opts.outbox ?? []), ...this.auditOfWrite(auth, 'update', 'U', resource)]),
    });
    return { status: written.created ? 201 : 200, resource: written.resource };
  }

  /**
   * Creates or updates many resources atomically (the HL7 worker's batch): each validated like {@link update}, then
   * written by {@link FhirRepository.writeMany} with its optimistic lock. `expectedVersion` 0 creates (create
   * scope), a version updates (update scope), none upserts (both).
   */
  async updateMany(auth: AuthContext, items: BulkItem[]): Promise<InteractionResult[]> {
    const writer = this.bulkWriter(auth);
    for (const item of items) writer.add(item);
    return writer.commit();
  }

  /**
   * {@link updateMany} in two steps: `add` validates and prepares one resource (CPU only), `commit` writes them all
   * on `db` (a transaction's executor; default this service's).
   */
  bulkWriter(auth: AuthContext): { add(item: BulkItem): void; commit(db?: SqlExecutor): Promise<InteractionResult[]> } {
    const writer = this.repo.bulkWriter();
    return {
      add: ({ resource, expectedVersion, outbox }) => {
        const type = resource.resourceType;
        requireType(type);
        requireWritable(type);
        if (expectedVersion !== 0) requireScope(auth, type, 'u');
        if (expectedVersion === undefined || expectedVersion === 0) requireScope(auth, type, 'c');
        if (!resource.id || !FHIR_ID.test(resource.id)) throw badRequest(`'${resource.id}' is not a valid resource id`);
        writer.add({
          resource,
          expectedVersion,
          outbox: this.outboxFor(resource, outbox),
          patientLinks: validate(resource, type),
        });
      },
      commit: async (db = this.repo.db) => {
        const written = await writer.execute(db);
        return written.map((w) => ({ status: w.created ? 201 : 200, resource: w.resource }));
      },
    };
  }

  /** The current resources carrying any of these business identifiers, in one statement (search scope). */
  async findByIdentifiers(auth: AuthContext, keys: IdentifierKey[]): Promise<StoredResource[]> {
    for (const type of new Set(keys.map((k) => k.type))) {
      requireType(type);
      requireScope(auth, type, 's');
    }
    return keys.length ? this.repo.findByIdentifiers(keys) : [];
  }

  /**
   * `PUT Type?query`: update the single match, create when none, 412 when several; under the condition's lock, like a
   * conditional create.
   */
  async conditionalUpdate(
    auth: AuthContext,
    type: string,
    query: string,
    resource: Resource,
  ): Promise<InteractionResult> {
    requireType(type);
    requireWritable(type);
    requireScope(auth, type, 'u');
    requireScope(auth, type, 's');
    try {
      return await this.repo.db.transaction(async (tx) => {
        await lockConditions(tx, [conditionalLockKey(type, queryPairs(query))]);
        return this.withRepository(this.repo.withExecutor(tx)).conditionalUpdateLocked(auth, type, query, resource);
      });
    } catch (err) {
      // A concurrent writer under another condition created the match meanwhile: apply this body to it rather than
      // drop it (outside a transaction Bundle: inside one, the failed statement aborted it and the search fails).
      if (!(err instanceof DuplicateIdentifierError)) throw err;
      const winner = await this.matchOne(type, query).catch(() => undefined);
      if (!winner || (resource.id !== undefined && resource.id !== winner.id)) throw err;
      return this.update(auth, type, winner.id, { ...resource, id: winner.id });
    }
  }

  private async conditionalUpdateLocked(
    auth: AuthContext,
    type: string,
    query: string,
    resource: Resource,
  ): Promise<InteractionResult> {
    const match = await this.matchOne(type, query);
    if (!match) {
      requireScope(auth, type, 'c');
      // No match: create, with the body's id when it has one (409 if that id exists: R4 conditional update).
      return this.create(auth, type, resource, { id: resource.id });
    }
    if (resource.id !== undefined && resource.id !== match.id) {
      throw badRequest(`The resource id does not match the resource found by the conditional query`, [`${type}.id`]);
    }
    return this.update(auth, type, match.id, { ...resource, id: match.id });
  }

  async delete(
    auth: AuthContext,
    type: string,
    id: string,
    opts: { ifMatch?: number } = {},
  ): Promise<InteractionResult> {
    requireType(type);
    requireWritable(type);
    requireScope(auth, type, 'd');
    await this.repo.delete(type, id, {
      ...opts,
      outbox: this.auditOfWrite(auth, 'delete', 'D', { resourceType: type, id }),
    });
    return { status: 204 };
  }

  async conditionalDelete(auth: AuthContext, type: string, query: string): Promise<InteractionResult> {
    requireType(type);
    requireWritable(type);
    requireScope(auth, type, 'd');
    requireScope(auth, type, 's');
    const match = await this.matchOne(type, query);
    if (match) {
      await this.repo.delete(type, match.id, {
        outbox: this.auditOfWrite(auth, 'delete', 'D', { resourceType: type, id: match.id }),
      });
    }
    return { status: 204 };
  }

  /** A new server id, for transaction entries whose urn:uuid must be resolved before writing. */
  static newId(): string {
    return newResourceId();
  }
}
