import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { GetObjectCommand, type GetObjectCommandOutput, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { GetQueueUrlCommand, SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { FileDocumentStore } from '../../lambdas/adapters/documents/file-store.js';
import { SqlQueue } from '../../lambdas/adapters/queue/sql-queue.js';
import type { SqlExecutor } from '../../lambdas/adapters/sql/executor.js';
import { migrate } from '../../lambdas/adapters/sql/migrate.js';
import { createPgliteExecutor } from '../../lambdas/adapters/sql/pglite.js';
import { FhirRepository } from '../../lambdas/fhir/repository/repository.js';
import { FhirService } from '../../lambdas/fhir/service.js';
import { INGEST_AUTH } from '../../lambdas/hl7/apply/context.js';
import { resolveInboundBody } from '../../lambdas/hl7/inbound-body.js';
import { type IngestDeps, ingestHl7 } from '../../lambdas/hl7/ingest.js';
import { databaseArchive, documentArchive, rawMessageKey } from '../../lambdas/hl7/raw-archive.js';
import { deduplicationKey, type Header, messageGroupKey, readHeader } from '../../mllp-bridge/src/hl7.js';
import { MAX_SQS_BODY_BYTES } from '../../mllp-bridge/src/sqs-enqueue.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type ReplayDeps, runReplay } from '../../scripts/hl7-replay.js';
import { IPP_SYSTEM, pam } from '../support/pam.js';

const execFileAsync = promisify(execFile);
const QUEUE = 'hl7-inbound';
const QUEUE_ARN = 'arn:aws:sqs:eu-west-3:123456789012:pfi-prod-hl7-inbound.fifo';
const QUEUE_URL = 'https://sqs.eu-west-3.amazonaws.com/123456789012/pfi-prod-hl7-inbound.fifo';
const BUCKET = 'pfi-prod-documents-123456789012';
/** After the test messages, within the 90-day retention: no retention note. */
const NOW = () => new Date('2026-03-10T00:00:00Z');
const DRAIN = { max: 100, visibilityTimeoutSeconds: 60, maxReceives: 5 };

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
const header = (text: string) => readHeader(text) as Header;
/** The message as another sender writes it (MSH-3/MSH-4), or with another MSH-7. */
const from = (text: string, application: string, facility: string) =>
  text.replace('MSH|^~\\&|GAM|CHU-TEST|', `MSH|^~\\&|${application}|${facility}|`);
const at = (text: string, msh7: string) => text.replace('|20260305103000|', `|${msh7}|`);

/** runReplay with captured output. */
async function run(argv: string[], deps: Partial<ReplayDeps> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runReplay(argv, {
    env: {},
    out: (line) => out.push(line),
    err: (line) => err.push(line),
    now: NOW,
    ...deps,
  });
  return { code, out, err: err.join('\n') };
}

/** Receives and applies what the queue holds, as the worker does, until it is empty. */
async function drain(queue: SqlQueue, deps: IngestDeps) {
  const applied: string[] = [];
  for (;;) {
    const batch = await queue.receive(QUEUE, DRAIN);
    if (batch.length === 0) return applied;
    for (const m of batch) {
      const inbound = await resolveInboundBody(m.body, async (p) => (await deps.documents.get(p.key)).body);
      applied.push((await ingestHl7(deps, inbound)).controlId);
      await queue.delete(QUEUE, m.receipt);
    }
  }
}

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pfi-hl7-replay-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('runReplay from the database archive onto the local queue (PGlite)', () => {
  let db: SqlExecutor;
  let queue: SqlQueue;
  let deps: IngestDeps;
  const a28 = pam({ event: 'A28', controlId: 'R-A28', ipp: 'IPP-REPLAY-1', family: 'Durand' });
  const a31 = pam({ event: 'A31', controlId: 'R-A31', ipp: 'IPP-REPLAY-1', family: 'Durand-Martin' });
  const other = from(pam({ event: 'A28', controlId: 'R-LAB', ipp: 'IPP-REPLAY-2' }), 'LIS', 'LABO');
  const late = pam({ event: 'A28', controlId: 'R-LATE', ipp: 'IPP-REPLAY-3' });
  const received: [string, string][] = [
    [a28, '2026-03-05T10:00:01.000Z'],
    [a31, '2026-03-05T10:00:02.000Z'],
    [other, '2026-03-05T10:00:03.500Z'],
    [late, '2026-03-05T11:00:00.000Z'],
  ];
  const range = ['--from', '2026-03-05T10:00:00Z', '--to', '2026-03-05T11:00:00Z'];

  beforeAll(async () => {
    db = await createPgliteExecutor();
    await migrate(db);
    queue = new SqlQueue(db);
    const documents = new FileDocumentStore(join(dir, 'db-archive-documents'));
    deps = { service: new FhirService(new FhirRepository(db), documents), documents, archive: databaseArchive(db) };
    for (const [message, receivedAt] of received) await ingestHl7(deps, { message, receivedAt });
  });
  afterAll(async () => {
    await db?.close();
  });
  beforeEach(async () => {
    await db.query('DELETE FROM queue_message');
    await db.query('DELETE FROM queue_dedup');
  });

  const local = (argv: string[], env: NodeJS.ProcessEnv = {}) =>
    run(argv, { env: { PFI_DATA_DIR: join(dir, 'unused'), ...env }, database: db });

  it('--dry-run lists the range in receive order (times, senders, types, control ids only) and queues nothing', async () => {
    const result = await local([...range, '--dry-run']);

    expect(result.err).toBe('');
    expect(result.code).toBe(EXIT_OK);
    expect(result.out).toEqual([
      'the database archive (hl7_raw_message), messages received from 2026-03-05T10:00:00.000Z to 2026-03-05T11:00:00.000Z:',
      '  2026-03-05T10:00:01.000Z GAM|CHU-TEST ADT^A28 R-A28',
      '  2026-03-05T10:00:02.000Z GAM|CHU-TEST ADT^A31 R-A31',
      '  2026-03-05T10:00:03.500Z LIS|LABO ADT^A28 R-LAB',
      '3 message(s) to queue again on hl7-inbound (the local queue)',
      'dry run: nothing queued',
    ]);
    expect(result.out.join('\n')).not.toMatch(/Durand|IPP-REPLAY|Hélène|PID/);
    expect(await queue.depth(QUEUE)).toEqual({ visible: 0, inFlight: 0, deadLetter: 0 });
  });

  it("queues [from, to) in receive order with the bridge's body, group and deduplication ids", async () => {
    const result = await local(range);

    expect(result.err).toBe('');
    expect(result.code).toBe(EXIT_OK);
    expect(result.out).toEqual([
      '3 message(s) received from 2026-03-05T10:00:00.000Z to 2026-03-05T11:00:00.000Z queued again on hl7-inbound (the local queue)',
      'hl7-inbound: 3 waiting, 0 in flight, 0 dead letter(s)',
    ]);
    const rows = await db.query<{ body: string; group_id: string }>(
      'SELECT body, group_id FROM queue_message WHERE queue = $1 ORDER BY id',
      [QUEUE],
    );
    expect(rows.rows.map((r) => JSON.parse(r.body))).toEqual([
      { message: a28, receivedAt: '2026-03-05T10:00:01.000Z' },
      { message: a31, receivedAt: '2026-03-05T10:00:02.000Z' },
      { message: other, receivedAt: '2026-03-05T10:00:03.500Z' },
    ]);
    expect(rows.rows.map((r) => r.group_id)).toEqual([a28, a31, other].map((m) => messageGroupKey(header(m))));
    expect(rows.rows[0]!.group_id).toBe(rows.rows[1]!.group_id);
    const dedup = await db.query<{ deduplication_id: string }>(
      'SELECT deduplication_id FROM queue_dedup WHERE queue = $1 ORDER BY deduplication_id',
      [QUEUE],
    );
    expect(dedup.rows.map((r) => r.deduplication_id)).toEqual(
      [a28, a31, other].map((m) => deduplicationKey(header(m), m)).sort(),
    );
  });

  /** Every resource with its version and content hash (the hash leaves out meta). */
  const resources = async () =>
    (
      await db.query<{ id: string; version: number; hash: string }>(
        'SELECT resource_type || $1 || id AS id, version, content_hash AS hash FROM resource ORDER BY 1',
        ['/'],
      )
    ).rows;
  const rawKeys = async () => (await db.query('SELECT key FROM hl7_raw_message ORDER BY key')).rows;

  it('replaying the last message of a patient changes nothing: same versions, same raw copy', async () => {
    const before = { resources: await resources(), raw: await rawKeys() };
    await local(['--from', '2026-03-05T10:00:02Z', '--to', '2026-03-05T11:00:00Z']);

    // Groups are drained in parallel.
    expect((await drain(queue, deps)).sort()).toEqual(['R-A31', 'R-LAB']);
    expect(await resources()).toEqual(before.resources);
    expect(await rawKeys()).toEqual(before.raw);
  });

  it("replaying a patient's messages in order ends in the same state, with no duplicate resource", async () => {
    const before = { resources: await resources(), raw: await rawKeys() };
    await local(range);

    const applied = await drain(queue, deps);
    expect([...applied].sort()).toEqual(['R-A28', 'R-A31', 'R-LAB']);
    expect(applied.indexOf('R-A28')).toBeLessThan(applied.indexOf('R-A31'));
    // A28 then A31 again: the Patient went through Durand and back to Durand-Martin (two more versions), the rest
    // is untouched, and nothing was created.
    const after = await resources();
    expect(after.map((r) => [r.id, r.hash])).toEqual(before.resources.map((r) => [r.id, r.hash]));
    const changed = after.filter((r, i) => r.version !== before.resources[i]!.version);
    expect(changed).toHaveLength(1);
    expect(changed[0]!.id).toMatch(/^Patient\//);
    expect(await rawKeys()).toEqual(before.raw);
  });

  it('a second replay within the deduplication window is dropped by the queue', async () => {
    await local(range);
    const again = await local(range);
    expect(again.code).toBe(EXIT_OK);
    expect(again.out.at(-1)).toBe('hl7-inbound: 3 waiting, 0 in flight, 0 dead letter(s)');
  });

  it.each([
    ['LIS|LABO', ['R-LAB']],
    ['GAM|', ['R-A28', 'R-A31']],
    ['|CHU-TEST', ['R-A28', 'R-A31']],
    ['GAM|LABO', []],
  ])('--sender %s replays only that sender', async (sender, controlIds) => {
    const result = await local([...range, '--sender', sender, '--dry-run']);
    expect(result.code).toBe(EXIT_OK);
    expect(result.out.filter((l) => l.startsWith('  ')).map((l) => l.split(' ').at(-1))).toEqual(controlIds);
    expect(result.out.at(-2)).toBe(`${controlIds.length} message(s) to queue again on hl7-inbound (the local queue)`);
  });

  it('adds the IPP authority the partner registry names for the sender, as the bridge does', async () => {
    const registry = join(dir, 'registry.json');
    await writeFile(
      registry,
      JSON.stringify({
        strict: true,
        defaultCharset: 'latin1',
        partners: [
          { application: 'GAM', facility: 'CHU-TEST', allowed: true, ippAuthority: '1.2.250.1.71.4.2.7.1.9.99' },
        ],
      }),
    );
    const result = await local(range, { PFI_MLLP_REGISTRY: registry });

    expect(result.code).toBe(EXIT_OK);
    expect(result.out).toContain('1 message(s) from senders the partner registry now refuses (queued all the same)');
    const rows = await db.query<{ body: string }>('SELECT body FROM queue_message WHERE queue = $1 ORDER BY id', [
      QUEUE,
    ]);
    expect(rows.rows.map((r) => JSON.parse(r.body).ippSystem)).toEqual([IPP_SYSTEM, IPP_SYSTEM, undefined]);
  });

  it('exits 2 when the registry cannot be read', async () => {
    const result = await local(range, { PFI_MLLP_REGISTRY: join(dir, 'no-such-registry.json') });
    expect(result.code).toBe(EXIT_USAGE);
    expect(result.err).toContain('PFI_MLLP_REGISTRY cannot be read');
  });

  it('exits 1 with where to resume when the database fails', async () => {
    const failing: SqlExecutor = {
      ...db,
      query: async (text, params, options) => {
        if (text.includes('INSERT INTO queue_message')) throw new Error('terminating connection');
        return db.query(text, params, options);
      },
    };
    const result = await run(range, { env: { PFI_DATA_DIR: join(dir, 'unused') }, database: failing });
    expect(result.code).toBe(EXIT_FAILURE);
    expect(result.err).toContain('hl7:replay: stopped: Error: terminating connection');
    expect(result.err).toContain(
      '0 message(s) queued before that; fix the cause and resume with --from 2026-03-05T10:00:01.000Z --to 2026-03-05T11:00:00.000Z',
    );
  });
});

describe('runReplay from a document-store archive after a database restore', () => {
  it('rebuilds the lost writes in order in the restored database, the raw copies unchanged', async () => {
    const dataDir = join(dir, 'documents-archive');
    const documents = new FileDocumentStore(join(dataDir, 'documents'));
    // The database the messages were first applied to, with the archive in the document store (as in AWS).
    const original = await createPgliteExecutor();
    await migrate(original);
    const archive = documentArchive(documents);
    const first = { service: new FhirService(new FhirRepository(original), documents), documents, archive };
    const a28 = pam({ event: 'A28', controlId: 'D-A28', ipp: 'IPP-DOC-1', family: 'Petit' });
    const a31 = at(
      pam({ event: 'A31', controlId: 'D-A31', ipp: 'IPP-DOC-1', family: 'Petit-Grand' }),
      '20260305103001',
    );
    const a08 = at(pam({ event: 'A08', controlId: 'D-A08', ipp: 'IPP-DOC-1', family: 'Grand' }), '20260305103002');
    const receivedAt = '2026-03-05T09:30:00.000Z';
    for (const message of [a28, a31, a08]) await ingestHl7(first, { message, receivedAt });
    await original.close();
    // What the store says of them: A28 at 09:30:01, A31 and A08 within the same second (as S3 reports times);
    // their MSH-7 decides, whatever their keys' order.
    const key = (m: string) => rawMessageKey(sha256(m), receivedAt);
    const file = (m: string) => join(dataDir, 'documents', ...key(m).split('/'));
    await utimes(file(a28), new Date('2026-03-05T09:30:01Z'), new Date('2026-03-05T09:30:01Z'));
    await utimes(file(a08), new Date('2026-03-05T09:30:02Z'), new Date('2026-03-05T09:30:02Z'));
    await utimes(file(a31), new Date('2026-03-05T09:30:02Z'), new Date('2026-03-05T09:30:02Z'));
    const keys = await documents.list('hl7/raw');

    // The restored database lost them; the document store did not.
    const restored = await createPgliteExecutor();
    try {
      await migrate(restored);
      const env = { PFI_DATA_DIR: dataDir, PFI_HL7_RAW_ARCHIVE: 'documents' };
      const listed = await run(['--from', '2026-03-05', '--to', '2026-03-06', '--dry-run'], {
        env,
        database: restored,
      });
      expect(listed.err).toBe('');
      expect(listed.out.slice(0, 4)).toEqual([
        `the document store (${join(dataDir, 'documents')}), messages received from 2026-03-05T00:00:00.000Z to 2026-03-06T00:00:00.000Z:`,
        '  2026-03-05T09:30:01.000Z GAM|CHU-TEST ADT^A28 D-A28',
        '  2026-03-05T09:30:02.000Z GAM|CHU-TEST ADT^A31 D-A31',
        '  2026-03-05T09:30:02.000Z GAM|CHU-TEST ADT^A08 D-A08',
      ]);

      const result = await run(['--from', '2026-03-05', '--to', '2026-03-06'], { env, database: restored });
      expect(result.code).toBe(EXIT_OK);
      expect(result.out[0]).toContain('3 message(s) received');

      const queue = new SqlQueue(restored);
      const deps = { service: new FhirService(new FhirRepository(restored), documents), documents, archive };
      expect(await drain(queue, deps)).toEqual(['D-A28', 'D-A31', 'D-A08']);
      const { result: found } = await deps.service.search(INGEST_AUTH, 'Patient', [
        ['identifier', `${IPP_SYSTEM}|IPP-DOC-1`],
      ]);
      expect(found.matches).toHaveLength(1);
      expect(JSON.parse(found.matches[0]!.json).name[0].family).toBe('Grand');
      // The worker wrote the raw copies under the same keys: no second copy.
      expect(await documents.list('hl7/raw')).toEqual(keys);
    } finally {
      await restored.close();
    }
  });
});

describe('runReplay on the configured embedded database', () => {
  it('opens PGlite in $PFI_DATA_DIR under its lock and releases it', async () => {
    const dataDir = join(dir, 'data');
    const result = await run(['--from', '2026-03-05', '--to', '2026-03-06'], { env: { PFI_DATA_DIR: dataDir } });
    expect(result.err).toBe('');
    expect(result.code).toBe(EXIT_OK);
    expect(result.out[0]).toContain('0 message(s) received');
    expect(existsSync(join(dataDir, 'pfi.lock'))).toBe(false);
  });

  it('exits 2 without opening the database while the platform holds the data directory', async () => {
    const dataDir = join(dir, 'busy');
    await mkdir(dataDir, { recursive: true });
    await writeFile(join(dataDir, 'pfi.lock'), String(process.ppid));

    const result = await run(['--from', '2026-03-05', '--to', '2026-03-06'], { env: { PFI_DATA_DIR: dataDir } });

    expect(result.code).toBe(EXIT_USAGE);
    expect(result.err).toContain('in use by another process');
    expect(result.err).toContain('Stop the platform first');
    expect(await readFile(join(dataDir, 'pfi.lock'), 'utf8')).toBe(String(process.ppid));
    expect(existsSync(join(dataDir, 'pg'))).toBe(false);
  });

  it('exits 2 on an Aurora (Data API) database without PFI_HL7_QUEUE_ARN: its queue table is not the AWS queue', async () => {
    const env = {
      PFI_DATA_DIR: dir,
      PFI_DB_CLUSTER_ARN: 'arn:aws:rds:eu-west-3:123456789012:cluster:pfi-prod-fhir',
      PFI_DB_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-3:123456789012:secret:db-AbCdEf',
    };
    const result = await run(['--from', '2026-03-05', '--to', '2026-03-06'], { env });
    expect(result.code).toBe(EXIT_USAGE);
    expect(result.err).toContain('set PFI_HL7_QUEUE_ARN');
  });

  it('says when the range starts before the retention period', async () => {
    const result = await run(['--from', '2025-01-01', '--to', '2025-01-02', '--dry-run'], {
      env: { PFI_DATA_DIR: join(dir, 'data') },
    });
    expect(result.out[0]).toBe(
      'note: raw messages are kept 90 day(s) (PFI_HL7_RAW_RETENTION_DAYS): none received before 2025-12-10T00:00:00.000Z is left',
    );
  });
});

describe('runReplay in AWS (S3 archive → SQS FIFO)', () => {
  const s3 = mockClient(S3Client);
  const sqs = mockClient(SQSClient);
  let registry: string;
  let env: NodeJS.ProcessEnv;
  const clients = () => ({
    s3: new S3Client({ region: 'eu-west-3' }),
    sqs: new SQSClient({ region: 'eu-west-3' }),
  });

  /** Objects of the bucket: key → body and LastModified. */
  let objects: Map<string, { body: string; modified: Date }>;
  const put = (message: string, receivedAt: string, modified: string) =>
    objects.set(rawMessageKey(sha256(message), receivedAt), { body: message, modified: new Date(modified) });

  beforeAll(async () => {
    vi.stubEnv('AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED', 'true');
    registry = join(dir, 'aws-registry.json');
    await writeFile(
      registry,
      JSON.stringify({
        strict: true,
        defaultCharset: 'latin1',
        partners: [
          { application: 'GAM', facility: 'CHU-TEST', allowed: true, ippAuthority: '1.2.250.1.71.4.2.7.1.9.99' },
        ],
      }),
    );
    env = {
      PFI_DATA_DIR: join(dir, 'aws-untouched'),
      PFI_HL7_QUEUE_ARN: QUEUE_ARN,
      PFI_DOCUMENTS_BUCKET: BUCKET,
      PFI_MLLP_REGISTRY: registry,
    };
  });
  afterAll(() => {
    vi.unstubAllEnvs();
  });
  beforeEach(() => {
    objects = new Map();
    s3.on(ListObjectsV2Command).callsFake((input: { Prefix?: string; Delimiter?: string }) => {
      const prefix = input.Prefix ?? '';
      const under = [...objects.entries()].filter(([key]) => key.startsWith(prefix));
      if (input.Delimiter === '/') {
        const folders = new Set(under.map(([key]) => key.slice(prefix.length).split('/')[0]!));
        return { CommonPrefixes: [...folders].map((f) => ({ Prefix: `${prefix}${f}/` })), IsTruncated: false };
      }
      return { Contents: under.map(([Key, o]) => ({ Key, LastModified: o.modified })), IsTruncated: false };
    });
    s3.on(GetObjectCommand).callsFake((input: { Key?: string }) => {
      const o = objects.get(input.Key ?? '');
      if (!o) throw Object.assign(new Error('The specified key does not exist.'), { name: 'NoSuchKey' });
      const bytes = new TextEncoder().encode(o.body);
      return { Body: { transformToByteArray: async () => bytes } as unknown as GetObjectCommandOutput['Body'] };
    });
    sqs.on(GetQueueUrlCommand).resolves({ QueueUrl: QUEUE_URL });
    sqs.on(SendMessageBatchCommand).callsFake((input: { Entries?: { Id?: string }[] }) => ({
      Successful: (input.Entries ?? []).map((e) => ({ Id: e.Id, MessageId: `m-${e.Id}`, MD5OfMessageBody: 'x' })),
      Failed: [],
    }));
  });
  afterEach(() => {
    s3.reset();
    sqs.reset();
  });

  const sent = () => sqs.commandCalls(SendMessageBatchCommand).flatMap((c) => c.args[0].input.Entries ?? []);

  it("lists the day folders, then sends batches of 10 in order with the bridge's group and deduplication ids", async () => {
    const messages = Array.from({ length: 23 }, (_, i) =>
      pam({ event: 'A28', controlId: `S-${String(i).padStart(2, '0')}`, ipp: `IPP-S3-${i % 4}` }),
    );
    messages.forEach((m, i) => {
      put(m, '2026-03-05T10:00:00Z', `2026-03-05T10:${String(10 + i).padStart(2, '0')}:00Z`);
    });
    // Received before midnight, archived after it: it stays in its day, at the day's last instant.
    const lateNight = pam({ event: 'A28', controlId: 'S-NIGHT', ipp: 'IPP-S3-9' });
    put(lateNight, '2026-03-04T23:59:59Z', '2026-03-05T00:00:03Z');
    // Outside the range.
    put(pam({ event: 'A28', controlId: 'S-OUT', ipp: 'IPP-S3-8' }), '2026-03-05T12:00:00Z', '2026-03-05T12:00:01Z');

    const result = await run(['--from', '2026-03-04T12:00:00Z', '--to', '2026-03-05T11:00:00Z'], {
      env,
      ...clients(),
    });

    expect(result.err).toBe('');
    expect(result.code).toBe(EXIT_OK);
    expect(result.out).toEqual([
      '24 message(s) received from 2026-03-04T12:00:00.000Z to 2026-03-05T11:00:00.000Z queued again on pfi-prod-hl7-inbound.fifo',
    ]);
    // The year, month and day folders that exist are listed, then the objects of the days in the range.
    expect(
      s3.commandCalls(ListObjectsV2Command).map((c) => [c.args[0].input.Prefix, c.args[0].input.Delimiter ?? '']),
    ).toEqual([
      ['hl7/raw/', '/'],
      ['hl7/raw/2026/', '/'],
      ['hl7/raw/2026/03/', '/'],
      ['hl7/raw/2026/03/04/', ''],
      ['hl7/raw/2026/03/05/', ''],
    ]);
    expect(s3.commandCalls(ListObjectsV2Command).every((c) => c.args[0].input.Bucket === BUCKET)).toBe(true);
    expect(sqs.commandCalls(GetQueueUrlCommand)[0]?.args[0].input).toEqual({
      QueueName: 'pfi-prod-hl7-inbound.fifo',
      QueueOwnerAWSAccountId: '123456789012',
    });
    const batches = sqs.commandCalls(SendMessageBatchCommand).map((c) => c.args[0].input);
    // One day folder after the other: the 4 March one holds one message.
    expect(batches.map((b) => b.Entries?.length)).toEqual([1, 10, 10, 3]);
    expect(batches.every((b) => b.QueueUrl === QUEUE_URL)).toBe(true);
    const entries = sent();
    const ordered = [lateNight, ...messages];
    expect(entries.map((e) => header(JSON.parse(e.MessageBody!).message).controlId)).toEqual(
      ordered.map((m) => header(m).controlId),
    );
    expect(entries.map((e) => [e.MessageGroupId, e.MessageDeduplicationId])).toEqual(
      ordered.map((m) => [messageGroupKey(header(m)), deduplicationKey(header(m), m)]),
    );
    expect(JSON.parse(entries[0]!.MessageBody!)).toEqual({
      message: lateNight,
      receivedAt: '2026-03-04T23:59:59.999Z',
      ippSystem: IPP_SYSTEM,
    });
    expect(JSON.parse(entries[1]!.MessageBody!).receivedAt).toBe('2026-03-05T10:10:00.000Z');
    // The worker would store it under its key again.
    expect(rawMessageKey(sha256(lateNight), '2026-03-04T23:59:59.999Z')).toBe(
      rawMessageKey(sha256(lateNight), '2026-03-04T23:59:59Z'),
    );
  });

  it('sends a message over the SQS size limit as a pointer to its archived object', async () => {
    const big = `${pam({ event: 'A28', controlId: 'S-BIG', ipp: 'IPP-BIG' })}NTE|1||${'x'.repeat(MAX_SQS_BODY_BYTES)}\r`;
    const small = pam({ event: 'A28', controlId: 'S-SMALL', ipp: 'IPP-SMALL' });
    put(small, '2026-03-05T10:00:00Z', '2026-03-05T10:00:01Z');
    put(big, '2026-03-05T10:00:00Z', '2026-03-05T10:00:02Z');

    const result = await run(['--from', '2026-03-05', '--to', '2026-03-06'], { env, ...clients() });

    expect(result.code).toBe(EXIT_OK);
    const entries = sent();
    expect(entries).toHaveLength(2);
    const pointer = JSON.parse(entries[1]!.MessageBody!);
    expect(pointer).toEqual({
      pointer: {
        bucket: BUCKET,
        key: rawMessageKey(sha256(big), '2026-03-05T10:00:00Z'),
        bytes: Buffer.byteLength(big, 'utf8'),
        sha256: sha256(big),
      },
      receivedAt: '2026-03-05T10:00:02.000Z',
      ippSystem: IPP_SYSTEM,
    });
    // What the worker does with it: fetch the object, check size and hash.
    const inbound = await resolveInboundBody(entries[1]!.MessageBody!, async (p) =>
      Buffer.from(objects.get(p.key)!.body),
    );
    expect(inbound.message).toBe(big);
    expect(entries[1]!.MessageDeduplicationId).toBe(deduplicationKey(header(big), big));
  });

  it('--dry-run reads the archive and never calls SQS', async () => {
    put(pam({ event: 'A28', controlId: 'S-DRY', ipp: 'IPP-DRY' }), '2026-03-05T10:00:00Z', '2026-03-05T10:00:01Z');
    const result = await run(['--from', '2026-03-05', '--to', '2026-03-06', '--dry-run'], { env, ...clients() });
    expect(result.code).toBe(EXIT_OK);
    expect(result.out).toEqual([
      `s3://${BUCKET}/hl7/raw/, messages received from 2026-03-05T00:00:00.000Z to 2026-03-06T00:00:00.000Z:`,
      '  2026-03-05T10:00:01.000Z GAM|CHU-TEST ADT^A28 S-DRY',
      '1 message(s) to queue again on pfi-prod-hl7-inbound.fifo',
      'dry run: nothing queued',
    ]);
    expect(sqs.calls()).toHaveLength(0);
  });

  it('a range of years lists only the folders that exist', async () => {
    put(pam({ event: 'A28', controlId: 'S-OLD', ipp: 'IPP-OLD' }), '2025-12-31T10:00:00Z', '2025-12-31T10:00:01Z');
    put(pam({ event: 'A28', controlId: 'S-NEW', ipp: 'IPP-NEW' }), '2026-03-05T10:00:00Z', '2026-03-05T10:00:01Z');
    const result = await run(['--from', '2020-01-01', '--to', '2100-01-01', '--dry-run'], { env, ...clients() });
    expect(result.code).toBe(EXIT_OK);
    expect(result.out.filter((l) => l.startsWith('  ')).map((l) => l.split(' ').at(-1))).toEqual(['S-OLD', 'S-NEW']);
    expect(s3.commandCalls(ListObjectsV2Command)).toHaveLength(7);
  });

  it('stops at the first refused entry and says where to resume', async () => {
    for (let i = 0; i < 3; i++) {
      put(
        pam({ event: 'A28', controlId: `S-F${i}`, ipp: `IPP-F${i}` }),
        '2026-03-05T10:00:00Z',
        `2026-03-05T10:00:0${i}Z`,
      );
    }
    sqs.on(SendMessageBatchCommand).resolves({
      Successful: [{ Id: '0', MessageId: 'm0', MD5OfMessageBody: 'x' }],
      Failed: [
        { Id: '2', Code: 'InternalError', SenderFault: false },
        { Id: '1', Code: 'KMS.ThrottlingException', Message: 'Rate exceeded', SenderFault: false },
      ],
    });

    const result = await run(['--from', '2026-03-05', '--to', '2026-03-06'], { env, ...clients() });

    expect(result.code).toBe(EXIT_FAILURE);
    expect(result.err).toContain('hl7:replay: stopped: SQS refused a message: KMS.ThrottlingException (Rate exceeded)');
    expect(result.err).toContain(
      '1 message(s) queued before that; fix the cause and resume with --from 2026-03-05T10:00:01.000Z --to 2026-03-06T00:00:00.000Z',
    );
    expect(result.out).toEqual([]);
  });

  it('exits 1 with the AWS error when the archive cannot be read', async () => {
    s3.on(ListObjectsV2Command).rejects(Object.assign(new Error('Access Denied'), { name: 'AccessDenied' }));
    const result = await run(['--from', '2026-03-05', '--to', '2026-03-06'], { env, ...clients() });
    expect(result.code).toBe(EXIT_FAILURE);
    expect(result.err).toContain('hl7:replay: stopped: AccessDenied: Access Denied');
  });

  it.each([
    ['no registry', { PFI_MLLP_REGISTRY: '' }, /set PFI_MLLP_REGISTRY/],
    ['no documents bucket', { PFI_DOCUMENTS_BUCKET: '' }, /set PFI_DOCUMENTS_BUCKET/],
    ['the database archive', { PFI_HL7_RAW_ARCHIVE: 'database' }, /the archive is the documents bucket/],
    ['a standard queue ARN', { PFI_HL7_QUEUE_ARN: 'arn:aws:sqs:eu-west-3:123456789012:q' }, /SQS FIFO queue/],
    ['a queue URL', { PFI_HL7_QUEUE_ARN: QUEUE_URL }, /PFI_HL7_QUEUE_ARN must be the ARN/],
  ])('exits 2 with %s', async (_, overrides, message) => {
    const result = await run(['--from', '2026-03-05', '--to', '2026-03-06'], {
      env: { ...env, ...overrides },
      ...clients(),
    });
    expect(result.code).toBe(EXIT_USAGE);
    expect(result.err).toMatch(message);
    expect(s3.calls()).toHaveLength(0);
    expect(sqs.calls()).toHaveLength(0);
  });
});

describe('command line', () => {
  const env = () => ({ PFI_DATA_DIR: join(dir, 'cli') });

  it.each([['--help'], ['-h']])('%s prints the usage and exits 0', async (flag) => {
    const result = await run([flag], { env: env() });
    expect(result.code).toBe(EXIT_OK);
    expect(result.out.join('\n')).toContain('usage: npm run hl7:replay -- --from <ISO date> --to <ISO date>');
  });

  it.each([
    [[], /--from is required/],
    [['--from', '2026-03-05'], /--to is required/],
    [['--from', '2026-02-30', '--to', '2026-03-06'], /--from must be an ISO 8601 date/],
    [['--from', '2026-03-05T10:00', '--to', '2026-03-06'], /--from must be an ISO 8601 date .* not '2026-03-05T10:00'/],
    [['--from', 'yesterday', '--to', '2026-03-06'], /--from must be/],
    [['--from', '2026-03-06', '--to', '2026-03-05T23:00:00+01:00'], /--to must be later than --from/],
    [['--from', '2026-03-05', '--to', '2026-03-06', '--sender', 'GAM'], /--sender must be '<application>\|<facility>'/],
    [['--from', '2026-03-05', '--to', '2026-03-06', '--sender', '|'], /--sender must be/],
    [['--from', '2026-03-05', '--to', '2026-03-06', '--bogus'], /Unknown option '--bogus'/],
    [['--from', '2026-03-05', '--to', '2026-03-06', 'extra'], /Unexpected argument 'extra'/],
  ])('exits 2 with a clear message and the usage on %j', async (argv, message) => {
    const result = await run(argv, { env: env() });
    expect(result.code).toBe(EXIT_USAGE);
    expect(result.err).toMatch(message);
    expect(result.err).toContain('usage: npm run hl7:replay');
    expect(existsSync(join(dir, 'cli'))).toBe(false);
  });

  it('accepts offsets: 2026-03-05T11:00:00+01:00 is 10:00 UTC', async () => {
    const result = await run(
      ['--from', '2026-03-05T11:00:00+01:00', '--to', '2026-03-05T12:00:00.5+01:00', '--dry-run'],
      {
        env: { PFI_DATA_DIR: join(dir, 'data') },
      },
    );
    expect(result.code).toBe(EXIT_OK);
    expect(result.out[0]).toContain('from 2026-03-05T10:00:00.000Z to 2026-03-05T11:00:00.500Z');
  });

  it('runs as `npm run hl7:replay` does (the entry point only runs when executed)', async () => {
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PFI_')));
    const script = ['--import', 'tsx', 'scripts/hl7-replay.ts'];
    const { stdout } = await execFileAsync(process.execPath, [...script, '--help'], { env: clean });
    expect(stdout).toContain('usage: npm run hl7:replay');
    const bad = await execFileAsync(process.execPath, [...script, '--from', 'soon'], { env: clean }).catch(
      (err: { code?: number; stderr?: string }) => err,
    );
    expect(bad).toMatchObject({ code: EXIT_USAGE, stderr: expect.stringContaining('--from must be an ISO 8601 date') });
  });
});
