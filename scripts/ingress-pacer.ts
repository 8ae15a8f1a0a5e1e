/**
 * ACKs before mapping, on one machine. During a burst of MLLP messages the local ingest worker takes at most a `share`
 * of the wall time: after a batch that took `d` ms it waits `d × (1/share − 1)` ms (at most {@link MAX_PAUSE_MS})
 * before the next, so the bridge's enqueues and the worker's FHIR writes do not split the cores (and the database)
 * evenly while the senders wait for their ACKs. Once the bridge has been quiet for `quietMs`, batches run back to
 * back. A burst is paced for `burstMs` at most: traffic that goes on longer is a sustained feed, and the worker must
 * keep up with it rather than let the queue grow, so it then runs unpaced until the bridge has been quiet again.
 * Nothing is lost by waiting: the messages are durable in the queue, and a batch waits far less than their
 * visibility timeout. In AWS the bridge, the workers and the database do not share cores; nothing paces them.
 */

/** Longest wait between two batches, whatever the last one took (a stalled database makes one batch long). */
export const MAX_PAUSE_MS = 1000;

export interface IngressPacerOptions {
  /** Part of the wall time the worker may use during a burst, in (0, 1]; 1 never waits. */
  share: number;
  /** The bridge counts as busy this long after its last message. */
  quietMs: number;
  /** Longest run of traffic that is paced (counted from its first message). */
  burstMs: number;
  clock?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export interface IngressPacer {
  /** A message was enqueued by the bridge. */
  arrived(): void;
  /** Resolves when the next batch may start. */
  turn(): Promise<void>;
  /** A batch that started at `startedAt` (the clock's time) has ended. */
  ran(startedAt: number): void;
  /** A burst is being paced: the bridge is busy, and has been for less than `burstMs`. */
  pacing(): boolean;
  now(): number;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

export function ingressPacer(opts: IngressPacerOptions): IngressPacer {
  if (!(opts.share > 0 && opts.share <= 1)) throw new RangeError('share must be in (0, 1]');
  const clock = opts.clock ?? (() => performance.now());
  const sleep = opts.sleep ?? defaultSleep;
  let lastArrival = Number.NEGATIVE_INFINITY;
  // First message of the current run of traffic.
  let busySince = Number.NEGATIVE_INFINITY;
  // When the worker may start again while the bridge is busy.
  let readyAt = Number.NEGATIVE_INFINITY;
  /** How long pacing goes on if nothing changes (0: not pacing). */
  const pacingFor = (now: number): number =>
    Math.max(0, Math.min(lastArrival + opts.quietMs, busySince + opts.burstMs) - now);
  return {
    arrived() {
      const now = clock();
      if (now - lastArrival >= opts.quietMs) busySince = now;
      lastArrival = now;
    },
    async turn() {
      if (opts.share >= 1) return;
      for (;;) {
        const now = clock();
        const left = pacingFor(now);
        if (left === 0 || now >= readyAt) return;
        // Woken by whichever comes first: the end of the pause, the bridge going quiet, the end of the burst.
        await sleep(Math.min(readyAt - now, left));
      }
    },
    ran(startedAt) {
      const end = clock();
      readyAt = Math.max(readyAt, end + Math.min(MAX_PAUSE_MS, (end - startedAt) * (1 / opts.share - 1)));
    },
    pacing: () => opts.share < 1 && pacingFor(clock()) > 0,
    now: clock,
  };
}

/**
 * Runs `run` over `items` in order: each part after the pacer's turn, at most `limitUnderLoad` items while a burst
 * is paced (all the rest otherwise). Results come back in the order of `items`.
 */
export async function runPaced<I, O>(
  pacer: IngressPacer,
  items: readonly I[],
  limitUnderLoad: number | undefined,
  run: (part: I[]) => Promise<O[]>,
): Promise<O[]> {
  const out: O[] = [];
  for (let at = 0; at < items.length; ) {
    await pacer.turn();
    const size = limitUnderLoad !== undefined && pacer.pacing() ? limitUnderLoad : items.length - at;
    const part = items.slice(at, at + size);
    at += part.length;
    const started = pacer.now();
    try {
      out.push(...(await run(part)));
    } finally {
      pacer.ran(started);
    }
  }
  return out;
}
