import { describe, expect, it } from 'vitest';
import { authoritySystem, hl7Date, hl7DateTime, parisOffsetHours, readXpn } from '../../lambdas/hl7/datatypes.js';
import { parseHl7 } from '../../lambdas/hl7/parser.js';

describe('HL7 timestamps → FHIR (Europe/Paris when no offset)', () => {
  it.each([
    ['20260110083000', '2026-01-10T08:30:00+01:00'],
    ['20260706120000', '2026-07-06T12:00:00+02:00'],
    ['202601100830', '2026-01-10T08:30:00+01:00'],
    ['20260110083000.25', '2026-01-10T08:30:00.25+01:00'],
    ['20260110083000+0000', '2026-01-10T08:30:00+00:00'],
    ['20190504181205-0500', '2019-05-04T18:12:05-05:00'],
    // Summer time starts on the last Sunday of March at 02:00 local (2026-03-29) and ends on the last Sunday of
    // October at 03:00 local (2026-10-25).
    ['20260329015959', '2026-03-29T01:59:59+01:00'],
    ['20260329030000', '2026-03-29T03:00:00+02:00'],
    ['20261025015959', '2026-10-25T01:59:59+02:00'],
    ['20261025030000', '2026-10-25T03:00:00+01:00'],
    ['20260305', '2026-03-05'],
    ['202603', '2026-03'],
  ])('%s → %s', (hl7, fhir) => {
    expect(hl7DateTime(hl7)).toBe(fhir);
  });

  it('rejects what is not a timestamp', () => {
    for (const bad of ['', 'tomorrow', '20261301', '20260132', '20260101250000', '2026-01-01']) {
      expect(hl7DateTime(bad)).toBeUndefined();
    }
    expect(hl7Date('19790305')).toBe('1979-03-05');
  });

  it('the repeated autumn hour resolves to summer time, the skipped spring hour to winter time', () => {
    expect(parisOffsetHours(Date.UTC(2026, 9, 25, 2, 30))).toBe(2);
    expect(parisOffsetHours(Date.UTC(2026, 2, 29, 2, 30))).toBe(1);
  });
});

describe('data types', () => {
  const rep = (field: string) => parseHl7(`MSH|^~\\&|A\rPID|${field}`).get('PID')!.field(1).repetition(0);

  it('assigning authorities: an OID whatever HD-3 says, else a PFI namespace URI', () => {
    expect(authoritySystem(rep('X^^^CHU&1.2.250.1.71&ISO').component(4))).toBe('urn:oid:1.2.250.1.71');
    expect(authoritySystem(rep('X^^^CHU&1.2.250.1.71&M').component(4))).toBe('urn:oid:1.2.250.1.71');
    expect(authoritySystem(rep('X^^^CHU-X&000897406&N').component(4))).toBe('urn:pfi:hl7-authority:CHU-X');
    expect(authoritySystem(rep('X').component(4))).toBeUndefined();
  });

  it('XPN L is the official name with exactly the first birth given name and the full list in the FR Core extension', () => {
    const name = readXpn(rep('DUPONT^Jean^Jean Pierre Marie^^^^L'))!;
    expect(name).toMatchObject({ use: 'official', family: 'DUPONT', given: ['Jean'] });
    expect((name['extension'] as any[])[0].valueString).toBe('Jean Pierre Marie');
    expect(readXpn(rep('MARTIN^Jean^^^^^D'))).toEqual({ use: 'usual', family: 'MARTIN', given: ['Jean'] });
  });

  it('decodes escapes in names (a \\S\\ is a caret, not a component)', () => {
    expect(readXpn(rep('O\\S\\BRIEN^Anne^^^^^L'))!['family']).toBe('O^BRIEN');
  });
});
