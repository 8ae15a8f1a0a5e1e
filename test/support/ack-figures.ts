import type { AckFigures } from '../../scripts/bench/hl7-results.js';

/** The hl7 benchmark's figures for a clean run of 1,000 messages (every one AA) at `perSecond`. */
export const ackFiguresAt = (perSecond: number, p99: number, over: Partial<AckFigures> = {}): AckFigures => {
  const messages = over.messages ?? 1000;
  return {
    messages,
    sent: messages,
    aa: messages,
    ae: 0,
    ar: 0,
    bad: 0,
    errors: [],
    seconds: messages / perSecond,
    perSecond,
    p50: p99 / 2,
    p99,
    max: p99 * 2,
    ...over,
  };
};
