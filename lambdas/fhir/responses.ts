import { randomUUID } from 'node:crypto';
import type { StoredResource } from './repository/repository.js';
import type { HistoryPage, SearchResult } from './repository/search.js';
import type { SearchRequest } from './search/parse.js';
import { encodeCursor } from './search/sql.js';

const MANDATORY = new Set(['resourceType', 'id', 'meta']);

/** Applies `_elements` / `_summary=data` to a stored resource's JSON; the JSON text as-is otherwise. */
function renderResource(r: StoredResource, req: SearchRequest): string {
  if (!req.elements && req.summary !== 'data') return r.json;
  const value = JSON.parse(r.json) as Record<string, unknown>;
  let out: Record<string, unknown>;
  if (req.elements) {
    out = {};
    for (const [k, v] of Object.entries(value)) if (MANDATORY.has(k) || req.elements.includes(k)) out[k] = v;
  } else {
    const { text: _t, ...rest } = value;
    out = rest;
  }
  // Mark the resource as incomplete, as the spec asks for subsetted results.
  const meta = (out.meta ?? {}) as Record<string, unknown>;
  const tag = Array.isArray(meta.tag) ? meta.tag : [];
  out.meta = {
    ...meta,
    tag: [...tag, { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED' }],
  };
  return JSON.stringify(out);
}

function linkUrl(base: string, path: string, params: [string, string][], cursor?: string): string {
  const q = new URLSearchParams(params.filter(([k]) => k !== '_cursor'));
  if (cursor) q.append('_cursor', cursor);
  const s = q.toString();
  return `${base}/${path}${s ? `?${s}` : ''}`;
}

/**
 * The searchset Bundle as JSON text. Resource JSON is spliced in as stored (no parse/serialize on the
 * hot path) unless _elements or _summary asks for a subset.
 */
export function searchBundle(
  base: string,
  req: SearchRequest,
  params: [string, string][],
  result: SearchResult,
): string {
  const links = [{ relation: 'self', url: linkUrl(base, req.resourceType, params, req.cursor) }];
  if (result.next)
    links.push({ relation: 'next', url: linkUrl(base, req.resourceType, params, encodeCursor(result.next)) });
  if (result.prev) {
    links.push({ relation: 'previous', url: linkUrl(base, req.resourceType, params, encodeCursor(result.prev)) });
  }
  const seen = new Set(result.matches.map((r) => `${r.resourceType}/${r.id}`));
  const entries = result.matches.map(
    (r) =>
      `{"fullUrl":${JSON.stringify(`${base}/${r.resourceType}/${r.id}`)},"resource":${renderResource(r, req)},"search":{"mode":"match"}}`,
  );
  for (const r of result.included) {
    const key = `${r.resourceType}/${r.id}`;
    if (seen.has(key)) continue;
    seen.add(key);
    entries.push(`{"fullUrl":${JSON.stringify(`${base}/${key}`)},"resource":${r.json},"search":{"mode":"include"}}`);
  }
  const warnings: string[] = [];
  if (req.ignored.length) warnings.push(`Ignored parameters: ${req.ignored.join('; ')}`);
  if (result.includeTruncated) warnings.push('Some _include/_revinclude resources were left out (limit reached)');
  if (warnings.length) {
    const oo = {
      resourceType: 'OperationOutcome',
      issue: warnings.map((w) => ({ severity: 'warning', code: 'informational', diagnostics: w })),
    };
    entries.push(`{"resource":${JSON.stringify(oo)},"search":{"mode":"outcome"}}`);
  }
  const head = {
    resourceType: 'Bundle',
    id: randomUUID(),
    meta: { lastUpdated: new Date().toISOString() },
    type: 'searchset',
    ...(result.total !== undefined ? { total: result.total } : {}),
    link: links,
  };
  const headJson = JSON.stringify(head);
  if (req.summary === 'count') return headJson;
  return `${headJson.slice(0, -1)},"entry":[${entries.join(',')}]}`;
}

/** The history Bundle as JSON text, newest version first. */
export function historyBundle(base: string, path: string, params: [string, string][], page: HistoryPage): string {
  const links = [{ relation: 'self', url: linkUrl(base, path, params) }];
  if (page.next) links.push({ relation: 'next', url: linkUrl(base, path, params, page.next) });
  const entries = page.entries.map((e) => {
    const url = `${e.resourceType}/${e.id}`;
    const request = e.deleted
      ? { method: 'DELETE', url }
      : { method: e.versionId === 1 ? 'POST' : 'PUT', url: e.versionId === 1 ? e.resourceType : url };
    const response = {
      status: e.deleted ? '204' : e.versionId === 1 ? '201' : '200',
      etag: `W/"${e.versionId}"`,
      lastModified: e.lastUpdated,
    };
    const resource = e.deleted ? '' : `"resource":${e.json},`;
    return `{"fullUrl":${JSON.stringify(`${base}/${url}`)},${resource}"request":${JSON.stringify(request)},"response":${JSON.stringify(response)}}`;
  });
  const head = JSON.stringify({
    resourceType: 'Bundle',
    id: randomUUID(),
    meta: { lastUpdated: new Date().toISOString() },
    type: 'history',
    link: links,
  });
  return `${head.slice(0, -1)},"entry":[${entries.join(',')}]}`;
}
