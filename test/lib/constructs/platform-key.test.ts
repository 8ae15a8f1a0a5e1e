import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { PlatformKey } from '../../../lib/constructs/platform-key.js';
import { testStack } from '../cdk-test-app.js';

describe('PlatformKey', () => {
  it('lets CloudWatch Logs use the key for this account and region only', () => {
    const stack = testStack();
    new PlatformKey(stack, 'Key', { stage: 'dev' });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::KMS::Alias', { AliasName: 'alias/pfi-dev' });
    const key = Object.values(template.findResources('AWS::KMS::Key'))[0]?.['Properties'];
    expect(key.EnableKeyRotation).toBe(true);
    expect(key.PendingWindowInDays).toBe(30);
    const logs = key.KeyPolicy.Statement.find((s: { Sid?: string }) => s.Sid === 'AllowCloudWatchLogs');
    expect(logs.Principal).toEqual({ Service: 'logs.eu-west-3.amazonaws.com' });
    expect(JSON.stringify(logs.Condition.ArnLike)).toContain(':logs:eu-west-3:123456789012:log-group:*');
  });
});
