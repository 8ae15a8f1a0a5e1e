/**
 * The MAC key of audit seals. In AWS: a KMS HMAC_SHA_256 key (GenerateMac / VerifyMac; such keys do not rotate
 * automatically — see docs). Locally: 32 random bytes in `$PFI_DATA_DIR/keys/audit-seal.key`, created on first use
 * with mode 0600. Seals name the key that made them (`keyId`), so a rotated key still verifies old seals.
 */

import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GenerateMacCommand, KMSClient, VerifyMacCommand } from '@aws-sdk/client-kms';

export interface SealKey {
  /** Identifies the key in seals. */
  readonly keyId: string;
  mac(message: string): Promise<string>;
  /** Verifies a MAC made by the key `keyId` (false for an unknown key). */
  verify(message: string, mac: string, keyId: string): Promise<boolean>;
}

/** The local seal key in `keyDir` (created on first use). */
export function localSealKey(keyDir: string): SealKey {
  const path = join(keyDir, 'audit-seal.key');
  if (!existsSync(path)) {
    mkdirSync(keyDir, { recursive: true, mode: 0o700 });
    writeFileSync(path, randomBytes(32).toString('base64'), { mode: 0o600, flag: 'wx' });
  }
  chmodSync(path, 0o600);
  const key = Buffer.from(readFileSync(path, 'utf8').trim(), 'base64');
  const keyId = `local:${createHash('sha256').update(key).digest('hex').slice(0, 16)}`;
  const mac = (message: string) => createHmac('sha256', key).update(message).digest('base64');
  return {
    keyId,
    mac: async (message) => mac(message),
    async verify(message, expected, id) {
      if (id !== keyId) return false;
      const a = Buffer.from(mac(message), 'base64');
      const b = Buffer.from(expected, 'base64');
      return a.length === b.length && timingSafeEqual(a, b);
    },
  };
}

/**
 * The KMS seal key (AWS): an HMAC_SHA_256 KMS key; GenerateMac for new seals, VerifyMac for any seal made by a KMS
 * key (the seal names the key ARN, so seals made before a manual rotation to a new key still verify).
 */
export function kmsSealKey(client: KMSClient, keyId: string): SealKey {
  const bytes = (message: string) => new TextEncoder().encode(message);
  return {
    keyId,
    async mac(message) {
      const res = await client.send(
        new GenerateMacCommand({ KeyId: keyId, MacAlgorithm: 'HMAC_SHA_256', Message: bytes(message) }),
      );
      if (!res.Mac) throw new Error('KMS GenerateMac returned no MAC');
      return Buffer.from(res.Mac).toString('base64');
    },
    async verify(message, mac, id) {
      if (!id.startsWith('arn:aws') && !id.startsWith('alias/') && !/^[0-9a-f-]{36}$/.test(id)) return false;
      try {
        const res = await client.send(
          new VerifyMacCommand({
            KeyId: id,
            MacAlgorithm: 'HMAC_SHA_256',
            Message: bytes(message),
            Mac: Buffer.from(mac, 'base64'),
          }),
        );
        return res.MacValid === true;
      } catch (err) {
        // An invalid MAC is an error in KMS's API, not a `false`.
        if ((err as { name?: string }).name === 'KMSInvalidMacException') return false;
        throw err;
      }
    },
  };
}

/** The seal key the configuration names: KMS when PFI_AUDIT_SEAL_KMS_KEY_ID is set, else the local key. */
export function sealKeyFromConfig(config: { dataDir: string; auditSealKmsKeyId: string | undefined }): SealKey {
  return config.auditSealKmsKeyId
    ? kmsSealKey(new KMSClient({}), config.auditSealKmsKeyId)
    : localSealKey(join(config.dataDir, 'keys'));
}
