/**
 * Minimal types for hl7-standard 1.0.4 (CJS, ships none). Only what our differential and gap tests call.
 * Note its option names are swapped against HL7 terms: `subComponents` is the repetition separator (`~`) and
 * `repeatingFields` the subcomponent separator (`&`).
 */
declare module 'hl7-standard' {
  interface HL7Options {
    lineEndings?: string;
    subComponents?: string;
    repeatingFields?: string;
  }
  type HL7Value = string | null | undefined | Record<string, unknown> | unknown[];
  class HL7 {
    constructor(data?: string, opts?: HL7Options);
    raw: string;
    transformed: Record<string, unknown[]>;
    transform(cb?: (err: Error | null, data: unknown) => void, batch?: boolean): void;
    /** `field` is `SEG.n` or `SEG.n.c`; `index` the segment occurrence, `sectionIndex` the repetition. */
    get(field: string, index?: number, sectionIndex?: number, subIndex?: number): HL7Value;
    getSegments(segment?: string): unknown[];
    build(): string;
  }
  export default HL7;
}
