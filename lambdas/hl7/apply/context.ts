/**
 * What the HL7 appliers share inside one message's transaction: the FHIR service bound to the transaction, the
 * platform identity it writes as, the document store, and what the message wrote (for its Provenance).
 */

import type { DocumentStore } from '../../adapters/documents/document-store.js';
import { parseScopes } from '../../auth/scopes.js';
import type { AuthContext } from '../../auth/verify.js';
import type { OutboxMessage, StoredResource } from '../../fhir/repository/repository.js';
import { FhirService } from '../../fhir/service.js';
import type { Resource } from '../../fhir/types.js';
import type { BusinessIdentifier } from '../map/patient.js';

export type Json = Record<string, unknown>;

/** The identity the ingest worker writes as (all types, system level). */
export const INGEST_AUTH: AuthContext = {
  subject: 'pfi-hl7-ingest',
  clientId: 'pfi-hl7-ingest',
  scopes: parseScopes('system/*.cruds'),
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
  readonly written: Written[] = [];
  readonly warnings: IngestWarning[] = [];

  constructor(
    readonly service: FhirService,
    readonly documents: DocumentStore,
    /** Practitioner id by `system|value`, shared across messages (professionals are few and stable). */
    readonly practitioners: Map<string, string> = new Map(),
  ) {}

  warn(code: string, message: string): void {
    this.warnings.push({ code, message });
  }

  /** The single current resource of `type` carrying `identifier`, parsed; undefined when none. */
  async find(type: string, identifier: BusinessIdentifier): Promise<Json | undefined> {
    const stored = await this.service.conditionalMatch(
      INGEST_AUTH,
      type,
      `identifier=${encodeURIComponent(`${identifier.system}|${identifier.value}`)}`,
    );
    return stored ? (JSON.parse(stored.json) as Json) : undefined;
  }

  /**
   * The current resources of `type` carrying any of `identifiers`, in one statement (at most one per identifier is
   * expected: they are unique in the database).
   */
  async findAny(type: string, identifiers: BusinessIdentifier[]): Promise<Json[]> {
    // A value holding a search-syntax character cannot share the OR list: look it up alone.
    const plain = identifiers.filter((i) => !/[,|\\$]/.test(i.value) && !/[,\\$]/.test(i.system));
    const out: Json[] = [];
    if (plain.length) {
      const value = plain.map((i) => `${i.system}|${i.value}`).join(',');
      out.push(...(await this.search(type, 'identifier', value, plain.length + 1)));
    }
    for (const i of identifiers.filter((x) => !plain.includes(x))) {
      const found = await this.find(type, i);
      if (found && !out.some((o) => o['id'] === found['id'])) out.push(found);
    }
    return out;
  }

  /** Resources of `type` whose `param` is `value` (at most `count`). */
  async search(type: string, param: string, value: string, count = 100): Promise<Json[]> {
    const { result } = await this.service.search(INGEST_AUTH, type, [
      [param, value],
      ['_count', String(count)],
    ]);
    return result.matches.map((m) => JSON.parse(m.json) as Json);
  }

  /** Creates or updates `resource` (it must have an id), validated like any FHIR write. */
  async write(resource: Json, opts: { outbox?: OutboxMessage[] } = {}): Promise<StoredResource> {
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
    const result = await this.service.update(INGEST_AUTH, type, id, clean as Resource, { outbox: opts.outbox });
    const stored = result.resource!;
    this.written.push({ reference: `${type}/${id}`, versionId: stored.versionId, status: result.status });
    return stored;
  }

  /** A new server id. */
  newId(): string {
    return FhirService.newId();
  }
}
