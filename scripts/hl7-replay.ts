import { createHash } from 'node:crypto';
import { lstat, readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { ListObjectsV2Command, type ListObjectsV2CommandOutput, S3Client } from '@aws-sdk/client-s3';
import {
  GetQueueUrlCommand,
  SendMessageBatchCommand,
  type SendMessageBatchCommandOutput,
  type SendMessageBatchRequestEntry,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { DocumentNotFoundError, type DocumentStore } from '../lambdas/adapters/documents/document-store.js';
import { FileDocumentStore } from '../lambdas/adapters/documents/file-store.js';
import { S3DocumentStore } from '../lambdas/adapters/documents/s3-store.js';
import type { OutgoingMessage } from '../lambdas/adapters/queue/queue.js';
import { SqlQueue } from '../lambdas/adapters/queue/sql-queue.js';
import { type SqlExecutor, sqlJson, sqlTimestamp } from '../lambdas/adapters/sql/executor.js';
import { migrate } from '../lambdas/adapters/sql/migrate.js';
import { type Config, ConfigError, loadConfig } from '../lambdas/config.js';
import { HL7_INBOUND_QUEUE } from '../lambdas/hl7/queues.js';
import { RAW_MESSAGE_PREFIX } from '../lambdas/hl7/raw-archive.js';
import { deduplicationKey, isHeaderError, messageGroupKey, readHeader } from '../mllp-bridge/src/hl7.js';
import { loadRegistryFile, type PartnerRegistry } from '../mllp-bridge/src/registry.js';
import { MAX_SQS_BODY_BYTES } from '../mllp-bridge/src/sqs-enqueue.js';
import { DatabaseUnreachableError, withPlatformDatabase } from './platform-database.js';

/**
 * Puts archived raw HL7 messages back on `hl7-inbound`, as the MLLP bridge queued them the first time:
 *   npm run hl7:replay -- --from <ISO date> --to <ISO date> [--sender <application|facility>] [--dry-run]
 *
 * The archive (`lambdas/hl7/raw-archive.ts`) keeps every message the worker APPLIED: locally rows of
 * `hl7_raw_message` (or, with PFI_HL7_RAW_ARCHIVE=documents, files of the document store), in AWS the S3 objects
 * `hl7/raw/YYYY/MM/DD/<sha256>.hl7` of the documents bucket. Each message is queued again with the bridge's body
 * (`{ message, receivedAt, ippSystem? }`), MessageGroupId (hash of facility and IPP) and MessageDeduplicationId (hash
 * of sender, control id and body), in the order it was received. Replaying is safe: the worker's writes are upserts
 * keyed by business identifiers and the raw copy keeps its key, so a message applied twice changes nothing.
 *
 * Locally the messages go to the SQL queue of the platform database (PGlite in $PFI_DATA_DIR, under its lock: stop
 * `npm start` first; or DATABASE_URL). In AWS (PFI_HL7_QUEUE_ARN set) they are read from the documents bucket
 * (PFI_DOCUMENTS_BUCKET) and sent to the SQS FIFO queue; a message over the SQS size limit is sent as a pointer to its
 * archived object. Output names times, senders, message types and control ids, never message content.
 * Exit codes: 0 done, 1 database, archive or AWS failure, 2 usage, configuration, or the data directory in use.
 */

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

const USAGE = `usage: npm run hl7:replay -- --from <ISO date> --to <ISO date> [--sender <application|facility>] [--dry-run]
  puts the archived raw HL7 messages received from --from (included) to --to (excluded) back on ${HL7_INBOUND_QUEUE},
  in the order they were received, with the MLLP bridge's message group and deduplication ids
  --from, --to  2026-11-25 (midnight UTC), 2026-11-25T10:00:00Z or 2026-11-25T11:00:00+01:00
  --sender      only the messages whose MSH-3|MSH-4 are these, as written in the message (e.g. 'GAM|CHU-X');
                an empty side matches any ('GAM|' or '|CHU-X')
  --dry-run     only count and list them (time, sender, type, control id); nothing is queued
  locally: the archive and the queue of the platform database (PGlite in $PFI_DATA_DIR, stop \`npm start\` first;
           or DATABASE_URL); PFI_MLLP_REGISTRY, when set, gives each sender's IPP authority as \`npm start\` does
  in AWS:  set PFI_HL7_QUEUE_ARN (the hl7-inbound FIFO queue), PFI_DOCUMENTS_BUCKET (the archive) and
           PFI_MLLP_REGISTRY (a file holding the partner registry of the bridge)`;

const SQS_ARN = /^arn:aws[a-z-]*:sqs:([a-z0-9-]+):(\d{12}):([A-Za-z0-9_-]{1,75}\.fifo)$/;
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const DATE_TIME = /^(\d{4}-\d{2}-\d{2})T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/;
const RAW_FILE = /^[0-9a-f]{64}\.hl7$/;
const DAY_MS = 86_400_000;
/** Messages read, checked and queued together (one SQL statement locally). */
const CHUNK = 200;
/** Largest local chunk, in bytes of queue bodies (keeps one SQL statement reasonable). */
const CHUNK_BYTES = 4 * 1024 * 1024;
/** SQS SendMessageBatch: 10 entries, and the sum of the bodies within the message size limit. */
const SQS_BATCH_ENTRIES = 10;
const SQS_BATCH_BYTES = MAX_SQS_BODY_BYTES;
/** Archive reads in flight (S3 GetObject or files). */
const READ_CONCURRENCY = 16;
/** Messages listed by --dry-run; the counts cover all of them. */
const LIST_LIMIT = 100;
/** A progress line every this many queued messages. */
const PROGRESS_EVERY = 10_000;

/** What {@link runReplay} needs from its surroundings (tests replace them). */
export interface ReplayDeps {
  env: NodeJS.ProcessEnv;
  /** One line of standard output. */
  out: (line: string) => void;
  /** One line of standard error. */
  err: (line: string) => void;
  /** A database to use instead of the configured one (migrated here if needed); neither locked nor closed. */
  database?: SqlExecutor;
  /** SQS client for the AWS mode; default one from the environment (destroyed afterwards). */
  sqs?: SQSClient;
  /** S3 client of an S3 archive; default one from the environment (destroyed afterwards). */
  s3?: S3Client;
  /** The current time (the retention note). */
  now?: () => Date;
}

class UsageError extends Error {}

interface Options {
  from: Date;
  to: Date;
  sender?: { application: string; facility: string };
  dryRun: boolean;
}

/** An ISO 8601 date (midnight UTC) or date-time with an offset; a UsageError otherwise. */
function parseInstant(name: string, value: string | undefined): Date {
  if (value === undefined) throw new UsageError(`--${name} is required`);
  const day = DATE_ONLY.test(value) ? value : DATE_TIME.exec(value)?.[1];
  const date = new Date(DATE_ONLY.test(value) ? `${value}T00:00:00Z` : value);
  // Date reads 2026-02-30 as 2 March: the calendar day must come back unchanged.
  const valid = (d: string) => {
    const midnight = new Date(`${d}T00:00:00Z`);
    return !Number.isNaN(midnight.getTime()) && midnight.toISOString().startsWith(d);
  };
  if (day === undefined || Number.isNaN(date.getTime()) || !valid(day)) {
    throw new UsageError(
      `--${name} must be an ISO 8601 date (2026-11-25) or a date-time with an offset (2026-11-25T10:00:00Z), not '${value}'`,
    );
  }
  return date;
}

function parseCommandLine(argv: string[]): Options | 'help' {
  let values: { from?: string; to?: string; sender?: string; 'dry-run'?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        from: { type: 'string' },
        to: { type: 'string' },
        sender: { type: 'string' },
        'dry-run': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: false,
      strict: true,
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) return 'help';
  const from = parseInstant('from', values.from);
  const to = parseInstant('to', values.to);
  if (to.getTime() <= from.getTime()) throw new UsageError('--to must be later than --from');
  const options: Options = { from, to, dryRun: values['dry-run'] === true };
  if (values.sender !== undefined) {
    const bar = values.sender.indexOf('|');
    const application = bar < 0 ? '' : values.sender.slice(0, bar);
    const facility = bar < 0 ? '' : values.sender.slice(bar + 1);
    if (bar < 0 || (application === '' && facility === '')) {
      throw new UsageError("--sender must be '<application>|<facility>' (MSH-3|MSH-4), e.g. 'GAM|CHU-X'");
    }
    options.sender = { application, facility };
  }
  return options;
}

const errorText = (err: unknown) => (err instanceof Error ? `${err.name}: ${err.message}` : String(err));

// ---------------------------------------------------------------------------------------------------------------
// The archive: entries (key and time) in receive order, then their bodies

/** One archived message before its body is read: its key and the instant it was received (ms). */
interface Entry {
  key: string;
  at: number;
}

/** An archive: lists the entries of [from, to) segment by segment (in order), reads bodies by key. */
interface Archive {
  /** What the output calls it. */
  readonly name: string;
  /** Segments of entries sorted by time then key; entries with the same time are in the same segment. */
  segments(from: Date, to: Date): AsyncIterable<Entry[]>;
  /** The bodies of `keys`; a key missing from the result is no longer archived (purged or erased). */
  read(keys: string[]): Promise<Map<string, string>>;
}

const byTimeThenKey = (a: Entry, b: Entry) => a.at - b.at || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

/*
 * Rows of [from, to) in receive order, without their bodies: one pass over the table (received_at has no index; the
 * stored_at index bounds the scan from below, since a row is stored when its message is applied, after it was
 * received — an hour of slack covers a database clock behind the bridge's).
 */
const DATABASE_ENTRIES = `SELECT key, (extract(epoch FROM received_at) * 1000)::float8 AS at
  FROM hl7_raw_message
  WHERE received_at >= $1::timestamptz AND received_at < $2::timestamptz
    AND stored_at >= $1::timestamptz - interval '1 hour'
  ORDER BY received_at, key`;

const DATABASE_BODIES = `SELECT key, body FROM hl7_raw_message
  WHERE key IN (SELECT jsonb_array_elements_text($1::jsonb))`;

/** The `hl7_raw_message` table: exact reception instants. */
function databaseArchive(db: SqlExecutor): Archive {
  return {
    name: 'the database archive (hl7_raw_message)',
    async *segments(from, to) {
      const res = await db.query<{ key: string; at: number }>(
        DATABASE_ENTRIES,
        [sqlTimestamp(from), sqlTimestamp(to)],
        { readOnly: true },
      );
      yield res.rows.map((r) => ({ key: r.key, at: Math.round(Number(r.at)) }));
    },
    async read(keys) {
      const res = await db.query<{ key: string; body: string }>(DATABASE_BODIES, [sqlJson(keys)], { readOnly: true });
      return new Map(res.rows.map((r) => [r.key, r.body]));
    },
  };
}

/** Where raw messages live in a document store: `hl7/raw/YYYY/MM/DD/<sha256>.hl7`. */
const RAW_ROOT = RAW_MESSAGE_PREFIX.replace(/\/$/, '');

/** The folders and objects of a document store, with the time each object was written. */
interface ArchiveLister {
  /** Names of the folders directly under `prefix` (no trailing `/`). */
  folders(prefix: string): Promise<string[]>;
  /** The objects directly under `prefix`: their key and when they were written (ms). */
  objects(prefix: string): Promise<{ key: string; modified: number }[]>;
}

/**
 * The day folders `hl7/raw/YYYY/MM/DD` from `fromDay` to `toDay` (`YYYY-MM-DD`, both included) that exist, in
 * order: the year, month and day folders are listed rather than guessed, so a wide range costs a few listings.
 */
async function* dayFolders(
  list: ArchiveLister,
  fromDay: string,
  toDay: string,
): AsyncGenerator<{ prefix: string; start: number }> {
  const within = (value: string, length: number) =>
    value >= fromDay.slice(0, length) && value <= toDay.slice(0, length);
  const sorted = async (prefix: string, name: RegExp) =>
    (await list.folders(prefix)).filter((f) => name.test(f)).sort();
  for (const year of await sorted(RAW_ROOT, /^\d{4}$/)) {
    if (!within(year, 4)) continue;
    for (const month of await sorted(`${RAW_ROOT}/${year}`, /^\d{2}$/)) {
      if (!within(`${year}-${month}`, 7)) continue;
      for (const day of await sorted(`${RAW_ROOT}/${year}/${month}`, /^\d{2}$/)) {
        const start = Date.parse(`${year}-${month}-${day}T00:00:00Z`);
        if (within(`${year}-${month}-${day}`, 10) && !Number.isNaN(start)) {
          yield { prefix: `${RAW_ROOT}/${year}/${month}/${day}`, start };
        }
      }
    }
  }
}

/**
 * A document-store archive: one object per message under `hl7/raw/<day of reception>/`. The store keeps the day of
 * reception (the key) and the time the object was written (within seconds after reception, later for a message
 * that was retried): that time, kept inside the key's day, stands for the reception instant.
 */
function documentArchive(name: string, store: DocumentStore, list: ArchiveLister): Archive {
  return {
    name,
    async *segments(from, to) {
      const fromDay = from.toISOString().slice(0, 10);
      const toDay = new Date(to.getTime() - 1).toISOString().slice(0, 10);
      for await (const { prefix, start } of dayFolders(list, fromDay, toDay)) {
        const entries: Entry[] = [];
        for (const o of await list.objects(prefix)) {
          if (!o.key.startsWith(`${prefix}/`) || !RAW_FILE.test(o.key.slice(prefix.length + 1))) continue;
          const at = Math.min(Math.max(o.modified, start), start + DAY_MS - 1);
          if (at >= from.getTime() && at < to.getTime()) entries.push({ key: o.key, at });
        }
        if (entries.length) yield entries.sort(byTimeThenKey);
      }
    },
    async read(keys) {
      const bodies = new Map<string, string>();
      let next = 0;
      const worker = async () => {
        while (next < keys.length) {
          const key = keys[next++]!;
          try {
            bodies.set(key, (await store.get(key)).body.toString('utf8'));
          } catch (err) {
            if (!(err instanceof DocumentNotFoundError)) throw err;
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(READ_CONCURRENCY, keys.length) }, worker));
      return bodies;
    },
  };
}

/** ListObjectsV2 of the bucket: folders with the `/` delimiter, objects with their LastModified. */
function s3Lister(s3: S3Client, bucket: string): ArchiveLister {
  const pages = async (prefix: string, delimiter: boolean, each: (page: ListObjectsV2CommandOutput) => void) => {
    let token: string | undefined;
    do {
      const page: ListObjectsV2CommandOutput = await s3.send(
        new ListObjectsV2Command({
          Bucket: bucket,
          Prefix: `${prefix}/`,
          ...(delimiter ? { Delimiter: '/' } : {}),
          ContinuationToken: token,
        }),
      );
      each(page);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
  };
  return {
    async folders(prefix) {
      const names: string[] = [];
      await pages(prefix, true, (page) => {
        for (const p of page.CommonPrefixes ?? []) {
          if (p.Prefix?.startsWith(`${prefix}/`)) names.push(p.Prefix.slice(prefix.length + 1).replace(/\/$/, ''));
        }
      });
      return names;
    },
    async objects(prefix) {
      const objects: { key: string; modified: number }[] = [];
      await pages(prefix, false, (page) => {
        for (const o of page.Contents ?? []) {
          if (o.Key !== undefined && o.LastModified !== undefined) {
            objects.push({ key: o.Key, modified: o.LastModified.getTime() });
          }
        }
      });
      return objects;
    },
  };
}

/** The folders of the file document store (a file's mtime is the time of its put). */
function fileLister(root: string): ArchiveLister {
  const entries = async (prefix: string) => {
    try {
      return await readdir(join(root, ...prefix.split('/')), { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  };
  return {
    async folders(prefix) {
      return (await entries(prefix)).filter((e) => e.isDirectory()).map((e) => e.name);
    },
    async objects(prefix) {
      const objects: { key: string; modified: number }[] = [];
      for (const e of await entries(prefix)) {
        if (!e.isFile() || !RAW_FILE.test(e.name)) continue;
        const stat = await lstat(join(root, ...prefix.split('/'), e.name));
        objects.push({ key: `${prefix}/${e.name}`, modified: Math.floor(stat.mtimeMs) });
      }
      return objects;
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Messages: header, sender filter, the bridge's queue body and ids

/** A message ready to queue. */
interface Replayed {
  key: string;
  receivedAt: string;
  /** The HL7 text (UTF-8). */
  text: string;
  sender: string;
  type: string;
  controlId: string;
  /** MSH-7 digits: orders messages archived at the same instant. */
  msh7: string;
  outgoing: OutgoingMessage;
}

interface Counts {
  matched: number;
  queued: number;
  /** Listed, then purged or erased before it could be read. */
  missing: number;
  /** No readable MSH, or a body that does not hash to its key. */
  unreadable: number;
  /** From a sender the current partner registry refuses (queued anyway: it was accepted when it arrived). */
  refused: number;
  listed: number;
}

/** MSH-7 (its first component's digits), from the raw first segment. */
function msh7Of(text: string): string {
  const msh = text.split(/\r\n|\r|\n/, 1)[0] ?? '';
  const field = msh.split(msh.charAt(3))[6] ?? '';
  return (field.split(msh.charAt(4) || '^')[0] ?? '').replace(/[^0-9]/g, '');
}

const sha256Hex = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

/**
 * The queue message of one archived message, as the bridge built it; undefined when it does not belong to the
 * replay (another sender) or cannot be read (counted).
 */
function toReplayed(
  entry: Entry,
  text: string,
  options: Options,
  registry: PartnerRegistry | undefined,
  counts: Counts,
): Replayed | undefined {
  const header = readHeader(text);
  // The archive key ends with the SHA-256 of the text: a mismatch means the copy is not what was received.
  if (isHeaderError(header) || !entry.key.endsWith(`/${sha256Hex(text)}.hl7`)) {
    counts.unreadable += 1;
    return undefined;
  }
  const { sender } = options;
  if (
    sender !== undefined &&
    ((sender.application !== '' && sender.application !== header.sendingApplication) ||
      (sender.facility !== '' && sender.facility !== header.sendingFacility))
  ) {
    return undefined;
  }
  counts.matched += 1;
  const receivedAt = new Date(entry.at).toISOString();
  const body: { message: string; receivedAt: string; ippSystem?: string } = { message: text, receivedAt };
  if (registry !== undefined) {
    const decision = registry.resolve(header.sendingApplication, header.sendingFacility);
    if (!decision.accepted) counts.refused += 1;
    else if (decision.ippSystem) body.ippSystem = decision.ippSystem;
  }
  return {
    key: entry.key,
    receivedAt,
    text,
    sender: `${header.sendingApplication}|${header.sendingFacility}`,
    type: [header.messageType, header.triggerEvent].filter(Boolean).join('^'),
    controlId: header.controlId,
    msh7: msh7Of(text),
    outgoing: {
      body: JSON.stringify(body),
      groupId: messageGroupKey(header),
      deduplicationId: deduplicationKey(header, text),
    },
  };
}

/** Same time: MSH-7, then the key (S3 keeps whole seconds, so a patient's burst shares one time). */
const inReceiveOrder = (a: Replayed, b: Replayed) =>
  Date.parse(a.receivedAt) - Date.parse(b.receivedAt) ||
  (a.msh7 < b.msh7 ? -1 : a.msh7 > b.msh7 ? 1 : 0) ||
  (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

/** Splits a sorted segment into chunks of about {@link CHUNK}, never separating entries of the same time. */
function* chunks(entries: Entry[]): Generator<Entry[]> {
  let start = 0;
  while (start < entries.length) {
    let end = Math.min(start + CHUNK, entries.length);
    while (end < entries.length && entries[end]!.at === entries[end - 1]!.at) end++;
    yield entries.slice(start, end);
    start = end;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Where the messages go

/** Queues the messages in order, or throws a {@link ReplayStopped} when some of them could not be queued. */
type Sink = (messages: Replayed[]) => Promise<void>;

/** Queuing stopped at the message received at `at`: the first `queued` messages of the call were queued. */
class ReplayStopped extends Error {
  constructor(
    readonly at: string,
    readonly queued: number,
    reason: string,
  ) {
    super(reason);
  }
}

/** One SQL statement per {@link CHUNK_BYTES} of queue bodies, in order. */
function localSink(queue: SqlQueue): Sink {
  return async (messages) => {
    for (let i = 0; i < messages.length; ) {
      let bytes = 0;
      let end = i;
      while (end < messages.length && (end === i || bytes + messages[end]!.outgoing.body.length <= CHUNK_BYTES)) {
        bytes += messages[end]!.outgoing.body.length;
        end++;
      }
      try {
        await queue.send(
          HL7_INBOUND_QUEUE,
          messages.slice(i, end).map((m) => m.outgoing),
        );
      } catch (err) {
        throw new ReplayStopped(messages[i]!.receivedAt, i, errorText(err));
      }
      i = end;
    }
  };
}

/** The bridge's claim-check body for a message too large for SQS, aimed at the archived object itself. */
function pointerBody(m: Replayed, bucket: string): string {
  const { receivedAt, ippSystem } = JSON.parse(m.outgoing.body) as { receivedAt: string; ippSystem?: string };
  const pointer = { bucket, key: m.key, bytes: Buffer.byteLength(m.text, 'utf8'), sha256: sha256Hex(m.text) };
  return JSON.stringify({ pointer, receivedAt, ...(ippSystem ? { ippSystem } : {}) });
}

/**
 * SendMessageBatch in receive order (10 entries, their bodies within the SQS size limit). A body over the limit
 * goes as the bridge's claim-check pointer to the archived object (the worker reads it from the same bucket and
 * checks its size and SHA-256). A failed entry stops the replay: the messages after it must not overtake it.
 */
function sqsSink(sqs: SQSClient, queueUrl: string, bucket: string): Sink {
  return async (messages) => {
    const bodies = messages.map((m) =>
      Buffer.byteLength(m.outgoing.body, 'utf8') > MAX_SQS_BODY_BYTES ? pointerBody(m, bucket) : m.outgoing.body,
    );
    for (let i = 0; i < messages.length; ) {
      const first = i;
      const entries: SendMessageBatchRequestEntry[] = [];
      let bytes = 0;
      while (i < messages.length && entries.length < SQS_BATCH_ENTRIES) {
        const size = Buffer.byteLength(bodies[i]!, 'utf8');
        if (entries.length > 0 && bytes + size > SQS_BATCH_BYTES) break;
        entries.push({
          Id: String(entries.length),
          MessageBody: bodies[i]!,
          MessageGroupId: messages[i]!.outgoing.groupId,
          MessageDeduplicationId: messages[i]!.outgoing.deduplicationId,
        });
        bytes += size;
        i++;
      }
      let res: SendMessageBatchCommandOutput;
      try {
        res = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
      } catch (err) {
        throw new ReplayStopped(messages[first]!.receivedAt, first, errorText(err));
      }
      const failures = (res.Failed ?? []).filter((f) => Number.isInteger(Number(f.Id)));
      if (failures.length) {
        const failure = failures.reduce((a, b) => (Number(b.Id) < Number(a.Id) ? b : a));
        const index = first + Number(failure.Id);
        // Entries after the failed one may have been queued too: a resumed replay sends them again, which SQS drops
        // within its 5-minute deduplication window and the worker applies as a no-op after it.
        throw new ReplayStopped(
          messages[index]!.receivedAt,
          index,
          `SQS refused a message: ${failure.Code ?? 'error'}${failure.Message ? ` (${failure.Message})` : ''}`,
        );
      }
    }
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The replay

async function replay(
  archive: Archive,
  sink: Sink | undefined,
  target: string,
  options: Options,
  registry: PartnerRegistry | undefined,
  deps: ReplayDeps,
): Promise<number> {
  const counts: Counts = { matched: 0, queued: 0, missing: 0, unreadable: 0, refused: 0, listed: 0 };
  const range = `from ${options.from.toISOString()} to ${options.to.toISOString()}`;
  const sender = options.sender ? ` from ${options.sender.application}|${options.sender.facility}` : '';
  const skipped = () => {
    const lines: string[] = [];
    const parts = [
      counts.missing ? `${counts.missing} no longer archived (purged or erased since they were listed)` : '',
      counts.unreadable ? `${counts.unreadable} unreadable (no MSH, or the copy does not match its key)` : '',
    ].filter(Boolean);
    if (parts.length) lines.push(`skipped: ${parts.join(', ')}`);
    if (counts.refused) {
      lines.push(`${counts.refused} message(s) from senders the partner registry now refuses (queued all the same)`);
    }
    return lines;
  };
  let nextProgress = PROGRESS_EVERY;
  // Where a resumed replay must start: the first message not known to be queued.
  let resumeAt = options.from.toISOString();
  if (sink === undefined) deps.out(`${archive.name}, messages received ${range}${sender}:`);
  try {
    for await (const segment of archive.segments(options.from, options.to)) {
      for (const chunk of chunks(segment)) {
        resumeAt = new Date(chunk[0]!.at).toISOString();
        const bodies = await archive.read(chunk.map((e) => e.key));
        const messages: Replayed[] = [];
        for (const entry of chunk) {
          const text = bodies.get(entry.key);
          if (text === undefined) counts.missing += 1;
          else {
            const m = toReplayed(entry, text, options, registry, counts);
            if (m) messages.push(m);
          }
        }
        messages.sort(inReceiveOrder);
        if (sink === undefined) {
          for (const m of messages) {
            if (counts.listed++ < LIST_LIMIT) deps.out(`  ${m.receivedAt} ${m.sender} ${m.type} ${m.controlId}`);
          }
          continue;
        }
        try {
          await sink(messages);
        } catch (err) {
          if (!(err instanceof ReplayStopped)) throw err;
          counts.queued += err.queued;
          resumeAt = err.at;
          throw err;
        }
        counts.queued += messages.length;
        if (counts.queued >= nextProgress) {
          deps.out(`… ${counts.queued} message(s) queued (received up to ${messages.at(-1)?.receivedAt})`);
          nextProgress += PROGRESS_EVERY;
        }
      }
    }
  } catch (err) {
    // SQL, file and AWS errors name the statement, the path or the refused action, never message contents.
    deps.err(`hl7:replay: stopped: ${err instanceof ReplayStopped ? err.message : errorText(err)}`);
    const resume = `--from ${resumeAt} --to ${options.to.toISOString()}`;
    const only = options.sender ? ` --sender '${options.sender.application}|${options.sender.facility}'` : '';
    deps.err(
      `hl7:replay: ${counts.queued} message(s) queued before that; fix the cause and resume with ${resume}${only}`,
    );
    for (const line of skipped()) deps.err(line);
    return EXIT_FAILURE;
  }
  if (sink === undefined) {
    if (counts.listed > LIST_LIMIT) deps.out(`  … and ${counts.listed - LIST_LIMIT} more`);
    deps.out(`${counts.matched} message(s) to queue again on ${target}`);
    for (const line of skipped()) deps.out(line);
    deps.out('dry run: nothing queued');
    return EXIT_OK;
  }
  deps.out(`${counts.queued} message(s) received ${range}${sender} queued again on ${target}`);
  for (const line of skipped()) deps.out(line);
  return EXIT_OK;
}

/** A note when the range reaches beyond what the archive can still hold. */
function retentionNote(config: Config, options: Options, deps: ReplayDeps): void {
  const days = config.hl7.rawRetentionDays;
  const oldest = (deps.now?.() ?? new Date()).getTime() - days * DAY_MS;
  if (options.from.getTime() < oldest) {
    deps.out(
      `note: raw messages are kept ${days} day(s) (PFI_HL7_RAW_RETENTION_DAYS): none received before ${new Date(oldest).toISOString()} is left`,
    );
  }
}

async function loadRegistry(config: Config): Promise<PartnerRegistry | undefined> {
  if (config.mllp.registryFile === undefined) return undefined;
  try {
    return await loadRegistryFile(config.mllp.registryFile);
  } catch (err) {
    const why = err instanceof Error && err.name === 'RegistryError' ? err.message : errorText(err);
    throw new UsageError(`PFI_MLLP_REGISTRY cannot be read: ${why}`);
  }
}

async function replayAws(queueArn: string, config: Config, options: Options, deps: ReplayDeps): Promise<number> {
  if (config.documents.kind !== 's3' || config.hl7.rawArchive !== 'documents') {
    throw new UsageError(
      'in AWS the archive is the documents bucket: set PFI_DOCUMENTS_BUCKET (and leave PFI_HL7_RAW_ARCHIVE unset)',
    );
  }
  if (config.mllp.registryFile === undefined) {
    throw new UsageError(
      "set PFI_MLLP_REGISTRY to a file holding the bridge's partner registry (the IPP authority of each sender)",
    );
  }
  const registry = await loadRegistry(config);
  const [, , account, queueName] = SQS_ARN.exec(queueArn) ?? [];
  const bucket = config.documents.bucket;
  const s3 = deps.s3 ?? new S3Client({});
  const sqs = deps.sqs ?? new SQSClient({});
  try {
    const store = new S3DocumentStore({ client: s3, bucket, kmsKeyId: config.documents.kmsKeyId });
    const archive = documentArchive(`s3://${bucket}/${RAW_MESSAGE_PREFIX}`, store, s3Lister(s3, bucket));
    retentionNote(config, options, deps);
    let sink: Sink | undefined;
    if (!options.dryRun) {
      let queueUrl: string | undefined;
      try {
        ({ QueueUrl: queueUrl } = await sqs.send(
          new GetQueueUrlCommand({ QueueName: queueName, QueueOwnerAWSAccountId: account }),
        ));
      } catch (err) {
        deps.err(`hl7:replay: ${errorText(err)}`);
        return EXIT_FAILURE;
      }
      if (queueUrl === undefined) {
        deps.err(`hl7:replay: no URL for ${queueName}`);
        return EXIT_FAILURE;
      }
      sink = sqsSink(sqs, queueUrl, bucket);
    }
    return await replay(archive, sink, queueName ?? queueArn, options, registry, deps);
  } finally {
    if (deps.s3 === undefined) s3.destroy();
    if (deps.sqs === undefined) sqs.destroy();
  }
}

async function replayLocal(config: Config, options: Options, deps: ReplayDeps): Promise<number> {
  if (config.database.kind === 'data-api') {
    throw new UsageError(
      'the queue of an Aurora (Data API) database is not the AWS inbound queue: set PFI_HL7_QUEUE_ARN to replay onto SQS',
    );
  }
  const registry = await loadRegistry(config);
  const s3 = config.documents.kind === 's3' ? (deps.s3 ?? new S3Client({})) : undefined;
  const archiveOf = (db: SqlExecutor): Archive => {
    if (config.hl7.rawArchive === 'database') return databaseArchive(db);
    if (config.documents.kind === 'file') {
      const store = new FileDocumentStore(config.documents.dir);
      return documentArchive(`the document store (${config.documents.dir})`, store, fileLister(config.documents.dir));
    }
    const { bucket, kmsKeyId } = config.documents;
    const store = new S3DocumentStore({ client: s3!, bucket, kmsKeyId });
    return documentArchive(`s3://${bucket}/${RAW_MESSAGE_PREFIX}`, store, s3Lister(s3!, bucket));
  };
  const run = async (db: SqlExecutor) => {
    retentionNote(config, options, deps);
    const queue = new SqlQueue(db);
    const code = await replay(
      archiveOf(db),
      options.dryRun ? undefined : localSink(queue),
      `${HL7_INBOUND_QUEUE} (the local queue)`,
      options,
      registry,
      deps,
    );
    if (code === EXIT_OK && !options.dryRun) {
      const depth = await queue.depth(HL7_INBOUND_QUEUE);
      deps.out(
        `${HL7_INBOUND_QUEUE}: ${depth.visible} waiting, ${depth.inFlight} in flight, ${depth.deadLetter} dead letter(s)`,
      );
    }
    return code;
  };
  try {
    if (deps.database !== undefined) {
      await migrate(deps.database);
      return await run(deps.database);
    }
    return await withPlatformDatabase(config, run, async () => {
      // PGlite is single-process: `npm start` holds the directory, its archive and its queue.
      deps.err(
        `hl7:replay: the embedded database in ${config.dataDir} is in use by another process (is \`npm start\` running?). ` +
          'Stop the platform first and run hl7:replay again, or run both on PostgreSQL with DATABASE_URL.',
      );
      return EXIT_USAGE;
    });
  } catch (err) {
    const cause =
      err instanceof DatabaseUnreachableError ? `cannot open the database (${err.message})` : errorText(err);
    deps.err(`hl7:replay: ${cause}`);
    return EXIT_FAILURE;
  } finally {
    if (s3 !== undefined && deps.s3 === undefined) s3.destroy();
  }
}

/**
 * The whole command: parses `argv` (the arguments after the script name), then replays locally or in AWS.
 *
 * @example
 * ```ts
 * const code = await runReplay(['--from', '2026-11-25T10:00:00Z', '--to', '2026-11-25T12:00:00Z', '--dry-run'], {
 *   env: process.env, out: console.log, err: console.error,
 * });
 * ```
 * @returns the exit code: 0 done, 1 database, archive or AWS failure, 2 usage, configuration or data directory in use.
 */
export async function runReplay(argv: string[], deps: ReplayDeps): Promise<number> {
  try {
    const options = parseCommandLine(argv);
    if (options === 'help') {
      deps.out(USAGE);
      return EXIT_OK;
    }
    const queueArn = deps.env.PFI_HL7_QUEUE_ARN?.trim() || undefined;
    if (queueArn !== undefined && !SQS_ARN.test(queueArn)) {
      throw new UsageError('PFI_HL7_QUEUE_ARN must be the ARN of an SQS FIFO queue (…:pfi-<stage>-hl7-inbound.fifo)');
    }
    let config: Config;
    try {
      config = loadConfig(deps.env);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      deps.err(`hl7:replay: ${err.message}`);
      return EXIT_USAGE;
    }
    return queueArn === undefined
      ? await replayLocal(config, options, deps)
      : await replayAws(queueArn, config, options, deps);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    deps.err(`hl7:replay: ${err.message}\n${USAGE}`);
    return EXIT_USAGE;
  }
}

// Run only when executed, so tests can import runReplay.
const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(resolve(entry)).href) {
  process.exitCode = await runReplay(process.argv.slice(2), {
    env: process.env,
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
  });
}
