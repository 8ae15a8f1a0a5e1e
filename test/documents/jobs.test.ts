import { describe, expect, it } from 'vitest';
import { mssanteRetryDelaySeconds, mssanteRetryDelays } from '../../lambdas/documents/jobs.js';

describe('MSSanté retry delays', () => {
  it('by default: 30 s, 1, 2, 4, 8 minutes, then 15 minutes', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8, 100].map(mssanteRetryDelaySeconds)).toEqual([
      30, 60, 120, 240, 480, 900, 900, 900, 900,
    ]);
  });

  it('from PFI_MSSANTE_RETRY_BASE_SECONDS and …_MAX_SECONDS: base, doubled, at most max', () => {
    const delays = mssanteRetryDelays(1, 2);
    expect([0, 1, 2, 3, 4, 1_000].map(delays)).toEqual([1, 1, 2, 2, 2, 2]);
    expect([1, 2, 3, 4].map(mssanteRetryDelays(5, 12))).toEqual([5, 10, 12, 12]);
  });
});
