/**
 * `npm run erasure:reapply`: after a database restore, erases again every patient the erasure journal names (the
 * journal copies live in the document store — S3 with Object Lock in AWS — which a database restore does not touch),
 * so a backup never brings an erased patient back. Run it after every restore, before opening the platform to users.
 * Exit 0 done, 2 usage/configuration or the data directory in use, 3 when the database cannot be read.
 */

import { pathToFileURL } from 'node:url';
import { documentStoreFromConfig } from '../lambdas/adapters/documents/from-config.js';
import type { SqlExecutor } from '../lambdas/adapters/sql/executor.js';
import { migrate } from '../lambdas/adapters/sql/migrate.js';
import { reapplyErasures } from '../lambdas/audit/erasure.js';
import { directAuditRecorder } from '../lambdas/audit/recorder.js';
import { parseScopes } from '../lambdas/auth/scopes.js';
import { ConfigError, loadConfig } from '../lambdas/config.js';
import { databaseArchive, documentArchive } from '../lambdas/hl7/raw-archive.js';
import { withPlatformDatabase } from './platform-database.js';

export async function runErasureReapply(
  argv: string[],
  deps: { env: NodeJS.ProcessEnv; out(line: string): void; err(line: string): void; database?: SqlExecutor },
): Promise<number> {
  if (argv.length) {
    deps.err('usage: npm run erasure:reapply   (after a database restore; stop `npm start` first locally)');
    return 2;
  }
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(deps.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      deps.err(err.message);
      return 2;
    }
    throw err;
  }
  const reapply = async (db: SqlExecutor) => {
    const documents = await documentStoreFromConfig(config.documents);
    const archive = config.hl7.rawArchive === 'database' ? databaseArchive(db) : documentArchive(documents);
    const auth = { subject: 'pfi-erasure-reapply', clientId: 'pfi-erasure-reapply', scopes: parseScopes('') };
    const again = await reapplyErasures({ db, documents, archive, audit: directAuditRecorder(db) }, auth);
    deps.out(
      `erased again: ${again.length} patient(s)${again.length ? ` (${again.map((id) => `Patient/${id}`).join(', ')})` : ''}`,
    );
    return 0;
  };
  try {
    if (deps.database) {
      await migrate(deps.database);
      return await reapply(deps.database);
    }
    return await withPlatformDatabase(config, reapply, async (busy) => {
      deps.err(`erasure:reapply: ${busy.message}`);
      return 2;
    });
  } catch (err) {
    deps.err(`erasure:reapply: ${err instanceof Error ? err.name : 'error'}`);
    return 3;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.exitCode = await runErasureReapply(process.argv.slice(2), {
    env: process.env,
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
  });
}
