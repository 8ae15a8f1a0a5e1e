/**
 * Differential test: over every message of the shared HL7 v2 corpus, our parser must agree with hl7-standard on the
 * values hl7-standard reads correctly, i.e. the first repetition's components of fields carrying no escape sequence
 * and no subcomponent (see hl7-standard-gaps.test.ts for what it gets wrong). MSH-1/MSH-2 are excluded: hl7-standard
 * forces MSH-2 to `^~\&`.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import HL7 from 'hl7-standard';
import { describe, expect, it } from 'vitest';
import { parseHl7 } from '../../lambdas/hl7/parser.js';

const CORPUS = '/work/shared/corpus/hl7v2';

function listFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? listFiles(p) : p.endsWith('.hl7') ? [p] : [];
  });
}

/** Splits a file into messages on lines starting with MSH; lines before the first MSH are ignored. */
function splitMessages(text: string): string[] {
  const messages: string[][] = [];
  for (const line of text.split(/\r\n|\r|\n/)) {
    if (line.startsWith('MSH')) messages.push([line]);
    else if (line !== '') messages.at(-1)?.push(line);
  }
  return messages.map((lines) => lines.join('\r'));
}

interface Corpus {
  name: string;
  raw: string;
}

const corpus: Corpus[] = existsSync(CORPUS)
  ? listFiles(CORPUS).flatMap((file) =>
      splitMessages(readFileSync(file, 'utf8')).map((raw, i) => ({
        name: `${file.slice(CORPUS.length + 1)}#${i}`,
        raw,
      })),
    )
  : [];

/** Key fields the issue names: the sweep must have compared each of them at least once. */
const KEY_FIELDS = [
  'MSH.3.1',
  'MSH.7.1',
  'MSH.9.1',
  'MSH.10.1',
  'MSH.12.1',
  'PID.3.1',
  'PID.5.1',
  'PID.7.1',
  'PID.8.1',
];
KEY_FIELDS.push('PV1.2.1', 'OBX.3.1');

function asText(v: unknown): string {
  return v === null || v === undefined ? '' : String(v);
}

if (corpus.length === 0) console.warn(`parser-differential: skipped, ${CORPUS} is absent or empty`);

describe.skipIf(corpus.length === 0)('parser vs hl7-standard over the corpus', () => {
  it('agrees on every comparable value', () => {
    let compared = 0;
    const seen = new Set<string>();
    const mismatches: string[] = [];
    for (const { name, raw } of corpus) {
      const ours = parseHl7(raw);
      const theirs = new HL7(raw);
      theirs.transform();
      const occurrence = new Map<string, number>();
      for (const seg of ours.segments) {
        const segIndex = occurrence.get(seg.name) ?? 0;
        occurrence.set(seg.name, segIndex + 1);
        const first = seg.name === 'MSH' ? 3 : 1;
        for (let n = first; n <= seg.fieldCount; n++) {
          const field = seg.field(n);
          if (field.raw.includes('\\') || field.raw.includes('&')) continue;
          const rep = field.repetition(0);
          const count = Math.max(1, rep.components.length);
          for (let c = 1; c <= count; c++) {
            const path = `${seg.name}.${n}.${c}`;
            const expected = asText(theirs.get(path, segIndex, 0));
            const actual = rep.component(c).value;
            compared++;
            seen.add(path);
            // Only locations, never values: the corpus is synthetic, but the habit matters.
            if (actual !== expected) mismatches.push(`${name} ${path}[${segIndex}]`);
          }
        }
      }
    }
    console.log(`parser-differential: ${corpus.length} messages, ${compared} field values compared`);
    expect(mismatches).toEqual([]);
    expect(KEY_FIELDS.filter((k) => !seen.has(k))).toEqual([]);
    expect(compared).toBeGreaterThan(1000);
  });
});
