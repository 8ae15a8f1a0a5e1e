import { describe, expect, it } from 'vitest';
import { type ContextSource, PFI_REGION, readSettings, SettingsError } from '../../lib/settings.js';
import { cdkJsonContext } from './cdk-test-app.js';

function context(values: Record<string, unknown>): ContextSource {
  return { tryGetContext: (key) => values[key] };
}

const DEFAULTS = {
  ...cdkJsonContext(),
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
    expect(readSettings(context(cdkJsonContext()), {})).toMatchObject({
      stage: 'prod',
      account: '123456789012',
      region: 'eu-west-3',
      dbMinCapacity: 0.5,
      dbMaxCapacity: 16,
      authDomainPrefix: 'pfi-prod-123456789012',
      // Placeholders, so that the default synth has the custom domain and the TLS listener.
      apiDomainName: 'fhir.pfi.example.fr',
      mllpDomainName: 'mllp.pfi.example.fr',
      mllpPartnerCidrs: [],
      natGateways: 3,
      logRetentionDays: 90,
      backupVaultLock: false,
      alarmEmail: undefined,
      smtpUrl: undefined,
      mllpRegistryParameter: '/pfi/prod/mllp/registry',
      smtpSecret: 'pfi/prod/mssante-bal',
      annuaireApiKeySecret: 'pfi/prod/annuaire-api-key',
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

  it('reads lists from cdk.json arrays and from -c text (JSON or comma-separated)', () => {
    const cidrs = (v: unknown) =>
      readSettings(context({ ...DEFAULTS, 'pfi:mllpPartnerCidrs': v }), {}).mllpPartnerCidrs;
    expect(cidrs(['10.1.0.0/16'])).toEqual(['10.1.0.0/16']);
    expect(cidrs('["10.1.0.0/16","192.168.4.0/24"]')).toEqual(['10.1.0.0/16', '192.168.4.0/24']);
    expect(cidrs('10.1.0.0/16, 192.168.4.0/24')).toEqual(['10.1.0.0/16', '192.168.4.0/24']);
  });

  it('refuses MLLP open to the internet, certificates outside Paris, bad clients and bad retentions', () => {
    const message = (key: string, v: unknown) =>
      errorOf(() => readSettings(context({ ...DEFAULTS, [key]: v }), {})).message;
    expect(message('pfi:mllpPartnerCidrs', ['0.0.0.0/0'])).toContain('pfi:mllpPartnerCidrs');
    expect(
      message(
        'pfi:apiCertificateArn',
        'arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000001',
      ),
    ).toContain('pfi:apiCertificateArn: must be an ACM certificate ARN in eu-west-3');
    expect(message('pfi:apiClients', [{ name: 'x', scopes: ['openid'] }])).toContain('pfi:apiClients');
    expect(message('pfi:logRetentionDays', 100)).toContain('pfi:logRetentionDays');
    expect(message('pfi:mllpMinTasks', 1)).toContain('pfi:mllpMinTasks');
  });

  it('takes optional MSSanté and alarm settings, empty meaning unset', () => {
    const s = readSettings(
      context({ ...DEFAULTS, 'pfi:smtpUrl': 'smtps://relay.mssante.example:465', 'pfi:alarmEmail': 'ops@chu.example' }),
      {},
    );
    expect(s).toMatchObject({ smtpUrl: 'smtps://relay.mssante.example:465', alarmEmail: 'ops@chu.example' });
    expect(readSettings(context({ ...DEFAULTS, 'pfi:alarmEmail': '' }), {}).alarmEmail).toBeUndefined();
  });
});
