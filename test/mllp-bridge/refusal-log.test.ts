import { describe, expect, it } from 'vitest';
import { createRefusalLog, MAX_REFUSAL_CAUSES } from '../../mllp-bridge/src/refusal-log.js';
import type { BridgeEvent } from '../../mllp-bridge/src/server.js';

const queueError = (enqueueError: string): BridgeEvent => ({
  type: 'ack',
  code: 'AR',
  reason: 'queue-error',
  enqueueError,
});
const refusedSender = (
  application: string,
  facility: string,
  reason: 'unknown-sender' | 'not-allowed' = 'unknown-sender',
): BridgeEvent => ({
  type: 'ack',
  code: 'AR',
  reason,
  sender: { application, facility },
});

describe('refusal log', () => {
  it('writes one line per cause and period, most frequent first, then starts again', () => {
    const log = createRefusalLog();
    for (let i = 0; i < 3; i++) log.record(queueError('AccessDeniedException'));
    log.record(queueError('ECONNREFUSED'));
    log.record(refusedSender('LABO', 'CH-Y'));
    log.record(refusedSender('LABO', 'CH-Y'));
    log.record(refusedSender('OLD', 'CHU', 'not-allowed'));
    expect(log.drain()).toEqual([
      { level: 'WARN', message: 'enqueue refused', error: 'AccessDeniedException', count: 3 },
      {
        level: 'WARN',
        message: 'sender refused',
        reason: 'unknown-sender',
        sendingApplication: 'LABO',
        sendingFacility: 'CH-Y',
        count: 2,
      },
      { level: 'WARN', message: 'enqueue refused', error: 'ECONNREFUSED', count: 1 },
      {
        level: 'WARN',
        message: 'sender refused',
        reason: 'not-allowed',
        sendingApplication: 'OLD',
        sendingFacility: 'CHU',
        count: 1,
      },
    ]);
    expect(log.drain()).toEqual([]);
  });

  it('counts rejected messages by reason and sender: every AE, and AR for an oversize frame', () => {
    const log = createRefusalLog();
    const ae = (reason: 'unsupported-message' | 'no-msh', application?: string): BridgeEvent => ({
      type: 'ack',
      code: 'AE',
      reason,
      ...(application === undefined ? {} : { sender: { application, facility: 'CHU' } }),
    });
    log.record(ae('unsupported-message', 'RIS'));
    log.record(ae('unsupported-message', 'RIS'));
    log.record(ae('unsupported-message', 'LABO'));
    log.record(ae('no-msh'));
    log.record({ type: 'ack', code: 'AR', reason: 'oversize' });
    const rejected = (reason: string, sendingApplication: string, sendingFacility: string, count: number) => ({
      level: 'WARN',
      message: 'message rejected',
      reason,
      sendingApplication,
      sendingFacility,
      count,
    });
    expect(log.drain()).toEqual([
      rejected('unsupported-message', 'RIS', 'CHU', 2),
      rejected('unsupported-message', 'LABO', 'CHU', 1),
      rejected('no-msh', '', '', 1),
      rejected('oversize', '', '', 1),
    ]);
  });

  it('ignores AA and the AR of a bridge shutting down', () => {
    const log = createRefusalLog();
    log.record({ type: 'ack', code: 'AA', reason: 'enqueued' });
    log.record({ type: 'ack', code: 'AR', reason: 'shutting-down' });
    log.record({ type: 'received', bytes: 10 });
    expect(log.drain()).toEqual([]);
  });

  it('keeps a bounded number of causes, counts the rest, and cleans and shortens the names', () => {
    const log = createRefusalLog();
    for (let i = 0; i < MAX_REFUSAL_CAUSES + 25; i++) log.record(refusedSender(`APP${i}`, 'X'));
    log.record(refusedSender('APP0', 'X'));
    const lines = log.drain();
    expect(lines).toHaveLength(MAX_REFUSAL_CAUSES + 1);
    expect(lines[0]).toMatchObject({ sendingApplication: 'APP0', count: 2 });
    expect(lines.at(-1)).toEqual({ level: 'WARN', message: 'refusals over the cause limit', count: 25 });

    log.record(refusedSender(`A\r\nB\u0000${'x'.repeat(500)}`, 'F\u001b'));
    const [line] = log.drain();
    expect(line).toMatchObject({ sendingFacility: 'F?' });
    const application = line && 'sendingApplication' in line ? line.sendingApplication : '';
    expect(application.startsWith('A??B?x')).toBe(true);
    expect(application).toHaveLength(100);
  });
});
