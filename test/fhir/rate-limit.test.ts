import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientRateLimiter } from '../../lambdas/fhir/rate-limit.js';
import { createTestPlatform, type TestPlatform } from '../support/platform.js';

describe('clientRateLimiter', () => {
  it('lets a burst through, then refills at the rate, per client', () => {
    let now = 0;
    const limiter = clientRateLimiter(2, 4, () => now);
    expect([1, 2, 3, 4, 5].map(() => limiter.take('a'))).toEqual([true, true, true, true, false]);
    expect(limiter.take('b')).toBe(true);
    expect(limiter.retryAfterSeconds('a')).toBe(1);
    now += 500;
    expect(limiter.take('a')).toBe(true);
    expect(limiter.take('a')).toBe(false);
  });
});

describe('request limits of the FHIR API', () => {
  let t: TestPlatform;
  beforeAll(async () => {
    t = await createTestPlatform({ PFI_RATE_LIMIT_PER_SECOND: '2' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('answers 429 with Retry-After to a client over its rate, not to another client', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await t.call('GET', '/Patient?gender=male')).status);
    expect(statuses.slice(0, 4)).toEqual([200, 200, 200, 200]);
    expect(statuses.at(-1)).toBe(429);
    const limited = await t.call('GET', '/Patient?gender=male');
    expect(limited.headers['retry-after']).toMatch(/^\d+$/);
    expect(limited.json().issue[0].code).toBe('throttled');
    const other = await t.call('GET', '/Patient?gender=male', {
      token: await t.token('system/Patient.rs', 'another-client'),
    });
    expect(other.status).not.toBe(429);
  });

  it('answers 414 to an overlong query string', async () => {
    const u = await createTestPlatform();
    try {
      const res = await u.call('GET', `/Patient?family=${'a'.repeat(9000)}`);
      expect(res.status).toBe(414);
      expect(res.json().resourceType).toBe('OperationOutcome');
    } finally {
      await u.close();
    }
  });
});
