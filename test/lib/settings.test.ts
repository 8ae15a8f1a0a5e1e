import { describe, expect, it } from 'vitest';
import { type ContextSource, PFI_REGION, readSettings, SettingsError } from '../../lib/settings.js';
import { cdkJsonContext } from './cdk-test-app.js';

function context(values: Record<string, unknown>): ContextSource {
  return { tryGetContext: (key) => values[key] };
}

const DEFAULTS = {
  'pfi:stage': 'prod',
  'pfi:account': '123456789012',
  'pfi:dbMinCapacity': 0.5,
  'pfi:dbMaxCapacity': 16,
};

function errorOf(fn: () => unknown): SettingsError {
  try {
    fn();
  } catch (err) {
    if (err instanceof SettingsError) return err;
    throw err;
  }
  throw new Error('expected a SettingsError');
}

describe('readSettings', () => {
  it("reads cdk.json's defaults: prod in the test account, in Paris", () => {
    expect(readSettings(context(cdkJsonContext()), {})).toEqual({
      stage: 'prod',
      account: '123456789012',
      region: 'eu-west-3',
      dbMinCapacity: 0.5,
      dbMaxCapacity: 16,
      authDomainPrefix: 'pfi-prod-123456789012',
    });
    expect(PFI_REGION).toBe('eu-west-3');
  });

  it('takes the account of the deploying credentials (CDK_DEFAULT_ACCOUNT) over pfi:account', () => {
    const s = readSettings(context(DEFAULTS), { CDK_DEFAULT_ACCOUNT: '210987654321' });
    expect(s.account).toBe('210987654321');
    expect(s.authDomainPrefix).toBe('pfi-prod-210987654321');
    // An empty variable is no account.
    expect(readSettings(context(DEFAULTS), { CDK_DEFAULT_ACCOUNT: '' }).account).toBe('123456789012');
  });

  it('accepts -c values, which arrive as strings', () => {
    const s = readSettings(
      context({ ...DEFAULTS, 'pfi:stage': 'staging', 'pfi:dbMinCapacity': '1', 'pfi:dbMaxCapacity': '4.5' }),
      {},
    );
    expect(s).toMatchObject({ stage: 'staging', dbMinCapacity: 1, dbMaxCapacity: 4.5 });
  });

  it('takes an explicit Cognito domain prefix', () => {
    const s = readSettings(context({ ...DEFAULTS, 'pfi:authDomainPrefix': 'chu-exemple-fhir' }), {});
    expect(s.authDomainPrefix).toBe('chu-exemple-fhir');
  });

  it('names every bad key', () => {
    const err = errorOf(() =>
      readSettings(
        context({
          'pfi:stage': 'Prod_1',
          'pfi:account': '12345',
          'pfi:dbMinCapacity': 0,
          'pfi:dbMaxCapacity': 300,
          'pfi:authDomainPrefix': 'my-aws-pool',
        }),
        {},
      ),
    );
    expect(err.message).toMatch(/^Invalid CDK context:/);
    for (const key of ['pfi:stage', 'pfi:account', 'pfi:dbMinCapacity', 'pfi:dbMaxCapacity', 'pfi:authDomainPrefix']) {
      expect(err.message).toContain(`  ${key}: `);
    }
    expect(err.message).toContain('must not contain aws, amazon or cognito');
  });

  it('reports a missing or empty stage', () => {
    expect(errorOf(() => readSettings(context({ ...DEFAULTS, 'pfi:stage': undefined }), {})).message).toContain(
      'pfi:stage',
    );
    expect(errorOf(() => readSettings(context({ ...DEFAULTS, 'pfi:stage': '' }), {})).message).toContain('pfi:stage');
  });

  it('refuses capacities off the 0.5 ACU grid, non-numbers, and a minimum above the maximum', () => {
    expect(errorOf(() => readSettings(context({ ...DEFAULTS, 'pfi:dbMaxCapacity': 2.25 }), {})).message).toContain(
      'pfi:dbMaxCapacity: must be a multiple of 0.5 ACU',
    );
    expect(errorOf(() => readSettings(context({ ...DEFAULTS, 'pfi:dbMinCapacity': 'lots' }), {})).message).toContain(
      'pfi:dbMinCapacity',
    );
    const err = errorOf(() =>
      readSettings(context({ ...DEFAULTS, 'pfi:dbMinCapacity': 8, 'pfi:dbMaxCapacity': 4 }), {}),
    );
    expect(err.message).toContain('pfi:dbMaxCapacity: must be greater than or equal to pfi:dbMinCapacity');
  });

  it('blames CDK_DEFAULT_ACCOUNT, not pfi:account, when the bad account came from the environment', () => {
    const err = errorOf(() => readSettings(context(DEFAULTS), { CDK_DEFAULT_ACCOUNT: 'not-an-account' }));
    expect(err.message).toContain('CDK_DEFAULT_ACCOUNT: must be a 12-digit AWS account id');
    expect(err.message).not.toContain('pfi:account');
  });
});
