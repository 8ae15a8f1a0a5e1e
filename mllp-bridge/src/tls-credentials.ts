/**
 * The certificate and key of direct TLS on the MLLP port, read from PEM files and checked before the port opens:
 * a file that cannot be read, a key that is not the certificate's, or an expired certificate stops the start with
 * a message naming the setting, rather than failing every sender's handshake later.
 */

import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';

export const TLS_SETTINGS = { cert: 'PFI_MLLP_TLS_CERT_FILE', key: 'PFI_MLLP_TLS_KEY_FILE' } as const;

/** One line per problem, each naming its setting; never a file's content. */
export class TlsCredentialsError extends Error {
  override readonly name = 'TlsCredentialsError';
}

export interface TlsCredentials {
  cert: Buffer;
  key: Buffer;
  /** When the (first) certificate expires, for the start-up log. */
  validTo: Date;
}

async function readPem(file: string, setting: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    throw new TlsCredentialsError(`${setting}: cannot read the file${typeof code === 'string' ? ` (${code})` : ''}`);
  }
}

/**
 * Reads and checks the PEM files.
 *
 * @throws TlsCredentialsError when a file cannot be read, is not PEM, the key does not match the certificate, or
 *   the certificate is not valid at `now`.
 */
export async function loadTlsCredentials(
  files: { certFile: string; keyFile: string },
  now: Date = new Date(),
): Promise<TlsCredentials> {
  const [cert, key] = await Promise.all([
    readPem(files.certFile, TLS_SETTINGS.cert),
    readPem(files.keyFile, TLS_SETTINGS.key),
  ]);
  let first: X509Certificate;
  try {
    first = new X509Certificate(cert);
  } catch {
    throw new TlsCredentialsError(`${TLS_SETTINGS.cert}: not a PEM certificate`);
  }
  try {
    // Fails on a key that is not PEM or does not belong to the certificate.
    createSecureContext({ cert, key });
  } catch {
    throw new TlsCredentialsError(`${TLS_SETTINGS.key}: not the PEM private key of the certificate`);
  }
  const validFrom = new Date(first.validFrom);
  const validTo = new Date(first.validTo);
  if (now < validFrom || now > validTo) {
    throw new TlsCredentialsError(
      `${TLS_SETTINGS.cert}: the certificate is valid from ${validFrom.toISOString()} to ${validTo.toISOString()}`,
    );
  }
  return { cert, key, validTo };
}
