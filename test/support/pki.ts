/**
 * A throw-away PKI for the TLS tests, made with selfsigned: a private CA, a server certificate for
 * localhost/127.0.0.1 and a client certificate with the clientAuth extended key usage (a BAL applicative).
 */

import { generate } from 'selfsigned';

export interface KeyPair {
  key: string;
  cert: string;
}

export interface TestPki {
  ca: string;
  server: KeyPair;
  client: KeyPair;
}

const EC = { keyType: 'ec', curve: 'P-256', algorithm: 'sha256' } as const;

async function authority(cn: string) {
  return generate([{ name: 'commonName', value: cn }], {
    ...EC,
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    ],
  });
}

/** Generates a CA and a server and a client certificate it issued (about 50 ms). */
export async function createTestPki(): Promise<TestPki> {
  const ca = await authority('PFI test CA');
  const signer = { key: ca.private, cert: ca.cert };
  const server = await generate([{ name: 'commonName', value: 'localhost' }], {
    ...EC,
    ca: signer,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
        ],
      },
    ],
  });
  const client = await generate([{ name: 'commonName', value: 'pfi-bal-applicative.test' }], {
    ...EC,
    ca: signer,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, critical: true },
      { name: 'extKeyUsage', clientAuth: true },
    ],
  });
  return {
    ca: ca.cert,
    server: { key: server.private, cert: server.cert },
    client: { key: client.private, cert: client.cert },
  };
}
