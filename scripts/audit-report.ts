/**
 * `npm run audit:report -- --patient <id> [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--format csv|json]`: the DPO's
 * access report — who accessed a patient's data, when, how and from where — from the AuditEvents naming the patient
 * (every interaction on the patient's compartment names it). Technical ids only, as the AuditEvents themselves.
 *
 * Like audit:verify it opens a free embedded database, or asks the running platform (its FHIR API, with a local
 * token that may read AuditEvents) when `npm start` holds the directory; a PostgreSQL server is read directly.
 * The report is an access too: the platform audits its reading when asked over HTTP.
 */

import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { SqlExecutor } from '../lambdas/adapters/sql/executor.js';
import { loadOrCreateLocalKeys, signLocalToken } from '../lambdas/auth/local-keys.js';
import { parseScopes } from '../lambdas/auth/scopes.js';
import { type Config, ConfigError, loadConfig } from '../lambdas/config.js';
import { FhirRepository } from '../lambdas/fhir/repository/repository.js';
import { encodeCursor } from '../lambdas/fhir/search/sql.js';
import { FhirService } from '../lambdas/fhir/service.js';
import { DatabaseUnreachableError, withPlatformDatabase } from './platform-database.js';

export const EXIT_OK = 0;
export const EXIT_USAGE = 2;
export const EXIT_UNREACHABLE = 3;

const USAGE = `usage: npm run audit:report -- --patient <id> [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--format csv|json]
  lists who accessed the patient's data (AuditEvents naming Patient/<id>), oldest first
  in AWS, infrastructure access (console, API calls) is in CloudTrail: see docs/deploy.md`;

export interface ReportRow {
  recorded: string;
  agent: string;
  address: string;
  event: string;
  action: string;
  outcome: string;
  resources: string;
}

export interface ReportDeps {
  env: NodeJS.ProcessEnv;
  out(line: string): void;
  err(line: string): void;
  database?: SqlExecutor;
}

// biome-ignore lint/suspicious/noExplicitAny: AuditEvent JSON read field by field with fallbacks
type Json = Record<string, any>;

/** One report row of an AuditEvent. */
export function rowOf(e: Json): ReportRow {
  const agent = e.agent?.[0] ?? {};
  return {
    recorded: String(e.recorded ?? ''),
    agent: String(agent.who?.identifier?.value ?? agent.who?.display ?? agent.altId ?? ''),
    address: String(agent.network?.address ?? ''),
    event: String(e.subtype?.[0]?.code ?? e.type?.code ?? ''),
    action: String(e.action ?? ''),
    outcome: String(e.outcome ?? ''),
    resources: ((e.entity ?? []) as Json[])
      .map((x) => x.what?.reference)
      .filter((r): r is string => typeof r === 'string')
      .join(' '),
  };
}

const csvCell = (v: string) => (/[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);

export function formatRows(rows: ReportRow[], format: 'csv' | 'json'): string[] {
  if (format === 'json') return [JSON.stringify(rows, null, 2)];
  const columns = ['recorded', 'agent', 'address', 'event', 'action', 'outcome', 'resources'] as const;
  return [columns.join(','), ...rows.map((r) => columns.map((c) => csvCell(r[c])).join(','))];
}

function searchParams(patient: string, from?: string, to?: string): [string, string][] {
  const params: [string, string][] = [
    ['patient', `Patient/${patient}`],
    ['_sort', 'date'],
    ['_count', '1000'],
  ];
  if (from) params.push(['date', `ge${from}`]);
  if (to) params.push(['date', `le${to}`]);
  return params;
}

async function viaDatabase(db: SqlExecutor, params: [string, string][]): Promise<Json[]> {
  const service = new FhirService(new FhirRepository(db));
  const auth = {
    subject: 'pfi-audit-report',
    clientId: 'pfi-audit-report',
    scopes: parseScopes('system/AuditEvent.rs'),
  };
  const events: Json[] = [];
  let cursor: string | undefined;
  do {
    const { result } = await service.search(auth, 'AuditEvent', cursor ? [...params, ['_cursor', cursor]] : params);
    events.push(...result.matches.map((m) => JSON.parse(m.json) as Json));
    cursor = result.next ? encodeCursor(result.next) : undefined;
  } while (cursor);
  return events;
}

async function viaPlatform(config: Config, params: [string, string][]): Promise<Json[]> {
  const keys = await loadOrCreateLocalKeys(join(config.dataDir, 'keys'));
  const token = await signLocalToken(keys, {
    scopes: 'system/AuditEvent.rs',
    ttlSeconds: 300,
    clientId: 'pfi-audit-report',
  });
  const events: Json[] = [];
  let url: string | undefined =
    `http://${config.http.host}:${config.http.port}/fhir/AuditEvent?${new URLSearchParams(params).toString()}`;
  while (url) {
    const res: Response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    if (!res.ok) throw new Error(`the platform answered ${res.status}`);
    const bundle = (await res.json()) as Json;
    events.push(...((bundle.entry ?? []) as Json[]).map((e) => e.resource));
    url = ((bundle.link ?? []) as Json[]).find((l) => l.relation === 'next')?.url;
  }
  return events;
}

export async function runAuditReport(argv: string[], deps: ReportDeps): Promise<number> {
  let values: { patient?: string; from?: string; to?: string; format?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        patient: { type: 'string' },
        from: { type: 'string' },
        to: { type: 'string' },
        format: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (err) {
    deps.err(`audit:report: ${err instanceof Error ? err.message : String(err)}\n${USAGE}`);
    return EXIT_USAGE;
  }
  if (values.help) {
    deps.out(USAGE);
    return EXIT_OK;
  }
  const format = values.format ?? 'csv';
  const date = /^\d{4}-\d{2}-\d{2}$/;
  if (!values.patient || !/^[A-Za-z0-9.-]{1,64}$/.test(values.patient)) {
    deps.err(`audit:report: --patient <id> is required (a FHIR id)\n${USAGE}`);
    return EXIT_USAGE;
  }
  if ((values.from && !date.test(values.from)) || (values.to && !date.test(values.to))) {
    deps.err('audit:report: --from and --to are dates (YYYY-MM-DD)');
    return EXIT_USAGE;
  }
  if (format !== 'csv' && format !== 'json') {
    deps.err('audit:report: --format is csv or json');
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
  const params = searchParams(values.patient, values.from, values.to);
  let events: Json[];
  if (deps.database) {
    events = await viaDatabase(deps.database, params);
  } else {
    try {
      events = await withPlatformDatabase(
        config,
        (db) => viaDatabase(db, params),
        () =>
          viaPlatform(config, params).catch((e: unknown) => {
            throw new Error(`${config.dataDir} is in use and the platform does not answer (${(e as Error).message})`);
          }),
      );
    } catch (err) {
      deps.err(
        err instanceof DatabaseUnreachableError
          ? `audit:report: the database cannot be read (${err.message})`
          : `audit:report: ${err instanceof Error ? err.message : 'error'}`,
      );
      return EXIT_UNREACHABLE;
    }
  }
  for (const line of formatRows(events.map(rowOf), format)) deps.out(line);
  return EXIT_OK;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.exitCode = await runAuditReport(process.argv.slice(2), {
    env: process.env,
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
  });
}
