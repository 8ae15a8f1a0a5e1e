import { describe, expect, it } from 'vitest';
import {
  DocumentNotFoundError,
  DocumentStoreError,
  InvalidDocumentKeyError,
  MAX_DOCUMENT_KEY_LENGTH,
  normalizeDocumentPrefix,
  validateDocumentKey,
} from '../../../lambdas/adapters/documents/document-store.js';

describe('validateDocumentKey', () => {
  it.each([
    'a',
    'hl7/inbound/2026/11/25/0123abcd.hl7',
    'cda/DOC_1=v2-final.xml',
    '...hidden',
    'a/..b/c.',
    'x'.repeat(MAX_DOCUMENT_KEY_LENGTH),
  ])('accepts %s', (key) => {
    expect(() => validateDocumentKey(key)).not.toThrow();
  });

  it.each([
    ['', /empty/],
    ['/a', /empty segment/],
    ['a/', /empty segment/],
    ['a//b', /empty segment/],
    ['.', /\. or \.\. segment/],
    ['a/../b', /\. or \.\. segment/],
    ['a/./b', /\. or \.\. segment/],
    ['a b', /character/],
    ['a\\b', /character/],
    ['dossier/Zoé.xml', /character/],
    ['a\u0000b', /character/],
    ['x'.repeat(MAX_DOCUMENT_KEY_LENGTH + 1), /longer than 512/],
  ])('rejects %j', (key, message) => {
    expect(() => validateDocumentKey(key)).toThrow(InvalidDocumentKeyError);
    expect(() => validateDocumentKey(key)).toThrow(message);
  });

  it('does not echo the key', () => {
    let err: unknown;
    try {
      validateDocumentKey('patients/Zoé Testé.xml');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DocumentStoreError);
    expect((err as Error).message).not.toContain('Zo');
  });
});

describe('normalizeDocumentPrefix', () => {
  it('accepts the empty prefix and strips one trailing slash', () => {
    expect(normalizeDocumentPrefix('')).toBe('');
    expect(normalizeDocumentPrefix('hl7/inbound/')).toBe('hl7/inbound');
    expect(normalizeDocumentPrefix('hl7')).toBe('hl7');
    expect(() => normalizeDocumentPrefix('/')).toThrow(InvalidDocumentKeyError);
    expect(() => normalizeDocumentPrefix('../x')).toThrow(InvalidDocumentKeyError);
    expect(() => normalizeDocumentPrefix('hl7//')).toThrow(InvalidDocumentKeyError);
  });
});

describe('errors', () => {
  it('form a hierarchy with names', () => {
    const notFound = new DocumentNotFoundError('a/b');
    expect(notFound).toBeInstanceOf(DocumentStoreError);
    expect(notFound.name).toBe('DocumentNotFoundError');
    expect(notFound.key).toBe('a/b');
    expect(new InvalidDocumentKeyError('x').name).toBe('InvalidDocumentKeyError');
    expect(new DocumentStoreError('x').name).toBe('DocumentStoreError');
  });
});
