import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileDocumentStore } from '../../lambdas/adapters/documents/file-store.js';
import type { SqlExecutor } from '../../lambdas/adapters/sql/executor.js';
import { migrate } from '../../lambdas/adapters/sql/migrate.js';
import { createPgliteExecutor } from '../../lambdas/adapters/sql/pglite.js';
import {
  databaseArchive,
  documentArchive,
  type RawMessageArchive,
  rawMessageKey,
} from '../../lambdas/hl7/raw-archive.js';

let db: SqlExecutor;
let dir: string;

beforeAll(async () => {
  db = await createPgliteExecutor();
  await migrate(db);
  dir = await mkdtemp(join(tmpdir(), 'pfi-raw-'));
});
afterAll(async () => {
  await db.close();
  await rm(dir, { recursive: true, force: true });
});

const sha = (c: string) => c.repeat(64);
const message = (c: string) => ({
  key: rawMessageKey(sha(c), '2026-03-05T23:30:00.000Z'),
  receivedAt: '2026-03-05T23:30:00.000Z',
  body: `MSH|^~\\&|GAM|CHU|||20260306003000||ADT^A01|${c}|P|2.5\rPID|1||IPP^^^CHU^PI||LEFÈVRE^HÉLÈNE`,
});

describe.each([
  ['database', () => databaseArchive(db)],
  ['documents', () => documentArchive(new FileDocumentStore(join(dir, 'documents')))],
] as const)('%s raw archive', (kind, make) => {
  let archive: RawMessageArchive;
  beforeAll(() => {
    archive = make();
  });

  it('keeps each message under its day and hash, once, and gives it back as written', async () => {
    const a = message(kind === 'database' ? 'a' : 'b');
    expect(a.key).toBe(`hl7/raw/2026/03/05/${sha(a.key.at(-5)!)}.hl7`);
    await db.transaction(async (tx) => archive.store([a, a], tx));
    await db.transaction(async (tx) => archive.store([a], tx));
    expect(await archive.get(a.key)).toBe(a.body);
    expect(await archive.get(rawMessageKey(sha('f'), a.receivedAt))).toBeUndefined();
  });

  it('purges what was stored before the cutoff only', async () => {
    const c = message(kind === 'database' ? 'c' : 'd');
    await db.transaction(async (tx) => archive.store([c], tx));
    expect(await archive.purge(new Date(Date.now() - 60_000))).toBe(0);
    expect(await archive.purge(new Date(Date.now() + 60_000))).toBeGreaterThanOrEqual(1);
    expect(await archive.get(c.key)).toBeUndefined();
  });
});

describe('database raw archive', () => {
  it('stores in the transaction it is given: a rolled-back attempt keeps nothing', async () => {
    const archive = databaseArchive(db);
    const e = message('e');
    await db
      .transaction(async (tx) => {
        await archive.store([e], tx);
        throw new Error('the FHIR writes failed');
      })
      .catch(() => undefined);
    expect(await archive.get(e.key)).toBeUndefined();
    expect(archive.transactional).toBe(true);
    expect(archive.system).toBe('urn:pfi:hl7-raw-archive');
  });
});
