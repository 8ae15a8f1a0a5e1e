import { describe, expect, it } from 'vitest';
import { type IngressPacer, ingressPacer, MAX_PAUSE_MS, runPaced } from '../../scripts/ingress-pacer.js';

/** A pacer on a hand-driven clock: `sleep` advances it and records each wait. */
function pacerAt(share: number, quietMs = 50, burstMs = 60_000) {
  let now = 1000;
  const waits: number[] = [];
  const pacer = ingressPacer({
    share,
    quietMs,
    burstMs,
    clock: () => now,
    sleep: async (ms) => {
      waits.push(ms);
      now += ms;
    },
  });
  return {
    pacer,
    waits,
    advance: (ms: number) => {
      now += ms;
    },
    /** One batch of `ms` that starts now. */
    batch: (ms: number) => {
      const started = pacer.now();
      now += ms;
      pacer.ran(started);
    },
  };
}

describe('ingressPacer', () => {
  it('while messages arrive, waits three times the last batch at a quarter share', async () => {
    const t = pacerAt(0.25, 1000);
    t.pacer.arrived();
    t.batch(20);
    await t.pacer.turn();
    expect(t.waits).toEqual([60]);
    // Time already spent since the batch counts.
    t.batch(20);
    t.advance(50);
    await t.pacer.turn();
    expect(t.waits).toEqual([60, 10]);
  });

  it('never waits when the bridge is quiet, or with a share of 1', async () => {
    const quiet = pacerAt(0.25);
    quiet.batch(500);
    await quiet.pacer.turn();
    expect(quiet.waits).toEqual([]);

    const full = pacerAt(1);
    full.pacer.arrived();
    full.batch(500);
    await full.pacer.turn();
    expect(full.waits).toEqual([]);
  });

  it('ends the wait once the bridge has been quiet for quietMs', async () => {
    const t = pacerAt(0.25, 50);
    t.pacer.arrived();
    t.advance(10);
    t.batch(100);
    // 300 ms of pause due, but the last message came 110 ms ago: the bridge is quiet already.
    await t.pacer.turn();
    expect(t.waits).toEqual([]);
    t.pacer.arrived();
    t.batch(100);
    t.pacer.arrived();
    await t.pacer.turn();
    expect(t.waits).toEqual([50]);
  });

  it('waits longer while messages keep arriving during the pause', async () => {
    let now = 0;
    const waits: number[] = [];
    const pacer = ingressPacer({
      share: 0.5,
      quietMs: 30,
      burstMs: 60_000,
      clock: () => now,
      sleep: async (ms) => {
        waits.push(ms);
        now += ms;
        pacer.arrived();
      },
    });
    pacer.arrived();
    const started = pacer.now();
    now += 100;
    pacer.ran(started);
    pacer.arrived();
    await pacer.turn();
    expect(waits).toEqual([30, 30, 30, 10]);
  });

  it('caps the pause after a long batch', async () => {
    const t = pacerAt(0.05, 60_000);
    t.pacer.arrived();
    t.batch(10_000);
    await t.pacer.turn();
    expect(t.waits).toEqual([MAX_PAUSE_MS]);
  });

  it('refuses a share outside (0, 1]', () => {
    expect(() => ingressPacer({ share: 0, quietMs: 50, burstMs: 1000 })).toThrow(RangeError);
    expect(() => ingressPacer({ share: 1.5, quietMs: 50, burstMs: 1000 })).toThrow(RangeError);
  });
});

describe('runPaced', () => {
  function recorder(busy: boolean) {
    const calls: string[] = [];
    const pacer: IngressPacer = {
      arrived: () => undefined,
      turn: async () => {
        calls.push('turn');
      },
      ran: () => calls.push('ran'),
      pacing: () => busy,
      now: () => 0,
    };
    return { pacer, calls };
  }
  const double = async (part: number[]) => part.map((n) => n * 2);

  it('applies parts of the limit while the bridge is busy, each after its turn, results in order', async () => {
    const r = recorder(true);
    const parts: number[][] = [];
    const out = await runPaced(r.pacer, [1, 2, 3, 4, 5], 2, async (part) => {
      parts.push(part);
      return double(part);
    });
    expect(parts).toEqual([[1, 2], [3, 4], [5]]);
    expect(out).toEqual([2, 4, 6, 8, 10]);
    expect(r.calls).toEqual(['turn', 'ran', 'turn', 'ran', 'turn', 'ran']);
  });

  it('applies everything at once when the bridge is quiet or there is no limit', async () => {
    const quiet = recorder(false);
    const parts: number[][] = [];
    await runPaced(quiet.pacer, [1, 2, 3], 2, async (part) => {
      parts.push(part);
      return double(part);
    });
    const unlimited = recorder(true);
    await runPaced(unlimited.pacer, [4, 5, 6], undefined, async (part) => {
      parts.push(part);
      return double(part);
    });
    expect(parts).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(await runPaced(quiet.pacer, [], 2, double)).toEqual([]);
  });

  it('reports the part that failed as ran, and rejects', async () => {
    const r = recorder(true);
    await expect(
      runPaced(r.pacer, [1, 2, 3], 1, async (part) => {
        if (part[0] === 2) throw new Error('database gone');
        return double(part);
      }),
    ).rejects.toThrow('database gone');
    expect(r.calls).toEqual(['turn', 'ran', 'turn', 'ran']);
  });
});

describe('ingressPacer.pacing', () => {
  it('is true for quietMs after the last arrival, never with a share of 1', () => {
    const t = pacerAt(0.25, 50);
    expect(t.pacer.pacing()).toBe(false);
    t.pacer.arrived();
    t.advance(49);
    expect(t.pacer.pacing()).toBe(true);
    t.advance(1);
    expect(t.pacer.pacing()).toBe(false);
    const full = pacerAt(1);
    full.pacer.arrived();
    expect(full.pacer.pacing()).toBe(false);
  });

  it('stops pacing a run of traffic longer than burstMs, until the bridge has been quiet again', async () => {
    const t = pacerAt(0.25, 50, 1000);
    // A message every 10 ms for 1.2 s: one run of traffic.
    for (let i = 0; i < 120; i++) {
      t.pacer.arrived();
      t.advance(10);
    }
    expect(t.pacer.pacing()).toBe(false);
    // A 30 ms batch: no gap of quietMs in the traffic, still the same run.
    t.batch(30);
    t.pacer.arrived();
    await t.pacer.turn();
    expect(t.waits).toEqual([]);
    // Quiet for 50 ms, then a new burst: paced again.
    t.advance(50);
    t.pacer.arrived();
    expect(t.pacer.pacing()).toBe(true);
    t.batch(10);
    t.pacer.arrived();
    await t.pacer.turn();
    expect(t.waits).toEqual([30]);
  });

  it('ends a wait at the end of the burst allowance', async () => {
    const t = pacerAt(0.05, 10_000, 200);
    t.pacer.arrived();
    t.batch(40);
    // 760 ms of pause due, but the burst may only be paced for 160 ms more.
    await t.pacer.turn();
    expect(t.waits).toEqual([160]);
  });
});
