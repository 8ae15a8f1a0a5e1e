import { describe, expect, it } from 'vitest';
import type { SqlExecutor } from '../../../lambdas/adapters/sql/executor.js';
import { createPgliteExecutor } from '../../../lambdas/adapters/sql/pglite.js';
import { conditionalLockKey, lockConditions } from '../../../lambdas/fhir/repository/conditional-lock.js';

describe('conditional interaction locks', () => {
  it('names a condition by its type and its pairs in any order', () => {
    const a = conditionalLockKey('Patient', [
      ['identifier', 'urn:oid:1.2|X'],
      ['birthdate', '1980-01-01'],
    ]);
    const b = conditionalLockKey('Patient', [
      ['birthdate', '1980-01-01'],
      ['identifier', 'urn:oid:1.2|X'],
    ]);
    expect(a).toBe(b);
    expect(Number.isInteger(a) && a >= -(2 ** 31) && a < 2 ** 31).toBe(true);
    expect(conditionalLockKey('Observation', [['identifier', 'urn:oid:1.2|X']])).not.toBe(
      conditionalLockKey('Patient', [['identifier', 'urn:oid:1.2|X']]),
    );
    expect(conditionalLockKey('Patient', [['identifier', 'urn:oid:1.2|Y']])).not.toBe(
      conditionalLockKey('Patient', [['identifier', 'urn:oid:1.2|X']]),
    );
  });

  it('takes each lock once, in ascending order (no two transactions wait for each other in a circle)', async () => {
    const taken: number[] = [];
    const tx = {
      query: async (_text: string, params: readonly unknown[]) => {
        taken.push(params[1] as number);
        return { rows: [], rowCount: 1 };
      },
    } as unknown as SqlExecutor;
    await lockConditions(tx, [5, -3, 5, 12, -3]);
    expect(taken).toEqual([-3, 5, 12]);
  });

  it('runs on the embedded database inside a transaction', async () => {
    const db = await createPgliteExecutor();
    try {
      const key = conditionalLockKey('Observation', [['identifier', 'urn:oid:1.2|X']]);
      await db.transaction(async (tx) => {
        await lockConditions(tx, [key, key + 1]);
        // Re-entrant within the transaction (a conditional create inside a transaction Bundle locks again).
        await lockConditions(tx, [key]);
      });
    } finally {
      await db.close();
    }
  });
});
