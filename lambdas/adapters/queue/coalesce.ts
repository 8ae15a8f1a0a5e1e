/**
 * Coalescing of calls into batches: the calls made in the same event-loop turn — and those made while earlier
 * batches are being processed — are handed to one `runBatch`, and each caller gets its own outcome. Nothing waits
 * on a timer: an idle system runs a call at once (next turn), a busy one batches what piled up. This is how the
 * local HL7 worker applies the messages it received together in one transaction, and how the local queue deletes
 * them in one statement.
 */

/** The outcome of one item of a batch. */
export type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

export interface CoalesceOptions {
  /** Largest batch handed to `runBatch` (a bigger backlog goes out in several). Default 100. */
  maxBatch?: number;
  /** Batches processed at once. Default 1: batches go out one after another, items in call order. */
  maxInFlight?: number;
}

/**
 * Returns `call(item)`, resolved or rejected with that item's outcome from `runBatch` (which must return one
 * outcome per item, in order). A `runBatch` that throws rejects every item of its batch.
 *
 * @example
 * ```ts
 * const remove = coalesce((receipts: string[]) => deleteAll(receipts), { maxBatch: 500 });
 * await Promise.all([remove('a'), remove('b')]); // one deleteAll(['a', 'b'])
 * ```
 */
export function coalesce<I, O>(
  runBatch: (items: I[]) => Promise<Settled<O>[]>,
  opts: CoalesceOptions = {},
): (item: I) => Promise<O> {
  const maxBatch = opts.maxBatch ?? 100;
  const maxInFlight = opts.maxInFlight ?? 1;
  if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new RangeError('maxBatch must be a positive integer');
  if (!Number.isInteger(maxInFlight) || maxInFlight < 1) throw new RangeError('maxInFlight must be a positive integer');
  let pending: { item: I; resolve: (value: O) => void; reject: (err: unknown) => void }[] = [];
  let inFlight = 0;
  let scheduled = false;

  const pump = (): void => {
    scheduled = false;
    while (pending.length && inFlight < maxInFlight) {
      const batch = pending.slice(0, maxBatch);
      pending = pending.slice(batch.length);
      inFlight++;
      const settle = (outcomes: Settled<O>[]) => {
        for (const [i, p] of batch.entries()) {
          const o = outcomes[i];
          if (o?.ok) p.resolve(o.value);
          else p.reject(o ? o.error : new Error('batch returned no outcome for this item'));
        }
      };
      const run = async () => runBatch(batch.map((p) => p.item));
      run()
        .then(settle, (err: unknown) => {
          for (const p of batch) p.reject(err);
        })
        .finally(() => {
          inFlight--;
          pump();
        });
    }
  };

  return (item) =>
    new Promise<O>((resolve, reject) => {
      pending.push({ item, resolve, reject });
      if (!scheduled && inFlight < maxInFlight) {
        scheduled = true;
        // Next turn: the calls of this turn go together.
        setImmediate(pump);
      }
    });
}
