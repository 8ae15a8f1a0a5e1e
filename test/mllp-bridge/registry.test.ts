import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  createPartnerRegistry,
  loadRegistryFile,
  openRegistry,
  parseRegistry,
  RegistryError,
} from '../../mllp-bridge/src/registry.js';

const file = {
  strict: true,
  defaultCharset: 'utf-8',
  partners: [
    { application: 'GAM', facility: 'CHU-X', allowed: true, charset: 'latin1' },
    { application: 'LABO', facility: 'CHU-X', allowed: true },
    { application: 'OLD', facility: 'CHU-X', allowed: false },
  ],
};

describe('parseRegistry', () => {
  it('accepts a valid file', () => {
    const config = parseRegistry(file);
    expect(config.strict).toBe(true);
    expect(config.partners).toHaveLength(3);
    expect(config.partners[0]?.charset).toBe('latin1');
  });

  const invalid: { name: string; value: unknown; path: string }[] = [
    { name: 'not an object', value: 'x', path: '(root)' },
    { name: 'missing strict', value: { defaultCharset: 'utf-8', partners: [] }, path: 'strict' },
    { name: 'unknown charset', value: { ...file, defaultCharset: 'ebcdic' }, path: 'defaultCharset' },
    {
      name: 'partner charset iso-8859-15 is not a fallback',
      value: { ...file, partners: [{ application: 'A', facility: 'B', allowed: true, charset: 'iso-8859-15' }] },
      path: 'partners.0.charset',
    },
    {
      name: 'allowed missing',
      value: { ...file, partners: [{ application: 'A', facility: 'B' }] },
      path: 'partners.0.allowed',
    },
    { name: 'extra key', value: { ...file, mode: 'strict' }, path: '(root)' },
  ];
  it.each(invalid)('rejects $name, naming the path', ({ value, path }) => {
    expect(() => parseRegistry(value)).toThrow(RegistryError);
    expect(() => parseRegistry(value)).toThrow(path);
  });

  it('rejects a duplicated partner by index, without its names', () => {
    const value = { ...file, partners: [...file.partners, { application: 'GAM', facility: 'CHU-X', allowed: false }] };
    expect(() => parseRegistry(value)).toThrow('duplicate partner at partners.3');
    try {
      parseRegistry(value);
    } catch (e) {
      expect(String(e)).not.toContain('CHU-X');
    }
  });
});

describe('createPartnerRegistry', () => {
  const strict = createPartnerRegistry(parseRegistry(file));
  const open = createPartnerRegistry(parseRegistry({ ...file, strict: false, defaultCharset: 'windows-1252' }));

  it('gives a known partner its own charset, else the default', () => {
    expect(strict.resolve('GAM', 'CHU-X')).toEqual({ accepted: true, charset: 'latin1', known: true });
    expect(strict.resolve('LABO', 'CHU-X')).toEqual({ accepted: true, charset: 'utf-8', known: true });
  });

  it('refuses unknown senders in strict mode and accepts them in open mode', () => {
    expect(strict.resolve('GAM', 'CHU-Y')).toEqual({ accepted: false, reason: 'unknown-sender' });
    expect(open.resolve('GAM', 'CHU-Y')).toEqual({ accepted: true, charset: 'windows-1252', known: false });
  });

  it('refuses a partner with allowed: false in both modes', () => {
    expect(strict.resolve('OLD', 'CHU-X')).toEqual({ accepted: false, reason: 'not-allowed' });
    expect(open.resolve('OLD', 'CHU-X')).toEqual({ accepted: false, reason: 'not-allowed' });
  });

  it('matches raw values exactly (no trimming, case-sensitive, no key collision through "|")', () => {
    expect(strict.resolve('gam', 'CHU-X').accepted).toBe(false);
    expect(strict.resolve('GAM ', 'CHU-X').accepted).toBe(false);
    const tricky = createPartnerRegistry(
      parseRegistry({
        strict: true,
        defaultCharset: 'utf-8',
        partners: [{ application: 'A|B', facility: 'C', allowed: true }],
      }),
    );
    expect(tricky.resolve('A', 'B|C').accepted).toBe(false);
    expect(tricky.resolve('A|B', 'C').accepted).toBe(true);
  });

  it('openRegistry accepts everyone with the given charset', () => {
    const r = openRegistry('latin1');
    expect(r.strict).toBe(false);
    expect(r.resolve('ANY', 'ONE')).toEqual({ accepted: true, charset: 'latin1', known: false });
  });
});

describe('loadRegistryFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pfi-registry-'));

  it('loads a JSON file', async () => {
    const path = join(dir, 'ok.json');
    writeFileSync(path, JSON.stringify(file));
    const r = await loadRegistryFile(path);
    expect(r.resolve('GAM', 'CHU-X')).toEqual({ accepted: true, charset: 'latin1', known: true });
  });

  it('rejects a file that is not JSON', async () => {
    const path = join(dir, 'bad.json');
    writeFileSync(path, '{ strict: true');
    await expect(loadRegistryFile(path)).rejects.toThrow(RegistryError);
  });

  it('rejects an invalid registry', async () => {
    const path = join(dir, 'invalid.json');
    writeFileSync(path, JSON.stringify({ ...file, strict: 'yes' }));
    await expect(loadRegistryFile(path)).rejects.toThrow('strict');
  });

  it('propagates a missing file', async () => {
    await expect(loadRegistryFile(join(dir, 'absent.json'))).rejects.toThrow(/ENOENT/);
  });
});
