/**
 * Secrets port: a secret's text by its ARN. In AWS, Secrets Manager (the MSSanté client certificate, the annuaire API
 * key); locally there is none, the configuration names files or values instead. Values are never logged, and errors
 * name the secret's role, not its value.
 */

import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

export type SecretReader = (arn: string) => Promise<string>;

export class SecretError extends Error {
  override readonly name = 'SecretError';
}

/** Reads secrets from Secrets Manager (each read once per process: a rotation takes effect at the next cold start). */
export function secretsManagerReader(client: SecretsManagerClient): SecretReader {
  const cache = new Map<string, Promise<string>>();
  return (arn) => {
    let value = cache.get(arn);
    if (!value) {
      value = client.send(new GetSecretValueCommand({ SecretId: arn })).then((r) => {
        if (typeof r.SecretString !== 'string' || r.SecretString === '') {
          throw new SecretError('the secret has no text value');
        }
        return r.SecretString;
      });
      cache.set(arn, value);
      value.catch(() => cache.delete(arn));
    }
    return value;
  };
}
