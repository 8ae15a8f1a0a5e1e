import { describe, expect, it } from 'vitest';
import { createPgliteExecutor } from '../../../lambdas/adapters/sql/pglite.js';
import { DEFAULT_PG_URL, UsageError } from '../../../scripts/bench/fhir-options.js';
import { measureQueue, parseQueueBenchArgs } from '../../../scripts/bench/queue.js';

describe('parseQueueBenchArgs', () => {
  it('defaults to the HL7 path’s shape: 20,000 messages, sends of 50, receives of 64, both backends', () => {
    expect(parseQueueBenchArgs([])).toEqual({
      backends: ['embedded', 'pg'],
      messages: 20_000,
      sendBatch: 50,
      receiveBatch: 64,
      groups: undefined,
      pgUrl: DEFAULT_PG_URL,
    });
    expect(parseQueueBenchArgs([], { PFI_BENCH_DATABASE_URL: 'postgres://b@h/x' }).pgUrl).toBe('postgres://b@h/x');
  });

  it('reads every option', () => {
    expect(
      parseQueueBenchArgs([
        '--backend',
        'pg',
        '--messages',
        '800',
        '--send-batch',
        '10',
        '--receive-batch',
        '128',
        '--groups',
        '1',
        '--pg-url',
        'postgres://u@db:5432/x',
      ]),
    ).toEqual({
      backends: ['pg'],
      messages: 800,
      sendBatch: 10,
      receiveBatch: 128,
      groups: 1,
      pgUrl: 'postgres://u@db:5432/x',
    });
  });

  it('refuses what it cannot run, with a usage error', () => {
    for (const argv of [
      ['--backend', 'mysql'],
      ['--messages', '0'],
      ['--messages', '1e3'],
      ['--send-batch', '501'],
      ['--receive-batch', '1001'],
      ['--groups', '0'],
      ['--pg-url', 'mysql://x'],
      ['--unknown'],
      ['positional'],
    ]) {
      expect(() => parseQueueBenchArgs(argv), argv.join(' ')).toThrow(UsageError);
    }
  });
});

describe('measureQueue', () => {
  it('sends every message and drains each exactly once, one statement per send and per receive', async () => {
    const db = await createPgliteExecutor();
    try {
      const f = await measureQueue(db, { messages: 402, sendBatch: 50, receiveBatch: 64 });
      expect(f).toMatchObject({ messages: 402, missing: 0, duplicates: 0, outOfOrder: 0 });
      expect(f.send.count).toBe(9);
      // At least ⌈402 / 64⌉ receives that found messages, plus the empty one that ended the drain.
      expect(f.receive.count).toBeGreaterThanOrEqual(8);
      expect(f.deleteBatch.count).toBe(f.receive.count - 1);
      const left = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM queue_message');
      expect(left.rows[0]?.n).toBe(0);
    } finally {
      await db.close();
    }
  });

  it('drains messages that all wait behind one another (one group) in send order, one per receive', async () => {
    const db = await createPgliteExecutor();
    try {
      const f = await measureQueue(db, { messages: 120, sendBatch: 50, receiveBatch: 64, groups: 1 });
      expect(f).toMatchObject({ messages: 120, missing: 0, duplicates: 0, outOfOrder: 0 });
      expect(f.receive.count).toBe(121);
    } finally {
      await db.close();
    }
  });
});
