/**
 * Embedded document store: one file per document under a root directory (`$PFI_DATA_DIR/documents`).
 *
 * File format: a one-line JSON header (`{"v":1,"contentType":…,"sha256":…,"bytes":…}` and `\n`), then the body
 * bytes. Keeping the metadata in the same file (rather than in a sidecar) makes a put one atomic rename: a reader
 * never sees a body with another version's content type, and a crash leaves no orphan sidecar.
 */

import { createHash, randomBytes } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { lstat, mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import {
  DocumentNotFoundError,
  type DocumentStore,
  DocumentStoreError,
  normalizeDocumentPrefix,
  type StoredDocument,
  validateDocumentKey,
} from './document-store.js';

/** Marks temporary files; `~` is outside the key alphabet, so a temporary file never shadows a document. */
const TEMP_MARK = '~';
const HEADER_VERSION = 1;
const MAX_HEADER_BYTES = 4096;

interface Header {
  v: number;
  contentType: string;
  sha256: string;
  bytes: number;
}

const errnoCode = (err: unknown): string | undefined => (err as NodeJS.ErrnoException | undefined)?.code;

/** Wraps a file system error; the message holds the operation and the errno code only. */
function fsError(operation: string, err: unknown): DocumentStoreError {
  return new DocumentStoreError(`cannot ${operation} (${errnoCode(err) ?? 'unknown error'})`, { cause: err });
}

/** fsync of a directory, so that entries created or renamed in it survive a crash. */
async function syncDirectory(dir: string): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (err) {
    // Some platforms (Windows) cannot open or fsync a directory; the rename is still atomic there.
    if (!['EISDIR', 'EPERM', 'EINVAL', 'EACCES'].includes(errnoCode(err) ?? '')) throw err;
  } finally {
    await handle?.close();
  }
}

/**
 * {@link DocumentStore} on the local file system: directories mode 0700, files mode 0600, writes made durable with
 * a temporary file in the target directory, fsync, rename and an fsync of the directory.
 *
 * @example
 * ```ts
 * const store = new FileDocumentStore('.pfi-data/documents');
 * const doc = await store.put('cda/2026/doc-1.xml', xml, { contentType: 'text/xml' });
 * const { body, contentType } = await store.get(doc.key);
 * ```
 */
export class FileDocumentStore implements DocumentStore {
  readonly kind = 'file' as const;
  private readonly root: string;

  /** @param rootDir - created (mode 0700) on the first put. */
  constructor(rootDir: string) {
    this.root = path.resolve(rootDir);
  }

  async put(key: string, body: Uint8Array | string, opts: { contentType: string }): Promise<StoredDocument> {
    validateDocumentKey(key);
    if (opts.contentType.trim() === '') throw new DocumentStoreError('content type is empty');
    const data = typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body);
    const sha256 = createHash('sha256').update(data).digest('hex');
    const header: Header = { v: HEADER_VERSION, contentType: opts.contentType, sha256, bytes: data.length };
    const file = this.pathOf(key);
    const dir = path.dirname(file);
    const tmp = `${file}${TEMP_MARK}${randomBytes(8).toString('hex')}.tmp`;
    try {
      await this.makeDirectory(dir);
      const handle = await open(tmp, 'wx', 0o600);
      try {
        await handle.writeFile(`${JSON.stringify(header)}\n`);
        await handle.writeFile(data);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(tmp, file);
      await syncDirectory(dir);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      if (err instanceof DocumentStoreError) throw err;
      // `a` stored as a document and `a/b` asked for (or the reverse): a file cannot be a directory too.
      if (['ENOTDIR', 'EEXIST', 'EISDIR'].includes(errnoCode(err) ?? '')) {
        throw new DocumentStoreError('document key conflicts with an existing document or folder', { cause: err });
      }
      throw fsError('write document', err);
    }
    return { key, bytes: data.length, sha256, contentType: opts.contentType };
  }

  async get(key: string): Promise<{ body: Buffer; contentType: string }> {
    validateDocumentKey(key);
    let raw: Buffer;
    try {
      raw = await readFile(this.pathOf(key));
    } catch (err) {
      if (['ENOENT', 'ENOTDIR', 'EISDIR'].includes(errnoCode(err) ?? '')) throw new DocumentNotFoundError(key);
      throw fsError('read document', err);
    }
    const newline = raw.indexOf(0x0a);
    const header = newline > 0 && newline <= MAX_HEADER_BYTES ? parseHeader(raw.subarray(0, newline)) : undefined;
    if (header === undefined) throw new DocumentStoreError('stored document has an unreadable header');
    const body = raw.subarray(newline + 1);
    if (body.length !== header.bytes || createHash('sha256').update(body).digest('hex') !== header.sha256) {
      throw new DocumentStoreError('stored document failed its integrity check');
    }
    return { body, contentType: header.contentType };
  }

  async delete(key: string): Promise<void> {
    validateDocumentKey(key);
    const file = this.pathOf(key);
    try {
      // A key that names a folder (documents stored under it) has no document of its own: nothing to delete.
      if (!(await lstat(file)).isFile()) return;
      await unlink(file);
    } catch (err) {
      if (['ENOENT', 'ENOTDIR'].includes(errnoCode(err) ?? '')) return;
      throw fsError('delete document', err);
    }
  }

  async list(prefix: string): Promise<string[]> {
    const normalized = normalizeDocumentPrefix(prefix);
    const keys: string[] = [];
    const walk = async (dir: string, keyPrefix: string): Promise<void> => {
      let entries: Dirent[];
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        if (['ENOENT', 'ENOTDIR'].includes(errnoCode(err) ?? '')) return;
        throw fsError('list documents', err);
      }
      for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
        const key = keyPrefix ? `${keyPrefix}/${e.name}` : e.name;
        if (e.isDirectory()) await walk(path.join(dir, e.name), key);
        else if (e.isFile() && !e.name.startsWith('.')) keys.push(key);
      }
    };
    await walk(normalized === '' ? this.root : this.pathOf(normalized), normalized);
    return keys;
  }

  /** Files have a single version: erasing is deleting. */
  async erase(key: string): Promise<void> {
    await this.delete(key);
  }

  async deleteOlderThan(prefix: string, cutoff: Date): Promise<number> {
    const normalized = normalizeDocumentPrefix(prefix);
    const limit = cutoff.getTime();
    let deleted = 0;
    const walk = async (dir: string): Promise<void> => {
      let entries: Dirent[];
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        if (['ENOENT', 'ENOTDIR'].includes(errnoCode(err) ?? '')) return;
        throw fsError('list documents', err);
      }
      for (const entry of entries) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) {
          await walk(full);
          continue;
        }
        // Temporary files belong to puts that may still be running.
        if (!entry.isFile() || entry.name.includes(TEMP_MARK)) continue;
        try {
          // The mtime is the time of the put: the temporary file is written just before its rename.
          if ((await lstat(full)).mtimeMs >= limit) continue;
          await unlink(full);
          deleted++;
        } catch (err) {
          if (errnoCode(err) === 'ENOENT') continue; // deleted meanwhile by someone else
          throw fsError('delete document', err);
        }
      }
    };
    await walk(normalized === '' ? this.root : this.pathOf(normalized));
    return deleted;
  }

  /** Path of a validated key: its segments can hold no `..`, so it stays under the root. */
  private pathOf(key: string): string {
    return path.join(this.root, ...key.split('/'));
  }

  /** Creates `dir` and missing parents (mode 0700), then makes the new entries durable. */
  private async makeDirectory(dir: string): Promise<void> {
    const first = await mkdir(dir, { recursive: true, mode: 0o700 });
    if (first === undefined) return;
    // Each created directory is an entry of its parent: fsync the parents from `dir` up to the first one created.
    for (let current = dir; ; current = path.dirname(current)) {
      const parent = path.dirname(current);
      await syncDirectory(parent);
      if (current === first || parent === current) break;
    }
  }
}

function parseHeader(line: Buffer): Header | undefined {
  try {
    const h = JSON.parse(line.toString('utf8')) as Partial<Header> | null;
    if (
      h?.v === HEADER_VERSION &&
      typeof h.contentType === 'string' &&
      typeof h.sha256 === 'string' &&
      typeof h.bytes === 'number'
    ) {
      return { v: h.v, contentType: h.contentType, sha256: h.sha256, bytes: h.bytes };
    }
  } catch {
    // fall through: unreadable header
  }
  return undefined;
}
