import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  choice,
  countVariants,
  element,
  type Invariant,
  isPlainObject,
  list,
  primitiveList,
} from '../../../lambdas/fhir/validation/elements.js';
import { toOperationOutcomeIssues } from '../../../lambdas/fhir/validation/issues.js';

function issues(schema: z.ZodType, input: unknown): [string, string | undefined][] {
  const result = schema.safeParse(input, { reportInput: true });
  if (result.success) return [];
  return toOperationOutcomeIssues('X', result.error.issues).map((i) => [i.code, i.expression?.[0]]);
}

describe('element builders', () => {
  const optionalOnly = element({ a: z.string().optional(), tags: primitiveList(z.string()).optional() });
  const withRequired = element({ a: z.string() });

  it('list and primitiveList reject empty arrays', () => {
    expect(issues(list(z.string()), [])).toEqual([['structure', 'X']]);
    expect(issues(primitiveList(z.string()), [])).toEqual([['structure', 'X']]);
    expect(issues(list(z.string()), [null])).toEqual([['structure', 'X[0]']]);
  });

  it('rejects an empty object only when no child is required (the required issue says enough)', () => {
    expect(issues(optionalOnly, {})).toEqual([['structure', 'X']]);
    expect(issues(optionalOnly, { id: 'only' })).toEqual([['structure', 'X']]);
    expect(issues(optionalOnly, { other: 1 })).toEqual([]);
    expect(issues(withRequired, {})).toEqual([['required', 'X.a']]);
  });

  it('rejects null on unmodeled keys and null array items without _key', () => {
    expect(issues(optionalOnly, { a: 'x', extra: null })).toEqual([['structure', 'X.extra']]);
    expect(issues(optionalOnly, { tags: ['a', null] })).toEqual([['structure', 'X.tags[1]']]);
    expect(issues(optionalOnly, { tags: ['a', null], _tags: 'bad' })).toEqual([['structure', 'X.tags[1]']]);
    expect(issues(optionalOnly, { tags: [null], _tags: [{ extension: [] }] })).toEqual([]);
  });

  it('still reports shape issues alongside element checks, and ignores non-objects in checks', () => {
    expect(issues(withRequired, null)).toEqual([['structure', 'X']]);
    expect(issues(withRequired, [])).toEqual([['structure', 'X']]);
  });

  it('enforces choices and required choices', () => {
    const schema = element(
      {
        ...choice('value', { String: z.string(), Boolean: z.boolean() }),
        ...choice('content', { String: z.string() }),
      },
      { choices: ['value'], requiredChoices: ['content'] },
    );
    expect(issues(schema, { contentString: 'a' })).toEqual([]);
    expect(issues(schema, { valueString: 'a', contentString: 'a' })).toEqual([]);
    expect(issues(schema, { valueString: 'a', valueBoolean: true, contentString: 'a' })).toEqual([
      ['structure', 'X.value[x]'],
    ]);
    expect(issues(schema, { valueString: 'a' })).toEqual([['required', 'X.content[x]']]);
    expect(issues(schema, {})).toEqual([['required', 'X.content[x]']]);
    expect(issues(schema, { contentString: 'a', contentOther: 1 })).toEqual([['structure', 'X.content[x]']]);
    expect(issues(schema, { contentString: 'a', valueString: 3 })).toEqual([['structure', 'X.valueString']]);
  });

  it('validates only the keys present, but still reports missing required keys, nested too', () => {
    const schema = element({
      a: z.string().optional(),
      inner: element({ b: z.string(), c: z.number().optional() }).optional(),
    });
    expect(issues(schema, { inner: { c: 1 } })).toEqual([['required', 'X.inner.b']]);
    expect(issues(schema, { inner: { b: 'x', c: 'y' } })).toEqual([['structure', 'X.inner.c']]);
    expect(issues(schema, { a: 'x', unknown: { anything: [1] }, inner: { b: 'x', other: 2 } })).toEqual([]);
    expect(issues(schema, { a: undefined, inner: { b: 'x' } })).toEqual([]);
  });

  it('reports field issues in shape order whatever the key order of the input, element checks after', () => {
    const schema = element({ a: z.string(), b: z.string().optional(), c: z.string() });
    expect(issues(schema, { extra: null, c: 1, b: 2 })).toEqual([
      ['required', 'X.a'],
      ['structure', 'X.b'],
      ['structure', 'X.c'],
      ['structure', 'X.extra'],
    ]);
  });

  it('skips element checks, here and in enclosing elements, after a non-integer (an aborting zod issue)', () => {
    const noA: Invariant = (value, report) => {
      if (value['a'] !== undefined) report('invariant', 'no a', ['a']);
    };
    const inner = element({ a: z.string().optional(), n: z.number().int().optional() }, { invariants: [noA] });
    const outer = element({ inner: inner.optional(), a: z.string().optional() }, { invariants: [noA] });
    expect(issues(outer, { a: 'x', inner: { a: 'x', n: 1 } })).toEqual([
      ['invariant', 'X.inner.a'],
      ['invariant', 'X.a'],
    ]);
    expect(issues(outer, { a: 'x', inner: { a: 'x', n: 1.5 } })).toEqual([['value', 'X.inner.n']]);
  });

  it('ignores an own __proto__ key in element checks, as zod objects drop it', () => {
    expect(issues(optionalOnly, JSON.parse('{"__proto__": 1}'))).toEqual([['structure', 'X']]);
  });

  it('runs invariants with a reporter', () => {
    const schema = element(
      { a: z.string().optional() },
      {
        invariants: [
          (value, report) => {
            if (value['a'] === 'bad') report('value', 'no', ['a']);
          },
        ],
      },
    );
    expect(issues(schema, { a: 'bad' })).toEqual([['value', 'X.a']]);
    expect(issues(schema, { a: 'ok' })).toEqual([]);
  });
});

describe('helpers', () => {
  it('countVariants counts prefix + upper-case keys only', () => {
    expect(
      countVariants({ valueString: 1, valueBoolean: 2, values: 3, value: 4, _valueString: 5, valueset: 6 }, 'value'),
    ).toBe(2);
  });

  it('isPlainObject', () => {
    expect(isPlainObject({})).toBe(true);
    expect(isPlainObject([])).toBe(false);
    expect(isPlainObject(null)).toBe(false);
    expect(isPlainObject('x')).toBe(false);
  });
});
