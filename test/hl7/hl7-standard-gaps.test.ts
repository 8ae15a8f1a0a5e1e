/**
 * Each test pins one measured defect of hl7-standard 1.0.4 (docs: /work/shared/spec/stack.md §6) and shows our
 * parser getting it right. The hl7-standard assertions describe the WRONG behaviour on purpose: when a release
 * fixes it, the test fails and tells us to reconsider the parser port.
 */
import HL7 from 'hl7-standard';
import { describe, expect, it } from 'vitest';
import { parseHl7 } from '../../lambdas/hl7/parser.js';

const SAMPLE = 'MSH|^~\\&|A|B|C|D|20260101||ADT^A01|1|P|2.5\rPID|1||X~Y||A&B||\rZZZ|';

function transformed(raw: string): HL7 {
  const h = new HL7(raw);
  h.transform();
  return h;
}

describe('hl7-standard gaps, each against our parser', () => {
  it('1. rewrites subcomponents A&B as repetitions A~B on build (data corruption)', () => {
    const built = transformed(SAMPLE).build();
    expect(built).toContain('PID|1||X~Y||A~B|');
    expect(built).not.toContain('A&B');

    const ours = parseHl7(SAMPLE).get('PID')?.field(5);
    expect(ours?.repetitions).toHaveLength(1);
    expect(ours?.component(1).subcomponents).toEqual(['A', 'B']);
    expect(ours?.raw).toBe('A&B');
  });

  it('2. build() appends a trailing | to every segment and uses CRLF', () => {
    const built = transformed(SAMPLE).build();
    expect(built.startsWith('MSH|^~\\&|A|B|C|D|20260101||ADT^A01|1|P|2.5|\r\n')).toBe(true);

    const ours = parseHl7(SAMPLE);
    expect(ours.segments.map((s) => s.raw).join('\r')).toBe(SAMPLE);
  });

  it('3. get() on a repeating field returns only the first repetition', () => {
    const h = transformed(SAMPLE);
    expect(h.get('PID.3')).toEqual({ 'PID.3.1': 'X' });

    const reps = parseHl7(SAMPLE).get('PID')?.field(3).repetitions ?? [];
    expect(reps.map((r) => r.value)).toEqual(['X', 'Y']);
  });

  it('4. mixed \\r and \\n line endings silently merge segments', () => {
    const raw = 'MSH|^~\\&|A\rEVN|1\rPID|1\nPV1|1\rOBX|1\rZZZ|1';
    const h = transformed(raw);
    expect(Object.keys(h.transformed)).toEqual(['MSH', 'EVN', 'PID', 'OBX', 'ZZZ']);
    expect(h.get('PID.1')).toBe('1\nPV1');

    expect(parseHl7(raw).segments.map((s) => s.name)).toEqual(['MSH', 'EVN', 'PID', 'PV1', 'OBX', 'ZZZ']);
  });

  it('5. escapes are never decoded', () => {
    const raw = 'MSH|^~\\&|A\rPID|1||||Bât. B \\F\\ esc. 3';
    expect(transformed(raw).get('PID.5')).toBe('Bât. B \\F\\ esc. 3');

    expect(parseHl7(raw).get('PID')?.field(5).value).toBe('Bât. B | esc. 3');
  });

  it('6. a one-segment message throws', () => {
    expect(() => transformed('MSH|^~\\&|APP|FAC')).toThrow(/valid line endings/);

    expect(parseHl7('MSH|^~\\&|APP|FAC').get('MSH')?.field(4).value).toBe('FAC');
  });

  it('7. a lower-case segment id throws a misleading EOL error; a line without | is dropped', () => {
    expect(() => transformed('MSH|^~\\&|A\rpv1|x')).toThrow(/invalid EOL characters/);
    expect(Object.keys(transformed('MSH|^~\\&|A\rNOBAR\rZZZ|1').transformed)).toEqual(['MSH', 'ZZZ']);

    expect(parseHl7('MSH|^~\\&|A\rpv1|x').segments.map((s) => s.name)).toEqual(['MSH', 'pv1']);
    expect(parseHl7('MSH|^~\\&|A\rNOBAR\rZZZ|1').segments.map((s) => s.name)).toEqual(['MSH', 'NOBAR', 'ZZZ']);
  });

  it('8. MSH-2 is forced to ^~\\& (a v2.7 ^~\\&# is rewritten)', () => {
    const raw = 'MSH|^~\\&#|A|B\rPID|1||x';
    expect(transformed(raw).get('MSH.2')).toBe('^~\\&');

    const ours = parseHl7(raw);
    expect(ours.get('MSH')?.field(2).value).toBe('^~\\&#');
    expect(ours.separators.truncation).toBe('#');
  });

  it('9. its option names are swapped against HL7 terms (subComponents splits repetitions)', () => {
    // With the HL7 meaning (subcomponent = &) this would keep X~Y as repetitions; instead `&` now splits them.
    const h = new HL7('MSH|^~\\&|A\rPID|1||X&Y', { subComponents: '&', repeatingFields: '~' });
    h.transform();
    expect(h.get('PID.3', 0, 1)).toEqual({ 'PID.3.1': 'Y' });

    expect(parseHl7('MSH|^~\\&|A\rPID|1||X&Y').get('PID')?.field(3).repetitions).toHaveLength(1);
  });
});
