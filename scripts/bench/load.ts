import { Agent, request } from 'node:http';

/**
 * Closed-loop HTTP load generator: `concurrency` workers each send a request, wait for the whole
 * response and send the next, for a warm-up then a measured window. Latencies are recorded only for
 * responses that end inside the window.
 */

export interface RequestSpec {
  method: 'GET' | 'POST';
  /** Path and query, e.g. `/fhir/Patient/123`. */
  path: string;
  body?: string;
  /** Checks a 2xx body; a false answer counts the response as an error (a wrong answer is not a fast one). */
  check?: (body: string) => boolean;
}

export interface LoadOptions {
  host: string;
  port: number;
  concurrency: number;
  warmupMs: number;
  durationMs: number;
  headers: Record<string, string>;
  /** Builds the next request; called once per request. */
  next: () => RequestSpec;
  /** Called when the measured window opens and when it closes (e.g. to read a round-trip counter). */
  onWindow?: (edge: 'start' | 'end') => void;
}

export interface LoadResult {
  /** Latency of each request completed in the window, milliseconds. */
  latenciesMs: number[];
  /** Requests completed in the window, successes and errors. */
  completed: number;
  errors: number;
  /** Responses in the window by HTTP status ('network' when no response, 'check' when the check failed). */
  statuses: Record<string, number>;
  /** Actual length of the measured window, milliseconds. */
  windowMs: number;
  /** Status and start of the body of the first error seen (warm-up included), for diagnosis. */
  firstError?: string;
}

interface Outcome {
  status: number;
  body: string;
}

function send(agent: Agent, opts: LoadOptions, spec: RequestSpec): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...opts.headers };
    if (spec.body !== undefined) headers['content-length'] = Buffer.byteLength(spec.body);
    const req = request(
      { agent, host: opts.host, port: opts.port, method: spec.method, path: spec.path, headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(spec.body);
  });
}

/** Runs the load and resolves when every worker has finished its last request. */
export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  if (!Number.isInteger(opts.concurrency) || opts.concurrency < 1) throw new RangeError('concurrency must be ≥ 1');
  const agent = new Agent({ keepAlive: true, maxSockets: opts.concurrency });
  const latenciesMs: number[] = [];
  const statuses: Record<string, number> = {};
  let completed = 0;
  let errors = 0;
  let firstError: string | undefined;

  let windowStart = Number.POSITIVE_INFINITY;
  let windowEnd = Number.POSITIVE_INFINITY;
  const opened = new Promise<void>((resolve) =>
    setTimeout(() => {
      windowStart = performance.now();
      opts.onWindow?.('start');
      resolve();
    }, opts.warmupMs),
  );
  const closed = opened.then(
    () =>
      new Promise<void>((resolve) =>
        setTimeout(() => {
          windowEnd = performance.now();
          opts.onWindow?.('end');
          resolve();
        }, opts.durationMs),
      ),
  );

  const worker = async () => {
    while (performance.now() < windowEnd) {
      const spec = opts.next();
      const start = performance.now();
      let key: string;
      try {
        const r = await send(agent, opts, spec);
        const ok = r.status >= 200 && r.status < 300;
        key = ok && spec.check && !spec.check(r.body) ? 'check' : String(r.status);
        if (key !== String(r.status) || !ok) firstError ??= `${key}: ${r.body.slice(0, 300)}`;
      } catch (err) {
        key = 'network';
        firstError ??= `network: ${err instanceof Error ? err.message : String(err)}`;
      }
      const end = performance.now();
      if (end >= windowStart && end < windowEnd) {
        latenciesMs.push(end - start);
        completed++;
        statuses[key] = (statuses[key] ?? 0) + 1;
        if (!/^2\d\d$/.test(key)) errors++;
      }
    }
  };
  const workers = Array.from({ length: opts.concurrency }, worker);
  await closed;
  await Promise.all(workers);
  agent.destroy();
  return { latenciesMs, completed, errors, statuses, windowMs: windowEnd - windowStart, firstError };
}
