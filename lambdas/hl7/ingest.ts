/**
 * The HL7 ingest use case: queued messages → FHIR writes, each message atomic. A batch of messages is read in one
 * statement, applied in memory (./apply/unit-of-work.ts) and written in one short transaction. The raw message is
 * kept in its archive (./raw-archive.ts: replay and audit) and a Provenance links it to every resource the message
 * wrote. Redelivering a message changes nothing: every write is keyed by business identifiers and the Provenance
 * id by the message hash.
 */

import { createHash } from 'node:crypto';
import type { DocumentStore } from '../adapters/documents/document-store.js';
import type { Settled } from '../adapters/queue/coalesce.js';
import type { SqlExecutor } from '../adapters/sql/executor.js';
import { auditOutboxMessage } from '../audit/recorder.js';
import { FhirError } from '../fhir/errors.js';
import type { FhirService } from '../fhir/service.js';
import { ApplyContext, INGEST_AUTH, type IngestWarning, type Json, type Written } from './apply/context.js';
import { applyDocument } from './apply/documents.js';
import { applyVisit } from './apply/encounter.js';
import { changeIdentifier, mergePatients, upsertPatient } from './apply/patient.js';
import { applyReport } from './apply/results.js';
import { UnitOfWork } from './apply/unit-of-work.js';
import type { DocumentFacts } from './map/documents.js';
import { type MappedMessage, MappingError, type MessageKind, mapMessage } from './map/message.js';
import type { BusinessIdentifier } from './map/patient.js';
import { Hl7ParseError, parseHl7 } from './parser.js';
import { documentArchive, type RawMessage, type RawMessageArchive, rawMessageKey } from './raw-archive.js';

export { RAW_MESSAGE_PREFIX, rawMessageKey } from './raw-archive.js';

export interface IngestDeps {
  service: FhirService;
  documents: DocumentStore;
  /** Where raw messages are kept; default: one document-store object per message. */
  archive?: RawMessageArchive;
  /** Practitioner ids by identifier, kept between messages (one lookup saved per message naming a doctor). */
  practitioners?: Map<string, string>;
}

export interface InboundHl7 {
  /** The message as UTF-8 text (the bridge decoded its charset). */
  message: string;
  /** ISO instant the bridge received it. */
  receivedAt: string;
  /** IPP authority the partner registry names for the sender, if any. */
  ippSystem?: string;
}

export interface IngestResult {
  kind: MessageKind;
  type: string;
  event: string;
  controlId: string;
  written: Written[];
  warnings: IngestWarning[];
  /** Provenance/<id> of this message. */
  provenance: string;
  /** Archive key of the raw message. */
  rawKey: string;
}

/** The fate of one message of a batch. */
export type IngestOutcome = Settled<IngestResult>;

/** A message that can never be applied as it is (unparseable, unsupported, missing what its kind needs). */
export class PoisonMessageError extends Error {
  override readonly name = 'PoisonMessageError';
  constructor(
    readonly code: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

function parse(inbound: InboundHl7): MappedMessage {
  try {
    return mapMessage(parseHl7(inbound.message), { ippSystem: inbound.ippSystem });
  } catch (err) {
    if (err instanceof Hl7ParseError) throw new PoisonMessageError('unparseable', err.message, { cause: err });
    if (err instanceof MappingError) throw new PoisonMessageError(err.code, err.message, { cause: err });
    throw err;
  }
}

async function apply(ctx: ApplyContext, m: MappedMessage): Promise<void> {
  let patient: Json;
  if (m.kind === 'merge') patient = await mergePatients(ctx, m.patient, m.previous);
  else if (m.kind === 'identifier-change') patient = await changeIdentifier(ctx, m.patient, m.previous);
  else patient = await upsertPatient(ctx, m.patient);
  const patientId = patient['id'] as string;
  const encounterRef = m.visit
    ? await applyVisit(ctx, patientId, m.visit, m.header.event, m.kind === 'movement')
    : undefined;
  for (const report of m.reports) await applyReport(ctx, report, patientId, encounterRef);
  if (m.document) await applyDocument(ctx, m.document, patientId, encounterRef);
}

/** The AuditEvent of a processed (or rejected) message, committed with its writes: technical ids only. */
export function hl7AuditEvent(
  m: {
    header: { sendingApplication: string; sendingFacility: string; type: string; event: string; controlId: string };
  },
  entities: string[],
  outcome: '0' | '4' | '8',
  outcomeDesc?: string,
) {
  return auditOutboxMessage({
    what: { kind: 'pfi', event: 'hl7-message' },
    action: 'C',
    outcome,
    ...(outcomeDesc ? { outcomeDesc } : {}),
    agent: { subject: `hl7:${m.header.sendingApplication}|${m.header.sendingFacility}`, requestor: true },
    source: 'pfi-hl7-ingest',
    entities: entities.filter((r) => !r.startsWith('Patient/')),
    patients: entities.filter((r) => r.startsWith('Patient/')),
    detail: `${m.header.type}^${m.header.event} ${m.header.controlId}`,
  });
}

function provenance(
  m: MappedMessage,
  id: string,
  targets: readonly string[],
  inbound: InboundHl7,
  raw: { key: string; system: string },
): Json {
  const sender = `${m.header.sendingApplication}|${m.header.sendingFacility}`;
  return {
    resourceType: 'Provenance',
    id,
    target: targets.map((reference) => ({ reference })),
    recorded: new Date(inbound.receivedAt).toISOString(),
    activity: {
      coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0003', code: m.header.event }],
      text: `HL7 v2 ${m.header.type}^${m.header.event}`,
    },
    agent: [
      {
        type: {
          coding: [{ system: 'http://terminology.hl7.org/CodeSystem/provenance-participant-type', code: 'author' }],
        },
        who: { identifier: { system: 'urn:pfi:hl7-sender', value: sender }, display: sender },
      },
      {
        type: {
          coding: [{ system: 'http://terminology.hl7.org/CodeSystem/provenance-participant-type', code: 'assembler' }],
        },
        who: { display: 'PFI hl7-ingest' },
      },
    ],
    entity: [
      {
        role: 'source',
        what: {
          identifier: { system: raw.system, value: raw.key },
          display: `HL7 v2 ${m.header.type}^${m.header.event} message ${m.header.controlId}`,
        },
      },
    ],
  };
}

/** One message ready to apply: mapped, with its archive key and Provenance id. */
interface Prepared {
  inbound: InboundHl7;
  mapped: MappedMessage;
  rawKey: string;
  provenanceId: string;
}

function prepare(inbound: InboundHl7): Prepared {
  if (Number.isNaN(Date.parse(inbound.receivedAt))) {
    throw new PoisonMessageError('bad-received-at', 'the queue message has no valid receivedAt instant');
  }
  const mapped = parse(inbound);
  const sha256 = createHash('sha256').update(inbound.message, 'utf8').digest('hex');
  return {
    inbound,
    mapped,
    rawKey: rawMessageKey(sha256, inbound.receivedAt),
    provenanceId: `hl7-${sha256.slice(0, 40)}`,
  };
}

/** A merge searches what points at the merged record, and must see its own writes: it runs in its own transaction. */
const needsOwnTransaction = (p: Prepared) => p.mapped.kind === 'merge';

/** The business identifiers the messages will look up, read in one statement before they are applied. */
function lookups(prepared: Prepared[], practitioners: Map<string, string>): (BusinessIdentifier & { type: string })[] {
  const keys: (BusinessIdentifier & { type: string })[] = [];
  const add = (type: string, id: BusinessIdentifier | undefined) => {
    if (id) keys.push({ type, ...id });
  };
  const documents = (d: DocumentFacts) => {
    add('DocumentReference', d.identifier);
    add('DocumentReference', d.replaces);
  };
  for (const { mapped: m } of prepared) {
    add('Patient', m.patient.ipp);
    add('Patient', m.patient.ins);
    for (const p of m.previous) add('Patient', p);
    add('Encounter', m.visit?.identifier);
    const doctor = m.visit?.movement?.attending;
    if (doctor?.system && doctor.id && !practitioners.has(`${doctor.system}|${doctor.id}`)) {
      add('Practitioner', { system: doctor.system, value: doctor.id });
    }
    for (const r of m.reports) {
      add('DiagnosticReport', r.identifier);
      for (const o of r.observations) add('Observation', o.identifier);
      r.documents.forEach(documents);
    }
    if (m.document) documents(m.document);
  }
  return keys;
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A batch applied in memory and validated, ready to be written. */
interface Staged {
  commit(): Promise<IngestResult[]>;
}

/**
 * Stages `prepared` together: reads what they designate (one statement), applies each in memory in order and
 * prepares the writes (CPU only, yielding to the event loop between messages); `commit` then writes everything —
 * resources, Provenances, raw messages — in one short transaction.
 */
async function stage(deps: IngestDeps, prepared: Prepared[]): Promise<Staged> {
  const archive = deps.archive ?? documentArchive(deps.documents);
  const unit = new UnitOfWork(deps.service, INGEST_AUTH, false);
  const contexts = await applyAll(deps, unit, prepared, archive.system);
  const flush = await unit.prepareFlush();
  return {
    commit: () =>
      writeAndArchive(deps, archive, prepared, contexts, async (tx) => {
        await flush.commit(tx);
      }),
  };
}

/** A message applied alone, entirely inside one transaction (a merge, whose searches must see its own writes). */
async function applyInTransaction(deps: IngestDeps, p: Prepared): Promise<IngestResult[]> {
  const archive = deps.archive ?? documentArchive(deps.documents);
  let contexts: ApplyContext[] = [];
  return writeAndArchive(
    deps,
    archive,
    [p],
    () => contexts,
    async (tx) => {
      const unit = new UnitOfWork(deps.service.withRepository(deps.service.repo.withExecutor(tx)), INGEST_AUTH, true);
      contexts = await applyAll(deps, unit, [p], archive.system);
      await unit.flush();
    },
  );
}

async function applyAll(
  deps: IngestDeps,
  unit: UnitOfWork,
  prepared: Prepared[],
  archiveSystem: string,
): Promise<ApplyContext[]> {
  const practitioners = deps.practitioners ?? new Map<string, string>();
  await unit.prefetch(lookups(prepared, practitioners));
  const contexts: ApplyContext[] = [];
  for (const p of prepared) {
    // Between messages, let the MLLP bridge answer its senders (a batch takes milliseconds of CPU).
    if (contexts.length) await yieldToEventLoop();
    const ctx = new ApplyContext(unit, deps.documents, practitioners);
    await apply(ctx, p.mapped);
    ctx.write(
      provenance(p.mapped, p.provenanceId, ctx.references, p.inbound, { key: p.rawKey, system: archiveSystem }),
      { outbox: [hl7AuditEvent(p.mapped, [...ctx.references, `Provenance/${p.provenanceId}`], '0')] },
    );
    contexts.push(ctx);
  }
  return contexts;
}

/**
 * Runs `write` in one transaction with the raw messages: a database archive writes them in that transaction; an
 * archive outside the database (S3) is written while the transaction runs (it costs as much), and the attempt
 * succeeds only once both are done, so a failed write makes the messages come again (their FHIR part is then a
 * no-op).
 */
async function writeAndArchive(
  deps: IngestDeps,
  archive: RawMessageArchive,
  prepared: Prepared[],
  contexts: ApplyContext[] | (() => ApplyContext[]),
  write: (tx: SqlExecutor) => Promise<void>,
): Promise<IngestResult[]> {
  const raws: RawMessage[] = prepared.map((p) => ({
    key: p.rawKey,
    receivedAt: p.inbound.receivedAt,
    body: p.inbound.message,
  }));
  let external: Promise<void> | undefined;
  if (!archive.transactional) {
    external = archive.store(raws, deps.service.repo.db);
    external.catch(() => undefined); // awaited below; not an unhandled rejection meanwhile
  }
  await deps.service.repo.db.transaction(async (tx) => {
    await write(tx);
    if (archive.transactional) await archive.store(raws, tx);
  });
  await external;
  const done = typeof contexts === 'function' ? contexts() : contexts;
  return prepared.map((p, i) => {
    const ctx = done[i]!;
    return {
      kind: p.mapped.kind,
      type: p.mapped.header.type,
      event: p.mapped.header.event,
      controlId: p.mapped.header.controlId,
      written: ctx.written.filter((w) => w.reference !== `Provenance/${p.provenanceId}`),
      warnings: ctx.warnings,
      provenance: `Provenance/${p.provenanceId}`,
      rawKey: p.rawKey,
    };
  });
}

/**
 * Serializes the commits of the batches one process runs at once: batch B may be read and applied in memory while
 * batch A is written, but their writes — and the retries of a batch that lost a race — run one after another, so
 * a retry reads what the other batch committed and cannot lose again.
 */
export type CommitLock = <T>(fn: () => Promise<T>) => Promise<T>;

export function createCommitLock(): CommitLock {
  let tail: Promise<unknown> = Promise.resolve();
  return (fn) => {
    const run = tail.then(fn, fn);
    tail = run.catch(() => undefined);
    return run;
  };
}

const noLock: CommitLock = (fn) => fn();

/**
 * Applies a batch of inbound messages (of distinct queue groups: their order does not matter) with a few
 * statements for the whole batch. Each message is atomic: its writes commit together with its Provenance and raw
 * message, or not at all. When the batch as a whole fails (one message breaks a FHIR rule, a concurrent writer
 * won a race), each message is applied again on its own, so one bad message fails alone.
 *
 * @param lock shared by the batches one process runs concurrently (see {@link createCommitLock}).
 * @returns one outcome per message, in order; a failure carries {@link PoisonMessageError} when the message can
 *   never be applied (the worker dead-letters it after its attempts), any other error for a failed attempt.
 *
 * @example
 * ```ts
 * const [first, second] = await ingestBatch({ service, documents, archive }, [inboundA, inboundB]);
 * if (!first.ok) release(first.error);
 * ```
 */
export async function ingestBatch(
  deps: IngestDeps,
  inbounds: InboundHl7[],
  lock: CommitLock = noLock,
): Promise<IngestOutcome[]> {
  const outcomes: IngestOutcome[] = new Array(inbounds.length);
  const together: { i: number; p: Prepared }[] = [];
  const alone: { i: number; p: Prepared }[] = [];
  for (const [i, inbound] of inbounds.entries()) {
    try {
      const p = prepare(inbound);
      (needsOwnTransaction(p) ? alone : together).push({ i, p });
    } catch (error) {
      outcomes[i] = { ok: false, error };
    }
  }
  let staged: Staged | undefined;
  let stageError: unknown;
  if (together.length) {
    try {
      staged = await stage(
        deps,
        together.map((t) => t.p),
      );
    } catch (error) {
      stageError = error;
    }
  }
  await lock(async () => {
    if (together.length) {
      const batch = together.map((t) => t.p);
      const settle = (results: IngestResult[]) => {
        for (const [j, t] of together.entries()) outcomes[t.i] = { ok: true, value: results[j]! };
      };
      try {
        if (!staged) throw stageError;
        settle(await staged.commit());
      } catch (error) {
        // Lost a race with a batch committed meanwhile (a new doctor, a patient reached by its INS): read and apply
        // the batch again, now that nothing of this process can commit in between.
        let failure = error;
        if (isRace(error) && together.length > 1) {
          try {
            settle(await (await stage(deps, batch)).commit());
            failure = undefined;
          } catch (again) {
            failure = again;
          }
        }
        if (failure !== undefined) {
          if (together.length === 1 && !isRace(failure)) outcomes[together[0]!.i] = { ok: false, error: failure };
          else alone.unshift(...together);
        }
      }
    }
    for (const a of alone) outcomes[a.i] = await applyAlone(deps, a.p);
  });
  return outcomes;
}

const isRace = (err: unknown) => err instanceof FhirError && err.status === 409;

/** One message on its own, read again when it loses an optimistic-locking race (409). */
async function applyAlone(deps: IngestDeps, p: Prepared): Promise<IngestOutcome> {
  for (let attempt = 1; ; attempt++) {
    try {
      const [result] = needsOwnTransaction(p)
        ? await applyInTransaction(deps, p)
        : await (await stage(deps, [p])).commit();
      return { ok: true, value: result! };
    } catch (error) {
      // Lost a race with another process (same Patient reached by its INS, same new Practitioner): read again.
      if (attempt < RACE_ATTEMPTS && isRace(error)) continue;
      return { ok: false, error };
    }
  }
}

/** Attempts of a message applied on its own when it loses an optimistic-locking race (409). */
const RACE_ATTEMPTS = 3;

/**
 * Applies one inbound message atomically (the hl7-ingest Lambda's unit: one SQS record).
 *
 * @throws {PoisonMessageError} when the message can never be applied; any other error fails this attempt only.
 *
 * @example
 * ```ts
 * const result = await ingestHl7({ service, documents }, { message, receivedAt: new Date().toISOString() });
 * ```
 */
export async function ingestHl7(deps: IngestDeps, inbound: InboundHl7): Promise<IngestResult> {
  const [outcome] = await ingestBatch(deps, [inbound]);
  if (!outcome!.ok) throw outcome!.error;
  return outcome!.value;
}

/** Deletes raw messages older than `days` (the retention of the raw HL7 archive). */
export async function purgeRawMessages(archive: RawMessageArchive, days: number, now = new Date()): Promise<number> {
  return archive.purge(new Date(now.getTime() - days * 86_400_000));
}
