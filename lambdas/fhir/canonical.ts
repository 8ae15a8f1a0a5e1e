import { createHash } from 'node:crypto';
import type { Resource } from './types.js';

/** Quoted JSON keys: resources repeat the same few hundred element names. */
const quotedKeys = new Map<string, string>();
const MAX_QUOTED_KEYS = 10_000;

function quoteKey(key: string): string {
  let quoted = quotedKeys.get(key);
  if (quoted === undefined) {
    quoted = JSON.stringify(key);
    if (quotedKeys.size < MAX_QUOTED_KEYS) quotedKeys.set(key, quoted);
  }
  return quoted;
}

/**
 * JSON with object keys sorted, so equal content gives equal text whatever the key order. The stored content
 * hashes are computed from this text: its output must never change (an `undefined` array item stays empty).
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ',';
      const item: unknown = value[i];
      if (item !== undefined) out += canonicalJson(item);
    }
    return `${out}]`;
  }
  const obj = value as Record<string, unknown>;
  let out = '{';
  let first = true;
  for (const key of Object.keys(obj).sort()) {
    const v = obj[key];
    if (v === undefined) continue;
    if (!first) out += ',';
    first = false;
    out += `${quoteKey(key)}:${canonicalJson(v)}`;
  }
  return `${out}}`;
}

/**
 * Hash of what a client changed: the resource without the server-managed `meta.versionId` and
 * `meta.lastUpdated`. HL7 feeds resend identical A31/Z99 content all day; an equal hash means no
 * new version.
 */
export function contentHash(resource: Resource): string {
  const { versionId: _v, lastUpdated: _l, ...meta } = resource.meta ?? {};
  const copy: Resource = { ...resource, meta: Object.keys(meta).length ? meta : undefined };
  return createHash('sha256').update(canonicalJson(copy)).digest('base64url');
}
