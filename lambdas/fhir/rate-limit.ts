/**
 * A per-client request rate limit (token bucket per client id, `burst` requests at once, refilled at `perSecond`):
 * what API Gateway's usage plans do in AWS, for the platforms that run without it. Off unless configured.
 */

export interface RateLimiter {
  /** Takes one request's token; false when the client is over its rate. */
  take(client: string): boolean;
  /** Seconds until a token is back (for Retry-After). */
  retryAfterSeconds(client: string): number;
}

const MAX_CLIENTS = 10_000;

export function clientRateLimiter(perSecond: number, burst = perSecond * 2, now: () => number = Date.now): RateLimiter {
  const buckets = new Map<string, { tokens: number; at: number }>();
  const refill = (client: string) => {
    const t = now();
    let b = buckets.get(client);
    if (!b) {
      if (buckets.size >= MAX_CLIENTS) buckets.clear();
      b = { tokens: burst, at: t };
      buckets.set(client, b);
    }
    b.tokens = Math.min(burst, b.tokens + ((t - b.at) / 1000) * perSecond);
    b.at = t;
    return b;
  };
  return {
    take(client) {
      const b = refill(client);
      if (b.tokens < 1) return false;
      b.tokens -= 1;
      return true;
    },
    retryAfterSeconds(client) {
      const b = refill(client);
      return Math.max(1, Math.ceil((1 - b.tokens) / perSecond));
    },
  };
}
