import { describe, expect, it } from 'vitest';
import { type InteractionResult, judge } from '../../../scripts/bench/targets.js';

const result = (name: InteractionResult['name'], rps: number, p99: number, errors = 0): InteractionResult => ({
  name,
  requests: 1000,
  errors,
  statuses: errors ? { '200': 1000 - errors, '500': errors } : { '200': 1000 },
  rps,
  p50: p99 / 2,
  p99,
  max: p99 * 2,
  mean: p99 / 2,
  roundTripsPerRequest: 1,
});

const byTarget = (verdicts: ReturnType<typeof judge>) => Object.fromEntries(verdicts.map((v) => [v.target, v.pass]));

describe('judge', () => {
  it('judges embedded reads against 70% of the ceiling', () => {
    expect(
      byTarget(judge('embedded', { ceiling: result('ceiling', 3000, 15), read: result('read', 2100, 20) })),
    ).toEqual({
      'read ≥ 70% of ceiling': true,
    });
    expect(
      byTarget(judge('embedded', { ceiling: result('ceiling', 3000, 15), read: result('read', 2099, 20) }))[
        'read ≥ 70% of ceiling'
      ],
    ).toBe(false);
  });

  it('judges PostgreSQL-server reads on 4,000/s and p99 15 ms', () => {
    const v = byTarget(judge('pg', { read: result('read', 4000, 15.1) }));
    expect(v).toEqual({ 'read ≥ 4,000/s': true, 'read p99 ≤ 15 ms': false });
    expect(byTarget(judge('pg', { read: result('read', 3999, 15) }))).toEqual({
      'read ≥ 4,000/s': false,
      'read p99 ≤ 15 ms': true,
    });
  });

  it('judges search by identifier p99 against twice the read p99, and create at 800/s', () => {
    const v = byTarget(
      judge('pg', {
        read: result('read', 5000, 10),
        'search-identifier': result('search-identifier', 3000, 20),
        create: result('create', 799, 30),
      }),
    );
    expect(v['search by identifier p99 ≤ 2× read p99']).toBe(true);
    expect(v['create ≥ 800/s']).toBe(false);
    const slower = judge('embedded', {
      read: result('read', 5000, 10),
      'search-identifier': result('search-identifier', 3000, 20.1),
    });
    expect(byTarget(slower)['search by identifier p99 ≤ 2× read p99']).toBe(false);
  });

  it('misses a target whose interaction had errors, and says so', () => {
    const [v] = judge('pg', { create: result('create', 5000, 10, 3) });
    expect(v?.pass).toBe(false);
    expect(v?.actual).toContain('with errors');
  });

  it('leaves out targets whose interactions were not measured', () => {
    expect(judge('embedded', { read: result('read', 2000, 10) })).toEqual([]);
    expect(judge('pg', {})).toEqual([]);
  });
});
