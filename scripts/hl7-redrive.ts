import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import {
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  SQSClient,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import { DEAD_LETTER_SUFFIX } from '../lambdas/adapters/queue/queue.js';
import { SqlQueue } from '../lambdas/adapters/queue/sql-queue.js';
import type { SqlExecutor } from '../lambdas/adapters/sql/executor.js';
import { executorFromConfig } from '../lambdas/adapters/sql/from-config.js';
import { migrate } from '../lambdas/adapters/sql/migrate.js';
import { type Config, ConfigError, loadConfig } from '../lambdas/config.js';
import { DataDirBusyError, lockDataDir } from '../lambdas/fhir/data-dir-lock.js';
import { HL7_INBOUND_QUEUE } from '../lambdas/hl7/queues.js';

/**
 * Moves the dead letters of `hl7-inbound` back to the queue once their cause is fixed:
 *   npm run hl7:redrive [-- --dry-run]
 * Locally, on the embedded queue of the platform database (PGlite in $PFI_DATA_DIR, or DATABASE_URL). In AWS (when
 * PFI_HL7_DLQ_ARN and PFI_HL7_QUEUE_ARN are set), it starts an SQS message move task from the dead-letter queue to
 * the queue. Output names queue ids, attempts and last errors (content-free), never message bodies.
 * Exit codes: 0 done, 1 database or AWS failure, 2 usage, configuration, or the data directory in use.
 */

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

const USAGE = `usage: npm run hl7:redrive [-- --dry-run]
  moves the dead letters of ${HL7_INBOUND_QUEUE} back to the queue (after the cause of their failure is fixed)
  --dry-run  only count the dead letters and print each one's last error
  locally: the platform database (PGlite in $PFI_DATA_DIR, stop \`npm start\` first; or DATABASE_URL)
  in AWS: set PFI_HL7_DLQ_ARN and PFI_HL7_QUEUE_ARN (starts an SQS message move task)`;

/** Dead letters listed by --dry-run; the count covers all of them. */
const LIST_LIMIT = 100;
const SQS_ARN = /^arn:aws[a-z-]*:sqs:([a-z0-9-]+):(\d{12}):([A-Za-z0-9_-]{1,75}(?:\.fifo)?)$/;

const DEAD_LETTERS = `SELECT id::text AS id, group_id, receive_count, last_error,
    to_char(sent_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS sent_at
  FROM queue_message WHERE queue = $1::text ORDER BY id LIMIT $2::int`;

interface DeadLetterRow {
  [column: string]: string | number | boolean | null;
  id: string;
  group_id: string;
  receive_count: number;
  last_error: string | null;
  sent_at: string;
}

/** What {@link runRedrive} needs from its surroundings (tests replace them). */
export interface RedriveDeps {
  env: NodeJS.ProcessEnv;
  /** One line of standard output. */
  out: (line: string) => void;
  /** One line of standard error. */
  err: (line: string) => void;
  /** A database to use instead of the configured one (migrated here if needed); neither locked nor closed. */
  database?: SqlExecutor;
  /** SQS client for the AWS mode; default one from the environment (destroyed afterwards). */
  sqs?: SQSClient;
}

class UsageError extends Error {}

interface AwsTarget {
  dlqArn: string;
  queueArn: string;
}

function parseCommandLine(argv: string[]): { dryRun: boolean; help: boolean } {
  try {
    const { values } = parseArgs({
      args: argv,
      options: { 'dry-run': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: false,
      strict: true,
    });
    return { dryRun: values['dry-run'] === true, help: values.help === true };
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** Both ARNs (AWS mode), neither (local mode), or a UsageError. */
function awsTarget(env: NodeJS.ProcessEnv): AwsTarget | undefined {
  const dlqArn = env.PFI_HL7_DLQ_ARN?.trim() || undefined;
  const queueArn = env.PFI_HL7_QUEUE_ARN?.trim() || undefined;
  if (dlqArn === undefined && queueArn === undefined) return undefined;
  if (dlqArn === undefined || queueArn === undefined) {
    throw new UsageError('set both PFI_HL7_DLQ_ARN and PFI_HL7_QUEUE_ARN (AWS), or neither (local queue)');
  }
  for (const [name, value] of [
    ['PFI_HL7_DLQ_ARN', dlqArn],
    ['PFI_HL7_QUEUE_ARN', queueArn],
  ] as const) {
    if (!SQS_ARN.test(value)) throw new UsageError(`${name} must be the ARN of an SQS queue`);
  }
  return { dlqArn, queueArn };
}

const errorText = (err: unknown) => (err instanceof Error ? `${err.name}: ${err.message}` : String(err));

/** One line, whatever the stored error holds. */
const oneLine = (text: string) => text.replace(/[\r\n\t]+/g, ' ');

/**
 * Starts the SQS message move task (dead-letter queue → queue), or with `dryRun` prints the approximate number of
 * messages in the dead-letter queue.
 */
async function redriveAws(target: AwsTarget, dryRun: boolean, sqs: SQSClient, deps: RedriveDeps): Promise<number> {
  const [, , account, dlqName] = SQS_ARN.exec(target.dlqArn) ?? [];
  try {
    if (dryRun) {
      const { QueueUrl } = await sqs.send(
        new GetQueueUrlCommand({ QueueName: dlqName, QueueOwnerAWSAccountId: account }),
      );
      const { Attributes } = await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }),
      );
      deps.out(`about ${Attributes?.ApproximateNumberOfMessages ?? '?'} message(s) in ${dlqName}`);
      deps.out("their errors are in the hl7-ingest logs ('hl7 attempt failed'); dry run: nothing moved");
      return EXIT_OK;
    }
    const { TaskHandle } = await sqs.send(
      new StartMessageMoveTaskCommand({ SourceArn: target.dlqArn, DestinationArn: target.queueArn }),
    );
    deps.out(`message move task started: ${TaskHandle ?? '(no handle returned)'}`);
    deps.out(`follow it with: aws sqs list-message-move-tasks --source-arn ${target.dlqArn}`);
    return EXIT_OK;
  } catch (err) {
    // AWS errors name the queue and the refused action, never message contents.
    deps.err(`hl7:redrive: ${errorText(err)}`);
    return EXIT_FAILURE;
  }
}

/** Prints the dead-letter count and, for each dead letter, its id, attempts and last error (never its body). */
async function listDeadLetters(db: SqlExecutor, queue: SqlQueue, out: (line: string) => void): Promise<void> {
  const dlq = `${HL7_INBOUND_QUEUE}${DEAD_LETTER_SUFFIX}`;
  const { deadLetter } = await queue.depth(HL7_INBOUND_QUEUE);
  out(`${deadLetter} dead letter(s) in ${dlq}`);
  const rows = await db.query<DeadLetterRow>(DEAD_LETTERS, [dlq, LIST_LIMIT], { readOnly: true });
  for (const r of rows.rows) {
    // Group ids are hashes of facility and IPP (or the facility): shortened, they show which letters share a patient.
    const group = r.group_id.length > 12 ? `${r.group_id.slice(0, 12)}…` : r.group_id;
    const error = r.last_error === null ? '(no error recorded)' : oneLine(r.last_error);
    out(`  #${r.id} sent ${r.sent_at}, ${r.receive_count} attempt(s), group ${group}: ${error}`);
  }
  if (deadLetter > rows.rows.length) out(`  … and ${deadLetter - rows.rows.length} more`);
  out('dry run: nothing moved');
}

/** Opens the configured database, holding the data-directory lock for the embedded one. */
async function openConfigured(config: Config): Promise<{ db: SqlExecutor; release: () => void }> {
  const release = config.database.kind === 'pglite' ? lockDataDir(config.dataDir) : () => undefined;
  try {
    return { db: await executorFromConfig(config.database), release };
  } catch (err) {
    release();
    throw err;
  }
}

/** Moves the local dead letters back (or lists them with `dryRun`) on the platform database. */
async function redriveLocal(dryRun: boolean, deps: RedriveDeps): Promise<number> {
  let config: Config;
  try {
    config = loadConfig(deps.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    deps.err(`hl7:redrive: ${err.message}`);
    return EXIT_USAGE;
  }
  let db: SqlExecutor;
  let release: (() => void) | undefined;
  if (deps.database !== undefined) {
    db = deps.database;
  } else {
    try {
      ({ db, release } = await openConfigured(config));
    } catch (err) {
      if (err instanceof DataDirBusyError) {
        // PGlite is single-process: `npm start` holds the directory and its queue.
        deps.err(
          `hl7:redrive: the embedded database in ${config.dataDir} is in use by another process (is \`npm start\` running?). ` +
            'Stop the platform first and run hl7:redrive again, or run both on PostgreSQL with DATABASE_URL.',
        );
        return EXIT_USAGE;
      }
      deps.err(`hl7:redrive: cannot open the database: ${errorText(err)}`);
      return EXIT_FAILURE;
    }
  }
  try {
    await migrate(db);
    const queue = new SqlQueue(db);
    if (dryRun) {
      await listDeadLetters(db, queue, deps.out);
      return EXIT_OK;
    }
    const moved = await queue.redrive(HL7_INBOUND_QUEUE);
    const depth = await queue.depth(HL7_INBOUND_QUEUE);
    deps.out(`${moved} message(s) moved back to ${HL7_INBOUND_QUEUE}`);
    deps.out(
      `${HL7_INBOUND_QUEUE}: ${depth.visible} waiting, ${depth.inFlight} in flight, ${depth.deadLetter} dead letter(s)`,
    );
    return EXIT_OK;
  } catch (err) {
    // SQL errors carry the statement's message, never its parameters.
    deps.err(`hl7:redrive: ${errorText(err)}`);
    return EXIT_FAILURE;
  } finally {
    if (release !== undefined) {
      await db.close().catch(() => undefined);
      release();
    }
  }
}

/**
 * The whole command: parses `argv` (the arguments after the script name), then redrives in AWS or locally.
 *
 * @example
 * ```ts
 * const code = await runRedrive(['--dry-run'], { env: process.env, out: console.log, err: console.error });
 * ```
 * @returns the exit code: 0 done, 1 database or AWS failure, 2 usage, configuration or data directory in use.
 */
export async function runRedrive(argv: string[], deps: RedriveDeps): Promise<number> {
  let args: { dryRun: boolean; help: boolean };
  let target: AwsTarget | undefined;
  try {
    args = parseCommandLine(argv);
    if (args.help) {
      deps.out(USAGE);
      return EXIT_OK;
    }
    target = awsTarget(deps.env);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    deps.err(`hl7:redrive: ${err.message}\n${USAGE}`);
    return EXIT_USAGE;
  }
  if (target === undefined) return redriveLocal(args.dryRun, deps);
  const sqs = deps.sqs ?? new SQSClient({});
  try {
    return await redriveAws(target, args.dryRun, sqs, deps);
  } finally {
    if (deps.sqs === undefined) sqs.destroy();
  }
}

// Run only when executed, so tests can import runRedrive.
const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(resolve(entry)).href) {
  process.exitCode = await runRedrive(process.argv.slice(2), {
    env: process.env,
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
  });
}
