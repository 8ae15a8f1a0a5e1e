import { describe, expect, it } from 'vitest';
import { applyMovement, replayStay, type StoredMovement } from '../../../lambdas/hl7/map/movements.js';
import type { Movement, MovementAction, VisitFacts } from '../../../lambdas/hl7/map/visit.js';

const visit = (m: Movement, action: MovementAction = 'INSERT', target?: string): VisitFacts => ({
  identifier: { system: 's', value: 'v' },
  patientClass: 'I',
  movement: m,
  action,
  targetsMovementId: target ?? m.id,
});

function run(steps: [string, Movement, MovementAction?][]): StoredMovement[] {
  let list: StoredMovement[] = [];
  for (const [event, m, action] of steps) list = applyMovement(list, event, visit(m, action)).movements;
  return list;
}

const at = (day: number) => `2026-01-${String(day).padStart(2, '0')}T10:00:00+01:00`;

describe('stay replay from PAM movements', () => {
  it('the order of arrival does not matter: movements are replayed by date', () => {
    const steps: [string, Movement][] = [
      ['A01', { id: '1', event: 'A01', at: at(1), unit: { code: 'U1', display: 'U1' } }],
      ['A02', { id: '2', event: 'A02', at: at(3), unit: { code: 'U2', display: 'U2' } }],
      ['A03', { id: '3', event: 'A03', at: at(5) }],
    ];
    const inOrder = replayStay(run(steps));
    const shuffled = replayStay(run([steps[2]!, steps[0]!, steps[1]!]));
    expect(shuffled).toEqual(inOrder);
    expect(inOrder).toMatchObject({ status: 'finished', start: at(1), end: at(5) });
    expect(inOrder.locations.map((l) => [l.unit?.code, l.start, l.end])).toEqual([
      ['U1', at(1), at(3)],
      ['U2', at(3), at(5)],
    ]);
  });

  it('cancelling the only movement leaves a cancelled stay; cancelling twice is a no-op', () => {
    const a = { id: '1', event: 'A01', at: at(1) };
    let list = run([['A01', a]]);
    const cancel = applyMovement(list, 'A11', visit({ ...a, event: 'A01' }, 'CANCEL'));
    expect(cancel.outcome).toBe('cancelled');
    list = cancel.movements;
    expect(replayStay(list).status).toBe('cancelled');
    expect(applyMovement(list, 'A11', visit(a, 'CANCEL')).outcome).toBe('repeated');
  });

  it('without ZBE, a cancellation removes the latest movement of the cancelled kind', () => {
    const list = run([
      ['A01', { id: 'msh:1', event: 'A01', at: at(1) }],
      ['A03', { id: 'msh:2', event: 'A03', at: at(2) }],
    ]);
    const change = applyMovement(list, 'A13', visit({ id: 'msh:3', event: 'A13', at: at(3) }, 'CANCEL', 'msh:3'));
    expect(change.outcome).toBe('cancelled');
    expect(replayStay(change.movements).status).toBe('in-progress');
  });

  it('an UPDATE keeps the event that created the movement', () => {
    const list = run([['A01', { id: '1', event: 'A01', at: at(1), unit: { code: 'U1', display: 'U1' } }]]);
    const change = applyMovement(
      list,
      'Z99',
      visit({ id: '1', event: 'A01', at: at(1), unit: { code: 'U9', display: 'U9' } }, 'UPDATE'),
    );
    expect(change.movements).toHaveLength(1);
    expect(change.movements[0]).toMatchObject({ event: 'A01', unit: { code: 'U9' } });
  });
});
