/**
 * Small, fast, lazy HL7 v2 parser (the "parser port" behind which hl7-standard is NOT used: see
 * test/hl7/hl7-standard-gaps.test.ts for the measured defects that made us write this core).
 *
 * Input is already-decoded text (the MSH-18 charset is the caller's job). Segments are split eagerly on any of
 * `\r`, `\n`, `\r\n` (mixed allowed; empty lines skipped); fields, repetitions, components and subcomponents are
 * split on first access only and cached. Splitting on the raw separator characters is correct because an escaped
 * value never contains a raw separator (they travel as `\F\ \S\ \T\ \R\ \E\`).
 *
 * Every `value`/`subcomponent()` accessor returns decoded text and `''` when absent; every `raw` property returns
 * the bytes as they were in the message (for ACKs or re-emission).
 *
 * Escape decoding: `\F\ \S\ \T\ \R\ \E\` (and `\P\` when MSH-2 defines a truncation character) map to the
 * message's own separators, `\.br\` to `'\n'`, `\Xhh…\` to the hex bytes read as UTF-8 (our messages are UTF-8 or
 * already transcoded; invalid UTF-8 keeps the sequence raw). Any other sequence (`\H\`, `\N\`, `\.sp\`, `\Zxx\`,
 * `\Cxxyy\`, …) and an unterminated escape are kept raw. The HL7 null `""` is not interpreted.
 */

/** The six delimiters declared by MSH-1 and MSH-2. `truncation` is `''` unless MSH-2 has a fifth character (v2.7+). */
export interface Separators {
  readonly field: string;
  readonly component: string;
  readonly repetition: string;
  readonly escape: string;
  readonly subcomponent: string;
  readonly truncation: string;
}

/** The classic `|^~\&` separators. */
export const DEFAULT_SEPARATORS: Separators = {
  field: '|',
  component: '^',
  repetition: '~',
  escape: '\\',
  subcomponent: '&',
  truncation: '',
};

/** Why a text could not be parsed. The message never contains message content. */
export type Hl7ParseErrorCode = 'NO_MSH' | 'BAD_ENCODING_CHARACTERS';

/** Thrown by {@link parseHl7}. Its message is generic on purpose: HL7 text carries personal data. */
export class Hl7ParseError extends Error {
  override readonly name = 'Hl7ParseError';
  constructor(readonly code: Hl7ParseErrorCode) {
    super(
      code === 'NO_MSH'
        ? 'HL7 v2 message must start with an MSH segment'
        : 'HL7 v2 MSH-1/MSH-2 do not declare valid, distinct separators',
    );
  }
}

/**
 * Shared empty parts for the separators of the message being read (absent components and repetitions are read
 * often and never change; all parts of a message share one separators object).
 */
let emptiesFor: Separators | undefined;
let empties: { component: Hl7Component; repetition: Hl7Repetition } | undefined;

function emptyOf(seps: Separators): { component: Hl7Component; repetition: Hl7Repetition } {
  if (seps !== emptiesFor || empties === undefined) {
    empties = { component: new Hl7Component('', seps), repetition: new Hl7Repetition('', seps) };
    emptiesFor = seps;
  }
  return empties;
}

const emptyComponent = (seps: Separators) => emptyOf(seps).component;
const emptyRepetition = (seps: Separators) => emptyOf(seps).repetition;

/** A component: its subcomponents, split on demand. */
export class Hl7Component {
  #subs: string[] | undefined;
  constructor(
    /** The component as in the message (escapes not decoded). */
    readonly raw: string,
    private readonly seps: Separators,
    private readonly literal = false,
  ) {}

  /** Decoded subcomponents (`[]` when the component is empty). */
  get subcomponents(): readonly string[] {
    if (this.#subs === undefined) {
      if (this.raw === '') this.#subs = [];
      else if (this.literal) this.#subs = [this.raw];
      else if (!this.raw.includes(this.seps.subcomponent)) this.#subs = [decodeHl7(this.raw, this.seps)];
      else {
        const parts = this.raw.split(this.seps.subcomponent);
        for (let i = 0; i < parts.length; i++) parts[i] = decodeHl7(parts[i] as string, this.seps);
        this.#subs = parts;
      }
    }
    return this.#subs;
  }

  /** Decoded subcomponent `n` (1-based), `''` when absent. */
  subcomponent(n: number): string {
    return this.subcomponents[n - 1] ?? '';
  }

  /** Decoded first subcomponent: the component's scalar value. */
  get value(): string {
    return this.subcomponent(1);
  }
}

/** One repetition of a field: its components, split on demand. */
export class Hl7Repetition {
  /** The component texts (split once), and the components built from them as they are asked for. */
  #parts: string[] | undefined;
  #comps: (Hl7Component | undefined)[] = [];
  constructor(
    /** The repetition as in the message. */
    readonly raw: string,
    private readonly seps: Separators,
    private readonly literal = false,
  ) {}

  #texts(): string[] {
    if (this.#parts === undefined) {
      if (this.raw === '') this.#parts = [];
      else if (this.literal || !this.raw.includes(this.seps.component)) this.#parts = [this.raw];
      else this.#parts = this.raw.split(this.seps.component);
    }
    return this.#parts;
  }

  /** Components (`[]` when the repetition is empty). */
  get components(): readonly Hl7Component[] {
    const texts = this.#texts();
    for (let i = 0; i < texts.length; i++) this.component(i + 1);
    return this.#comps as Hl7Component[];
  }

  /** Component `n` (1-based); an empty component when absent. */
  component(n: number): Hl7Component {
    const text = this.#texts()[n - 1];
    if (text === undefined) return emptyComponent(this.seps);
    let c = this.#comps[n - 1];
    if (c === undefined) {
      c = new Hl7Component(text, this.seps, this.literal);
      this.#comps[n - 1] = c;
    }
    return c;
  }

  /** Decoded first subcomponent of the first component. */
  get value(): string {
    return this.component(1).value;
  }
}

/** A field: its repetitions, split on demand. */
export class Hl7Field {
  #reps: Hl7Repetition[] | undefined;
  constructor(
    /** The field as in the message. */
    readonly raw: string,
    private readonly seps: Separators,
    /** MSH-1 and MSH-2 hold the separators themselves: never split nor decoded. */
    private readonly literal = false,
  ) {}

  /** Repetitions (`[]` when the field is empty or absent). */
  get repetitions(): readonly Hl7Repetition[] {
    if (this.#reps === undefined) {
      if (this.raw === '') this.#reps = [];
      else if (this.literal) this.#reps = [new Hl7Repetition(this.raw, this.seps, true)];
      else if (!this.raw.includes(this.seps.repetition)) this.#reps = [new Hl7Repetition(this.raw, this.seps)];
      else this.#reps = this.raw.split(this.seps.repetition).map((r) => new Hl7Repetition(r, this.seps));
    }
    return this.#reps;
  }

  /** Repetition `i` (0-based, like `repetitions`); an empty repetition when absent. */
  repetition(i: number): Hl7Repetition {
    return this.repetitions[i] ?? emptyRepetition(this.seps);
  }

  /** Component `n` (1-based) of the first repetition. */
  component(n: number): Hl7Component {
    return this.repetition(0).component(n);
  }

  /** Decoded first subcomponent of the first component of the first repetition. */
  get value(): string {
    return this.repetition(0).value;
  }
}

/** A segment; fields are split on the first call to {@link Hl7Segment.field}. */
export class Hl7Segment {
  #parts: string[] | undefined;
  #fields: (Hl7Field | undefined)[] = [];
  /** Segment id (`PID`, `ZBE`, …): the text before the first field separator. */
  readonly name: string;
  constructor(
    /** The segment as in the message, without its terminator. */
    readonly raw: string,
    private readonly seps: Separators,
  ) {
    const bar = raw.indexOf(seps.field);
    this.name = bar < 0 ? raw : raw.slice(0, bar);
  }

  private get parts(): string[] {
    if (this.#parts === undefined) this.#parts = this.raw.split(this.seps.field);
    return this.#parts;
  }

  /**
   * Number of the last field present. For MSH this follows HL7 numbering (MSH-1 is the field separator), so
   * `MSH|^~\&|A` has 3 fields.
   */
  get fieldCount(): number {
    const n = this.parts.length - 1;
    return this.name === 'MSH' ? n + 1 : n;
  }

  /**
   * Field `n` (1-based; 0 is the segment id). For MSH, HL7 numbering: MSH-1 is the field separator and MSH-2 the
   * encoding characters, both returned literally. An empty field when absent.
   */
  field(n: number): Hl7Field {
    const cached = this.#fields[n];
    if (cached !== undefined) return cached;
    let f: Hl7Field;
    if (this.name === 'MSH' && n >= 1) {
      if (n === 1) f = new Hl7Field(this.seps.field, this.seps, true);
      else f = new Hl7Field(this.parts[n - 1] ?? '', this.seps, n === 2);
    } else {
      f = new Hl7Field(this.parts[n] ?? '', this.seps);
    }
    this.#fields[n] = f;
    return f;
  }
}

/** A parsed message. */
export class Hl7Message {
  constructor(
    /** The text given to {@link parseHl7}. */
    readonly raw: string,
    readonly segments: readonly Hl7Segment[],
    readonly separators: Separators,
  ) {}

  /** The `index`-th (0-based) segment named `name`, or `undefined`. */
  get(name: string, index = 0): Hl7Segment | undefined {
    let seen = 0;
    for (const s of this.segments) {
      if (s.name === name) {
        if (seen === index) return s;
        seen++;
      }
    }
    return undefined;
  }

  /** Every segment named `name`, in message order. */
  getAll(name: string): Hl7Segment[] {
    return this.segments.filter((s) => s.name === name);
  }
}

function isBadSeparator(c: string): boolean {
  const code = c.charCodeAt(0);
  // Letters, digits, CR, LF and space cannot be delimiters.
  return (
    code === 13 ||
    code === 10 ||
    code === 32 ||
    (code >= 48 && code <= 57) ||
    (code >= 65 && code <= 90) ||
    (code >= 97 && code <= 122)
  );
}

/** Reads MSH-1/MSH-2 from the start of the MSH segment. */
function readSeparators(msh: string): Separators {
  if (msh.length < 4) throw new Hl7ParseError('BAD_ENCODING_CHARACTERS');
  const field = msh.charAt(3);
  let end = msh.indexOf(field, 4);
  if (end < 0) end = msh.length;
  const enc = msh.slice(4, end);
  if (enc.length !== 4 && enc.length !== 5) throw new Hl7ParseError('BAD_ENCODING_CHARACTERS');
  const all = field + enc;
  for (let i = 0; i < all.length; i++) {
    const c = all.charAt(i);
    if (isBadSeparator(c) || all.indexOf(c) !== i) throw new Hl7ParseError('BAD_ENCODING_CHARACTERS');
  }
  return {
    field,
    component: enc.charAt(0),
    repetition: enc.charAt(1),
    escape: enc.charAt(2),
    subcomponent: enc.charAt(3),
    truncation: enc.charAt(4),
  };
}

/**
 * Parses one HL7 v2 message. Leading blank lines and a UTF-8 BOM are tolerated; the first segment must be MSH.
 *
 * @param text the decoded message (segments separated by `\r`, `\n` or `\r\n`, mixed allowed)
 * @throws {Hl7ParseError} `NO_MSH` when the first segment is not MSH, `BAD_ENCODING_CHARACTERS` when MSH-1/MSH-2 are
 *   not 1 + 4 (or 5) distinct, non-alphanumeric characters
 */
export function parseHl7(text: string): Hl7Message {
  const lines: string[] = [];
  const n = text.length;
  let start = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  for (let i = start; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 13 || c === 10) {
      if (i > start) lines.push(text.slice(start, i));
      start = i + 1;
    }
  }
  if (start < n) lines.push(text.slice(start));
  const first = lines[0];
  if (first === undefined || !first.startsWith('MSH')) throw new Hl7ParseError('NO_MSH');
  const seps = readSeparators(first);
  const segments = new Array<Hl7Segment>(lines.length);
  for (let i = 0; i < lines.length; i++) segments[i] = new Hl7Segment(lines[i] as string, seps);
  return new Hl7Message(text, segments, seps);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes `\X…\` hex into text, or returns `undefined` when it is not whole bytes of valid UTF-8. */
function decodeHex(hex: string): string | undefined {
  if (hex.length === 0 || hex.length % 2 !== 0 || !/^[0-9A-Fa-f]+$/.test(hex)) return undefined;
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/**
 * Decodes HL7 escape sequences in one leaf value (see the module comment for the rules).
 *
 * @param value a subcomponent as found in the message
 * @param seps the message separators (defaults to `|^~\&`)
 */
export function decodeHl7(value: string, seps: Separators = DEFAULT_SEPARATORS): string {
  const esc = seps.escape;
  let i = value.indexOf(esc);
  if (i < 0) return value;
  let out = '';
  let from = 0;
  while (i >= 0) {
    const close = value.indexOf(esc, i + 1);
    if (close < 0) break; // unterminated: keep the rest raw
    const body = value.slice(i + 1, close);
    let decoded: string | undefined;
    switch (body) {
      case 'F':
        decoded = seps.field;
        break;
      case 'S':
        decoded = seps.component;
        break;
      case 'T':
        decoded = seps.subcomponent;
        break;
      case 'R':
        decoded = seps.repetition;
        break;
      case 'E':
        decoded = esc;
        break;
      case 'P':
        decoded = seps.truncation === '' ? undefined : seps.truncation;
        break;
      case '.br':
        decoded = '\n';
        break;
      default:
        decoded = body.charAt(0) === 'X' ? decodeHex(body.slice(1)) : undefined;
    }
    if (decoded === undefined) {
      // Unknown sequence: keep it raw and resume after it.
      out += value.slice(from, close + 1);
    } else {
      out += value.slice(from, i) + decoded;
    }
    from = close + 1;
    i = value.indexOf(esc, from);
  }
  return out + value.slice(from);
}

/**
 * Escapes a value so it can be placed in one subcomponent: the escape character first, then the field, component,
 * repetition, subcomponent (and truncation) separators; `\n` becomes `\.br\` and `\r` (which would end the segment)
 * becomes `\X0D\`. `decodeHl7(escapeHl7(v)) === v` for every string.
 *
 * @param value plain text
 * @param seps the separators of the message being built (defaults to `|^~\&`)
 */
export function escapeHl7(value: string, seps: Separators = DEFAULT_SEPARATORS): string {
  let out = '';
  let from = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charAt(i);
    let rep: string | undefined;
    if (c === seps.escape) rep = 'E';
    else if (c === seps.field) rep = 'F';
    else if (c === seps.component) rep = 'S';
    else if (c === seps.repetition) rep = 'R';
    else if (c === seps.subcomponent) rep = 'T';
    else if (seps.truncation !== '' && c === seps.truncation) rep = 'P';
    else if (c === '\n') rep = '.br';
    else if (c === '\r') rep = 'X0D';
    if (rep !== undefined) {
      out += value.slice(from, i) + seps.escape + rep + seps.escape;
      from = i + 1;
    }
  }
  return from === 0 ? value : out + value.slice(from);
}
