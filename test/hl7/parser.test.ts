import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_SEPARATORS,
  decodeHl7,
  escapeHl7,
  Hl7ParseError,
  type Hl7Segment,
  parseHl7,
  type Separators,
} from '../../lambdas/hl7/parser.js';

/** A French PAM-style ADT (synthetic identity). */
const ADT = [
  'MSH|^~\\&|GAM|CHU-X|DPI|CHU-X|20240306111154||ADT^A01^ADT_A01|3975|D|2.5^FRA^2.11|||||FRA|UNICODE UTF-8|FR',
  'EVN||20240306111154',
  'PID|1||000003^^^CHU-X&000897406&N^PI~279035121518989^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.10&ISO^INS||' +
    'LEFÈVRE^Garçon^^^^^L~Lefèvre^Zoé^^^^^D||19790328|F|||Bât. B \\F\\ esc. 3^^PARIS^^75007|||||||24000006^^^CHU-X^AN|',
  'PV1|1|I|||||10000023084^AGNES^Isabelle^^^^^^ASIP-SANTE-PS&1.2.250.1.71.4.2.1&ISO^L^^^RPPS||||||||||||||',
].join('\r');

function seg(text: string, name: string, index = 0): Hl7Segment {
  const s = parseHl7(text).get(name, index);
  if (s === undefined) throw new Error(`segment ${name} missing`);
  return s;
}

describe('parseHl7: field addressing', () => {
  const cases: [string, (t: string) => string, string][] = [
    ['MSH-1 is the field separator', (t) => seg(t, 'MSH').field(1).value, '|'],
    ['MSH-2 is the encoding characters, undecoded and unsplit', (t) => seg(t, 'MSH').field(2).value, '^~\\&'],
    ['MSH-3 sending application', (t) => seg(t, 'MSH').field(3).value, 'GAM'],
    ['MSH-9.1 / 9.2 / 9.3', (t) => seg(t, 'MSH').field(9).raw, 'ADT^A01^ADT_A01'],
    ['MSH-9.2', (t) => seg(t, 'MSH').field(9).component(2).value, 'A01'],
    ['MSH-10 control id', (t) => seg(t, 'MSH').field(10).value, '3975'],
    ['MSH-12.3 version extension', (t) => seg(t, 'MSH').field(12).component(3).value, '2.11'],
    ['MSH-18 charset with a space', (t) => seg(t, 'MSH').field(18).value, 'UNICODE UTF-8'],
    ['field 0 is the segment id', (t) => seg(t, 'PID').field(0).value, 'PID'],
    ['PID-3 first repetition CX-1', (t) => seg(t, 'PID').field(3).repetition(0).component(1).value, '000003'],
    ['PID-3 second repetition CX-5', (t) => seg(t, 'PID').field(3).repetition(1).component(5).value, 'INS'],
    ['PID-3 CX-4.1 (subcomponent)', (t) => seg(t, 'PID').field(3).component(4).subcomponent(1), 'CHU-X'],
    ['PID-3 CX-4.2 (subcomponent)', (t) => seg(t, 'PID').field(3).component(4).subcomponent(2), '000897406'],
    ['PID-3 rep 2 CX-4.3', (t) => seg(t, 'PID').field(3).repetition(1).component(4).subcomponent(3), 'ISO'],
    ['PID-5 accents, rep 1', (t) => seg(t, 'PID').field(5).component(2).value, 'Garçon'],
    ['PID-5 accents, rep 2', (t) => seg(t, 'PID').field(5).repetition(1).component(1).value, 'Lefèvre'],
    ['PID-5 rep 2 XPN-7', (t) => seg(t, 'PID').field(5).repetition(1).component(7).value, 'D'],
    ['PID-11 escape decoded', (t) => seg(t, 'PID').field(11).value, 'Bât. B | esc. 3'],
    ['PID-11 raw kept', (t) => seg(t, 'PID').field(11).component(1).raw, 'Bât. B \\F\\ esc. 3'],
    ['PID-18 after empty fields', (t) => seg(t, 'PID').field(18).component(5).value, 'AN'],
    ['PID-19 empty trailing field', (t) => seg(t, 'PID').field(19).value, ''],
    ['PID-40 absent field', (t) => seg(t, 'PID').field(40).value, ''],
    ['absent component', (t) => seg(t, 'PID').field(7).component(9).value, ''],
    ['absent subcomponent', (t) => seg(t, 'PID').field(7).component(1).subcomponent(4), ''],
    ['absent repetition', (t) => seg(t, 'PID').field(3).repetition(5).value, ''],
    ['PV1-7.9.2 subcomponent', (t) => seg(t, 'PV1').field(7).component(9).subcomponent(2), '1.2.250.1.71.4.2.1'],
    ['PV1 trailing empty fields counted', (t) => String(seg(t, 'PV1').fieldCount), '21'],
    ['MSH fieldCount follows HL7 numbering', (t) => String(seg(t, 'MSH').fieldCount), '19'],
  ];
  it.each(cases)('%s', (_label, read, expected) => {
    expect(read(ADT)).toBe(expected);
  });

  it('returns every repetition (IPP~INS both retrievable)', () => {
    const reps = seg(ADT, 'PID').field(3).repetitions;
    expect(reps.map((r) => r.component(1).value)).toEqual(['000003', '279035121518989']);
    expect(reps.map((r) => r.component(5).value)).toEqual(['PI', 'INS']);
  });

  it('keeps A&B as two subcomponents of one repetition', () => {
    const f = seg('MSH|^~\\&|A\rPID|1||X~Y||A&B', 'PID').field(5);
    expect(f.repetitions).toHaveLength(1);
    expect(f.component(1).subcomponents).toEqual(['A', 'B']);
    expect(f.raw).toBe('A&B');
  });

  it('reports empty fields as having no repetitions and empty components', () => {
    const s = seg('MSH|^~\\&|A\rPID|1||||', 'PID');
    expect(s.field(2).repetitions).toEqual([]);
    expect(s.field(2).component(1).subcomponents).toEqual([]);
    expect(s.fieldCount).toBe(5);
  });

  it('keeps the HL7 null "" as raw text', () => {
    expect(seg('MSH|^~\\&|A\rPID|1|""', 'PID').field(2).value).toBe('""');
  });

  it('finds the n-th segment of a name and all of them', () => {
    const m = parseHl7('MSH|^~\\&|A\rOBX|1|a\rNTE|x\rOBX|2|b');
    expect(m.get('OBX', 1)?.field(2).value).toBe('b');
    expect(m.get('OBX', 2)).toBeUndefined();
    expect(m.get('ZZZ')).toBeUndefined();
    expect(m.getAll('OBX').map((s) => s.field(1).value)).toEqual(['1', '2']);
    expect(m.raw).toBe('MSH|^~\\&|A\rOBX|1|a\rNTE|x\rOBX|2|b');
  });

  it('returns the same cached object for repeated access', () => {
    const s = seg(ADT, 'PID');
    expect(s.field(3)).toBe(s.field(3));
    expect(s.field(3).repetitions).toBe(s.field(3).repetitions);
  });
});

describe('parseHl7: segment splitting', () => {
  const body = ['MSH|^~\\&|A', 'EVN|1', 'PID|1', 'PV1|1', 'ZZZ|1'];
  const cases: [string, string][] = [
    ['\\r', body.join('\r')],
    ['\\n', body.join('\n')],
    ['\\r\\n', body.join('\r\n')],
    ['mixed', `${body[0]}\r${body[1]}\n${body[2]}\r\n${body[3]}\r${body[4]}\n`],
    ['blank lines and trailing terminators', `\r\n${body.join('\r\r\n\n')}\r\n\r\n`],
    ['a leading BOM', `\uFEFF${body.join('\r')}`],
  ];
  it.each(cases)('splits on %s', (_label, text) => {
    expect(parseHl7(text).segments.map((s) => s.name)).toEqual(['MSH', 'EVN', 'PID', 'PV1', 'ZZZ']);
  });

  it('parses a one-segment message with no terminator', () => {
    const m = parseHl7('MSH|^~\\&|APP|FAC');
    expect(m.segments).toHaveLength(1);
    expect(m.get('MSH')?.field(4).value).toBe('FAC');
  });

  it('keeps lower-case ids and lines without a field separator as segments', () => {
    const m = parseHl7('MSH|^~\\&|A\rpv1|x\rNOBAR');
    expect(m.segments.map((s) => s.name)).toEqual(['MSH', 'pv1', 'NOBAR']);
    expect(m.get('NOBAR')?.field(1).value).toBe('');
  });
});

describe('parseHl7: separators', () => {
  it('reads the default separators', () => {
    expect(parseHl7('MSH|^~\\&|A').separators).toEqual(DEFAULT_SEPARATORS);
  });

  it('reads a 5-character MSH-2 with a truncation character and keeps it literal', () => {
    const m = parseHl7('MSH|^~\\&#|A|B\rPID|1||a\\P\\b#c');
    expect(m.separators.truncation).toBe('#');
    expect(m.get('MSH')?.field(2).value).toBe('^~\\&#');
    expect(m.get('MSH')?.field(3).value).toBe('A');
    expect(m.get('PID')?.field(3).value).toBe('a#b#c');
  });

  it('parses with custom separators', () => {
    const m = parseHl7('MSH*:+!$*APP*FAC\rPID*1**a$b:c+d:e!F!f!S!g!T!h!R!i!E!');
    const s = m.separators;
    expect([s.field, s.component, s.repetition, s.escape, s.subcomponent]).toEqual(['*', ':', '+', '!', '$']);
    const f = m.get('PID')?.field(3);
    expect(f?.component(1).subcomponents).toEqual(['a', 'b']);
    expect(f?.component(2).value).toBe('c');
    expect(f?.repetition(1).component(2).value).toBe('e*f:g$h+i!');
    expect(m.get('MSH')?.field(1).value).toBe('*');
    expect(m.get('MSH')?.field(3).value).toBe('APP');
  });

  it('does not decode the default escapes under custom separators', () => {
    expect(parseHl7('MSH*:+!$*A\rPID*1*\\F\\').get('PID')?.field(2).value).toBe('\\F\\');
  });
});

describe('decodeHl7: escapes', () => {
  const cases: [string, string, string][] = [
    ['\\F\\', 'a\\F\\b', 'a|b'],
    ['\\S\\', 'a\\S\\b', 'a^b'],
    ['\\T\\', 'a\\T\\b', 'a&b'],
    ['\\R\\', 'a\\R\\b', 'a~b'],
    ['\\E\\', 'a\\E\\b', 'a\\b'],
    ['\\.br\\', 'l1\\.br\\l2', 'l1\nl2'],
    ['\\X\\ one byte', '\\X41\\', 'A'],
    ['\\X\\ UTF-8 multi-byte (é = C3A9)', 'caf\\XC3A9\\', 'café'],
    ['\\X\\ lower-case hex', '\\Xc3a9\\', 'é'],
    ['\\X\\ invalid UTF-8 kept raw', '\\XE9\\', '\\XE9\\'],
    ['\\X\\ odd digits kept raw', '\\X4\\', '\\X4\\'],
    ['\\X\\ non-hex kept raw', '\\XZZ\\', '\\XZZ\\'],
    ['\\P\\ without truncation char kept raw', '\\P\\', '\\P\\'],
    ['unknown \\H\\ \\N\\ kept raw', '\\H\\bold\\N\\', '\\H\\bold\\N\\'],
    ['unknown \\.sp\\ kept raw', 'a\\.sp\\b', 'a\\.sp\\b'],
    ['empty escape kept raw', 'a\\\\b', 'a\\\\b'],
    ['unterminated escape kept raw', 'a\\F', 'a\\F'],
    ['several in one value', '\\E\\\\F\\\\S\\x\\T\\', '\\|^x&'],
    ['no escape at all', 'Lefèvre', 'Lefèvre'],
  ];
  it.each(cases)('%s', (_label, input, expected) => {
    expect(decodeHl7(input)).toBe(expected);
  });
});

describe('parseHl7: errors', () => {
  const cases: [string, string, string][] = [
    ['empty text', '', 'NO_MSH'],
    ['blank lines only', '\r\n\r', 'NO_MSH'],
    ['first segment is not MSH', 'PID|1||X\rMSH|^~\\&|A', 'NO_MSH'],
    ['batch header', 'FHS|^~\\&|A\rMSH|^~\\&|B', 'NO_MSH'],
    ['MSH alone', 'MSH', 'BAD_ENCODING_CHARACTERS'],
    ['MSH-2 too short', 'MSH|^~\\|A', 'BAD_ENCODING_CHARACTERS'],
    ['MSH-2 too long', 'MSH|^~\\&#!|A', 'BAD_ENCODING_CHARACTERS'],
    ['MSH-2 duplicate characters', 'MSH|^^\\&|A', 'BAD_ENCODING_CHARACTERS'],
    ['MSH-2 repeats the field separator', 'MSH|^~|&|A', 'BAD_ENCODING_CHARACTERS'],
    ['alphanumeric separator', 'MSH|^~\\A|B', 'BAD_ENCODING_CHARACTERS'],
    ['alphanumeric field separator', 'MSHX^~\\&XA', 'BAD_ENCODING_CHARACTERS'],
    ['space separator', 'MSH|^~\\ |A', 'BAD_ENCODING_CHARACTERS'],
  ];
  it.each(cases)('%s -> %s', (_label, text, code) => {
    let caught: unknown;
    try {
      parseHl7(text);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(Hl7ParseError);
    expect((caught as Hl7ParseError).code).toBe(code);
    expect((caught as Hl7ParseError).name).toBe('Hl7ParseError');
  });

  it('never puts message content in the error message', () => {
    const secret = 'PID|1||279035121518989^^^INS||DUPONT^Jean';
    expect(() => parseHl7(secret)).toThrow(Hl7ParseError);
    try {
      parseHl7(secret);
    } catch (e) {
      expect(String((e as Error).message)).not.toMatch(/DUPONT|2790351|PID/);
    }
  });
});

describe('escapeHl7 / round trip', () => {
  it('escapes every separator, the escape character and line breaks', () => {
    expect(escapeHl7('a|b^c~d&e\\f\ng\rh')).toBe('a\\F\\b\\S\\c\\R\\d\\T\\e\\E\\f\\.br\\g\\X0D\\h');
    expect(escapeHl7('plain Zoé')).toBe('plain Zoé');
  });

  it('escapes the truncation character only when one is declared', () => {
    const seps: Separators = { ...DEFAULT_SEPARATORS, truncation: '#' };
    expect(escapeHl7('a#b', seps)).toBe('a\\P\\b');
    expect(escapeHl7('a#b')).toBe('a#b');
  });

  it('decodeHl7(escapeHl7(v)) === v for any string', () => {
    fc.assert(fc.property(fc.string({ unit: 'grapheme' }), (v) => decodeHl7(escapeHl7(v)) === v));
  });

  const sepSets: Separators[] = [DEFAULT_SEPARATORS, { ...DEFAULT_SEPARATORS, truncation: '#' }];
  it.each(sepSets.map((s) => [s.truncation === '' ? '^~\\&' : '^~\\&#', s] as const))(
    'random field values round-trip through parseHl7 with MSH-2 %s',
    (msh2, seps) => {
      // Values drawn from an alphabet rich in separators, escapes, accents and line breaks.
      const value = fc.string({
        unit: fc.constantFrom('|', '^', '~', '&', '\\', '#', '\n', '\r', 'a', 'É', 'ç', ' ', 'X', 'F', '.', '0'),
      });
      const grid = fc.array(fc.array(fc.array(value, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 3 }), {
        minLength: 1,
        maxLength: 3,
      });
      fc.assert(
        fc.property(grid, (reps) => {
          const raw = reps
            .map((comps) => comps.map((subs) => subs.map((s) => escapeHl7(s, seps)).join('&')).join('^'))
            .join('~');
          const field = parseHl7(`MSH|${msh2}|A\rZZZ|x|${raw}|y`).get('ZZZ')?.field(2);
          if (field === undefined) return false;
          const back = reps.map((comps, r) =>
            comps.map((subs, c) =>
              subs.map((_s, sc) =>
                field
                  .repetition(r)
                  .component(c + 1)
                  .subcomponent(sc + 1),
              ),
            ),
          );
          return JSON.stringify(back) === JSON.stringify(reps);
        }),
      );
    },
  );
});
