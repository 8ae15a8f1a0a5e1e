import { describe, expect, it } from 'vitest';
import { percentile, summarize } from '../../../scripts/bench/stats.js';

describe('percentile', () => {
  it('uses the nearest rank', () => {
    const sorted = [1, 2, 3, 4];
    expect(percentile(sorted, 50)).toBe(2);
    expect(percentile(sorted, 51)).toBe(3);
    expect(percentile(sorted, 100)).toBe(4);
    expect(percentile(sorted, 0)).toBe(1);
  });

  it('gives the 99th percentile of 1..1000 as 990', () => {
    const sorted = Array.from({ length: 1000 }, (_, i) => i + 1);
    expect(percentile(sorted, 99)).toBe(990);
    expect(percentile(sorted, 50)).toBe(500);
  });

  it('is NaN for an empty sample', () => {
    expect(percentile([], 50)).toBeNaN();
  });

  it.each([-1, 101, Number.NaN])('refuses the percentile %s', (p) => {
    expect(() => percentile([1], p)).toThrow(RangeError);
  });
});

describe('summarize', () => {
  it('sorts numerically (not as text) without modifying the input', () => {
    const input = [10, 9, 100, 1, 2];
    const s = summarize(input);
    expect(s).toEqual({ count: 5, p50: 9, p99: 100, max: 100, mean: 24.4 });
    expect(input).toEqual([10, 9, 100, 1, 2]);
  });

  it('reports NaN figures for no latencies', () => {
    const s = summarize([]);
    expect(s.count).toBe(0);
    expect(s.p50).toBeNaN();
    expect(s.max).toBeNaN();
    expect(s.mean).toBeNaN();
  });
});
