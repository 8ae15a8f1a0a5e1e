import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outboxBacklog, relayOutbox } from '../../lambdas/adapters/queue/outbox-relay.js';
import { SqlQueue } from '../../lambdas/adapters/queue/sql-queue.js';
import {
  DOCUMENT_ROUTES,
  JobBodyError,
  MSSANTE_QUEUE,
  MSSANTE_SEND_TOPIC,
  mssanteTrigger,
  parseJob,
} from '../../lambdas/documents/queues.js';
import { type DocumentsTestBed, documentsTestBed } from '../support/documents.js';
import { authWith } from '../support/fixtures.js';

const communication = (over: Record<string, unknown> = {}) => ({
  resourceType: 'Communication',
  status: 'preparation',
  recipient: [{ reference: 'Practitioner/dr-1' }],
  payload: [{ contentReference: { reference: 'DocumentReference/doc-1' } }],
  ...over,
});

describe('mssanteTrigger', () => {
  it('queues a send for a Communication to send with a recipient and a document', () => {
    expect(mssanteTrigger({ ...communication(), id: 'c1' })).toEqual([
      { topic: MSSANTE_SEND_TOPIC, payload: '{"communication":"Communication/c1"}' },
    ]);
    expect(mssanteTrigger({ ...communication({ status: 'in-progress' }), id: 'c1' })).toHaveLength(1);
  });

  it.each([
    ['completed', communication({ status: 'completed' })],
    ['no recipient', communication({ recipient: [] })],
    ['a text payload only', communication({ payload: [{ contentString: 'hello' }] })],
    ['another type', { resourceType: 'Patient', status: 'preparation' }],
  ])('queues nothing for %s', (_, resource) => {
    expect(mssanteTrigger({ ...resource, id: 'c1' })).toEqual([]);
  });
});

describe('parseJob', () => {
  it('reads the reference and its id, and rejects bodies no producer writes', () => {
    expect(parseJob('{"communication":"Communication/abc.1"}', 'communication', 'Communication')).toEqual({
      communication: 'Communication/abc.1',
      id: 'abc.1',
    });
    for (const body of ['nope', '{}', '{"communication":"Patient/1"}', '{"communication":"Communication/a b"}']) {
      expect(() => parseJob(body, 'communication', 'Communication')).toThrow(JobBodyError);
    }
  });
});

describe('Communication writes commit their send with them', () => {
  let bed: DocumentsTestBed;
  beforeAll(async () => {
    bed = await documentsTestBed();
  });
  afterAll(async () => {
    await bed?.close();
  });

  it('create and update of a Communication to send write an outbox row the relay moves to the mssante queue', async () => {
    const auth = authWith();
    const created = await bed.service.create(auth, 'Communication', communication());
    const id = created.resource!.id;
    expect(await outboxBacklog(bed.db)).toEqual({ [MSSANTE_SEND_TOPIC]: 1 });
    // Completing it (what the worker does) queues nothing more.
    const done = { ...JSON.parse(created.resource!.json), status: 'completed' };
    await bed.service.update(auth, 'Communication', id, done);
    expect(await outboxBacklog(bed.db)).toEqual({ [MSSANTE_SEND_TOPIC]: 1 });

    expect(await relayOutbox(bed.db, DOCUMENT_ROUTES, { sender: 'same-database' })).toBe(1);
    const jobs = await new SqlQueue(bed.db).receive(MSSANTE_QUEUE, {
      max: 10,
      visibilityTimeoutSeconds: 30,
      maxReceives: 3,
    });
    expect(jobs.map((j) => [j.groupId, JSON.parse(j.body)])).toEqual([
      [`Communication/${id}`, { communication: `Communication/${id}` }],
    ]);
  });
});
