import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileDocumentStore } from '../../../lambdas/adapters/documents/file-store.js';
import { documentStoreFromConfig } from '../../../lambdas/adapters/documents/from-config.js';
import { S3DocumentStore } from '../../../lambdas/adapters/documents/s3-store.js';
import { loadConfig } from '../../../lambdas/config.js';

describe('documentStoreFromConfig', () => {
  it('gives the file store under $PFI_DATA_DIR/documents by default', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pfi-docs-config-'));
    try {
      const store = await documentStoreFromConfig(loadConfig({ PFI_DATA_DIR: tmp }).documents);
      expect(store).toBeInstanceOf(FileDocumentStore);
      expect(store.kind).toBe('file');
      await store.put('a/b.txt', 'x', { contentType: 'text/plain' });
      expect(fs.readdirSync(path.join(tmp, 'documents', 'a'))).toEqual(['b.txt']);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('gives the S3 store when a bucket is configured', async () => {
    const store = await documentStoreFromConfig({ kind: 's3', bucket: 'pfi-documents', kmsKeyId: undefined });
    expect(store).toBeInstanceOf(S3DocumentStore);
    expect(store.kind).toBe('s3');
  });
});
