import type { AuthContext } from '../auth/verify.js';
import { badRequest, FhirError, preconditionFailed } from './errors.js';
import { conditionalLockKey, lockConditions } from './repository/conditional-lock.js';
import { DuplicateIdentifierError, type StoredResource } from './repository/repository.js';
import { historyBundle, searchBundle } from './responses.js';
import { parseETag } from './router.js';
import { FhirService, queryPairs, requireScope } from './service.js';
import type { Bundle, BundleEntry, Resource } from './types.js';

/** Entries of one transaction or batch, at most (each costs at least one statement). */
export const MAX_BUNDLE_ENTRIES = 1000;

const STATUS_TEXT: Record<number, string> = { 200: '200 OK', 201: '201 Created', 204: '204 No Content' };

interface ParsedEntry {
  index: number;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  type: string;
  id?: string;
  /** `Type/id/_history[/vid]` */
  history: boolean;
  vid?: string;
  query?: string;
  resource?: Resource;
  entry: BundleEntry;
  /** Transaction POST whose If-None-Exist matched: answered 200 with this resource, nothing written. */
  existing?: StoredResource;
}

function parseEntry(entry: BundleEntry, index: number): ParsedEntry {
  const at = `Bundle.entry[${index}]`;
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry))
    throw badRequest(`${at} is not an object`, [at]);
  const req = entry.request;
  if (!req || typeof req.method !== 'string' || typeof req.url !== 'string') {
    throw badRequest(`${at}.request needs method and url`, [`${at}.request`]);
  }
  for (const header of ['ifNoneExist', 'ifMatch', 'ifNoneMatch', 'ifModifiedSince'] as const) {
    if (req[header] !== undefined && typeof req[header] !== 'string') {
      throw badRequest(`${at}.request.${header} must be a string`, [`${at}.request.${header}`]);
    }
  }
  if (entry.fullUrl !== undefined && typeof entry.fullUrl !== 'string') {
    throw badRequest(`${at}.fullUrl must be a string`, [`${at}.fullUrl`]);
  }
  if (entry.resource !== undefined && (typeof entry.resource !== 'object' || entry.resource === null)) {
    throw badRequest(`${at}.resource must be a resource`, [`${at}.resource`]);
  }
  const method = req.method.toUpperCase();
  if (method !== 'GET' && method !== 'POST' && method !== 'PUT' && method !== 'DELETE') {
    throw badRequest(`Bundle.entry[${index}]: method ${req.method} is not supported`, [
      `Bundle.entry[${index}].request.method`,
    ]);
  }
  const [path = '', query] = req.url.replace(/^\//, '').split('?', 2) as [string, string | undefined];
  const [type = '', id, hist, vid] = path.split('/');
  if (!/^[A-Z][A-Za-z]+$/.test(type) || (hist !== undefined && hist !== '_history')) {
    throw badRequest(`Bundle.entry[${index}].request.url is not a relative FHIR URL`, [
      `Bundle.entry[${index}].request.url`,
    ]);
  }
  // POST creates with a server id: `POST Patient/123` must not reach an existing resource.
  if (method === 'POST' && (id !== undefined || query !== undefined)) {
    throw badRequest(`${at}: POST takes a type only (use PUT Type/id or If-None-Exist)`, [`${at}.request.url`]);
  }
  if ((method === 'POST' || method === 'PUT') && !entry.resource) {
    throw badRequest(`Bundle.entry[${index}] has no resource`, [`Bundle.entry[${index}].resource`]);
  }
  return { index, method, type, id, history: hist !== undefined, vid, query, resource: entry.resource, entry };
}

/** Replaces every `reference` found in `map` (urn:uuid fullUrls and resolved conditional references). */
function rewriteReferences(value: unknown, map: Map<string, string>): unknown {
  if (Array.isArray(value)) return value.map((v) => rewriteReferences(v, map));
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    out[k] = k === 'reference' && typeof v === 'string' && map.has(v) ? map.get(v) : rewriteReferences(v, map);
  }
  return out;
}

/** Adds to `found` every `reference` value matching `pattern`. */
function collectReferences(value: unknown, pattern: RegExp, found: Set<string>): void {
  if (Array.isArray(value)) for (const v of value) collectReferences(v, pattern, found);
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (k === 'reference' && typeof v === 'string' && pattern.test(v)) found.add(v);
      else collectReferences(v, pattern, found);
    }
  }
}

const CONDITIONAL_REFERENCE = /^[A-Z][A-Za-z]+\?./;

function responseEntry(base: string, status: number, r: StoredResource | undefined, body?: unknown): BundleEntry {
  const response: NonNullable<BundleEntry['response']> = { status: STATUS_TEXT[status] ?? String(status) };
  const entry: BundleEntry = { response };
  if (r) {
    response.location = `${r.resourceType}/${r.id}/_history/${r.versionId}`;
    response.etag = `W/"${r.versionId}"`;
    response.lastModified = r.lastUpdated;
    entry.fullUrl = `${base}/${r.resourceType}/${r.id}`;
    entry.resource = JSON.parse(r.json) as Resource;
  } else if (body !== undefined) {
    entry.resource = body as Resource;
  }
  return entry;
}

async function execute(svc: FhirService, auth: AuthContext, e: ParsedEntry, base: string): Promise<BundleEntry> {
  const req = e.entry.request!;
  switch (e.method) {
    case 'GET': {
      if (e.id && e.vid) return responseEntry(base, 200, (await svc.vread(auth, e.type, e.id, e.vid)).resource);
      if (e.id && e.history) {
        const params = queryPairs(e.query ?? '');
        const page = await svc.history(auth, e.type, e.id, params);
        return responseEntry(
          base,
          200,
          undefined,
          JSON.parse(historyBundle(base, `${e.type}/${e.id}/_history`, params, page)),
        );
      }
      if (e.id) return responseEntry(base, 200, (await svc.read(auth, e.type, e.id)).resource);
      const params = queryPairs(e.query ?? '');
      const { req: sreq, result } = await svc.search(auth, e.type, params);
      return responseEntry(base, 200, undefined, JSON.parse(searchBundle(base, sreq, params, result)));
    }
    case 'POST': {
      if (e.existing) return responseEntry(base, 200, e.existing);
      // In a transaction the condition was resolved (under its lock) before anything was written, and other entries
      // already refer to the id assigned then: create with that id, never answer with another resource.
      const r = await svc.create(
        auth,
        e.type,
        e.resource!,
        e.id !== undefined ? { id: e.id } : { ifNoneExist: req.ifNoneExist },
      );
      return responseEntry(base, r.status, r.resource);
    }
    case 'PUT': {
      if (e.query !== undefined && !e.id) {
        const r = await svc.conditionalUpdate(auth, e.type, e.query, e.resource!);
        return responseEntry(base, r.status, r.resource);
      }
      if (!e.id) throw badRequest(`Bundle.entry[${e.index}]: PUT needs Type/id or a conditional query`);
      const r = await svc.update(auth, e.type, e.id, e.resource!, { ifMatch: parseETag(req.ifMatch) });
      return responseEntry(base, r.status, r.resource);
    }
    case 'DELETE': {
      if (e.id) await svc.delete(auth, e.type, e.id, { ifMatch: parseETag(req.ifMatch) });
      else if (e.query) await svc.conditionalDelete(auth, e.type, e.query);
      else throw badRequest(`Bundle.entry[${e.index}]: DELETE needs Type/id or a conditional query`);
      return { response: { status: '204 No Content' } };
    }
  }
}

/** Prefixes a failing entry's issues with its position, keeping the status. */
function atEntry(err: unknown, index: number): unknown {
  if (!(err instanceof FhirError)) return err;
  return new FhirError(
    err.status,
    err.issues.map((i) => ({ ...i, diagnostics: `Bundle.entry[${index}]: ${i.diagnostics ?? i.code}` })),
    { cause: err },
  );
}

/**
 * Processing order: deletes, then writes — Patients first, since the other types must link to an
 * existing Patient (Ségur) and a PUT of the Patient may come after the POST of its Observation —
 * then reads. Within a rank, the Bundle's order.
 */
function rank(e: ParsedEntry): number {
  if (e.method === 'DELETE') return 0;
  if (e.method === 'GET') return 3;
  return e.type === 'Patient' ? 1 : 2;
}

/** The lock of an entry's condition: a conditional create or update (none for the others). */
function conditionLockOf(e: ParsedEntry): number[] {
  const ifNoneExist = e.entry.request?.ifNoneExist;
  if (e.method === 'POST' && ifNoneExist) return [conditionalLockKey(e.type, queryPairs(ifNoneExist))];
  if (e.method === 'PUT' && !e.id && e.query !== undefined) return [conditionalLockKey(e.type, queryPairs(e.query))];
  return [];
}

/** A unique business identifier refused a write (possibly wrapped by {@link atEntry}). */
const isDuplicateIdentifier = (err: unknown): boolean =>
  err instanceof DuplicateIdentifierError ||
  (err instanceof FhirError && err.cause instanceof DuplicateIdentifierError);

/**
 * Attempts of a transaction with conditional entries that lost a race on a business identifier: a concurrent writer
 * under another condition (`identifier=value` against `identifier=system|value`, a plain create) took it between
 * this transaction's search and its write. The transaction rolled back whole; run again, its search finds the winner.
 */
const CONDITIONAL_TRANSACTION_ATTEMPTS = 3;

async function transaction(svc: FhirService, auth: AuthContext, entries: ParsedEntry[], base: string): Promise<Bundle> {
  return svc.repo.db.transaction(async (tx) => {
    const t = svc.withRepository(svc.repo.withExecutor(tx));
    // Every condition of the transaction locked before the first is resolved (./repository/conditional-lock.ts).
    await lockConditions(tx, entries.flatMap(conditionLockOf));
    const map = new Map<string, string>();
    // Resolve ids first so urn:uuid references can be rewritten before anything is written.
    for (const e of entries) {
      const fullUrl = e.entry.fullUrl;
      if (e.method === 'POST') {
        e.id = FhirService.newId();
        if (e.entry.request?.ifNoneExist) {
          try {
            requireScope(auth, e.type, 'c');
            e.existing = await t.conditionalMatch(auth, e.type, e.entry.request.ifNoneExist);
          } catch (err) {
            throw atEntry(err, e.index);
          }
          if (e.existing) e.id = e.existing.id;
        }
        if (fullUrl) map.set(fullUrl, `${e.type}/${e.id}`);
      } else if (e.method === 'PUT' && !e.id && e.query !== undefined) {
        // Conditional update: resolve its target now so its urn:uuid can be rewritten; it then runs as a
        // plain update of that id (update-as-create when nothing matched).
        try {
          const match = await t.conditionalMatch(auth, e.type, e.query);
          if (match && e.resource?.id !== undefined && e.resource.id !== match.id) {
            throw badRequest('The resource id does not match the resource found by the conditional query');
          }
          e.id = match?.id ?? e.resource?.id ?? FhirService.newId();
        } catch (err) {
          throw atEntry(err, e.index);
        }
        e.resource = { ...e.resource!, id: e.id };
        if (fullUrl) map.set(fullUrl, `${e.type}/${e.id}`);
      } else if (e.method === 'PUT' && fullUrl && e.id) {
        map.set(fullUrl, `${e.type}/${e.id}`);
      }
    }
    const conditional = new Set<string>();
    for (const e of entries) if (e.resource) collectReferences(e.resource, CONDITIONAL_REFERENCE, conditional);
    for (const ref of conditional) {
      const [type = '', query = ''] = ref.split('?', 2);
      const { result } = await t.search(auth, type, [...queryPairs(query), ['_count', '2']]);
      if (result.matches.length !== 1) {
        throw preconditionFailed(
          `The conditional reference ${type}?… matches ${result.matches.length === 0 ? 'no' : 'several'} resources`,
        );
      }
      map.set(ref, `${type}/${result.matches[0]!.id}`);
    }
    for (const e of entries) {
      if (!e.resource) continue;
      e.resource = rewriteReferences(e.resource, map) as Resource;
      const dangling = new Set<string>();
      collectReferences(e.resource, /^urn:uuid:/, dangling);
      if (dangling.size) {
        throw badRequest(
          `Bundle.entry[${e.index}] refers to a urn:uuid that no entry of the transaction has as fullUrl`,
        );
      }
    }
    const responses: BundleEntry[] = new Array(entries.length);
    for (const e of [...entries].sort((a, b) => rank(a) - rank(b) || a.index - b.index)) {
      try {
        responses[e.index] = await execute(t, auth, e, base);
      } catch (err) {
        throw atEntry(err, e.index);
      }
    }
    return { resourceType: 'Bundle', type: 'transaction-response', entry: responses };
  });
}

async function batch(svc: FhirService, auth: AuthContext, entries: ParsedEntry[], base: string): Promise<Bundle> {
  const responses: BundleEntry[] = [];
  for (const e of entries) {
    try {
      responses.push(await execute(svc, auth, e, base));
    } catch (err) {
      if (!(err instanceof FhirError)) throw err;
      responses.push({ response: { status: String(err.status), outcome: err.outcome } });
    }
  }
  return { resourceType: 'Bundle', type: 'batch-response', entry: responses };
}

/**
 * Processes a batch (independent entries) or transaction (all or nothing: the first failing entry
 * rolls everything back and its error is the answer) Bundle.
 */
export async function processBundle(
  svc: FhirService,
  auth: AuthContext,
  bundle: Resource,
  base: string,
): Promise<Bundle> {
  const b = bundle as Bundle;
  if (b.type !== 'batch' && b.type !== 'transaction')
    throw badRequest('Bundle.type must be batch or transaction', ['Bundle.type']);
  const raw = Array.isArray(b.entry) ? b.entry : [];
  if (raw.length > MAX_BUNDLE_ENTRIES) throw badRequest(`A Bundle may hold at most ${MAX_BUNDLE_ENTRIES} entries`);
  if (b.type === 'batch') {
    const parsed: ParsedEntry[] = [];
    const errors: BundleEntry[] = [];
    raw.forEach((entry, index) => {
      try {
        parsed.push(parseEntry(entry, index));
      } catch (err) {
        if (!(err instanceof FhirError)) throw err;
        errors[index] = { response: { status: String(err.status), outcome: err.outcome } };
      }
    });
    const done = await batch(svc, auth, parsed, base);
    const out: BundleEntry[] = [];
    let next = 0;
    for (let i = 0; i < raw.length; i++) out.push(errors[i] ?? done.entry![next++]!);
    return { ...done, entry: out };
  }
  for (let attempt = 1; ; attempt++) {
    // Parsed again at each attempt: processing rewrites the entries (ids, references).
    const parsed = raw.map(parseEntry);
    const fullUrls = parsed.map((e) => e.entry.fullUrl).filter((u): u is string => typeof u === 'string');
    if (new Set(fullUrls).size !== fullUrls.length) throw badRequest('Two transaction entries have the same fullUrl');
    const conditional = parsed.some((e) => conditionLockOf(e).length > 0);
    try {
      return await transaction(svc, auth, parsed, base);
    } catch (err) {
      if (!conditional || attempt >= CONDITIONAL_TRANSACTION_ATTEMPTS || !isDuplicateIdentifier(err)) throw err;
    }
  }
}
