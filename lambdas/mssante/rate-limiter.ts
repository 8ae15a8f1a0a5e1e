/**
 * Request rate limiter shared by every call of one client: at most `perSecond` grants in any sliding window of
 * one second. (A token bucket of the same rate lets up to twice that through in one window after an idle
 * period; the Annuaire Santé gateway counts per second, so the window log is the safe choice.)
 */

/** Time source and sleep, injectable so tests run on a fake clock. */
export interface Clock {
  /** Milliseconds, monotonic. */
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export interface RateLimiter {
  /** Resolves when the caller may send one request. Callers are served in order. */
  acquire(): Promise<void>;
}

const WINDOW_MS = 1000;

/**
 * A sliding-window rate limiter.
 *
 * @example
 * ```ts
 * const limiter = createRateLimiter({ perSecond: 17 });
 * await limiter.acquire();
 * await fetch(url);
 * ```
 */
export function createRateLimiter(opts: { perSecond: number; clock?: Clock }): RateLimiter {
  const limit = Math.max(1, Math.floor(opts.perSecond));
  const clock = opts.clock ?? systemClock;
  const grants: number[] = [];
  let queue: Promise<void> = Promise.resolve();

  async function take(): Promise<void> {
    for (;;) {
      const t = clock.now();
      while (grants.length > 0 && t - grants[0]! >= WINDOW_MS) grants.shift();
      if (grants.length < limit) {
        grants.push(t);
        return;
      }
      await clock.sleep(grants[0]! + WINDOW_MS - t);
    }
  }

  return {
    acquire() {
      const turn = queue.then(take);
      queue = turn.catch(() => undefined);
      return turn;
    },
  };
}
