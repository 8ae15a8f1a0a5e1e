import * as kms from 'aws-cdk-lib/aws-kms';
import { describe, expect, it } from 'vitest';
import { FhirDatabase, type FhirDatabaseProps } from '../../../lib/constructs/fhir-database.js';
import { Network } from '../../../lib/constructs/network.js';
import { testStack } from '../cdk-test-app.js';

function props(
  overrides: Partial<FhirDatabaseProps> = {},
): { stack: ReturnType<typeof testStack> } & FhirDatabaseProps {
  const stack = testStack();
  const network = new Network(stack, 'Net', { availabilityZones: ['eu-west-3a', 'eu-west-3b'] });
  return {
    stack,
    vpc: network.vpc,
    subnets: network.databaseSubnets,
    key: new kms.Key(stack, 'Key'),
    databaseName: 'pfi',
    minCapacity: 0.5,
    maxCapacity: 2,
    writerAvailabilityZone: 'eu-west-3a',
    readerAvailabilityZone: 'eu-west-3b',
    ...overrides,
  };
}

describe('FhirDatabase', () => {
  it('exposes the master secret and the database name', () => {
    const p = props();
    const db = new FhirDatabase(p.stack, 'Db', p);
    expect(db.secret).toBe(db.cluster.secret);
    expect(db.databaseName).toBe('pfi');
  });

  it('refuses a writer and a reader in the same zone', () => {
    const p = props({ readerAvailabilityZone: 'eu-west-3a' });
    expect(() => new FhirDatabase(p.stack, 'Db', p)).toThrow(/different availability zones/);
  });

  it('refuses a database name PostgreSQL would fold or reject', () => {
    for (const databaseName of ['Pfi', '1pfi', 'pfi-db', '']) {
      const p = props({ databaseName });
      expect(() => new FhirDatabase(p.stack, 'Db', p), databaseName).toThrow(/lower-case PostgreSQL identifier/);
    }
  });
});
