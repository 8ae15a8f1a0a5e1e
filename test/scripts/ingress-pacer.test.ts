import { describe, expect, it } from 'vitest';
import { ingressPacer, MAX_PAUSE_MS } from '../../scripts/ingress-pacer.js';

/** A pacer on a hand-driven clock: `sleep` advances it and records each wait. */
function pacerAt(share: number, quietMs = 50) {
  let now = 1000;
  const waits: number[] = [];
  const pacer = ingressPacer({
    share,
    quietMs,
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
    expect(() => ingressPacer({ share: 0, quietMs: 50 })).toThrow(RangeError);
    expect(() => ingressPacer({ share: 1.5, quietMs: 50 })).toThrow(RangeError);
  });
});
