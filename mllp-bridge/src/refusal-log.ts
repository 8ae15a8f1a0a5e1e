/**
 * What an operator needs when the bridge answers AR or AE: which error the queue raised, which sender the registry
 * refused, which sender's messages were rejected and why (AE: not HL7 the bridge can read, or a type the platform does
 * not process; AR: a frame over the size limit). Refusals are counted per cause and written as one log line per cause
 * and period (the EMF period), so an outage that refuses thousands of messages writes a handful of lines. Only error
 * class names, reason codes and MSH-3/MSH-4 are kept: no message content, no patient data.
 */

import type { BridgeEvent } from './server.js';

/** Distinct causes kept per period; the rest are counted under `other`. Bounds memory against random MSH-3s. */
export const MAX_REFUSAL_CAUSES = 50;
/** Longest MSH-3/MSH-4 kept in a log line. */
const MAX_NAME_LENGTH = 100;

export type RefusalLine =
  | { level: 'WARN'; message: 'enqueue refused'; error: string; count: number }
  | {
      level: 'WARN';
      message: 'sender refused';
      reason: 'unknown-sender' | 'not-allowed';
      sendingApplication: string;
      sendingFacility: string;
      count: number;
    }
  | {
      level: 'WARN';
      message: 'message rejected';
      /** The AE's reason (`unsupported-message`, `no-msh`…), or `oversize` (AR: the frame was over the limit). */
      reason: string;
      /** Empty when the header could not be read (an oversize frame is never decoded). */
      sendingApplication: string;
      sendingFacility: string;
      count: number;
    }
  | { level: 'WARN'; message: 'refusals over the cause limit'; count: number };

export interface RefusalLog {
  /** Feed one server event; only AR (refused enqueue, refused sender, oversize) and AE count. */
  record(e: BridgeEvent): void;
  /** The lines of the period, most frequent first; the period starts again. */
  drain(): RefusalLine[];
}

// Control characters would make the line hard to read in CloudWatch; JSON escapes the rest.
const clean = (name: string): string => name.replace(/\p{Cc}/gu, '?').slice(0, MAX_NAME_LENGTH);

export function createRefusalLog(): RefusalLog {
  let causes = new Map<string, { line: Omit<RefusalLine, 'count'>; count: number }>();
  let other = 0;

  const count = (key: string, line: () => Omit<RefusalLine, 'count'>): void => {
    const seen = causes.get(key);
    if (seen) seen.count += 1;
    else if (causes.size < MAX_REFUSAL_CAUSES) causes.set(key, { line: line(), count: 1 });
    else other += 1;
  };

  return {
    record(e) {
      if (e.type !== 'ack' || e.code === 'AA') return;
      // MSH-3/MSH-4, cleaned; empty when the header was not read.
      const sendingApplication = clean(e.sender?.application ?? '');
      const sendingFacility = clean(e.sender?.facility ?? '');
      if (e.code === 'AE' || e.reason === 'oversize') {
        const reason = e.reason;
        count(`rejected ${reason} ${sendingApplication}\u0000${sendingFacility}`, () => ({
          level: 'WARN',
          message: 'message rejected',
          reason,
          sendingApplication,
          sendingFacility,
        }));
      } else if (e.reason === 'queue-error') {
        const error = clean(e.enqueueError ?? 'unknown');
        count(`queue ${error}`, () => ({ level: 'WARN', message: 'enqueue refused', error }));
      } else if ((e.reason === 'unknown-sender' || e.reason === 'not-allowed') && e.sender) {
        const reason = e.reason;
        count(`sender ${reason} ${sendingApplication}\u0000${sendingFacility}`, () => ({
          level: 'WARN',
          message: 'sender refused',
          reason,
          sendingApplication,
          sendingFacility,
        }));
      }
    },
    drain() {
      const lines = [...causes.values()]
        .sort((a, b) => b.count - a.count)
        .map(({ line, count }) => ({ ...line, count }) as RefusalLine);
      if (other > 0) lines.push({ level: 'WARN', message: 'refusals over the cause limit', count: other });
      causes = new Map();
      other = 0;
      return lines;
    },
  };
}
