/**
 * Partner registry: which senders (MSH-3 sending application + MSH-4 sending facility, raw) the bridge accepts and
 * which charset to fall back to when their messages do not say (MSH-18) and are not valid UTF-8.
 *
 * Strict mode accepts only listed partners with `allowed: true`; open mode also accepts unknown senders with the
 * default charset. A partner listed with `allowed: false` is refused in both modes.
 */

import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import type { FallbackCharset } from './hl7.js';

/** One known sender. `application` / `facility` are compared exactly with MSH-3 / MSH-4 as received (raw). */
export interface Partner {
  application: string;
  facility: string;
  allowed: boolean;
  /** Charset fallback for this sender; the registry's `defaultCharset` when absent. */
  charset?: FallbackCharset;
  /**
   * The authority of this sender's IPPs (PID-3 type PI) as an OID or a URI, for feeds whose CX-4 names no OID:
   * the worker records their IPPs under it.
   */
  ippAuthority?: string;
}

/** The registry file's content. */
export interface PartnerRegistryConfig {
  strict: boolean;
  defaultCharset: FallbackCharset;
  partners: Partner[];
}

/** What to do with a message from one sender. */
export type SenderDecision =
  | { accepted: true; charset: FallbackCharset; known: boolean; ippSystem?: string }
  | { accepted: false; reason: 'unknown-sender' | 'not-allowed' };

/** Lookup interface the server uses. */
export interface PartnerRegistry {
  readonly strict: boolean;
  readonly defaultCharset: FallbackCharset;
  /** Decision for MSH-3 / MSH-4 (raw values). */
  resolve(application: string, facility: string): SenderDecision;
}

/** The registry file is not valid. Messages name JSON paths only, never values. */
export class RegistryError extends Error {
  override readonly name = 'RegistryError';
}

const charsetSchema = z.enum(['utf-8', 'latin1', 'windows-1252']);

const registrySchema = z.strictObject({
  strict: z.boolean(),
  defaultCharset: charsetSchema,
  partners: z.array(
    z.strictObject({
      application: z.string(),
      facility: z.string(),
      allowed: z.boolean(),
      charset: charsetSchema.optional(),
      ippAuthority: z
        .string()
        .regex(/^([0-2](\.(0|[1-9]\d*))+|[a-z][a-z0-9+.-]*:\S+)$/i, 'must be an OID or a URI')
        .optional(),
    }),
  ),
});

/** NUL cannot occur in an HL7 field, so the key cannot be forged by a `|` inside a value. */
const keyOf = (application: string, facility: string): string => `${application}\u0000${facility}`;

/**
 * Validates a parsed registry file.
 *
 * @example
 * ```ts
 * const config = parseRegistry({ strict: true, defaultCharset: 'latin1', partners: [{ application: 'GAM', facility: 'CHU-X', allowed: true }] });
 * ```
 * @throws RegistryError listing the invalid paths, or naming the index of a duplicated partner.
 */
export function parseRegistry(value: unknown): PartnerRegistryConfig {
  const parsed = registrySchema.safeParse(value);
  if (!parsed.success) {
    const paths = parsed.error.issues.map((i) => (i.path.length > 0 ? i.path.join('.') : '(root)'));
    throw new RegistryError(`invalid partner registry at ${[...new Set(paths)].join(', ')}`);
  }
  const seen = new Set<string>();
  parsed.data.partners.forEach((p, index) => {
    const key = keyOf(p.application, p.facility);
    if (seen.has(key)) throw new RegistryError(`duplicate partner at partners.${index}`);
    seen.add(key);
  });
  return parsed.data;
}

/**
 * Builds the lookup used by the server.
 *
 * @example
 * ```ts
 * const registry = createPartnerRegistry(parseRegistry(json));
 * registry.resolve('GAM', 'CHU-X'); // { accepted: true, charset: 'latin1', known: true }
 * ```
 */
export function createPartnerRegistry(config: PartnerRegistryConfig): PartnerRegistry {
  const partners = new Map(config.partners.map((p) => [keyOf(p.application, p.facility), p]));
  return {
    strict: config.strict,
    defaultCharset: config.defaultCharset,
    resolve(application, facility) {
      const partner = partners.get(keyOf(application, facility));
      if (partner === undefined) {
        return config.strict
          ? { accepted: false, reason: 'unknown-sender' }
          : { accepted: true, charset: config.defaultCharset, known: false };
      }
      if (!partner.allowed) return { accepted: false, reason: 'not-allowed' };
      const decision: SenderDecision = {
        accepted: true,
        charset: partner.charset ?? config.defaultCharset,
        known: true,
      };
      if (partner.ippAuthority) decision.ippSystem = ippSystemOf(partner.ippAuthority);
      return decision;
    },
  };
}

/** A bare OID becomes `urn:oid:<OID>`; a URI stays as is. */
const ippSystemOf = (authority: string): string =>
  /^[0-2](\.(0|[1-9]\d*))+$/.test(authority) ? `urn:oid:${authority}` : authority;

/** Open registry with no partners: every sender accepted with `defaultCharset` (local development). */
export function openRegistry(defaultCharset: FallbackCharset = 'utf-8'): PartnerRegistry {
  return createPartnerRegistry({ strict: false, defaultCharset, partners: [] });
}

/**
 * Reads and validates a JSON registry file.
 *
 * @throws RegistryError when the file is not JSON or not a valid registry (file system errors propagate).
 */
export async function loadRegistryFile(path: string): Promise<PartnerRegistry> {
  const text = await readFile(path, 'utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new RegistryError('partner registry is not valid JSON');
  }
  return createPartnerRegistry(parseRegistry(json));
}
