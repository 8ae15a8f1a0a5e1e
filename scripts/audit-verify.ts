/**
 * `npm run audit:verify`: recomputes the audit chain and its seals, prints a summary and the first broken link, exits
 * 1 on any break (0 when intact, 2 on a usage or configuration error, 3 when the database cannot be reached).
 *
 * It works whether or not the platform is running: a PostgreSQL server (DATABASE_URL, Aurora) is opened directly; an
 * embedded database is opened only when its directory is free — when `npm start` holds it, the running platform is
 * asked (`GET /audit/verify` on its HTTP port, with a local token), since two processes must never open one PGlite
 * directory.
 */

import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { SqlExecutor } from '../lambdas/adapters/sql/executor.js';
import { type VerifyReport, verifyAuditChain } from '../lambdas/audit/chain.js';
import { sealKeyFromConfig } from '../lambdas/audit/seal-key.js';
import { loadOrCreateLocalKeys, signLocalToken } from '../lambdas/auth/local-keys.js';
import { type Config, ConfigError, loadConfig } from '../lambdas/config.js';
import { DatabaseUnreachableError, withPlatformDatabase } from './platform-database.js';

export const EXIT_OK = 0;
export const EXIT_BROKEN = 1;
export const EXIT_USAGE = 2;
export const EXIT_UNREACHABLE = 3;

const USAGE = `usage: npm run audit:verify
  recomputes the hash chain of the AuditEvents and the MACs of its seals; exit 0 intact, 1 broken
  the platform database: PGlite in $PFI_DATA_DIR (asks the running platform when \`npm start\` holds it), or DATABASE_URL`;

export interface VerifyDeps {
  env: NodeJS.ProcessEnv;
  out(line: string): void;
  err(line: string): void;
  /** A database to verify instead of the configured one (neither locked nor closed). */
  database?: SqlExecutor;
}

/** The report as lines (counts, windows, the first break): technical ids only. */
export function formatReport(r: VerifyReport): string[] {
  const lines = [
    `AuditEvents: ${r.auditEvents}, chained: ${r.chained}, seals: ${r.seals}, rows after the last seal: ${r.unsealedRows}`,
    `not yet chained: ${r.unchained}${r.oldestUnchainedSeconds === undefined ? '' : ` (oldest ${r.oldestUnchainedSeconds} s)`}` +
      (r.lastSealAgeSeconds === undefined ? ', no seal yet' : `, last seal ${r.lastSealAgeSeconds} s ago`),
  ];
  if (r.firstBreak) {
    const at = r.firstBreak.eventId ? ` (AuditEvent/${r.firstBreak.eventId})` : '';
    lines.push(`BROKEN at chain position ${r.firstBreak.position}${at}: ${r.firstBreak.problem}`);
  } else {
    lines.push('chain and seals intact');
  }
  return lines;
}

async function askRunningPlatform(config: Config, deps: VerifyDeps): Promise<number> {
  const keys = await loadOrCreateLocalKeys(join(config.dataDir, 'keys'));
  const token = await signLocalToken(keys, { scopes: 'system/AuditEvent.rs', ttlSeconds: 60 });
  const url = `http://${config.http.host}:${config.http.port}/audit/verify`;
  let res: Response;
  try {
    res = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(120_000) });
  } catch {
    deps.err(`audit:verify: ${config.dataDir} is in use and the platform does not answer at ${url}`);
    return EXIT_UNREACHABLE;
  }
  if (!res.ok) {
    deps.err(`audit:verify: the running platform answered ${res.status}`);
    return EXIT_UNREACHABLE;
  }
  const report = (await res.json()) as VerifyReport;
  deps.out(`(asked the running platform at ${config.http.host}:${config.http.port})`);
  for (const line of formatReport(report)) deps.out(line);
  return report.ok ? EXIT_OK : EXIT_BROKEN;
}

export async function runAuditVerify(argv: string[], deps: VerifyDeps): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    deps.out(USAGE);
    return EXIT_OK;
  }
  if (argv.length) {
    deps.err(`audit:verify: unexpected argument ${argv[0]}\n${USAGE}`);
    return EXIT_USAGE;
  }
  let config: Config;
  try {
    config = loadConfig(deps.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      deps.err(err.message);
      return EXIT_USAGE;
    }
    throw err;
  }
  const key = sealKeyFromConfig(config);
  const verify = async (db: SqlExecutor) => {
    const report = await verifyAuditChain(db, key);
    for (const line of formatReport(report)) deps.out(line);
    return report.ok ? EXIT_OK : EXIT_BROKEN;
  };
  if (deps.database) return verify(deps.database);
  try {
    return await withPlatformDatabase(config, verify, () => askRunningPlatform(config, deps));
  } catch (err) {
    const cause = err instanceof DatabaseUnreachableError ? err.message : err instanceof Error ? err.name : 'error';
    deps.err(`audit:verify: the database cannot be read (${cause})`);
    return EXIT_UNREACHABLE;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.exitCode = await runAuditVerify(process.argv.slice(2), {
    env: process.env,
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
  });
}
