import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { documentStoreFromConfig } from '../../lambdas/adapters/documents/from-config.js';
import { SqlQueue } from '../../lambdas/adapters/queue/sql-queue.js';
import { migrate } from '../../lambdas/adapters/sql/migrate.js';
import { createPgliteExecutor } from '../../lambdas/adapters/sql/pglite.js';
import { outboxAuditRecorder } from '../../lambdas/audit/recorder.js';
import { loadConfig } from '../../lambdas/config.js';
import { documentTriggers } from '../../lambdas/documents/queues.js';
import { FhirRepository } from '../../lambdas/fhir/repository/repository.js';
import { FhirService } from '../../lambdas/fhir/service.js';
import { HL7_INBOUND_QUEUE } from '../../lambdas/hl7/queues.js';
import { databaseArchive } from '../../lambdas/hl7/raw-archive.js';
import { startIngestWorker } from '../../scripts/hl7-ingest-worker.js';
import type { IngressPacer } from '../../scripts/ingress-pacer.js';
import { eventually } from '../support/mllp-client.js';
import { pam } from '../support/pam.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A pacer that holds every batch until the test lets it go, and records what the worker told it. */
function heldPacer() {
  const calls: string[] = [];
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const pacer: IngressPacer = {
    arrived: () => calls.push('arrived'),
    turn: async () => {
      calls.push('turn');
      await gate;
    },
    ran: () => calls.push('ran'),
    pacing: () => false,
    now: () => 0,
  };
  return { pacer, calls, release };
}

it('the ingest worker starts a batch only when its pacer gives the turn, and tells it of each arrival', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pfi-ingest-worker-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const config = loadConfig({ PFI_DATA_DIR: dir });
  const db = await createPgliteExecutor(join(dir, 'pg'));
  cleanups.push(() => db.close());
  await migrate(db);
  const documents = await documentStoreFromConfig(config.documents);
  const service = new FhirService(new FhirRepository(db, config.maxResourceBytes), documents, documentTriggers, {
    recorder: outboxAuditRecorder(db),
    source: 'pfi-hl7-ingest',
  });
  const queue = new SqlQueue(db);
  const held = heldPacer();
  const worker = startIngestWorker({
    config,
    db,
    queue,
    service,
    documents,
    archive: databaseArchive(db),
    report: { log: () => undefined, applied: () => undefined },
    pacer: held.pacer,
  });
  cleanups.push(() => worker.stop());

  const message = pam({ event: 'A28', controlId: 'PACED-1', ipp: '70011', family: 'MARTIN', given: 'LEA' });
  const body = JSON.stringify({ message, receivedAt: new Date().toISOString() });
  await queue.send(HL7_INBOUND_QUEUE, [{ body, groupId: 'g', deduplicationId: 'paced-1' }]);
  worker.notify();
  await eventually('the batch waiting for its turn', async () => (held.calls.includes('turn') ? true : undefined));
  expect(held.calls[0]).toBe('arrived');
  expect(worker.stats.applied).toBe(0);
  const patients = await db.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM resource WHERE resource_type = 'Patient'",
  );
  expect(patients.rows[0]?.n).toBe(0);

  held.release();
  await eventually('the message applied', async () => (worker.stats.applied === 1 ? true : undefined));
  expect(held.calls).toEqual(['arrived', 'turn', 'ran']);
}, 60_000);
