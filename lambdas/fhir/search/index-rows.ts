/**
 * Rows written to the search index tables for one resource version. They are computed in
 * TypeScript (from the official R4 SearchParameter expressions) and written with the resource in
 * the same statement.
 */

export interface StringIndexRow {
  param: string;
  /** Lower-cased, accents removed: what prefix and :contains searches compare to. */
  norm: string;
  /** The value as written, for :exact. */
  exact: string;
}

export interface TokenIndexRow {
  param: string;
  system: string | null;
  code: string | null;
}

/** A date range [low, high) in UTC ISO-8601 instants; null = unbounded on that side. */
export interface DateIndexRow {
  param: string;
  low: string | null;
  high: string | null;
}

export interface ReferenceIndexRow {
  param: string;
  /** `Patient` in `Patient/123`; null for absolute or contained references. */
  targetType: string | null;
  targetId: string | null;
  /** The reference string as written. */
  ref: string;
}

export interface QuantityIndexRow {
  param: string;
  value: number;
  system: string | null;
  code: string | null;
  unit: string | null;
}

export interface NumberIndexRow {
  param: string;
  value: number;
}

export interface UriIndexRow {
  param: string;
  uri: string;
}

export interface IndexRows {
  string: StringIndexRow[];
  token: TokenIndexRow[];
  date: DateIndexRow[];
  reference: ReferenceIndexRow[];
  quantity: QuantityIndexRow[];
  number: NumberIndexRow[];
  uri: UriIndexRow[];
}

export const emptyIndexRows = (): IndexRows => ({
  string: [],
  token: [],
  date: [],
  reference: [],
  quantity: [],
  number: [],
  uri: [],
});
