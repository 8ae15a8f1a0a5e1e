import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  buildAck,
  type Charset,
  decodeMessage,
  deduplicationKey,
  encodeAck,
  escapeValue,
  type Header,
  type HeaderError,
  isHeaderError,
  messageGroupKey,
  parisTimestamp,
  readHeader,
} from '../../mllp-bridge/src/hl7.js';

const msh = (charset: string, extra = '') =>
  `MSH|^~\\&|GAM|CHU-X|DPI|CHU-Y|20240306111154||ADT^A01^ADT_A01|3975|P|2.5^FRA^2.11|||||FRA|${charset}|FR${extra}`;
const pid = 'PID|1||000003^^^CHU-X&000897406&N^PI||Lefèvre^Œdème^^^^^L||19790328|F|||€ 12';
const message = (charset: string) => `${msh(charset)}\r${pid}\r`;

function header(text: string): Header {
  const h = readHeader(text);
  if (isHeaderError(h)) throw new Error(`expected a header, got ${h.error}`);
  return h;
}

/** Field n (1-based, HL7 numbering) of the first segment named `name`. */
function field(text: string, name: string, n: number): string | undefined {
  const sep = text.charAt(3);
  const seg = text.split(/\r\n|\r|\n/).find((s) => s.startsWith(`${name}${sep}`));
  return seg?.split(sep)[name === 'MSH' ? n - 1 : n];
}

describe('decodeMessage', () => {
  const latin1 = (s: string) => Buffer.from(s, 'latin1');
  // 8859-15 bytes built by hand: Œ = 0xBC, € = 0xA4.
  const iso15 = Buffer.concat([
    latin1(`${msh('8859/15')}\rPID|1||1^^^A^PI||Lef\xe8vre^`),
    Buffer.from([0xbc]),
    latin1('d\xe8me||||||'),
    Buffer.from([0xa4]),
    latin1('\r'),
  ]);
  const cases: {
    name: string;
    bytes: Buffer;
    fallback?: 'utf-8' | 'latin1' | 'windows-1252';
    charset: Charset;
    contains: string[];
  }[] = [
    {
      name: 'UNICODE UTF-8',
      bytes: Buffer.from(message('UNICODE UTF-8')),
      charset: 'utf-8',
      contains: ['Lefèvre^Œdème', '€ 12'],
    },
    { name: 'UTF-8 lower case', bytes: Buffer.from(message('utf-8')), charset: 'utf-8', contains: ['Lefèvre'] },
    {
      name: 'UTF-8 with a BOM',
      bytes: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(message('UTF-8'))]),
      charset: 'utf-8',
      contains: ['MSH|', 'Lefèvre'],
    },
    {
      name: '8859/1',
      bytes: latin1(`${msh('8859/1')}\rPID|1||1^^^A^PI||Lefèvre^Ç\r`),
      charset: 'latin1',
      contains: ['Lefèvre^Ç'],
    },
    { name: '8859/15 with Œ and €', bytes: iso15, charset: 'iso-8859-15', contains: ['Lefèvre^Œdème', '|€\r'] },
    {
      name: 'ASCII declared, ASCII bytes',
      bytes: Buffer.from(`${msh('ASCII')}\rPID|1||1||Lefevre\r`),
      charset: 'utf-8',
      contains: ['Lefevre'],
    },
    {
      name: 'ASCII declared, latin1 bytes → fallback',
      bytes: latin1(`${msh('ASCII')}\rPID|1||1||Lefèvre\r`),
      fallback: 'latin1',
      charset: 'latin1',
      contains: ['Lefèvre'],
    },
    { name: 'absent MSH-18, valid UTF-8', bytes: Buffer.from(message('')), charset: 'utf-8', contains: ['Lefèvre'] },
    {
      name: 'unknown MSH-18, valid UTF-8',
      bytes: Buffer.from(message('KLINGON')),
      charset: 'utf-8',
      contains: ['Œdème'],
    },
    {
      name: 'absent MSH-18, latin1 bytes, latin1 fallback',
      bytes: latin1(`${msh('')}\rPID|1||1||Lefèvre\r`),
      fallback: 'latin1',
      charset: 'latin1',
      contains: ['Lefèvre'],
    },
    {
      name: 'absent MSH-18, cp1252 bytes, windows-1252 fallback',
      bytes: Buffer.concat([latin1(`${msh('')}\rPID|1||1||`), Buffer.from([0x8c, 0x80, 0x92])]),
      fallback: 'windows-1252',
      charset: 'windows-1252',
      contains: ['Œ€\u2019'],
    },
    {
      name: 'declared UTF-8 but latin1 bytes → fallback',
      bytes: latin1(`${msh('UNICODE UTF-8')}\rPID|1||1||Lefèvre\r`),
      fallback: 'windows-1252',
      charset: 'windows-1252',
      contains: ['Lefèvre'],
    },
    {
      name: 'declared UTF-8, invalid, utf-8 fallback → latin1 (no U+FFFD)',
      bytes: latin1(`${msh('UTF-8')}\rPID|1||1||Lefèvre\r`),
      charset: 'latin1',
      contains: ['Lefèvre'],
    },
    {
      name: 'MSH-18 repetition: first wins',
      bytes: latin1(`${msh('8859/1~UNICODE UTF-8')}\rPID|1||1||Lefèvre\r`),
      charset: 'latin1',
      contains: ['Lefèvre'],
    },
    { name: 'no MSH at all, valid UTF-8', bytes: Buffer.from('hello Œ'), charset: 'utf-8', contains: ['hello Œ'] },
    {
      name: 'MSH-18 read with # as field separator',
      bytes: latin1('MSH#$~\\&#A#B#C#D#20240101##ADT$A01#1#P#2.5######8859/1\rPID#1##1##Lefèvre\r'),
      charset: 'latin1',
      contains: ['Lefèvre'],
    },
  ];
  it.each(cases)('$name', ({ bytes, fallback, charset, contains }) => {
    const out = decodeMessage(bytes, fallback);
    expect(out.charset).toBe(charset);
    for (const s of contains) expect(out.text).toContain(s);
    expect(out.text).not.toContain('\ufffd');
    expect(out.text.charCodeAt(0)).not.toBe(0xfeff);
  });

  // Not compared with TextDecoder('windows-1252'): on Node 20 it decodes 0x80-0x9F as C1 controls (latin1).
  it('decodes windows-1252 0x80-0x9F per the WHATWG table (undefined bytes kept as C1)', () => {
    const c1 = Buffer.from(Array.from({ length: 32 }, (_, i) => 0x80 + i));
    expect(decodeMessage(c1, 'windows-1252').text).toBe(
      '€\u0081‚ƒ„…†‡ˆ‰Š‹Œ\u008dŽ\u008f\u0090\u2018\u2019\u201c\u201d•–—˜™š›œ\u009džŸ',
    );
    const high = Buffer.from(Array.from({ length: 96 }, (_, i) => 0xa0 + i));
    expect(decodeMessage(high, 'windows-1252').text).toBe(high.toString('latin1'));
  });
});

describe('encodeAck', () => {
  const cases: { name: string; text: string; charset: Charset; bytes: number[] }[] = [
    { name: 'utf-8', text: 'éŒ', charset: 'utf-8', bytes: [0xc3, 0xa9, 0xc5, 0x92] },
    { name: 'latin1 (Œ € unencodable → ?)', text: 'éŒ€', charset: 'latin1', bytes: [0xe9, 0x3f, 0x3f] },
    { name: '8859-15 Œ € and replaced ¤ → ?', text: 'éŒ€¤', charset: 'iso-8859-15', bytes: [0xe9, 0xbc, 0xa4, 0x3f] },
    { name: 'windows-1252', text: 'éŒ€', charset: 'windows-1252', bytes: [0xe9, 0x8c, 0x80] },
    { name: 'astral character → ?', text: 'a😀', charset: 'latin1', bytes: [0x61, 0x3f] },
  ];
  it.each(cases)('$name', ({ text, charset, bytes }) => {
    expect([...encodeAck(text, charset)]).toEqual(bytes);
  });

  it('round-trips every 8859-15 and windows-1252 byte', () => {
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    for (const cs of ['iso-8859-15', 'windows-1252'] as const) {
      const text = decodeMessage(
        Buffer.concat([
          Buffer.from(`MSH|^~\\&|||||||X|1|P|2.5||||||${cs === 'iso-8859-15' ? '8859/15' : 'nope'}\r`),
          all,
        ]),
        'windows-1252',
      ).text;
      expect(Buffer.compare(encodeAck(text, cs).subarray(-256), all)).toBe(0);
    }
  });
});

describe('readHeader', () => {
  it('reads the MSH fields and the IPP of a PAM FR message', () => {
    expect(header(message('UNICODE UTF-8'))).toEqual({
      separators: { field: '|', component: '^', repetition: '~', escape: '\\', subcomponent: '&' },
      encodingCharacters: '^~\\&',
      sendingApplication: 'GAM',
      sendingFacility: 'CHU-X',
      receivingApplication: 'DPI',
      receivingFacility: 'CHU-Y',
      messageType: 'ADT',
      triggerEvent: 'A01',
      messageStructure: 'ADT_A01',
      controlId: '3975',
      processingId: 'P',
      version: '2.5^FRA^2.11',
      charset: 'UNICODE UTF-8',
      patient: { id: '000003', authority: 'CHU-X&000897406&N' },
    });
  });

  const ipp = '000003^^^CHU-X&000897406&N^PI';
  const ins = '279035121518989^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.10&ISO^INS';
  const withPid3 = (pid3: string, sep = '\r') => `${msh('UTF-8')}${sep}EVN||20240101${sep}PID|1||${pid3}||X^Y${sep}`;
  const patientCases: { name: string; text: string; patient: { id: string; authority: string } | undefined }[] = [
    { name: 'IPP~INS', text: withPid3(`${ipp}~${ins}`), patient: { id: '000003', authority: 'CHU-X&000897406&N' } },
    { name: 'INS~IPP', text: withPid3(`${ins}~${ipp}`), patient: { id: '000003', authority: 'CHU-X&000897406&N' } },
    { name: 'INS only → none', text: withPid3(ins), patient: undefined },
    {
      name: 'INS-C and NH skipped, untyped taken',
      text: withPid3(`1^^^A^INS-C~2^^^B^NH~77^^^LOCAL`),
      patient: { id: '77', authority: 'LOCAL' },
    },
    { name: 'lower-case pi accepted', text: withPid3(`9^^^A^AN~5^^^B^pi`), patient: { id: '5', authority: 'B' } },
    { name: 'empty CX-1 skipped', text: withPid3(`^^^A^PI~8^^^C^PI`), patient: { id: '8', authority: 'C' } },
    { name: 'no PID', text: `${msh('UTF-8')}\rEVN||1\r`, patient: undefined },
    { name: 'empty PID-3', text: withPid3(''), patient: undefined },
    {
      name: 'mixed \\r \\n \\r\\n',
      text: `${msh('UTF-8')}\nEVN||1\r\nPV1|1\rPID|1||${ins}~${ipp}\n`,
      patient: { id: '000003', authority: 'CHU-X&000897406&N' },
    },
  ];
  it.each(patientCases)('patient key: $name', ({ text, patient }) => {
    expect(header(text).patient).toEqual(patient);
  });

  it('uses non-default separators (# field, $ component)', () => {
    const h = header('MSH#$~\\&#APP$X#FAC#R#RF#20240101##ORU$R01$ORU_R01#C1#T#2.5\nPID#1##5$$$AUTH$PI~6$$$N$INS\n');
    expect(h).toMatchObject({
      separators: { field: '#', component: '$' },
      sendingApplication: 'APP$X',
      messageType: 'ORU',
      triggerEvent: 'R01',
      messageStructure: 'ORU_R01',
      controlId: 'C1',
      processingId: 'T',
      patient: { id: '5', authority: 'AUTH' },
    });
  });

  it('accepts a 5-character MSH-2 (^~\\&#)', () => {
    const h = header('MSH|^~\\&#|A|B|C|D|20240101||ADT^A28|9|P|2.7\r');
    expect(h.encodingCharacters).toBe('^~\\&#');
    expect(h.separators.truncation).toBe('#');
    expect(h.controlId).toBe('9');
  });

  it('keeps escapes raw', () => {
    const h = header('MSH|^~\\&|APP\\F\\1|B\\S\\C|C|D|1||ADT^A01|ID\\T\\1|P|2.5\r');
    expect(h.sendingApplication).toBe('APP\\F\\1');
    expect(h.sendingFacility).toBe('B\\S\\C');
    expect(h.controlId).toBe('ID\\T\\1');
  });

  const errorCases: { name: string; text: string; expected: Pick<HeaderError, 'error' | 'controlId'> }[] = [
    { name: 'empty', text: '', expected: { error: 'no-msh' } },
    { name: 'junk before MSH', text: `\x0bxx${message('UTF-8')}`, expected: { error: 'no-msh' } },
    { name: 'PID first', text: `${pid}\r${msh('UTF-8')}`, expected: { error: 'no-msh' } },
    { name: 'MSH only', text: 'MSH', expected: { error: 'bad-separators' } },
    { name: 'letter as field separator', text: 'MSHX^~\\&XAXB', expected: { error: 'bad-separators' } },
    { name: '3-char MSH-2', text: 'MSH|^~\\|A|B|C|D|1||ADT^A01|1|P|2.5', expected: { error: 'bad-separators' } },
    { name: '6-char MSH-2', text: 'MSH|^~\\&#!|A|B|C|D|1||ADT^A01|1|P|2.5', expected: { error: 'bad-separators' } },
    {
      name: 'duplicate separator',
      text: 'MSH|^^\\&|A|B|C|D|1||ADT^A01|1|P|2.5',
      expected: { error: 'bad-separators' },
    },
    { name: 'field separator reused in MSH-2', text: 'MSH#^~\\#|A', expected: { error: 'bad-separators' } },
    {
      name: 'missing MSH-9',
      text: 'MSH|^~\\&|A|B|C|D|1|||42|P|2.5\r',
      expected: { error: 'no-type', controlId: '42' },
    },
    {
      name: 'MSH-9 with empty type',
      text: 'MSH|^~\\&|A|B|C|D|1||^A01|42|P|2.5\r',
      expected: { error: 'no-type', controlId: '42' },
    },
    { name: 'missing MSH-9 and MSH-10', text: 'MSH|^~\\&|A|B|C|D|1\r', expected: { error: 'no-type' } },
    { name: 'missing MSH-10', text: 'MSH|^~\\&|A|B|C|D|1||ADT^A01||P|2.5\r', expected: { error: 'no-control-id' } },
  ];
  it.each(errorCases)('error: $name', ({ text, expected }) => {
    const r = readHeader(text);
    expect(isHeaderError(r)).toBe(true);
    expect({ error: (r as HeaderError).error, controlId: (r as HeaderError).controlId }).toEqual({
      controlId: undefined,
      ...expected,
    });
  });

  it('a no-type / no-control-id error carries the readable header for the ACK', () => {
    const r = readHeader('MSH#$~\\&#A#B#C#D#1###7#P#2.5\r') as HeaderError;
    expect(r.header).toMatchObject({ sendingApplication: 'A', controlId: '7', separators: { field: '#' } });
  });
});

describe('readHeader and decodeMessage scan only what they need (fast-check)', () => {
  // Random messages: separators, line endings, empty lines, segments named like PID (PIDX, XPID), MSH-18 values
  // with repetitions, MSH segments cut short. The expected values come from the plain definitions: split the text
  // into segments, the MSH into fields.
  const field = fc.constantFrom('|', '#', '!');
  const endings = fc.constantFrom('\r', '\n', '\r\n', '\r\r', '\n\n');
  const charsets = fc.constantFrom('', '8859/1', '8859/15', 'UNICODE UTF-8', 'utf-8', 'ASCII', 'KOI8', ' 8859/1 ');
  const text = fc.string({
    unit: fc.constantFrom('a', 'B', '1', '^', '~', '&', '*', ' ', 'P', 'I', 'D'),
    maxLength: 8,
  });
  const messages = fc.record({
    field,
    repetition: fc.constantFrom('~', '*'),
    mshFields: fc.array(text, { minLength: 0, maxLength: 20 }),
    msh18: fc.array(charsets, { minLength: 1, maxLength: 3 }),
    cutAt: fc.option(fc.integer({ min: 2, max: 19 }), { nil: undefined }),
    segments: fc.array(
      fc.record({
        name: fc.constantFrom('EVN', 'PID', 'PV1', 'PIDX', 'XPID', 'ZBE'),
        fields: fc.array(text, { maxLength: 5 }),
      }),
      { maxLength: 5 },
    ),
    endings: fc.array(endings, { minLength: 6, maxLength: 6 }),
  });
  type Generated = typeof messages extends fc.Arbitrary<infer T> ? T : never;
  const build = (m: Generated) => {
    const f = m.field;
    const fields = ['MSH', `^${m.repetition}\\&`, ...m.mshFields.slice(0, 15)];
    while (fields.length < 17) fields.push('x');
    fields.push(m.msh18.join(m.repetition), 'FR');
    // MSH-9 and MSH-10 present unless the segment is cut short.
    fields[8] = 'ADT^A01';
    fields[9] = 'C1';
    const mshLine = fields.slice(0, m.cutAt === undefined ? fields.length : m.cutAt).join(f);
    const lines = [mshLine, ...m.segments.map((s) => [s.name, ...s.fields].join(f))];
    return lines.map((l, i) => l + (m.endings[i % m.endings.length] ?? '\r')).join('');
  };

  it('readHeader reads the same header as it does from the MSH and the first PID alone', () => {
    fc.assert(
      fc.property(messages, (m) => {
        const t = build(m);
        const segments = t.split(/\r\n|\r|\n/).filter((s) => s !== '');
        const pid = segments.find((s) => s.split(m.field)[0] === 'PID');
        const canonical = [segments[0], ...(pid === undefined ? [] : [pid])].join('\r');
        expect(readHeader(t)).toEqual(readHeader(canonical));
      }),
      { numRuns: 2000 },
    );
  });

  it('decodeMessage takes the charset from the first repetition of MSH-18', () => {
    const declared: Record<string, Charset> = { '8859/1': 'latin1', '8859/15': 'iso-8859-15' };
    fc.assert(
      fc.property(messages, (m) => {
        // é in latin1: not UTF-8, so an undeclared or UTF-8-declared message falls back to windows-1252.
        const bytes = Buffer.from(`${build(m)}PID${m.field}\xe9\r`, 'latin1');
        const msh = bytes.toString('latin1').split(/[\r\n]/)[0] ?? '';
        const parts = msh.split(m.field);
        const repetition = (parts[1] ?? '').charAt(1);
        const msh18 = parts[17] === undefined ? undefined : repetition ? parts[17].split(repetition)[0] : parts[17];
        const expected = (msh18 !== undefined && declared[msh18.trim().toUpperCase()]) || 'windows-1252';
        expect(decodeMessage(bytes, 'windows-1252').charset).toBe(expected);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('parisTimestamp', () => {
  const cases = [
    { name: 'winter (CET)', now: '2026-03-05T09:30:00Z', expected: '20260305103000+0100' },
    { name: 'summer (CEST)', now: '2026-07-14T08:05:09Z', expected: '20260714100509+0200' },
    { name: 'just after the spring change', now: '2026-03-29T01:00:00Z', expected: '20260329030000+0200' },
    { name: 'just before the spring change', now: '2026-03-29T00:59:59Z', expected: '20260329015959+0100' },
    { name: 'midnight local is 00 not 24', now: '2026-01-01T23:00:00Z', expected: '20260102000000+0100' },
  ];
  it.each(cases)('$name', ({ now, expected }) => {
    expect(parisTimestamp(new Date(now))).toBe(expected);
  });
});

describe('buildAck', () => {
  const now = new Date('2026-03-05T09:30:00Z');

  it('builds an exact AA ACK', () => {
    const ack = buildAck(header(message('UNICODE UTF-8')), 'AA', { now, controlId: 'ACK1' });
    expect(ack).toBe(
      'MSH|^~\\&|DPI|CHU-Y|GAM|CHU-X|20260305103000+0100||ACK^A01^ACK|ACK1|P|2.5^FRA^2.11\rMSA|AA|3975\r',
    );
  });

  it('builds an AE ACK with ERR in summer time, parsed back with readHeader', () => {
    const received = header(message('8859/15'));
    const ack = buildAck(received, 'AE', {
      now: new Date('2026-07-14T08:05:09Z'),
      controlId: 'A-2',
      error: { code: '207', text: 'Application internal error', location: { segment: 'PID', field: 3 } },
    });
    const back = header(ack);
    expect(back).toMatchObject({
      sendingApplication: 'DPI',
      sendingFacility: 'CHU-Y',
      receivingApplication: 'GAM',
      receivingFacility: 'CHU-X',
      messageType: 'ACK',
      triggerEvent: 'A01',
      messageStructure: 'ACK',
      controlId: 'A-2',
      processingId: 'P',
      version: '2.5^FRA^2.11',
      charset: '',
    });
    expect(field(ack, 'MSH', 7)).toBe('20260714100509+0200');
    expect(field(ack, 'MSA', 1)).toBe('AE');
    expect(field(ack, 'MSA', 2)).toBe('3975');
    expect(ack.split('\r')[2]).toBe('ERR||PID^1^3|207^Application internal error^HL70357|E');
    expect(ack.endsWith('\r')).toBe(true);
    expect(ack).not.toMatch(/Lef|000003|dème/);
  });

  it('AR defaults to 207 with severity E; severity F and full location are written', () => {
    const h = header(message('UTF-8'));
    expect(buildAck(h, 'AR', { now, controlId: 'x' }).split('\r')[2]).toBe(
      'ERR|||207^Application internal error^HL70357|E',
    );
    const ack = buildAck(h, 'AR', {
      now,
      controlId: 'x',
      error: {
        code: '203',
        text: 'Unsupported version id',
        severity: 'F',
        location: { segment: 'MSH', sequence: 1, field: 12, repetition: 1, component: 1 },
      },
    });
    expect(ack.split('\r')[2]).toBe('ERR||MSH^1^12^1^1|203^Unsupported version id^HL70357|F');
  });

  it('AA ignores opts.error', () => {
    const ack = buildAck(header(message('UTF-8')), 'AA', { now, controlId: 'x', error: { code: '207', text: 't' } });
    expect(ack).not.toContain('ERR');
  });

  it('uses the received separators (# field, $ component, 5-char MSH-2) and escapes our own text', () => {
    const h = header('MSH#$~\\&!#APP$1#FAC#R#RF#20240101##ORU$R01$ORU_R01#C1#T#2.5\r');
    const ack = buildAck(h, 'AE', { now, controlId: 'N#1', error: { code: '207', text: 'bad $ # ~ & \\ ! field\nx' } });
    expect(ack).toBe(
      'MSH#$~\\&!#R#RF#APP$1#FAC#20260305103000+0100##ACK$R01$ACK#N\\F\\1#T#2.5\r' +
        'MSA#AE#C1\r' +
        'ERR###207$bad \\S\\ \\F\\ \\R\\ \\T\\ \\E\\ \\P\\ field x$HL70357#E\r',
    );
    expect(header(ack)).toMatchObject({ receivingApplication: 'APP$1', controlId: 'N\\F\\1', triggerEvent: 'R01' });
  });

  it('keeps received escapes raw (no double escaping)', () => {
    const h = header('MSH|^~\\&|APP\\F\\1|B^X&Y|C|D|1||ADT^A01|ID\\T\\1|P^T|2.5\r');
    const ack = buildAck(h, 'AA', { now, controlId: 'z' });
    expect(ack.split('\r')[0]).toBe('MSH|^~\\&|C|D|APP\\F\\1|B^X&Y|20260305103000+0100||ACK^A01^ACK|z|P^T|2.5');
    expect(ack.split('\r')[1]).toBe('MSA|AA|ID\\T\\1');
  });

  it('without a trigger MSH-9 is just ACK; default processing id and version', () => {
    const h = header('MSH|^~\\&|A|B|C|D|1||ACK|5\r');
    expect(buildAck(h, 'AA', { now, controlId: 'q' }).split('\r')[0]).toBe(
      'MSH|^~\\&|C|D|A|B|20260305103000+0100||ACK|q|P|2.5',
    );
  });

  const unusable: { name: string; text: string; msa2: string; first: string }[] = [
    { name: 'no-msh', text: 'garbage', msa2: '', first: 'MSH|^~\\&|||||20260305103000+0100||ACK|n|P|2.5' },
    { name: 'bad-separators', text: 'MSHA^~\\&', msa2: '', first: 'MSH|^~\\&|||||20260305103000+0100||ACK|n|P|2.5' },
    {
      name: 'no-type (received separators, MSA-2 kept)',
      text: 'MSH#$~\\&#A#B#C#D#1###42#P#2.4',
      msa2: '42',
      first: 'MSH#$~\\&#C#D#A#B#20260305103000+0100##ACK#n#P#2.4',
    },
    {
      name: 'no-control-id',
      text: 'MSH|^~\\&|A|B|C|D|1||ADT^A04',
      msa2: '',
      first: 'MSH|^~\\&|C|D|A|B|20260305103000+0100||ACK^A04^ACK|n|P|2.5',
    },
  ];
  it.each(unusable)('AR for an unusable message: $name', ({ text, msa2, first }) => {
    const r = readHeader(text);
    if (!isHeaderError(r)) throw new Error('expected an error');
    const ack = buildAck(r.header ?? {}, 'AR', { now, controlId: 'n' });
    expect(ack.split('\r')[0]).toBe(first);
    expect(field(ack, 'MSA', 1)).toBe('AR');
    expect(field(ack, 'MSA', 2)).toBe(msa2);
  });
});

describe('messageGroupKey / deduplicationKey', () => {
  const base = header(message('UTF-8'));
  const hex64 = /^[0-9a-f]{64}$/;
  const groupCases: { name: string; h: Header; expected: string | RegExp }[] = [
    { name: 'facility|IPP is hashed (the IPP identifies a person)', h: base, expected: hex64 },
    { name: 'no patient', h: { ...base, patient: undefined }, expected: 'CHU-X' },
    {
      name: 'HD with & and ^ stays raw',
      h: { ...base, sendingFacility: 'CHU&1.2.3&ISO', patient: undefined },
      expected: 'CHU&1.2.3&ISO',
    },
    { name: 'space → hash', h: { ...base, sendingFacility: 'CHU X' }, expected: hex64 },
    { name: 'accent → hash', h: { ...base, sendingFacility: 'CHÉ' }, expected: hex64 },
    { name: 'empty → hash', h: { ...base, sendingFacility: '', patient: undefined }, expected: hex64 },
    {
      name: '128 chars kept',
      h: { ...base, sendingFacility: 'F'.repeat(128), patient: undefined },
      expected: 'F'.repeat(128),
    },
    { name: '129 chars → hash', h: { ...base, sendingFacility: 'F'.repeat(129), patient: undefined }, expected: hex64 },
  ];
  it.each(groupCases)('group key: $name', ({ h, expected }) => {
    const key = messageGroupKey(h);
    if (typeof expected === 'string') expect(key).toBe(expected);
    else expect(key).toMatch(expected);
  });

  it('hashed group keys are stable and distinct, per patient too', () => {
    expect(messageGroupKey(base)).not.toContain(base.patient!.id);
    expect(messageGroupKey(base)).not.toBe(messageGroupKey({ ...base, patient: { id: '000004', authority: '' } }));
    const a = messageGroupKey({ ...base, sendingFacility: 'CHU X' });
    expect(messageGroupKey({ ...base, sendingFacility: 'CHU X' })).toBe(a);
    expect(messageGroupKey({ ...base, sendingFacility: 'CHU Y' })).not.toBe(a);
  });

  it('deduplication key depends on app, facility, control id and body', () => {
    const k = deduplicationKey(base, 'body');
    expect(k).toMatch(hex64);
    expect(deduplicationKey(base, 'body')).toBe(k);
    expect(deduplicationKey(base, 'body2')).not.toBe(k);
    expect(deduplicationKey({ ...base, controlId: '3976' }, 'body')).not.toBe(k);
    expect(deduplicationKey({ ...base, sendingApplication: 'GAM2' }, 'body')).not.toBe(k);
    expect(deduplicationKey({ ...base, sendingFacility: 'CHU-Z' }, 'body')).not.toBe(k);
    // Field boundaries cannot shift: ('GA', 'MCHU-X') differs from ('GAM', 'CHU-X').
    expect(deduplicationKey({ ...base, sendingApplication: 'GA', sendingFacility: 'MCHU-X' }, 'body')).not.toBe(k);
  });
});

describe('escapeValue', () => {
  it('escapes every separator with the message escape character', () => {
    const seps = header('MSH|^~/&|A|B|C|D|1||ADT^A01|1|P|2.5').separators;
    expect(escapeValue('a|b^c~d&e/f', seps)).toBe('a/F/b/S/c/R/d/T/e/E/f');
  });
});

const CORPUS = join(import.meta.dirname, '../../../shared/corpus/hl7v2');

function listFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? listFiles(p) : [p];
  });
}

describe.skipIf(!existsSync(CORPUS))('shared corpus (hl7v2)', () => {
  it('every message gives a Header with its MSH-10 or a HeaderError, and an ACK echoing it', () => {
    let headers = 0;
    let errors = 0;
    let files = 0;
    const now = new Date('2026-03-05T09:30:00Z');
    for (const file of listFiles(CORPUS)) {
      files++;
      const { text, charset } = decodeMessage(readFileSync(file));
      expect(text, relative(CORPUS, file)).not.toContain('\ufffd');
      const messages = text.split(/(?:\r\n|\r|\n)(?=MSH)/).filter((m) => m.trim() !== '');
      for (const m of messages) {
        const r = readHeader(m);
        const expected = field(m, 'MSH', 10) ?? '';
        if (isHeaderError(r)) {
          errors++;
          continue;
        }
        headers++;
        expect(r.controlId, relative(CORPUS, file)).toBe(expected);
        const ack = buildAck(r, 'AE', {
          now,
          controlId: 'ACK-1',
          error: { code: '207', text: 'Application internal error' },
        });
        expect(field(ack, 'MSA', 2), relative(CORPUS, file)).toBe(expected);
        expect(header(ack).receivingApplication).toBe(r.sendingApplication);
        expect(encodeAck(ack, charset).length).toBeGreaterThan(0);
      }
    }
    console.log(`hl7v2 corpus: ${files} files, ${headers} headers, ${errors} header errors`);
    expect(headers).toBeGreaterThan(0);
  });
});

if (!existsSync(CORPUS)) console.log(`hl7v2 corpus not found at ${CORPUS}: corpus test skipped`);
