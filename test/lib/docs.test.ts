import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SETTING_KEYS } from '../../lib/settings.js';
import { cdkJsonContext } from './cdk-test-app.js';

const deployDoc = readFileSync(new URL('../../docs/deploy.md', import.meta.url), 'utf8');

describe('docs/deploy.md (item 11)', () => {
  it('documents every pfi:* setting in its table, and cdk.json sets no undocumented one', () => {
    for (const key of Object.values(SETTING_KEYS)) expect(deployDoc, key).toContain(`\`${key}\``);
    const known = new Set(Object.values(SETTING_KEYS));
    const unknown = Object.keys(cdkJsonContext()).filter((k) => k.startsWith('pfi:') && !known.has(k));
    expect(unknown).toEqual([]);
  });

  it('covers bootstrap, deploy, first credentials, certificate rotation, restore, the DR drill and costs', () => {
    for (const heading of [
      '## Before the first deploy',
      '## Deploy',
      '## Settings (cdk.json context)',
      '## First client credentials',
      '## Rotating certificates',
      '## Backup, restore and the DR drill',
      '## Cost (eu-west-3, estimates)',
    ]) {
      expect(deployDoc).toContain(heading);
    }
    expect(deployDoc).toContain('cdk bootstrap');
  });

  it('is linked from the README', () => {
    expect(readFileSync(new URL('../../README.md', import.meta.url), 'utf8')).toContain('(docs/deploy.md)');
  });
});
