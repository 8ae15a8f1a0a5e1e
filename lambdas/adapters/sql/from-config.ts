import type { Config } from '../../config.js';
import type { SqlExecutor } from './executor.js';

/**
 * Builds the SQL executor the configuration names: PGlite (default), `pg` (DATABASE_URL) or the Data API.
 * Adapters are imported on demand so a Lambda bundle does not load PGlite's WASM or `pg`.
 */
export async function executorFromConfig(db: Config['database']): Promise<SqlExecutor> {
  switch (db.kind) {
    case 'pglite': {
      const { createPgliteExecutor } = await import('./pglite.js');
      return createPgliteExecutor(db.dataDir);
    }
    case 'pg': {
      const { createPgExecutor } = await import('./pg.js');
      return createPgExecutor(db.url, 10, { boundedStatementMs: db.searchTimeoutMs });
    }
    case 'data-api': {
      const [{ RDSDataClient }, { createDataApiExecutor }] = await Promise.all([
        import('@aws-sdk/client-rds-data'),
        import('./data-api.js'),
      ]);
      return createDataApiExecutor({
        // AWS advises client timeouts of at least 60 s so an SDK retry never duplicates a 45 s statement.
        client: new RDSDataClient({ requestHandler: { requestTimeout: 60_000, connectionTimeout: 5_000 } }),
        resourceArn: db.clusterArn,
        secretArn: db.secretArn,
        database: db.database,
      });
    }
  }
}
