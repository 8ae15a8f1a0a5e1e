/**
 * Annuaire Santé FHIR API (v2) client: finds the MSSanté mailboxes of a professional, a role or an organisation
 * by business identifier. Sends the `ESANTE-API-KEY` header, respects the gateway's 17 requests per second
 * (one limiter for every call of the client), follows `next` paging links (bounded), retries 429 (honouring
 * Retry-After), 5xx, timeouts and network errors with backoff, and caches answers with a TTL.
 */

import { z } from 'zod';
import type { AnnuaireCache } from './annuaire-cache.js';
import { type Clock, createRateLimiter, systemClock } from './rate-limiter.js';
import { type Mailbox, mssanteMailboxes } from './telecom.js';

export interface AnnuaireQuery {
  resourceType: 'Practitioner' | 'PractitionerRole' | 'Organization';
  /** Business identifier; `system` as in the annuaire (`urn:oid:1.2.250.1.71.4.2.1`, `https://rpps.esante.gouv.fr`…). */
  identifier: { system?: string; value: string };
}

export interface MailboxLookup {
  mailboxes: Mailbox[];
  /** The annuaire knows the resource (it may still have no MSSanté mailbox). */
  found: boolean;
}

export interface AnnuaireClient {
  findMailboxes(query: AnnuaireQuery): Promise<MailboxLookup>;
}

export interface AnnuaireClientOptions {
  /** e.g. `https://gateway.api.esante.gouv.fr/fhir/v2` */
  baseUrl: string;
  apiKey: string;
  fetch?: typeof fetch;
  /** Default 17 (the gateway's limit per application). */
  requestsPerSecond?: number;
  /** Per HTTP request; default 10 s (the server gives up at 30 s). */
  timeoutMs?: number;
  /** Retries after the first attempt; default 3. */
  retries?: number;
  cache?: AnnuaireCache;
  /** Cache TTL of an answer; default 24 h. */
  ttlSeconds?: number;
  /** Cache TTL of a "not found / no mailbox" answer; default: the smaller of `ttlSeconds` and 1 h. */
  negativeTtlSeconds?: number;
  /** Wall clock for cache expiry. */
  now?: () => Date;
  /** Clock of the rate limiter and of the waits between retries (tests inject a fake one). */
  clock?: Clock;
  /** Bound on followed `next` links per lookup; default 10. */
  maxPages?: number;
  /** Longest Retry-After honoured; default 10 s (longer values are capped). */
  maxRetryAfterMs?: number;
}

/** The annuaire could not answer. The message never holds the key, the URL or the identifier. */
export class AnnuaireError extends Error {
  override readonly name = 'AnnuaireError';
  constructor(
    message: string,
    readonly status?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

const bundleSchema = z.object({
  resourceType: z.literal('Bundle'),
  link: z.array(z.object({ relation: z.string(), url: z.string() })).optional(),
  entry: z
    .array(
      z.object({
        resource: z.looseObject({ resourceType: z.string() }).optional(),
        search: z.object({ mode: z.string().optional() }).optional(),
      }),
    )
    .optional(),
});

const lookupSchema = z.object({
  found: z.boolean(),
  mailboxes: z.array(z.object({ address: z.string(), type: z.enum(['PER', 'CAB', 'ORG', 'APP']).optional() })),
});

const MAX_BODY_CHARS = 10 * 1024 * 1024;
const BACKOFF_BASE_MS = 250;
const BACKOFF_MAX_MS = 4000;

/** Why one attempt failed: retryable or not, with an optional wait asked by the server. */
class AttemptError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly status?: number,
    readonly waitMs?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Retry-After as milliseconds (delta-seconds or HTTP date), or undefined. */
function retryAfterMs(header: string | null, nowMs: number): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}

/** First occurrence of each address (case-insensitive). */
function uniqueMailboxes(mailboxes: Mailbox[]): Mailbox[] {
  const seen = new Map<string, Mailbox>();
  for (const m of mailboxes) if (!seen.has(m.address.toLowerCase())) seen.set(m.address.toLowerCase(), m);
  return [...seen.values()];
}

export const cacheKey = (q: AnnuaireQuery): string =>
  `annuaire:v2:${q.resourceType}:${q.identifier.system ?? ''}|${q.identifier.value}`;

/**
 * An Annuaire Santé client.
 *
 * @example
 * ```ts
 * const annuaire = createAnnuaireClient({ baseUrl: process.env.PFI_ANNUAIRE_URL!, apiKey: process.env.PFI_ANNUAIRE_API_KEY!, cache });
 * const { mailboxes } = await annuaire.findMailboxes({
 *   resourceType: 'Practitioner', identifier: { system: 'https://rpps.esante.gouv.fr', value: '10101201234' },
 * });
 * ```
 */
export function createAnnuaireClient(opts: AnnuaireClientOptions): AnnuaireClient {
  const base = new URL(opts.baseUrl.endsWith('/') ? opts.baseUrl : `${opts.baseUrl}/`);
  const doFetch = opts.fetch ?? fetch;
  const clock = opts.clock ?? systemClock;
  const limiter = createRateLimiter({ perSecond: opts.requestsPerSecond ?? 17, clock });
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const retries = opts.retries ?? 3;
  const ttl = opts.ttlSeconds ?? 86_400;
  const negativeTtl = opts.negativeTtlSeconds ?? Math.min(ttl, 3600);
  const now = opts.now ?? (() => new Date());
  const maxPages = opts.maxPages ?? 10;
  const maxRetryAfter = opts.maxRetryAfterMs ?? 10_000;

  async function attempt(url: URL): Promise<z.infer<typeof bundleSchema>> {
    await limiter.acquire();
    let res: Response;
    let body: string;
    try {
      res = await doFetch(url, {
        headers: { 'ESANTE-API-KEY': opts.apiKey, Accept: 'application/fhir+json' },
        signal: AbortSignal.timeout(timeoutMs),
      });
      body = await res.text();
    } catch (err) {
      const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
      throw new AttemptError(timedOut ? 'request timed out' : 'network error', true, undefined, undefined, {
        cause: err,
      });
    }
    if (res.status === 429) {
      throw new AttemptError(
        'rate limited (HTTP 429)',
        true,
        429,
        retryAfterMs(res.headers.get('retry-after'), Date.now()),
      );
    }
    if (res.status >= 500) throw new AttemptError(`HTTP ${res.status}`, true, res.status);
    if (!res.ok) throw new AttemptError(`HTTP ${res.status}`, false, res.status);
    if (body.length > MAX_BODY_CHARS) throw new AttemptError('response too large', false, res.status);
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch {
      throw new AttemptError('response is not JSON', false, res.status);
    }
    const parsed = bundleSchema.safeParse(json);
    if (!parsed.success) throw new AttemptError('response is not a FHIR Bundle', false, res.status);
    return parsed.data;
  }

  async function getPage(url: URL): Promise<z.infer<typeof bundleSchema>> {
    for (let i = 0; ; i++) {
      try {
        return await attempt(url);
      } catch (err) {
        if (!(err instanceof AttemptError)) throw err;
        if (!err.retryable || i >= retries) {
          const tries = i + 1;
          throw new AnnuaireError(
            `Annuaire Santé lookup failed: ${err.message}${err.retryable ? ` after ${tries} attempts` : ''}`,
            err.status,
            { cause: err.cause },
          );
        }
        const backoff = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** i) * (0.5 + Math.random() / 2);
        await clock.sleep(err.waitMs !== undefined ? Math.min(err.waitMs, maxRetryAfter) : backoff);
      }
    }
  }

  function nextUrl(bundle: z.infer<typeof bundleSchema>): URL | undefined {
    const next = bundle.link?.find((l) => l.relation === 'next')?.url;
    if (!next) return undefined;
    const url = new URL(next, base);
    // Never send the API key to another host.
    if (url.origin !== base.origin)
      throw new AnnuaireError('Annuaire Santé lookup failed: next link to another origin');
    return url;
  }

  async function lookup(q: AnnuaireQuery): Promise<MailboxLookup> {
    const url = new URL(q.resourceType, base);
    const { system, value } = q.identifier;
    url.searchParams.set('identifier', system ? `${system}|${value}` : value);
    if (q.resourceType === 'Practitioner') url.searchParams.set('_revinclude', 'PractitionerRole:practitioner');
    const mailboxes: Mailbox[] = [];
    let found = false;
    let page: URL | undefined = url;
    for (let n = 0; page && n < maxPages; n++) {
      const bundle = await getPage(page);
      for (const e of bundle.entry ?? []) {
        if (!e.resource) continue;
        if (e.resource.resourceType === q.resourceType && (e.search?.mode ?? 'match') === 'match') found = true;
        mailboxes.push(...mssanteMailboxes(e.resource, now()));
      }
      page = nextUrl(bundle);
    }
    return { mailboxes: uniqueMailboxes(mailboxes), found };
  }

  async function cachedLookup(q: AnnuaireQuery, key: string): Promise<MailboxLookup> {
    if (opts.cache) {
      // The cache only saves calls: when it fails, the annuaire is asked.
      const hit = await opts.cache.get(key).catch(() => undefined);
      if (hit !== undefined) {
        try {
          const cached = lookupSchema.safeParse(JSON.parse(hit));
          if (cached.success) return cached.data as MailboxLookup;
        } catch {
          // A corrupt entry is refreshed below.
        }
      }
    }
    const result = await lookup(q);
    if (opts.cache) {
      const seconds = result.mailboxes.length > 0 ? ttl : negativeTtl;
      await opts.cache
        .put(key, JSON.stringify(result), new Date(now().getTime() + seconds * 1000))
        .catch(() => undefined);
    }
    return result;
  }

  // Concurrent lookups of the same identifier (a burst of messages to one professional) share one request.
  const inFlight = new Map<string, Promise<MailboxLookup>>();
  return {
    findMailboxes(q) {
      if (q.identifier.value.trim() === '') {
        return Promise.reject(new AnnuaireError('Annuaire Santé lookup needs an identifier value'));
      }
      const key = cacheKey(q);
      const pending = inFlight.get(key);
      if (pending) return pending;
      const p = cachedLookup(q, key).finally(() => inFlight.delete(key));
      inFlight.set(key, p);
      return p;
    },
  };
}
