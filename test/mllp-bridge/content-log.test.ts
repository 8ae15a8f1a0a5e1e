import { describe, expect, it } from 'vitest';
import { type ContentLine, contentLogger } from '../../mllp-bridge/src/content-log.js';
import type { MessageContent } from '../../mllp-bridge/src/server.js';

const seen: MessageContent[] = [
  { code: 'AA', reason: 'enqueued', message: 'MSH|A', ack: 'ACK A' },
  { code: 'AE', reason: 'unsupported-message', message: 'MSH|B', ack: 'ACK B' },
  { code: 'AR', reason: 'queue-error', message: 'MSH|C', ack: 'ACK C' },
];

const run = (mode: 'off' | 'refused' | 'all'): ContentLine[] | undefined => {
  const lines: ContentLine[] = [];
  const hook = contentLogger(mode, (l) => lines.push(l));
  if (!hook) return undefined;
  for (const c of seen) hook(c);
  return lines;
};

describe('contentLogger', () => {
  it('is off by default: no hook, so the server keeps no message text', () => {
    expect(run('off')).toBeUndefined();
  });

  it('refused: the messages answered AE or AR, with their ACK', () => {
    expect(run('refused')).toEqual([
      { message: 'hl7 message content', code: 'AE', reason: 'unsupported-message', hl7: 'MSH|B', ack: 'ACK B' },
      { message: 'hl7 message content', code: 'AR', reason: 'queue-error', hl7: 'MSH|C', ack: 'ACK C' },
    ]);
  });

  it('all: every message', () => {
    expect(run('all')?.map((l) => l.hl7)).toEqual(['MSH|A', 'MSH|B', 'MSH|C']);
  });
});
