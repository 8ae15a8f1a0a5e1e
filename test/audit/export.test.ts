import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileDocumentStore } from '../../lambdas/adapters/documents/file-store.js';
import { chainHash, GENESIS_HASH, sealMessage } from '../../lambdas/audit/chain.js';
import { localSealKey } from '../../lambdas/audit/seal-key.js';
import { runAuditTrail } from '../../lambdas/audit/trail.js';
import { createTestPlatform, type TestPlatform } from '../support/platform.js';

let t: TestPlatform;
let dir: string;
beforeAll(async () => {
  t = await createTestPlatform();
  dir = await mkdtemp(join(tmpdir(), 'pfi-audit-export-'));
});
afterAll(async () => {
  await t?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('export of sealed audit batches', () => {
  it('writes each sealed batch once, verifiable from the export alone (hashes and MAC)', async () => {
    const key = localSealKey(join(dir, 'keys'));
    const store = new FileDocumentStore(join(dir, 'export'));
    for (const g of ['male', 'female', 'other']) await t.call('GET', `/Patient?gender=${g}`);
    const later = () => new Date(Date.now() + 5000);
    const first = await runAuditTrail(t.platform.db, t.platform.service.repo, key, { now: later(), exportTo: store });
    expect(first).toMatchObject({ sealed: true, exported: 1 });
    const again = await runAuditTrail(t.platform.db, t.platform.service.repo, key, { now: later(), exportTo: store });
    expect(again.exported).toBe(0);

    const keys = await store.list('audit-chain');
    expect(keys).toHaveLength(1);
    const lines = (await store.get(keys[0]!)).body
      .toString('utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const seal = lines.pop().seal;
    let prev = GENESIS_HASH;
    for (const row of lines) {
      expect(row.prevHash).toBe(prev);
      expect(chainHash(prev, row.eventId, JSON.stringify(row.event))).toBe(row.hash);
      prev = row.hash;
    }
    expect(seal.headHash).toBe(prev);
    expect(await key.verify(sealMessage(seal.position, seal.headHash), seal.mac, seal.keyId)).toBe(true);
  });
});
