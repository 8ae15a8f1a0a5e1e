import { randomBytes } from 'node:crypto';
import { createPgExecutor } from '../lambdas/adapters/sql/pg.js';

/** A fresh database `<prefix>_<random>` on the PostgreSQL server of `adminUrl` (benchmarks, chaos runs). */
export interface ScratchDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

/** Creates the database; `drop()` removes it, closing the connections still open on it. */
export async function scratchDatabase(adminUrl: string, prefix: string): Promise<ScratchDatabase> {
  if (!/^[a-z_][a-z0-9_]*$/.test(prefix)) throw new RangeError('prefix must be a lower-case SQL identifier');
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  const admin = createPgExecutor(adminUrl, 1);
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } catch (err) {
    await admin.close();
    throw err;
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    async drop() {
      try {
        await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await admin.close();
      }
    },
  };
}
