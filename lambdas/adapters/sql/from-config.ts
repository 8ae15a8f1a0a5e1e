import { RDSDataClient } from '@aws-sdk/client-rds-data';
import type { Config } from '../../config.js';
import { createDataApiExecutor } from './data-api.js';
import type { SqlExecutor } from './executor.js';
import { createPgExecutor } from './pg.js';
import { createPgliteExecutor } from './pglite.js';

/** Builds the SQL executor the configuration names: PGlite (default), `pg` (DATABASE_URL) or the Data API. */
export async function executorFromConfig(db: Config['database']): Promise<SqlExecutor> {
  switch (db.kind) {
    case 'pglite':
      return createPgliteExecutor(db.dataDir);
    case 'pg':
      return createPgExecutor(db.url);
    case 'data-api':
      return createDataApiExecutor({
        // AWS advises client timeouts of at least 60 s so an SDK retry never duplicates a 45 s statement.
        client: new RDSDataClient({ requestHandler: { requestTimeout: 60_000, connectionTimeout: 5_000 } }),
        resourceArn: db.clusterArn,
        secretArn: db.secretArn,
        database: db.database,
      });
  }
}
