/**
 * The HTTP side of the chaos load scenarios (`fhir-abuse`, `soak`): a keep-alive FHIR client on `node:http` (cheaper
 * per request than `fetch` on a machine whose two cores the platform needs) and a tally of answers by kind and status.
 */

import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { summarize } from '../bench/stats.js';

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** Send → whole answer read, milliseconds. */
  ms: number;
}

export interface FhirClient {
  /**
   * `path` is relative to the FHIR base (`Patient/123?x=y`, `''` for the base). Rejects on a network error or after
   * `timeoutMs` without an answer (default 60 s): both mean the platform did not answer.
   */
  send(
    method: string,
    path: string,
    opts?: { body?: unknown; headers?: Record<string, string>; timeoutMs?: number },
  ): Promise<HttpAnswer>;
  /** GETs sent again after a kept-alive connection the server had closed reset them (see `send`). */
  readonly resentAfterReset: number;
  close(): void;
}

export function fhirClient(baseUrl: string, token: string, maxSockets: number): FhirClient {
  const base = new URL(baseUrl);
  const prefix = base.pathname.replace(/\/$/, '');
  const agent = new Agent({ keepAlive: true, maxSockets });
  let resentAfterReset = 0;
  const client: FhirClient = {
    get resentAfterReset() {
      return resentAfterReset;
    },
    send(method, path, opts = {}) {
      const body =
        opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
      const headers: Record<string, string | number> = {
        authorization: `Bearer ${token}`,
        accept: 'application/fhir+json',
        ...(body !== undefined
          ? { 'content-type': 'application/fhir+json', 'content-length': Buffer.byteLength(body) }
          : {}),
        ...opts.headers,
      };
      const started = performance.now();
      return new Promise<HttpAnswer>((resolve, reject) => {
        const req = request(
          {
            agent,
            host: base.hostname,
            port: base.port,
            method,
            path: `${prefix}/${path}`,
            headers,
            timeout: opts.timeoutMs ?? 60_000,
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () =>
              resolve({
                status: res.statusCode ?? 0,
                headers: res.headers,
                body: Buffer.concat(chunks).toString('utf8'),
                ms: performance.now() - started,
              }),
            );
            res.on('error', reject);
          },
        );
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.on('error', (err: NodeJS.ErrnoException) => {
          // A server may close an idle kept-alive connection while a request is already on its way (RFC 9112 §9.3.1):
          // HTTP clients send an idempotent request again on a new connection, and so does this one, once.
          if (req.reusedSocket && method === 'GET' && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) {
            resentAfterReset++;
            client.send(method, path, opts).then(resolve, reject);
          } else reject(err);
        });
        req.end(body);
      });
    },
    close: () => agent.destroy(),
  };
  return client;
}

/** The JSON body of an answer, or undefined when it is not JSON. */
export function jsonOf<T = Record<string, unknown>>(answer: HttpAnswer): T | undefined {
  try {
    return JSON.parse(answer.body) as T;
  } catch {
    return undefined;
  }
}

/** `W/"3"` → 3 (undefined when absent or malformed). */
export function versionOf(answer: HttpAnswer): number | undefined {
  const etag = answer.headers['etag'];
  const m = typeof etag === 'string' ? /^W\/"(\d+)"$/.exec(etag) : null;
  return m ? Number(m[1]) : undefined;
}

/** Answers counted by kind of request and by status ('network' and 'timeout' when there was none). */
export class Tally {
  readonly statuses: Record<string, number> = {};
  readonly #kinds = new Map<string, { latencies: number[]; statuses: Record<string, number> }>();
  /** The first body of each error status (4xx, 5xx, none) by kind, cut short, for the findings. */
  readonly samples: Record<string, string> = {};
  requests = 0;

  record(kind: string, status: number | 'network' | 'timeout', ms: number, body?: string): void {
    this.requests++;
    const key = String(status);
    this.statuses[key] = (this.statuses[key] ?? 0) + 1;
    let k = this.#kinds.get(kind);
    if (!k) {
      k = { latencies: [], statuses: {} };
      this.#kinds.set(kind, k);
    }
    k.latencies.push(ms);
    k.statuses[key] = (k.statuses[key] ?? 0) + 1;
    if ((typeof status !== 'number' || status >= 400) && !(`${kind} ${key}` in this.samples)) {
      this.samples[`${kind} ${key}`] = (body ?? '').slice(0, 300);
    }
  }

  /** Sends and records; a network error or timeout is recorded and rethrown as undefined. */
  async send(
    client: FhirClient,
    kind: string,
    ...args: Parameters<FhirClient['send']>
  ): Promise<HttpAnswer | undefined> {
    const started = performance.now();
    try {
      const answer = await client.send(...args);
      this.record(kind, answer.status, answer.ms, answer.body);
      return answer;
    } catch (err) {
      const timeout = err instanceof Error && err.message === 'timeout';
      this.record(kind, timeout ? 'timeout' : 'network', performance.now() - started, String(err));
      return undefined;
    }
  }

  /** Answers with a 5xx status, or none at all. */
  failures(): number {
    return Object.entries(this.statuses)
      .filter(([s]) => !/^[1-4]\d\d$/.test(s))
      .reduce((n, [, c]) => n + c, 0);
  }

  /** Answers of `kind` whose status is not in `expected`, as `kind status: count`. */
  unexpected(kind: string, expected: readonly number[]): string[] {
    const statuses = this.#kinds.get(kind)?.statuses ?? {};
    return Object.entries(statuses)
      .filter(([s]) => !expected.includes(Number(s)))
      .map(([s, n]) => `${kind} ${s}: ${n}${this.samples[`${kind} ${s}`] ? ` (${this.samples[`${kind} ${s}`]})` : ''}`);
  }

  kinds(): string[] {
    return [...this.#kinds.keys()].sort();
  }

  /** `p50 1.2 ms, p99 34.5 ms (n 1,234)` of one kind. */
  latencyOf(kind: string): string {
    const k = this.#kinds.get(kind);
    if (!k || k.latencies.length === 0) return 'n/a';
    const s = summarize(k.latencies);
    return `p50 ${s.p50.toFixed(1)} ms, p99 ${s.p99.toFixed(1)} ms (n ${s.count.toLocaleString('en-US')})`;
  }

  statusesOf(kind: string): string {
    return formatStatuses(this.#kinds.get(kind)?.statuses ?? {});
  }
}

/** `200: 1,234, 412: 56` */
export function formatStatuses(statuses: Record<string, number>): string {
  return Object.entries(statuses)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([s, n]) => `${s}: ${n.toLocaleString('en-US')}`)
    .join(', ');
}
