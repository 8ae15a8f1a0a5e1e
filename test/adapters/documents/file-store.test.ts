import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  DocumentNotFoundError,
  DocumentStoreError,
  InvalidDocumentKeyError,
} from '../../../lambdas/adapters/documents/document-store.js';
import { FileDocumentStore } from '../../../lambdas/adapters/documents/file-store.js';

let tmp: string;
let root: string;
let store: FileDocumentStore;

beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pfi-file-store-'));
  root = path.join(tmp, 'documents');
  store = new FileDocumentStore(root);
});

afterEach(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

const sha256 = (data: string | Uint8Array) => createHash('sha256').update(data).digest('hex');
const mode = (p: string) => fs.statSync(p).mode & 0o777;
const HL7 = 'MSH|^~\\&|GAM|CHU-X|PFI|PFI|20240306111154||ADT^A08|MSG1|P|2.5\rPID|1||4711^^^CHU-X^PI||Testé^Zoé\r';

/** Every file under a directory, relative, sorted. */
function listFiles(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true, withFileTypes: true }) as fs.Dirent[])
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

/** Sets a document's modification time (the store's "stored at"). */
function age(key: string, date: Date): void {
  fs.utimesSync(path.join(root, ...key.split('/')), date, date);
}

describe('FileDocumentStore', () => {
  it('stores a string and returns it with its content type, size and SHA-256', async () => {
    const stored = await store.put('hl7/inbound/2026/11/25/msg.hl7', HL7, {
      contentType: 'text/plain; charset=utf-8',
    });
    expect(store.kind).toBe('file');
    expect(stored).toEqual({
      key: 'hl7/inbound/2026/11/25/msg.hl7',
      bytes: Buffer.byteLength(HL7, 'utf8'),
      sha256: sha256(Buffer.from(HL7, 'utf8')),
      contentType: 'text/plain; charset=utf-8',
    });
    const got = await store.get('hl7/inbound/2026/11/25/msg.hl7');
    expect(Buffer.isBuffer(got.body)).toBe(true);
    expect(got.body.toString('utf8')).toBe(HL7);
    expect(got.contentType).toBe('text/plain; charset=utf-8');
  });

  it('stores bytes unchanged, including newlines and non-UTF-8 bytes', async () => {
    const bytes = new Uint8Array([0x0a, 0x00, 0xff, 0xe9, 0x0a, 0x0d, 0x7b]);
    const stored = await store.put('bin/b1', bytes, { contentType: 'application/octet-stream' });
    expect(stored.bytes).toBe(7);
    expect(stored.sha256).toBe(sha256(bytes));
    expect([...(await store.get('bin/b1')).body]).toEqual([...bytes]);
    await store.put('bin/empty', '', { contentType: 'text/plain' });
    expect((await store.get('bin/empty')).body.length).toBe(0);
  });

  it('creates directories with mode 0700 and files with mode 0600, and leaves no temporary file', async () => {
    await store.put('cda/2026/doc-1.xml', '<ClinicalDocument/>', { contentType: 'text/xml' });
    if (process.platform !== 'win32') {
      expect(mode(root)).toBe(0o700);
      expect(mode(path.join(root, 'cda'))).toBe(0o700);
      expect(mode(path.join(root, 'cda', '2026'))).toBe(0o700);
      expect(mode(path.join(root, 'cda', '2026', 'doc-1.xml'))).toBe(0o600);
    }
    expect(listFiles(root)).toEqual([path.join('cda', '2026', 'doc-1.xml')]);
  });

  it('overwrites an existing key, content type included', async () => {
    await store.put('cda/doc.xml', 'version 1', { contentType: 'text/xml' });
    const second = await store.put('cda/doc.xml', '{"v":2}', { contentType: 'application/json' });
    expect(second.sha256).toBe(sha256('{"v":2}'));
    const got = await store.get('cda/doc.xml');
    expect(got.body.toString()).toBe('{"v":2}');
    expect(got.contentType).toBe('application/json');
    expect(listFiles(root)).toEqual([path.join('cda', 'doc.xml')]);
  });

  it('throws DocumentNotFoundError for an absent key, a key naming a folder, or under a document', async () => {
    await expect(store.get('nothing/here')).rejects.toBeInstanceOf(DocumentNotFoundError);
    await store.put('a/b/c', 'x', { contentType: 'text/plain' });
    await expect(store.get('a/b')).rejects.toBeInstanceOf(DocumentNotFoundError);
    await expect(store.get('a/b/c/d')).rejects.toBeInstanceOf(DocumentNotFoundError);
    await expect(store.get('a/b/c')).resolves.toBeDefined();
  });

  it('refuses a key conflicting with a document or folder, without leaving files', async () => {
    await store.put('a/b', 'x', { contentType: 'text/plain' });
    await expect(store.put('a/b/c', 'y', { contentType: 'text/plain' })).rejects.toThrow(
      /conflicts with an existing document or folder/,
    );
    await expect(store.put('a', 'z', { contentType: 'text/plain' })).rejects.toBeInstanceOf(DocumentStoreError);
    expect(listFiles(root)).toEqual([path.join('a', 'b')]);
    expect((await store.get('a/b')).body.toString()).toBe('x');
  });

  it('rejects invalid keys on every operation and writes nothing outside the root', async () => {
    for (const key of ['../escape', 'a/../../escape', '/abs', 'a b', '']) {
      await expect(store.put(key, 'x', { contentType: 'text/plain' })).rejects.toBeInstanceOf(InvalidDocumentKeyError);
      await expect(store.get(key)).rejects.toBeInstanceOf(InvalidDocumentKeyError);
      await expect(store.delete(key)).rejects.toBeInstanceOf(InvalidDocumentKeyError);
    }
    expect(fs.readdirSync(tmp)).toEqual([]);
    await expect(store.put('ok', 'x', { contentType: ' ' })).rejects.toThrow('content type is empty');
  });

  it('deletes a document; deleting an absent key or a folder is not an error', async () => {
    await store.put('a/b', 'x', { contentType: 'text/plain' });
    await store.put('a/c/d', 'y', { contentType: 'text/plain' });
    await store.delete('a/b');
    await expect(store.get('a/b')).rejects.toBeInstanceOf(DocumentNotFoundError);
    await store.delete('a/b');
    await store.delete('never/stored');
    await store.delete('a/c');
    await store.delete('a/c/d/e');
    expect((await store.get('a/c/d')).body.toString()).toBe('y');
  });

  it('detects a document altered on disk, with a message free of content', async () => {
    await store.put('hl7/m.hl7', HL7, { contentType: 'text/plain' });
    const file = path.join(root, 'hl7', 'm.hl7');
    const raw = fs.readFileSync(file);
    raw[raw.length - 2] = 'X'.charCodeAt(0);
    fs.writeFileSync(file, raw);
    const err = await store.get('hl7/m.hl7').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DocumentStoreError);
    expect((err as Error).message).toBe('stored document failed its integrity check');
    fs.writeFileSync(file, 'no header at all');
    await expect(store.get('hl7/m.hl7')).rejects.toThrow('stored document has an unreadable header');
  });

  it('deleteOlderThan deletes the documents under the prefix older than the cutoff and counts them', async () => {
    const cutoff = new Date('2026-08-01T00:00:00Z');
    const old = new Date('2026-07-01T00:00:00Z');
    const recent = new Date('2026-09-01T00:00:00Z');
    const docs: [string, Date][] = [
      ['hl7/inbound/2026/07/01/a.hl7', old],
      ['hl7/inbound/2026/07/01/b.hl7', old],
      ['hl7/inbound/2026/09/01/c.hl7', recent],
      ['hl7/inbound/d.hl7', old],
      ['hl7/inbound-old/e.hl7', old], // same characters, another folder: not under the prefix
      ['hl7/f.hl7', old],
      ['cda/g.xml', old],
    ];
    for (const [key, date] of docs) {
      await store.put(key, key, { contentType: 'text/plain' });
      age(key, date);
    }
    // A temporary file of a put in progress is never taken for a document.
    const temp = path.join(root, 'hl7', 'inbound', 'd.hl7~0123456789abcdef.tmp');
    fs.writeFileSync(temp, 'partial');
    fs.utimesSync(temp, old, old);

    expect(await store.deleteOlderThan('hl7/inbound', cutoff)).toBe(3);
    expect(listFiles(root)).toEqual(
      [
        'cda/g.xml',
        'hl7/f.hl7',
        'hl7/inbound-old/e.hl7',
        'hl7/inbound/2026/09/01/c.hl7',
        'hl7/inbound/d.hl7~0123456789abcdef.tmp',
      ].map((p) => path.join(...p.split('/'))),
    );
    expect(await store.deleteOlderThan('hl7/inbound/', cutoff)).toBe(0);
    // The cutoff is exclusive: a document stored exactly at it stays.
    age('hl7/f.hl7', cutoff);
    expect(await store.deleteOlderThan('', cutoff)).toBe(2);
    expect(listFiles(root).filter((f) => !f.endsWith('.tmp'))).toEqual([
      path.join('hl7', 'f.hl7'),
      path.join('hl7', 'inbound', '2026', '09', '01', 'c.hl7'),
    ]);
  });

  it('deleteOlderThan returns 0 for an absent prefix or root and rejects an invalid prefix', async () => {
    expect(await store.deleteOlderThan('hl7/inbound', new Date())).toBe(0);
    await store.put('hl7/x', 'x', { contentType: 'text/plain' });
    expect(await store.deleteOlderThan('hl7/x', new Date(Date.now() + 60_000))).toBe(0);
    await expect(store.deleteOlderThan('../', new Date())).rejects.toBeInstanceOf(InvalidDocumentKeyError);
    await expect(store.deleteOlderThan('/', new Date())).rejects.toBeInstanceOf(InvalidDocumentKeyError);
    expect((await store.get('hl7/x')).body.toString()).toBe('x');
  });

  it('keeps every document under concurrent puts of distinct keys and of one key', async () => {
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        store.put(`c/${i % 4}/doc-${i}`, `body ${i}`, { contentType: 'text/plain' }),
      ),
    );
    for (let i = 0; i < 20; i++) expect((await store.get(`c/${i % 4}/doc-${i}`)).body.toString()).toBe(`body ${i}`);
    const bodies = Array.from({ length: 10 }, (_, i) => `same key ${i}`);
    await Promise.all(bodies.map((b) => store.put('c/same', b, { contentType: 'text/plain' })));
    expect(bodies).toContain((await store.get('c/same')).body.toString());
    expect(listFiles(root).filter((f) => f.includes('~'))).toEqual([]);
  });
});
