import { performance } from 'node:perf_hooks';
import { Hl7Message as MedplumHl7Message } from '@medplum/core';
import { mapMessage } from '../../lambdas/hl7/map/message.js';
import { parseHl7 } from '../../lambdas/hl7/parser.js';

/**
 * Part (a) of `npm run bench -- hl7`: messages per second on the calling thread (one core) for PFI's parse + map,
 * PFI's parse alone, and @medplum/core's `Hl7Message.parse` (a parser only: it has no FHIR mapping), over the same
 * ADT and ORU corpora.
 */

export type ParserName = 'pfi-parse-map' | 'pfi-parse' | 'medplum-parse';
export type CorpusName = 'ADT' | 'ORU';

export interface ParseRate {
  parser: ParserName;
  corpus: CorpusName;
  messages: number;
  seconds: number;
  perSecond: number;
  /** Microseconds per message. */
  micros: number;
}

/** What each parser does to one message; the number returned feeds a sink so the work cannot be optimised away. */
export const PARSERS: Record<ParserName, (text: string) => number> = {
  'pfi-parse-map': (text) => {
    const m = mapMessage(parseHl7(text));
    return m.kind.length + m.reports.length;
  },
  // Lazy: fields are split on first access, so this is the segment split only.
  'pfi-parse': (text) => parseHl7(text).segments.length,
  'medplum-parse': (text) => MedplumHl7Message.parse(text).segments.length,
};

let sink = 0;

/** Runs `fn` over `corpus` (cycling) for `ms` milliseconds; returns how many messages and the exact elapsed time. */
export function timeLoop(
  fn: (text: string) => number,
  corpus: readonly string[],
  ms: number,
): { count: number; ms: number } {
  if (corpus.length === 0) throw new RangeError('empty corpus');
  let i = 0;
  let count = 0;
  const start = performance.now();
  const end = start + ms;
  let now = start;
  while (now < end) {
    // Read the clock every 16 messages: performance.now() is not free next to a 20 µs parse.
    for (let k = 0; k < 16; k++) {
      sink += fn(corpus[i] as string);
      if (++i === corpus.length) i = 0;
    }
    count += 16;
    now = performance.now();
  }
  return { count, ms: now - start };
}

/**
 * Checks every message of both corpora maps without error (a benchmark of failing messages would measure the error
 * path), then warms each parser up and measures it in `rounds` interleaved slices (so a GC pause or a frequency
 * change does not fall on one parser only). Returns one rate per parser and corpus.
 */
export function measureParsers(
  corpora: Record<CorpusName, readonly string[]>,
  opts: { seconds: number; warmupSeconds: number; rounds?: number },
): ParseRate[] {
  for (const corpus of Object.values(corpora)) for (const text of corpus) mapMessage(parseHl7(text));
  const rounds = opts.rounds ?? 3;
  const names = Object.keys(PARSERS) as ParserName[];
  const cases = (Object.keys(corpora) as CorpusName[]).flatMap((corpus) => names.map((parser) => ({ parser, corpus })));
  for (const c of cases) timeLoop(PARSERS[c.parser], corpora[c.corpus], opts.warmupSeconds * 1000);
  const totals = cases.map(() => ({ count: 0, ms: 0 }));
  for (let r = 0; r < rounds; r++) {
    for (const [i, c] of cases.entries()) {
      const t = timeLoop(PARSERS[c.parser], corpora[c.corpus], (opts.seconds * 1000) / rounds);
      totals[i]!.count += t.count;
      totals[i]!.ms += t.ms;
    }
  }
  if (sink === Number.MIN_VALUE) process.stdout.write(''); // keeps `sink` observable
  return cases.map((c, i) => {
    const t = totals[i]!;
    return {
      ...c,
      messages: t.count,
      seconds: t.ms / 1000,
      perSecond: t.count / (t.ms / 1000),
      micros: (t.ms * 1000) / t.count,
    };
  });
}
