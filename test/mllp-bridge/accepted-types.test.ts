import { describe, expect, it } from 'vitest';
import { messageKind } from '../../lambdas/hl7/map/message.js';
import { AcceptListError, DEFAULT_ACCEPTED_TYPES, parseAcceptList } from '../../mllp-bridge/src/accepted-types.js';

describe('types the bridge queues', () => {
  it('the default list is exactly what the worker processes (the bridge cannot import it: this test keeps them equal)', () => {
    const accepts = parseAcceptList(DEFAULT_ACCEPTED_TYPES);
    const types = ['ADT', 'ORU', 'MDM', 'ORM', 'OMI', 'OML', 'ZAM', 'ACK', 'SIU', 'QRY', 'BAR', 'DFT'];
    const events: string[] = [];
    for (const letter of ['A', 'R', 'T', 'O', 'Z', 'S'])
      for (let i = 0; i <= 99; i++) events.push(`${letter}${String(i).padStart(2, '0')}`);
    for (const type of types) {
      for (const event of events) {
        expect(accepts(type, event), `${type}^${event}`).toBe(messageKind(type, event) !== undefined);
      }
    }
  });

  it('accepts TYPE^* and is case-insensitive; refuses malformed entries by position', () => {
    const accepts = parseAcceptList('adt^*, ORU^R01');
    expect(accepts('ADT', 'A99')).toBe(true);
    expect(accepts('oru', 'r01')).toBe(true);
    expect(accepts('ORU', 'R30')).toBe(false);
    expect(() => parseAcceptList('ADT^A01,ORU')).toThrow(new AcceptListError('entry 2 must be TYPE^EVENT or TYPE^*'));
  });
});
