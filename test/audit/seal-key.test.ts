import { statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GenerateMacCommand, KMSClient, KMSInvalidMacException, VerifyMacCommand } from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { kmsSealKey, localSealKey } from '../../lambdas/audit/seal-key.js';

const kms = mockClient(KMSClient);
const KEY = 'arn:aws:kms:eu-west-3:123456789012:key/0b7e3c51-7c2a-4a55-9a7b-7a1f2c3d4e5f';
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pfi-seal-key-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
beforeEach(() => kms.reset());

describe('localSealKey', () => {
  it('creates a 0600 key once, MACs deterministically, verifies only its own MACs', async () => {
    const a = localSealKey(join(dir, 'keys'));
    const b = localSealKey(join(dir, 'keys'));
    expect(statSync(join(dir, 'keys', 'audit-seal.key')).mode & 0o777).toBe(0o600);
    expect(a.keyId).toBe(b.keyId);
    const mac = await a.mac('pfi-audit-seal:3:abc');
    expect(await b.verify('pfi-audit-seal:3:abc', mac, a.keyId)).toBe(true);
    expect(await b.verify('pfi-audit-seal:4:abc', mac, a.keyId)).toBe(false);
    const other = localSealKey(join(dir, 'other'));
    expect(await other.verify('pfi-audit-seal:3:abc', mac, a.keyId)).toBe(false);
  });
});

describe('kmsSealKey', () => {
  it('seals with GenerateMac (HMAC_SHA_256) and checks with VerifyMac, an invalid MAC being false', async () => {
    kms.on(GenerateMacCommand).resolves({ Mac: new Uint8Array([1, 2, 3]), KeyId: KEY, MacAlgorithm: 'HMAC_SHA_256' });
    const key = kmsSealKey(new KMSClient({ region: 'eu-west-3' }), KEY);
    const mac = await key.mac('pfi-audit-seal:1:h');
    expect(mac).toBe(Buffer.from([1, 2, 3]).toString('base64'));
    const generate = kms.commandCalls(GenerateMacCommand)[0]!.args[0].input;
    expect(generate).toMatchObject({ KeyId: KEY, MacAlgorithm: 'HMAC_SHA_256' });
    expect(Buffer.from(generate.Message!).toString('utf8')).toBe('pfi-audit-seal:1:h');

    kms
      .on(VerifyMacCommand)
      .resolvesOnce({ MacValid: true })
      .rejectsOnce(new KMSInvalidMacException({ message: 'invalid', $metadata: {} }));
    expect(await key.verify('pfi-audit-seal:1:h', mac, KEY)).toBe(true);
    expect(await key.verify('pfi-audit-seal:1:x', mac, KEY)).toBe(false);
    expect(await key.verify('pfi-audit-seal:1:h', mac, 'local:0123456789abcdef')).toBe(false);
  });
});
