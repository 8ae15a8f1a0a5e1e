import { createHash } from 'node:crypto';
import type { Resource } from './types.js';

/** JSON with object keys sorted, so equal content gives equal text whatever the key order. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(value as Record<string, unknown>).sort();
  const parts: string[] = [];
  for (const k of keys) {
    const v = (value as Record<string, unknown>)[k];
    if (v !== undefined) parts.push(`${JSON.stringify(k)}:${canonicalJson(v)}`);
  }
  return `{${parts.join(',')}}`;
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
