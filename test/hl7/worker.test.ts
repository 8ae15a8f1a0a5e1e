import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type {
  OutgoingMessage,
  QueueDepth,
  ReceivedMessage,
  ReleaseOptions,
} from '../../lambdas/adapters/queue/queue.js';
import { SqlQueue } from '../../lambdas/adapters/queue/sql-queue.js';
import type { SqlExecutor } from '../../lambdas/adapters/sql/executor.js';
import { migrate } from '../../lambdas/adapters/sql/migrate.js';
import { createPgliteExecutor } from '../../lambdas/adapters/sql/pglite.js';
import { FhirError } from '../../lambdas/fhir/errors.js';
import { type InboundHl7, type IngestResult, PoisonMessageError } from '../../lambdas/hl7/ingest.js';
import { MappingError } from '../../lambdas/hl7/map/message.js';
import {
  describeError,
  type Hl7Worker,
  type Hl7WorkerOptions,
  retryDelaySeconds,
  startHl7Worker,
} from '../../lambdas/hl7/worker.js';

const QUEUE = 'hl7-inbound';
const DLQ = 'hl7-inbound-dlq';
const EMPTY: QueueDepth = { visible: 0, inFlight: 0, deadLetter: 0 };

/** Queue bodies are `<group>:<n>`: the fake resolveBody passes them through as the HL7 text. */
const msg = (groupId: string, n: number): OutgoingMessage => ({
  body: `${groupId}:${n}`,
  groupId,
  deduplicationId: `${groupId}-${n}`,
});

const resultOf = (inbound: InboundHl7): IngestResult => ({
  kind: 'identity',
  type: 'ADT',
  event: 'A28',
  controlId: inbound.message,
  written: [],
  warnings: [],
  provenance: `Provenance/${inbound.message}`,
  rawKey: `hl7/raw/${inbound.message}`,
});

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** SqlQueue recording releases, with the queue state right after each one (the worker waits for it). */
class RecordingQueue extends SqlQueue {
  readonly releases: { opts: ReleaseOptions; depthAfter: QueueDepth }[] = [];
  failReceives = 0;

  override async release(queue: string, receipt: string, opts: ReleaseOptions): Promise<void> {
    await super.release(queue, receipt, opts);
    this.releases.push({ opts, depthAfter: await this.depth(queue) });
  }

  override async receive(...args: Parameters<SqlQueue['receive']>): Promise<ReceivedMessage[]> {
    if (this.failReceives > 0) {
      this.failReceives--;
      throw new Error('connection terminated');
    }
    return super.receive(...args);
  }
}

let db: SqlExecutor;
let queue: RecordingQueue;
let worker: Hl7Worker | undefined;

beforeAll(async () => {
  db = await createPgliteExecutor();
  await migrate(db);
});
afterAll(async () => {
  await db?.close();
});
beforeEach(async () => {
  await db.query('DELETE FROM queue_message');
  await db.query('DELETE FROM queue_dedup');
  queue = new RecordingQueue(db);
});
afterEach(async () => {
  await worker?.stop();
  worker = undefined;
});

/** Starts the worker on `hl7-inbound` with a pass-through resolveBody and a short idle poll. */
function start(opts: Partial<Hl7WorkerOptions> & Pick<Hl7WorkerOptions, 'ingest'>): Hl7Worker {
  worker = startHl7Worker({
    queue,
    queueName: QUEUE,
    resolveBody: async (body) => ({ message: body, receivedAt: '2026-03-05T10:30:00.000Z' }),
    idlePollMs: 10,
    ...opts,
  });
  return worker;
}

describe('startHl7Worker', () => {
  it('applies a message: deleted, applied event, stats', async () => {
    await queue.send(QUEUE, [msg('a', 1)]);
    const applied = vi.fn();
    const failed = vi.fn();
    const resolveBody = vi.fn(async (body: string) => ({ message: `resolved ${body}`, receivedAt: 'r' }));
    const ingest = vi.fn(async (inbound: InboundHl7) => resultOf(inbound));
    const w = start({ ingest, resolveBody, events: { applied, failed } });

    await w.idle();

    expect(resolveBody).toHaveBeenCalledWith('a:1');
    expect(ingest).toHaveBeenCalledWith({ message: 'resolved a:1', receivedAt: 'r' });
    expect(applied).toHaveBeenCalledTimes(1);
    expect(applied).toHaveBeenCalledWith(
      resultOf({ message: 'resolved a:1', receivedAt: 'r' }),
      expect.objectContaining({ body: 'a:1', groupId: 'a', receiveCount: 1 }),
    );
    expect(failed).not.toHaveBeenCalled();
    expect(w.stats).toEqual({ applied: 1, failed: 0, deadLettered: 0 });
    expect(await queue.depth(QUEUE)).toEqual(EMPTY);
  });

  it('releases a failed attempt with its error, hidden for the backoff, and applies the redelivery', async () => {
    await queue.send(QUEUE, [msg('a', 1)]);
    const applied = vi.fn();
    const failed = vi.fn();
    let calls = 0;
    const w = start({
      maxReceives: 5,
      ingest: async (inbound) => {
        if (++calls === 1) throw new Error('database unavailable');
        return resultOf(inbound);
      },
      events: { applied, failed },
    });

    // Waits for the redelivery: the one-second backoff of a first failure (the DB clock decides).
    await w.idle();

    expect(queue.releases).toEqual([
      {
        opts: { delaySeconds: retryDelaySeconds(1), error: 'Error (error): Error' },
        // Released but hidden: neither deliverable nor dead-lettered.
        depthAfter: { visible: 0, inFlight: 1, deadLetter: 0 },
      },
    ]);
    expect(failed).toHaveBeenCalledTimes(1);
    expect(failed).toHaveBeenCalledWith(
      { name: 'Error', code: 'error', message: 'Error' },
      expect.objectContaining({ body: 'a:1', receiveCount: 1 }),
      false,
    );
    expect(applied).toHaveBeenCalledTimes(1);
    const redelivered = applied.mock.calls[0]?.[1] as ReceivedMessage;
    expect(redelivered).toMatchObject({
      body: 'a:1',
      receiveCount: 2,
      lastError: 'Error (error): Error',
    });
    expect(w.stats).toEqual({ applied: 1, failed: 1, deadLettered: 0 });
    expect(await queue.depth(QUEUE)).toEqual(EMPTY);
  });

  it('dead-letters a message failing every time after maxReceives, and its group moves on', async () => {
    await queue.send(QUEUE, [msg('a', 1), msg('a', 2)]);
    const failed = vi.fn();
    const applied = vi.fn();
    const ingest = vi.fn(async (inbound: InboundHl7) => {
      if (inbound.message === 'a:1') {
        throw new PoisonMessageError('unsupported-message', 'ORM^O01 messages are not processed by PFI');
      }
      return resultOf(inbound);
    });
    const w = start({ maxReceives: 1, ingest, events: { failed, applied } });

    await w.idle();

    expect(failed).toHaveBeenCalledTimes(1);
    expect(failed).toHaveBeenCalledWith(
      {
        name: 'PoisonMessageError',
        code: 'unsupported-message',
        message: 'ORM^O01 messages are not processed by PFI',
      },
      expect.objectContaining({ body: 'a:1', receiveCount: 1 }),
      true,
    );
    // The last attempt is released without delay: the next receive moves it to the dead-letter queue.
    expect(queue.releases.map((r) => r.opts.delaySeconds)).toEqual([0]);
    expect(applied.mock.calls.map((c) => (c[1] as ReceivedMessage).body)).toEqual(['a:2']);
    expect(ingest.mock.calls.map((c) => c[0].message)).toEqual(['a:1', 'a:2']);
    expect(w.stats).toEqual({ applied: 1, failed: 1, deadLettered: 1 });
    expect(await queue.depth(QUEUE)).toEqual({ visible: 0, inFlight: 0, deadLetter: 1 });

    const [dead] = await queue.receive(DLQ, { max: 10, visibilityTimeoutSeconds: 60, maxReceives: 5 });
    expect(dead).toMatchObject({
      body: 'a:1',
      lastError: 'PoisonMessageError (unsupported-message): ORM^O01 messages are not processed by PFI',
    });
  });

  it('keeps each group in order, one message at a time, while groups run in parallel', async () => {
    await queue.send(QUEUE, [msg('a', 1), msg('a', 2), msg('b', 1), msg('a', 3), msg('b', 2)]);
    const log: string[] = [];
    const running = new Set<string>();
    let overlaps = 0;
    const bStarted = deferred();
    const ingest = async (inbound: InboundHl7) => {
      const body = inbound.message;
      const group = body.split(':')[0] ?? '';
      if (running.has(group)) overlaps++;
      running.add(group);
      log.push(`start ${body}`);
      if (body === 'b:1') bStarted.resolve();
      // a:1 finishes only once b:1 has started: a worker running groups one after another would stall here.
      if (body === 'a:1') {
        const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error('b:1 never started')), 5000));
        await Promise.race([bStarted.promise, timeout]);
      }
      await new Promise((r) => setImmediate(r));
      log.push(`end ${body}`);
      running.delete(group);
      return resultOf(inbound);
    };
    const w = start({ ingest, concurrency: 8 });

    await w.idle();

    expect(overlaps).toBe(0);
    expect(w.stats).toEqual({ applied: 5, failed: 0, deadLettered: 0 });
    // Parallel: b:1 started while a:1 was running.
    expect(log.indexOf('start b:1')).toBeLessThan(log.indexOf('end a:1'));
    // Ordered within a group: each message starts after the previous one of its group ended.
    const order = (group: string) => log.filter((l) => l.startsWith('start') && l.includes(`${group}:`));
    expect(order('a')).toEqual(['start a:1', 'start a:2', 'start a:3']);
    expect(order('b')).toEqual(['start b:1', 'start b:2']);
    for (const [prev, next] of [
      ['a:1', 'a:2'],
      ['a:2', 'a:3'],
      ['b:1', 'b:2'],
    ]) {
      expect(log.indexOf(`end ${prev}`)).toBeLessThan(log.indexOf(`start ${next}`));
    }
  });

  it('a poison message uses its attempts without backoff: dead-lettered at once with its reason', async () => {
    await queue.send(QUEUE, [msg('p', 1)]);
    const w = start({
      maxReceives: 3,
      ingest: async () => {
        throw new PoisonMessageError('unsupported-message', 'ORM^O01 messages are not processed by PFI');
      },
    });
    await w.idle();
    expect(queue.releases.map((r) => r.opts.delaySeconds)).toEqual([0, 0, 0]);
    expect(await queue.depth(QUEUE)).toEqual({ visible: 0, inFlight: 0, deadLetter: 1 });
    expect(w.stats).toMatchObject({ failed: 3, deadLettered: 1 });
  });

  it('counts an applied message as applied even when its delete or an event hook fails', async () => {
    await queue.send(QUEUE, [msg('d', 1)]);
    const failing = Object.assign(Object.create(queue) as RecordingQueue, {
      delete: async () => {
        throw new Error('stale receipt');
      },
    });
    const failed = vi.fn();
    const w = start({
      queue: failing,
      ingest: async (inbound) => resultOf(inbound),
      events: {
        applied: () => {
          throw new Error('observer bug');
        },
        failed,
      },
    });
    await vi.waitFor(() => expect(w.stats.applied).toBe(1));
    expect(failed).not.toHaveBeenCalled();
    expect(queue.releases).toEqual([]);
    await w.stop();
    expect(await w.idle()).toBeUndefined();
  });

  it('does not take more messages than its concurrency', async () => {
    await queue.send(QUEUE, [msg('a', 1), msg('b', 1), msg('c', 1)]);
    let running = 0;
    let most = 0;
    const w = start({
      concurrency: 2,
      ingest: async (inbound) => {
        most = Math.max(most, ++running);
        await new Promise((r) => setImmediate(r));
        running--;
        return resultOf(inbound);
      },
    });
    await w.idle();
    expect(most).toBe(2);
    expect(w.stats.applied).toBe(3);
  });

  it('idle() resolves only once the queue is drained', async () => {
    await queue.send(QUEUE, [msg('a', 1), msg('a', 2), msg('b', 1), msg('c', 1)]);
    const ingest = vi.fn(async (inbound: InboundHl7) => resultOf(inbound));
    const w = start({ ingest });

    await w.idle();

    expect(ingest).toHaveBeenCalledTimes(4);
    expect(await queue.depth(QUEUE)).toEqual(EMPTY);
    // Idle again at once when nothing is left.
    await w.idle();
  });

  it('notify() wakes an idle worker before its poll interval', async () => {
    const ingest = vi.fn(async (inbound: InboundHl7) => resultOf(inbound));
    const applied = deferred();
    const w = start({ ingest, idlePollMs: 3_600_000, events: { applied: () => applied.resolve() } });
    await w.idle();
    await queue.send(QUEUE, [msg('a', 1)]);
    w.notify();
    // An hour-long poll would time the test out: notify() is what gets the message applied.
    await applied.promise;
    expect(ingest).toHaveBeenCalledTimes(1);
  });

  it('survives a failing receive (database briefly unavailable)', async () => {
    queue.failReceives = 2;
    await queue.send(QUEUE, [msg('a', 1)]);
    const ingest = vi.fn(async (inbound: InboundHl7) => resultOf(inbound));
    const w = start({ ingest });
    await w.idle();
    expect(queue.failReceives).toBe(0);
    expect(w.stats.applied).toBe(1);
  });

  it('stop() waits for the messages in flight and receives nothing more', async () => {
    await queue.send(QUEUE, [msg('a', 1)]);
    const started = deferred();
    const finish = deferred();
    const ingest = vi.fn(async (inbound: InboundHl7) => {
      started.resolve();
      await finish.promise;
      return resultOf(inbound);
    });
    const w = start({ ingest });
    await started.promise;

    let stopped = false;
    const stopping = w.stop().then(() => {
      stopped = true;
    });
    await new Promise((r) => setTimeout(r, 50));
    expect(stopped).toBe(false);

    finish.resolve();
    await stopping;
    expect(w.stats.applied).toBe(1);
    expect(await queue.depth(QUEUE)).toEqual(EMPTY);

    await queue.send(QUEUE, [msg('b', 1)]);
    w.notify();
    await new Promise((r) => setTimeout(r, 50));
    expect(ingest).toHaveBeenCalledTimes(1);
    expect(await queue.depth(QUEUE)).toEqual({ visible: 1, inFlight: 0, deadLetter: 0 });
  });
});

describe('retryDelaySeconds', () => {
  it('doubles from 1 second and stops at 60', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8, 20].map(retryDelaySeconds)).toEqual([1, 2, 4, 8, 16, 32, 60, 60, 60]);
    expect(retryDelaySeconds(0)).toBe(1);
  });
});

describe('describeError', () => {
  it('keeps name, code and message of a PoisonMessageError, never its cause', () => {
    const cause = new Error('PID|||IPP1^^^CHU||Durand^Anne');
    const err = new PoisonMessageError('unparseable', 'segment 3 has no name', { cause });
    const described = describeError(err);
    expect(described).toEqual({ name: 'PoisonMessageError', code: 'unparseable', message: 'segment 3 has no name' });
    expect(JSON.stringify(described)).not.toMatch(/Durand|IPP1/);
  });

  it('keeps the code and text of a MappingError raised while applying (the dead letter says why)', () => {
    const err = new MappingError(
      'identifier-conflict',
      'A47: the new identifier already belongs to another patient record',
    );
    expect(describeError(err)).toEqual({
      name: 'MappingError',
      code: 'identifier-conflict',
      message: 'A47: the new identifier already belongs to another patient record',
    });
  });

  it('gives a FHIR error its status and its diagnostics, not its cause', () => {
    const err = new FhirError(
      422,
      [
        { severity: 'error', code: 'invariant', diagnostics: 'Patient.birthDate: not a valid date' },
        { severity: 'error', code: 'required', diagnostics: 'Patient.identifier: required' },
      ],
      { cause: new Error('value 1980-13-45 of Durand') },
    );
    const described = describeError(err);
    expect(described).toEqual({
      name: 'FhirError',
      code: 'fhir-422',
      message: 'Patient.birthDate: not a valid date; Patient.identifier: required',
    });
    expect(JSON.stringify(described)).not.toMatch(/Durand|1980/);
  });

  it('falls back to the message of a FHIR error without diagnostics, and to a generic text for non-errors', () => {
    expect(describeError(new FhirError(409, [{ severity: 'error', code: 'conflict' }]))).toEqual({
      name: 'FhirError',
      code: 'fhir-409',
      message: 'conflict',
    });
    expect(describeError('Durand')).toEqual({ name: 'Error', code: 'error', message: 'unknown error' });
    // An error PFI did not write may quote data (a driver message with a value): only its name is kept.
    expect(describeError(new TypeError('invalid input syntax: "Durand"'))).toEqual({
      name: 'TypeError',
      code: 'error',
      message: 'TypeError',
    });
  });
});
