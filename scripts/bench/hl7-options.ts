import { parseArgs } from 'node:util';
import { DEFAULT_PG_URL, UsageError, wholeNumber } from './fhir-options.js';

/** Command line of `npm run bench -- hl7`. */

export type Hl7Backend = 'embedded' | 'pg';

export interface Hl7BenchOptions {
  backends: Hl7Backend[];
  /** Run part (a), parse + map on one core. */
  parse: boolean;
  /** Run part (b), end to end over MLLP. */
  e2e: boolean;
  /** ADT messages sent end to end. */
  messages: number;
  /** Distinct ADT messages of the platform's warm-up before the measured run; 0: none. */
  warmUpMessages: number;
  connections: number;
  /** Messages the ingest worker applies as one batch; undefined: the platform's default. */
  workerConcurrency: number | undefined;
  /** Measured seconds per parser and message type (after the warm-up). */
  parseSeconds: number;
  parseWarmupSeconds: number;
  pgUrl: string;
  /** Longest wait, after the last ACK, for every message to be applied. */
  applyTimeoutSeconds: number;
  /** Where the MLLP load client runs: its own thread (default) or the platform's event loop. */
  client: 'thread' | 'inline';
  quick: boolean;
}

export const HL7_BENCH_USAGE = `usage: npm run bench -- hl7 [options]
  (a) parse + map on one core, ADT and ORU, next to @medplum/core's Hl7Message.parse;
  (b) end to end over MLLP on the local platform (bridge → queue with group commit → worker → FHIR store),
      next to a bare MLLP server that ACKs at once (the ceiling).
  --backend B             embedded, pg or both (default both)
  --only parse|e2e        run one part only
  --messages N            distinct ADT messages sent end to end, 4 per patient (default 20000)
  --warm-up N             distinct ADT messages the platform is warmed up with, sent 5 times, before the measured
                          run (default 4000; 0: measure a platform just started)
  --connections C         MLLP connections, each sending one message at a time (default 50)
  --worker-concurrency N  messages the ingest worker applies as one batch (default: the platform's, 64)
  --duration-parse S      measured seconds per parser and message type, after a warm-up (default 3)
  --pg-url URL            PostgreSQL server (default $PFI_BENCH_DATABASE_URL or ${DEFAULT_PG_URL});
                          the bench creates a database pfi_bench_<random> in it and drops it at the end
  --apply-timeout S       longest wait for every message to be in FHIR after the last ACK (default 300)
  --client thread|inline  run the load client in its own thread (default) or on the platform's event loop
  --quick                 smoke run: 2000 messages, 1 s per parser (explicit options still apply)`;

/** Parses the options after `hl7`; throws {@link UsageError} on anything unknown or out of range. */
export function parseHl7BenchArgs(argv: string[], env: NodeJS.ProcessEnv = {}): Hl7BenchOptions {
  let values: Record<string, string | boolean | undefined>;
  try {
    const text = { type: 'string' } as const;
    ({ values } = parseArgs({
      args: argv,
      options: {
        backend: text,
        only: text,
        messages: text,
        'warm-up': text,
        connections: text,
        'worker-concurrency': text,
        'duration-parse': text,
        'pg-url': text,
        'apply-timeout': text,
        client: text,
        quick: { type: 'boolean' },
      },
      allowPositionals: false,
      strict: true,
    }));
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  const str = (name: string) => values[name] as string | undefined;
  const quick = values['quick'] === true;
  const backend = str('backend') ?? 'both';
  if (!['embedded', 'pg', 'both'].includes(backend)) throw new UsageError('--backend must be embedded, pg or both');
  const only = str('only');
  if (only !== undefined && only !== 'parse' && only !== 'e2e') throw new UsageError('--only must be parse or e2e');
  const client = str('client') ?? 'thread';
  if (client !== 'thread' && client !== 'inline') throw new UsageError('--client must be thread or inline');
  const pgUrl = str('pg-url') ?? (env['PFI_BENCH_DATABASE_URL'] || DEFAULT_PG_URL);
  if (!/^postgres(ql)?:\/\//.test(pgUrl)) throw new UsageError('--pg-url must be a postgres:// URL');
  const parseSeconds = wholeNumber('duration-parse', str('duration-parse'), 1, 600) ?? (quick ? 1 : 3);
  return {
    backends: backend === 'both' ? ['embedded', 'pg'] : [backend as Hl7Backend],
    parse: only !== 'e2e',
    e2e: only !== 'parse',
    messages: wholeNumber('messages', str('messages'), 1, 1_000_000) ?? (quick ? 2000 : 20_000),
    warmUpMessages: wholeNumber('warm-up', str('warm-up'), 0, 100_000) ?? (quick ? 400 : 4000),
    connections: wholeNumber('connections', str('connections'), 1, 100) ?? 50,
    workerConcurrency: wholeNumber('worker-concurrency', str('worker-concurrency'), 1, 500),
    parseSeconds,
    parseWarmupSeconds: quick ? 0.5 : 1,
    pgUrl,
    applyTimeoutSeconds: wholeNumber('apply-timeout', str('apply-timeout'), 1, 3600) ?? 300,
    client,
    quick,
  };
}
