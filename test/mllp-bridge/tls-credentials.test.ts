import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTlsCredentials, TlsCredentialsError } from '../../mllp-bridge/src/tls-credentials.js';
import { writeTlsFiles } from '../support/tls-files.js';

let dir: string;
let good: Awaited<ReturnType<typeof writeTlsFiles>>;
let other: Awaited<ReturnType<typeof writeTlsFiles>>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pfi-tls-'));
  good = await writeTlsFiles(dir);
  const otherDir = await mkdtemp(join(dir, 'other-'));
  other = await writeTlsFiles(otherDir);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const failure = async (files: { certFile: string; keyFile: string }, now?: Date): Promise<TlsCredentialsError> => {
  const err = await loadTlsCredentials(files, now).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(TlsCredentialsError);
  return err as TlsCredentialsError;
};

describe('loadTlsCredentials', () => {
  it('returns the certificate and key, and when the certificate expires', async () => {
    const c = await loadTlsCredentials(good);
    expect(c.cert.toString()).toBe(good.cert);
    expect(c.key.toString()).toBe(good.key);
    expect(c.validTo.getTime()).toBeGreaterThan(Date.now());
  });

  it('names the setting of a file it cannot read, with the system code', async () => {
    expect((await failure({ ...good, certFile: join(dir, 'missing.pem') })).message).toBe(
      'PFI_MLLP_TLS_CERT_FILE: cannot read the file (ENOENT)',
    );
    expect((await failure({ ...good, keyFile: join(dir, 'missing.pem') })).message).toBe(
      'PFI_MLLP_TLS_KEY_FILE: cannot read the file (ENOENT)',
    );
  });

  it('refuses a file that is not a certificate and a key that is not the certificate’s, without quoting them', async () => {
    const notPem = join(dir, 'not-pem.txt');
    await writeFile(notPem, 'SECRET-CONTENT not a certificate');
    const badCert = await failure({ ...good, certFile: notPem });
    expect(badCert.message).toBe('PFI_MLLP_TLS_CERT_FILE: not a PEM certificate');
    const badKey = await failure({ ...good, keyFile: notPem });
    expect(badKey.message).toBe('PFI_MLLP_TLS_KEY_FILE: not the PEM private key of the certificate');
    expect(badKey.message).not.toContain('SECRET');
    // A real key, of another certificate.
    const mismatch = await failure({ certFile: good.certFile, keyFile: other.keyFile });
    expect(mismatch.message).toBe('PFI_MLLP_TLS_KEY_FILE: not the PEM private key of the certificate');
  });

  it('refuses a certificate that is expired or not yet valid', async () => {
    const later = new Date(Date.now() + 2 * 365 * 24 * 3600 * 1000);
    expect((await failure(good, later)).message).toMatch(
      /^PFI_MLLP_TLS_CERT_FILE: the certificate is valid from \d{4}-.*Z to \d{4}-.*Z$/,
    );
    expect((await failure(good, new Date('2000-01-01T00:00:00Z'))).message).toMatch(/is valid from/);
  });
});
