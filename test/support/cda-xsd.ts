/**
 * Test-only: validates a CDA document against the ANS `CDA_extended.xsd` with xmllint-wasm.
 *
 * The schema set is read once from the corpus folder (every .xsd under it is preloaded in the WASM file system,
 * because xmllint-wasm throws instead of resolving an include it was not given). Each call starts a fresh WASM
 * instance (~200 ms): validate a handful of documents, not hundreds.
 */

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { validateXML, type XMLFileInfo } from 'xmllint-wasm';

export interface XsdResult {
  valid: boolean;
  /** xmllint's validity errors, without the file name (the schema parser's warnings are left out). */
  errors: string[];
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : name.endsWith('.xsd') ? [path] : [];
  });
}

/** A validator bound to the schema folder (`…/ans-cda-extended`) holding `CDA_extended.xsd`. */
export function cdaXsdValidator(schemaDir: string): (xml: string) => Promise<XsdResult> {
  const main = join(schemaDir, 'CDA_extended.xsd');
  if (!existsSync(main)) throw new Error(`CDA_extended.xsd not found in ${schemaDir}`);
  const files: XMLFileInfo[] = walk(schemaDir).map((path) => ({
    fileName: relative(schemaDir, path).split(sep).join('/'),
    contents: readFileSync(path, 'utf8'),
  }));
  const schema = files.find((f) => f.fileName === 'CDA_extended.xsd')!;
  const preload = files.filter((f) => f !== schema);
  return async (xml) => {
    const result = await validateXML({ xml: { fileName: 'document.xml', contents: xml }, schema, preload });
    const errors = result.errors.map((e) => e.message).filter((m) => !m.includes('Schemas parser warning'));
    return { valid: result.valid, errors };
  };
}
