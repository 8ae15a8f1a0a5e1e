import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  SQSClient,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { OutgoingMessage } from '../../lambdas/adapters/queue/queue.js';
import { SqlQueue } from '../../lambdas/adapters/queue/sql-queue.js';
import type { SqlExecutor } from '../../lambdas/adapters/sql/executor.js';
import { migrate } from '../../lambdas/adapters/sql/migrate.js';
import { createPgliteExecutor } from '../../lambdas/adapters/sql/pglite.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type RedriveDeps, runRedrive } from '../../scripts/hl7-redrive.js';

const execFileAsync = promisify(execFile);
const QUEUE = 'hl7-inbound';
const DLQ = 'hl7-inbound-dlq';
const POISON = 'PoisonMessageError (unsupported-message): ORM^O01 messages are not processed by PFI';
const DLQ_ARN = 'arn:aws:sqs:eu-west-3:123456789012:pfi-hl7-inbound-dlq.fifo';
const QUEUE_ARN = 'arn:aws:sqs:eu-west-3:123456789012:pfi-hl7-inbound.fifo';
const ONCE = { max: 100, visibilityTimeoutSeconds: 60, maxReceives: 1 };

/** A queue body quoting a (fictitious) patient: it must never be printed. */
const message = (n: number, groupId = `group-${n}`): OutgoingMessage => ({
  body: JSON.stringify({ message: `MSH|...\rPID|||IPP${n}^^^CHU||Durand^Anne`, receivedAt: '2026-03-05T10:30:00Z' }),
  groupId,
  deduplicationId: `dedup-${n}`,
});

/** Sends the messages, fails each once (maxReceives 1) with `errors[i]`, and lets the next receive dead-letter them. */
async function deadLetters(queue: SqlQueue, messages: OutgoingMessage[], errors: (string | undefined)[]) {
  await queue.send(QUEUE, messages);
  const received = await queue.receive(QUEUE, ONCE);
  for (const [i, m] of received.entries()) {
    await queue.release(QUEUE, m.receipt, { delaySeconds: 0, ...(errors[i] ? { error: errors[i] } : {}) });
  }
  expect(await queue.receive(QUEUE, ONCE)).toEqual([]);
}

/** runRedrive with captured output. */
async function run(argv: string[], deps: Partial<RedriveDeps> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runRedrive(argv, {
    env: {},
    out: (line) => out.push(line),
    err: (line) => err.push(line),
    ...deps,
  });
  return { code, out, err: err.join('\n') };
}

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pfi-hl7-redrive-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('runRedrive on a local queue (PGlite executor)', () => {
  let db: SqlExecutor;
  let queue: SqlQueue;

  beforeAll(async () => {
    db = await createPgliteExecutor();
    await migrate(db);
    queue = new SqlQueue(db);
  });
  afterAll(async () => {
    await db?.close();
  });
  beforeEach(async () => {
    await db.query('DELETE FROM queue_message');
    await db.query('DELETE FROM queue_dedup');
  });

  const local = (argv: string[]) => run(argv, { env: { PFI_DATA_DIR: join(dir, 'unused') }, database: db });

  it('--dry-run prints the count and each last error, never a body, and moves nothing', async () => {
    await deadLetters(
      queue,
      [message(1), message(2), message(3)],
      [POISON, undefined, 'FhirError (fhir-422):\nline two'],
    );
    await queue.send(QUEUE, [message(4)]);

    const result = await local(['--dry-run']);

    expect(result.code).toBe(EXIT_OK);
    expect(result.err).toBe('');
    expect(result.out[0]).toBe(`3 dead letter(s) in ${DLQ}`);
    expect(result.out.slice(1, 4)).toEqual([
      expect.stringMatching(
        new RegExp(
          `^ {2}#\\d+ sent \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ, 1 attempt\\(s\\), group group-1: ${escapeRegExp(POISON)}$`,
        ),
      ),
      expect.stringMatching(/^ {2}#\d+ sent .*, group group-2: \(no error recorded\)$/),
      expect.stringMatching(/group group-3: FhirError \(fhir-422\): line two$/),
    ]);
    expect(result.out.at(-1)).toBe('dry run: nothing moved');
    expect(result.out).toHaveLength(5);
    expect(result.out.join('\n')).not.toMatch(/Durand|IPP\d|MSH/);
    expect(await queue.depth(QUEUE)).toEqual({ visible: 1, inFlight: 0, deadLetter: 3 });
  });

  it('moves the dead letters back with a fresh receive count and prints the depth', async () => {
    await deadLetters(queue, [message(1), message(2)], [POISON, POISON]);
    await queue.send(QUEUE, [message(3)]);

    const result = await local([]);

    expect(result).toEqual({
      code: EXIT_OK,
      out: [`2 message(s) moved back to ${QUEUE}`, `${QUEUE}: 3 waiting, 0 in flight, 0 dead letter(s)`],
      err: '',
    });
    const back = await queue.receive(QUEUE, { ...ONCE, maxReceives: 5 });
    expect(back.map((m) => [m.groupId, m.receiveCount, m.lastError])).toEqual([
      ['group-1', 1, POISON],
      ['group-2', 1, POISON],
      ['group-3', 1, undefined],
    ]);
  });

  it('says so when there is nothing to move', async () => {
    const result = await local([]);
    expect(result.code).toBe(EXIT_OK);
    expect(result.out[0]).toBe(`0 message(s) moved back to ${QUEUE}`);
    expect((await local(['--dry-run'])).out).toEqual([`0 dead letter(s) in ${DLQ}`, 'dry run: nothing moved']);
  });

  it('exits 1 when the database fails, without closing a database it did not open', async () => {
    const failing: SqlExecutor = {
      ...db,
      query: async () => {
        throw new Error('terminating connection due to administrator command');
      },
    };
    const result = await run([], { env: { PFI_DATA_DIR: join(dir, 'unused') }, database: failing });
    expect(result.code).toBe(EXIT_FAILURE);
    expect(result.err).toBe('hl7:redrive: Error: terminating connection due to administrator command');
    expect((await db.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  });
});

describe('runRedrive on the configured embedded database', () => {
  it('opens PGlite in $PFI_DATA_DIR under its lock, moves the dead letters and releases everything', async () => {
    const dataDir = join(dir, 'data');
    const prepare = await createPgliteExecutor(join(dataDir, 'pg'));
    await migrate(prepare);
    await deadLetters(new SqlQueue(prepare), [message(1)], [POISON]);
    await prepare.close();

    const result = await run([], { env: { PFI_DATA_DIR: dataDir } });

    expect(result.err).toBe('');
    expect(result.code).toBe(EXIT_OK);
    expect(result.out[0]).toBe(`1 message(s) moved back to ${QUEUE}`);
    expect(existsSync(join(dataDir, 'pfi.lock'))).toBe(false);
    const reopened = await createPgliteExecutor(join(dataDir, 'pg'));
    try {
      expect(await new SqlQueue(reopened).depth(QUEUE)).toEqual({ visible: 1, inFlight: 0, deadLetter: 0 });
    } finally {
      await reopened.close();
    }
  });

  it('exits 2 without opening the database while the platform holds the data directory', async () => {
    const dataDir = join(dir, 'busy');
    await mkdir(dataDir, { recursive: true });
    // A live process other than this one owns the lock, as `npm start` would.
    await writeFile(join(dataDir, 'pfi.lock'), String(process.ppid));

    const result = await run([], { env: { PFI_DATA_DIR: dataDir } });

    expect(result.code).toBe(EXIT_USAGE);
    expect(result.err).toContain('in use by another process');
    expect(result.err).toContain('Stop the platform first');
    expect(result.err).toContain('DATABASE_URL');
    expect(result.out).toEqual([]);
    expect(await readFile(join(dataDir, 'pfi.lock'), 'utf8')).toBe(String(process.ppid));
    expect(existsSync(join(dataDir, 'pg'))).toBe(false);
  });

  it('exits 2 on an invalid configuration, naming the variable only', async () => {
    const result = await run([], { env: { PFI_DATA_DIR: dir, PFI_HTTP_PORT: 'port-4821' } });
    expect(result.code).toBe(EXIT_USAGE);
    expect(result.err).toContain('PFI_HTTP_PORT');
    expect(result.err).not.toContain('port-4821');
  });
});

describe('runRedrive in AWS (SQS message move task)', () => {
  const sqs = mockClient(SQSClient);
  const client = () => new SQSClient({ region: 'eu-west-3' });
  const aws = { PFI_HL7_DLQ_ARN: DLQ_ARN, PFI_HL7_QUEUE_ARN: QUEUE_ARN };

  beforeAll(() => {
    vi.stubEnv('AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED', 'true');
  });
  afterAll(() => {
    vi.unstubAllEnvs();
  });
  afterEach(() => {
    sqs.reset();
  });

  it('starts StartMessageMoveTask from the dead-letter queue to the queue and prints the task handle', async () => {
    sqs.on(StartMessageMoveTaskCommand).resolves({ TaskHandle: 'eyJ0YXNrSWQiOiJ0ZXN0In0=' });
    const dataDir = join(dir, 'aws-untouched');

    const result = await run([], { env: { ...aws, PFI_DATA_DIR: dataDir }, sqs: client() });

    expect(result.code).toBe(EXIT_OK);
    const calls = sqs.commandCalls(StartMessageMoveTaskCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.args[0].input).toEqual({ SourceArn: DLQ_ARN, DestinationArn: QUEUE_ARN });
    expect(result.out[0]).toBe('message move task started: eyJ0YXNrSWQiOiJ0ZXN0In0=');
    expect(result.out[1]).toContain(`--source-arn ${DLQ_ARN}`);
    // The local database is not involved.
    expect(existsSync(dataDir)).toBe(false);
  });

  it('--dry-run prints the approximate dead-letter count and moves nothing', async () => {
    const url = 'https://sqs.eu-west-3.amazonaws.com/123456789012/pfi-hl7-inbound-dlq.fifo';
    sqs.on(GetQueueUrlCommand).resolves({ QueueUrl: url });
    sqs.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: '7' } });

    const result = await run(['--dry-run'], { env: aws, sqs: client() });

    expect(result.code).toBe(EXIT_OK);
    expect(sqs.commandCalls(GetQueueUrlCommand)[0]?.args[0].input).toEqual({
      QueueName: 'pfi-hl7-inbound-dlq.fifo',
      QueueOwnerAWSAccountId: '123456789012',
    });
    expect(sqs.commandCalls(GetQueueAttributesCommand)[0]?.args[0].input).toEqual({
      QueueUrl: url,
      AttributeNames: ['ApproximateNumberOfMessages'],
    });
    expect(sqs.commandCalls(StartMessageMoveTaskCommand)).toHaveLength(0);
    expect(result.out[0]).toBe('about 7 message(s) in pfi-hl7-inbound-dlq.fifo');
    expect(result.out.at(-1)).toContain('dry run: nothing moved');
  });

  it('exits 1 with the AWS error when the task cannot start', async () => {
    const denied = Object.assign(new Error('A message move task is already running'), {
      name: 'UnsupportedOperation',
    });
    sqs.on(StartMessageMoveTaskCommand).rejects(denied);

    const result = await run([], { env: aws, sqs: client() });

    expect(result.code).toBe(EXIT_FAILURE);
    expect(result.err).toBe('hl7:redrive: UnsupportedOperation: A message move task is already running');
    expect(result.out).toEqual([]);
  });

  it.each([
    ['only the dead-letter queue ARN', { PFI_HL7_DLQ_ARN: DLQ_ARN }, /set both PFI_HL7_DLQ_ARN and PFI_HL7_QUEUE_ARN/],
    ['only the queue ARN', { PFI_HL7_QUEUE_ARN: QUEUE_ARN }, /set both/],
    [
      'a queue URL instead of an ARN',
      { ...aws, PFI_HL7_QUEUE_ARN: 'https://sqs.eu-west-3.amazonaws.com/1/q' },
      /PFI_HL7_QUEUE_ARN must be the ARN/,
    ],
    [
      'an ARN of another service',
      { ...aws, PFI_HL7_DLQ_ARN: 'arn:aws:sns:eu-west-3:123456789012:t' },
      /PFI_HL7_DLQ_ARN must be the ARN/,
    ],
  ])('exits 2 with %s', async (_, env, message) => {
    const result = await run([], { env, sqs: client() });
    expect(result.code).toBe(EXIT_USAGE);
    expect(result.err).toMatch(message);
    expect(sqs.calls()).toHaveLength(0);
  });
});

describe('command line', () => {
  it.each([['--help'], ['-h']])('%s prints the usage and exits 0', async (flag) => {
    const result = await run([flag]);
    expect(result.code).toBe(EXIT_OK);
    expect(result.out.join('\n')).toContain('usage: npm run hl7:redrive [-- --dry-run]');
  });

  it.each([[['--bogus']], [['extra']], [['--dry-run=yes']]])('exits 2 with the usage on %j', async (argv) => {
    const result = await run(argv);
    expect(result.code).toBe(EXIT_USAGE);
    expect(result.err).toContain('usage: npm run hl7:redrive');
  });

  it('runs as `npm run hl7:redrive` does (the entry point only runs when executed)', async () => {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PFI_')));
    const { stdout } = await execFileAsync(process.execPath, ['--import', 'tsx', 'scripts/hl7-redrive.ts', '--help'], {
      env,
    });
    expect(stdout).toContain('usage: npm run hl7:redrive');
    const bad = await execFileAsync(process.execPath, ['--import', 'tsx', 'scripts/hl7-redrive.ts', '--bogus'], {
      env,
    }).catch((err: { code?: number; stderr?: string }) => err);
    expect(bad).toMatchObject({ code: EXIT_USAGE, stderr: expect.stringContaining("Unknown option '--bogus'") });
  });
});

/** Escapes a literal for a RegExp. */
function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
