import { describe, expect, it } from 'vitest';
import { coalesce, type Settled } from '../../../lambdas/adapters/queue/coalesce.js';

const ok = <T>(value: T): Settled<T> => ({ ok: true, value });

describe('coalesce', () => {
  it('hands the calls of one turn to one batch, each caller getting its own outcome', async () => {
    const batches: number[][] = [];
    const call = coalesce(async (items: number[]) => {
      batches.push(items);
      return items.map((i) => (i % 2 ? ok(i * 10) : { ok: false as const, error: new Error(`bad ${i}`) }));
    });
    const results = await Promise.allSettled([call(1), call(2), call(3)]);
    expect(batches).toEqual([[1, 2, 3]]);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual([
      10,
      'bad 2',
      30,
    ]);
  });

  it('keeps order and batches what piles up while a batch runs, at most maxBatch at a time', async () => {
    const batches: number[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const call = coalesce(
      async (items: number[]) => {
        batches.push(items);
        if (batches.length === 1) await gate;
        return items.map(ok);
      },
      { maxBatch: 2 },
    );
    const first = call(0);
    await new Promise((r) => setImmediate(r));
    const later = [1, 2, 3].map((i) => call(i));
    await new Promise((r) => setImmediate(r));
    expect(batches).toEqual([[0]]);
    release();
    expect(await Promise.all([first, ...later])).toEqual([0, 1, 2, 3]);
    expect(batches).toEqual([[0], [1, 2], [3]]);
  });

  it('rejects every item of a batch whose runner throws, and a missing outcome', async () => {
    const failing = coalesce(async () => {
      throw new Error('database down');
    });
    await expect(Promise.all([failing(1), failing(2)])).rejects.toThrow('database down');
    const short = coalesce(async () => [ok(1)]);
    const [a, b] = await Promise.allSettled([short('x'), short('y')]);
    expect(a.status).toBe('fulfilled');
    expect(b.status).toBe('rejected');
  });

  it('refuses nonsensical options', () => {
    expect(() => coalesce(async () => [], { maxBatch: 0 })).toThrow(RangeError);
    expect(() => coalesce(async () => [], { maxInFlight: 1.5 })).toThrow(RangeError);
  });
});
