import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { tsWorker } from '../ts-worker.js';
import { type AdtPlan, adtPlan } from './hl7-messages.js';
import { type MllpClientResult, runMllpClient } from './hl7-mllp.js';

/**
 * The MLLP load client in its own worker thread, so that building frames, reading ACKs and timing them does not run
 * on the platform's event loop (it would be charged to the bridge). The thread builds the same {@link adtPlan} as the
 * main thread from its two numbers, so 20,000 messages never cross the thread boundary.
 */

export interface ClientRunRequest {
  host: string;
  port: number;
  messages: number;
  connections: number;
  /** First patient of the plan (default 0): see {@link adtPlan}. */
  firstPatient?: number;
}

/** Runs ADT plans against a port, one at a time. */
export interface MllpLoadClient {
  run(req: ClientRunRequest): Promise<MllpClientResult>;
  close(): Promise<void>;
}

const ROLE = 'pfi-hl7-bench-client';

type Reply = { id: number; result: MllpClientResult } | { id: number; error: string };

/** Starts the client thread (the module registers tsx in it, then imports itself). */
export function startClientThread(): MllpLoadClient {
  const worker = tsWorker(import.meta.url, { role: ROLE });
  const waiting = new Map<number, { resolve: (r: MllpClientResult) => void; reject: (e: Error) => void }>();
  let nextId = 0;
  let failure: Error | undefined;
  worker.on('message', (reply: Reply) => {
    const w = waiting.get(reply.id);
    waiting.delete(reply.id);
    if ('error' in reply) w?.reject(new Error(`load client: ${reply.error}`));
    else w?.resolve(reply.result);
  });
  worker.on('error', (err) => {
    failure = err;
    for (const w of waiting.values()) w.reject(err);
    waiting.clear();
  });
  return {
    run(req) {
      if (failure) return Promise.reject(failure);
      const id = nextId++;
      return new Promise((resolve, reject) => {
        waiting.set(id, { resolve, reject });
        worker.postMessage({ id, req });
      });
    },
    async close() {
      await worker.terminate();
    },
  };
}

/** The same client on the calling thread (`--client inline`). */
export function inlineClient(): MllpLoadClient {
  const plans = new Map<string, AdtPlan>();
  return {
    run: (req) => runMllpClient({ host: req.host, port: req.port, connections: planFor(plans, req).connections }),
    close: async () => undefined,
  };
}

function planFor(cache: Map<string, AdtPlan>, req: ClientRunRequest): AdtPlan {
  const key = `${req.messages}/${req.connections}/${req.firstPatient ?? 0}`;
  let plan = cache.get(key);
  if (!plan) {
    plan = adtPlan(req.messages, req.connections, req.firstPatient);
    cache.set(key, plan);
  }
  return plan;
}

if (!isMainThread && (workerData as { role?: string } | null)?.role === ROLE && parentPort) {
  const port = parentPort;
  const plans = new Map<string, AdtPlan>();
  port.on('message', ({ id, req }: { id: number; req: ClientRunRequest }) => {
    runMllpClient({ host: req.host, port: req.port, connections: planFor(plans, req).connections }).then(
      (result) => port.postMessage({ id, result } satisfies Reply, [result.latenciesMs.buffer as ArrayBuffer]),
      (err: unknown) =>
        port.postMessage({ id, error: err instanceof Error ? `${err.name} ${err.message}` : 'failed' } satisfies Reply),
    );
  });
}
