/**
 * What the HL7 appliers share while applying one message: the batch's unit of work (reads and pending writes), the
 * platform identity it writes as, the document store, and what the message wrote (for its Provenance).
 */

import type { DocumentStore } from '../../adapters/documents/document-store.js';
import { parseScopes } from '../../auth/scopes.js';
import type { AuthContext } from '../../auth/verify.js';
import type { OutboxMessage } from '../../fhir/repository/repository.js';
import type { BusinessIdentifier } from '../map/patient.js';
import type { UnitOfWork } from './unit-of-work.js';

export type Json = Record<string, unknown>;

/** The identity the ingest worker writes as (all types, system level). */
export const INGEST_AUTH: AuthContext = {
  subject: 'pfi-hl7-ingest',
  clientId: 'pfi-hl7-ingest',
  scopes: parseScopes('system/*.cruds'),
  internal: true,
};

/** A resource the message wrote, for its Provenance and the ingest result. */
export interface Written {
  reference: string;
  versionId: number;
  /** 201: created; 200: updated (or unchanged: same content, no new version). */
  status: number;
}

/** Something the message said that PFI did not apply as is; reported, counted, never silent. */
export interface IngestWarning {
  code: string;
  /** Content-free explanation (no names, no identifiers). */
  message: string;
}

export class ApplyContext {
  /** References this message wrote, in order (first write of each). */
  private readonly refs: string[] = [];
  readonly warnings: IngestWarning[] = [];

  constructor(
    readonly unit: UnitOfWork,
    readonly documents: DocumentStore,
    /** Practitioner id by `system|value`, shared across messages (professionals are few and stable). */
    readonly practitioners: Map<string, string> = new Map(),
  ) {}

  warn(code: string, message: string): void {
    this.warnings.push({ code, message });
  }

  /** The single current resource of `type` carrying `identifier`; undefined when none. */
  find(type: string, identifier: BusinessIdentifier): Promise<Json | undefined> {
    return this.unit.find(type, identifier);
  }

  /** The current resources of `type` carrying any of `identifiers` (at most one per identifier is expected). */
  findAny(type: string, identifiers: BusinessIdentifier[]): Promise<Json[]> {
    return this.unit.findAny(type, identifiers);
  }

  /** Resources of `type` whose `param` is `value` (at most `count`); only in a message applied on its own. */
  search(type: string, param: string, value: string, count = 100): Promise<Json[]> {
    return this.unit.search(type, param, value, count);
  }

  /** True when `type/id` existed (committed) before this batch. */
  isStored(type: string, id: string): boolean {
    return this.unit.isStored(type, id);
  }

  /**
   * Creates or updates `resource` (it must have an id); validated like any FHIR write and stored when the batch
   * commits. Returns the resource as it will be stored (without versionId/lastUpdated).
   */
  write(resource: Json, opts: { outbox?: OutboxMessage[] } = {}): Json {
    const type = resource['resourceType'] as string;
    const id = resource['id'] as string;
    const { meta: _meta, ...body } = resource;
    // Keep tags (identity vigilance) but let the repository assign versionId / lastUpdated.
    const meta = resource['meta'] as Json | undefined;
    const clean: Json = { ...body };
    if (meta?.['tag'] || meta?.['extension']) {
      clean['meta'] = {
        ...(meta['tag'] ? { tag: meta['tag'] } : {}),
        ...(meta['extension'] ? { extension: meta['extension'] } : {}),
      };
    }
    this.unit.write(clean, opts);
    const ref = `${type}/${id}`;
    if (!this.refs.includes(ref)) this.refs.push(ref);
    return clean;
  }

  /** What this message wrote, once the unit is flushed (versions and statuses from the store). */
  get written(): Written[] {
    return this.refs.map((reference) => {
      const slash = reference.indexOf('/');
      const outcome = this.unit.outcome(reference.slice(0, slash), reference.slice(slash + 1));
      return { reference, versionId: outcome?.versionId ?? 0, status: outcome?.status ?? 0 };
    });
  }

  /** The references this message wrote so far (its Provenance targets). */
  get references(): readonly string[] {
    return this.refs;
  }

  /** A new server id. */
  newId(): string {
    return this.unit.newId();
  }
}
