/** Latency statistics for the benchmarks: pure functions over milliseconds. */

export interface LatencySummary {
  count: number;
  p50: number;
  p99: number;
  max: number;
  mean: number;
}

/**
 * Nearest-rank percentile of an ascending-sorted sample: the smallest value such that at least `p`% of the
 * sample is less than or equal to it. NaN for an empty sample.
 *
 * @example percentile([1, 2, 3, 4], 50) // 2
 */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (!(p >= 0 && p <= 100)) throw new RangeError('percentile must be between 0 and 100');
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] as number;
}

/** Count, p50, p99, max and mean of a latency sample (any order; the input is not modified). */
export function summarize(latencies: ArrayLike<number>): LatencySummary {
  const sorted = Float64Array.from(latencies).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  const count = sorted.length;
  return {
    count,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: count ? (sorted[count - 1] as number) : Number.NaN,
    mean: count ? sum / count : Number.NaN,
  };
}
