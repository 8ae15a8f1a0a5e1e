import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataDirBusyError, lockDataDir } from '../../lambdas/fhir/data-dir-lock.js';

describe('lockDataDir', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pfi-lock-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('takes the lock, refuses a live owner, releases', async () => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)']);
    try {
      await writeFile(join(dir, 'pfi.lock'), String(child.pid));
      expect(() => lockDataDir(dir)).toThrow(DataDirBusyError);
      expect(() => lockDataDir(dir)).toThrow(new RegExp(`in use by process ${child.pid}`));
    } finally {
      child.kill();
    }
    await new Promise((r) => child.once('exit', r));
    // The owner died: its lock is taken over.
    const release = lockDataDir(dir);
    expect(await readFile(join(dir, 'pfi.lock'), 'utf8')).toBe(String(process.pid));
    release();
    await expect(readFile(join(dir, 'pfi.lock'), 'utf8')).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
