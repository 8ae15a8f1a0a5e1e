import type { SqlExecutor } from '../../lambdas/adapters/sql/executor.js';

/**
 * An executor that can hold back the next resource write (the single upsert statement of a create or update) until
 * the test releases it: what a slow client looks like between a conditional interaction's search and its write.
 * `before` runs instead of waiting when given (to commit a concurrent write from another connection at that point).
 */
export interface PausedWrites {
  db: SqlExecutor;
  /** Holds back the next resource write; `reached` resolves when it is held. */
  pauseNextWrite(): { reached: Promise<void>; release(): void };
  /** Runs `fn` just before the next resource write (which then proceeds). */
  beforeNextWrite(fn: () => Promise<void>): void;
}

const isResourceWrite = (text: string) => text.includes('INSERT INTO resource AS r');

export function pausedWrites(base: SqlExecutor): PausedWrites {
  let pending: (() => Promise<void>) | undefined;
  const wrap = (inner: SqlExecutor): SqlExecutor => ({
    kind: inner.kind,
    stats: inner.stats,
    async query(text, params, options) {
      if (pending && isResourceWrite(text)) {
        const hook = pending;
        pending = undefined;
        await hook();
      }
      return inner.query(text, params, options);
    },
    transaction: (fn) => inner.transaction((tx) => fn(wrap(tx))),
    close: () => inner.close(),
  });
  return {
    db: wrap(base),
    pauseNextWrite() {
      let reached!: () => void;
      let release!: () => void;
      const reachedP = new Promise<void>((r) => {
        reached = r;
      });
      const released = new Promise<void>((r) => {
        release = r;
      });
      pending = async () => {
        reached();
        await released;
      };
      return { reached: reachedP, release };
    },
    beforeNextWrite(fn) {
      pending = fn;
    },
  };
}

/** Gives a concurrent call `ms` to finish (or to block, as it should); never an assertion on time. */
export const settle = (ms = 300) => new Promise<void>((r) => setTimeout(r, ms));
