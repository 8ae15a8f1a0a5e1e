import { z } from 'zod';

/**
 * Builders shared by the datatype and resource schemas: lists that may not be empty, choice types,
 * and the element-level checks zod cannot express on its own. Everything here runs at module load;
 * the returned schemas are reused for every validation.
 */

/** FHIR OperationOutcome issue codes this validator emits. */
export type FhirIssueCode = 'structure' | 'required' | 'value' | 'invariant';

/** Reports one issue at `path` (relative to the element being checked). */
export type Report = (code: FhirIssueCode, message: string, path?: (string | number)[]) => void;

/** A business or datatype invariant run on a plain JSON object (it must not trust element types). */
export type Invariant = (element: Record<string, unknown>, report: Report) => void;

export interface ElementOptions {
  /** Choice-type prefixes (`value` for `value[x]`): at most one variant may be present. */
  choices?: readonly string[];
  /** Choice-type prefixes for which exactly one variant is required. */
  requiredChoices?: readonly string[];
  invariants?: readonly Invariant[];
}

const EMPTY_ARRAY = 'must not be an empty array (FHIR JSON forbids empty arrays)';

/** Schemas made by `primitiveList`, so `element` knows which keys may hold `null` items. */
const primitiveLists = new WeakSet<z.ZodType>();

/** A repeating complex element: an array of at least one item. */
export function list<T extends z.ZodType>(item: T) {
  return z.array(item).min(1, EMPTY_ARRAY);
}

/**
 * A repeating primitive element. FHIR JSON allows a `null` item only when the sibling `_name` array
 * carries extensions at the same index; `element` checks that pairing.
 */
export function primitiveList<T extends z.ZodType>(item: T) {
  const schema = z.array(item.nullable()).min(1, EMPTY_ARRAY);
  primitiveLists.add(schema);
  return schema;
}

/** The fields `<prefix><Type>` of a choice element, all optional (pair with `choices` in `element`). */
export function choice(prefix: string, variants: Record<string, z.ZodType>): Record<string, z.ZodType> {
  const shape: Record<string, z.ZodType> = {};
  for (const [type, schema] of Object.entries(variants)) shape[`${prefix}${type}`] = schema.optional();
  return shape;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Number of keys of `element` that are variants of the choice `prefix` (`valueQuantity`, `valueString`...). */
export function countVariants(element: Record<string, unknown>, prefix: string): number {
  let count = 0;
  for (const key in element) {
    if (key.length > prefix.length && key.startsWith(prefix)) {
      const next = key.charCodeAt(prefix.length);
      if (next >= 65 && next <= 90) count++;
    }
  }
  return count;
}

function unwrapOptional(schema: z.ZodType): z.ZodType {
  return schema instanceof z.ZodOptional ? (schema.unwrap() as z.ZodType) : schema;
}

type ParseContext = z.core.ParseContextInternal<z.core.$ZodIssue>;
type RawIssue = z.core.$ZodRawIssue;

interface ElementDef extends z.core.$ZodTypeDef {
  type: 'custom';
  parse: (payload: z.core.ParsePayload, ctx: ParseContext) => z.core.ParsePayload;
}

/**
 * A zod schema (so `.optional()`, `list()`, `z.lazy` and `safeParse` work on it) whose parse is the
 * one given: a refinement cannot run the field schemas, it gets no parse context to pass them.
 */
const ElementSchema = z.core.$constructor<z.ZodType, ElementDef>('PfiElement', (inst, def) => {
  z.ZodType.init(inst, def);
  inst._zod.parse = def.parse;
});

/** A member of an element's shape; `index` is its position in the shape, the order zod reports in. */
interface Field {
  key: string;
  index: number;
  schema: z.ZodType;
}

/**
 * A FHIR element (datatype, backbone element or resource): unknown elements are tolerated, modeled
 * ones validated by their zod schema. Adds the checks of FHIR JSON that a zod shape cannot express:
 * no empty object (ele-1, for elements without required children), no `null` on unmodeled keys,
 * `null` items of primitive arrays only with a matching `_name` entry, choice-type cardinality,
 * and the element's own invariants.
 *
 * Not a `z.looseObject`: zod runs every key of a shape on every object, and FHIR shapes are wide
 * (an Extension has 45 keys, for the two it carries). This runs the fields the input has and the
 * required ones, and reports exactly what the loose object and its refinement did, in the same order.
 */
export function element(shape: Record<string, z.ZodType>, options: ElementOptions = {}): z.ZodType {
  const optional = new Map<string, Field>();
  const required: Field[] = [];
  Object.keys(shape).forEach((key, index) => {
    const schema = shape[key] as z.ZodType;
    // Run on present values only, where `.optional()` would just delegate to the inner schema.
    if (schema instanceof z.ZodOptional) optional.set(key, { key, index, schema: schema.unwrap() as z.ZodType });
    else required.push({ key, index, schema });
  });
  const checkElement = elementChecks(shape, required.length > 0, options);

  const schema: z.ZodType = new ElementSchema({
    type: 'custom',
    parse: (payload, ctx) => {
      const value = payload.value;
      if (!isPlainObject(value)) {
        payload.issues.push({ code: 'invalid_type', expected: 'object', input: value, inst: schema });
        return payload;
      }
      pushFieldIssues(payload.issues, value, optional, required, ctx);
      // zod skips refinements once an issue aborts (a non-integer number): the element checks of
      // this element, and of the enclosing ones, which get the issue with their fields' issues.
      if (explicitlyAborted(payload)) return payload;
      checkElement(value, (fhirCode, message, path = []) => {
        payload.issues.push({ code: 'custom', message, path, params: { fhirCode }, input: value, continue: true });
      });
      return payload;
    },
  });
  return schema;
}

/**
 * Pushes the issues of the fields of `value`, prefixed with their key, in shape order as zod did:
 * those of the optional fields the input has (an absent one has nothing to report), then of every
 * required one.
 */
function pushFieldIssues(
  out: RawIssue[],
  value: Record<string, unknown>,
  optional: ReadonlyMap<string, Field>,
  required: readonly Field[],
  ctx: ParseContext,
): void {
  let failed: FieldIssues[] | undefined; // allocated on the first issue: most elements have none
  for (const key in value) {
    const field = optional.get(key);
    if (field === undefined || value[key] === undefined) continue;
    const issues = run(field.schema, value[key], ctx);
    if (issues.length > 0) failed = addFieldIssues(failed, field, issues);
  }
  for (const field of required) {
    const issues = run(field.schema, value[field.key], ctx);
    // A schema accepting undefined: zod still reported the missing key.
    if (issues.length === 0 && !(field.key in value)) {
      issues.push({ code: 'invalid_type', expected: 'nonoptional', input: undefined });
    }
    if (issues.length > 0) failed = addFieldIssues(failed, field, issues);
  }
  if (failed === undefined) return;
  if (failed.length > 1) failed.sort((a, b) => a.index - b.index);
  for (const field of failed) out.push(...field.issues);
}

interface FieldIssues {
  index: number;
  issues: RawIssue[];
}

function addFieldIssues(failed: FieldIssues[] | undefined, field: Field, issues: RawIssue[]): FieldIssues[] {
  const list = failed ?? [];
  list.push({ index: field.index, issues: prefixIssues(field.key, issues) });
  return list;
}

const { explicitlyAborted, prefixIssues } = z.core.util;

/** Runs a field schema as zod's object did: own payload, the parse's context. */
function run(schema: z.ZodType, value: unknown, ctx: ParseContext): RawIssue[] {
  const result = schema._zod.run({ value, issues: [] }, ctx);
  if (result instanceof Promise) throw new z.core.$ZodAsyncError();
  return result.issues;
}

/** The element-level checks of `element`, on an object whose fields were validated. */
function elementChecks(
  shape: Record<string, z.ZodType>,
  hasRequiredKey: boolean,
  options: ElementOptions,
): (value: Record<string, unknown>, report: Report) => void {
  const hasRequired = hasRequiredKey || (options.requiredChoices?.length ?? 0) > 0;
  const nullableLists = Object.keys(shape).filter((key) => {
    const schema = shape[key];
    return schema !== undefined && primitiveLists.has(unwrapOptional(schema));
  });
  const choices = options.choices ?? [];
  const requiredChoices = options.requiredChoices ?? [];
  const invariants = options.invariants ?? [];

  return (value, report) => {
    let childCount = 0;
    for (const key in value) {
      // Skipped as zod's object did: it left an own `__proto__` (JSON.parse makes one) out of its output.
      if (key === '__proto__') continue;
      if (key !== 'id') childCount++;
      if (value[key] === null && !(key in shape)) report('structure', 'null is not allowed in FHIR JSON', [key]);
    }
    if (childCount === 0 && !hasRequired) {
      report('structure', 'must not be an empty object (an element needs a value or children)');
    }
    for (const key of nullableLists) checkNullItems(value, key, report);
    for (const prefix of choices) {
      if (countVariants(value, prefix) > 1) {
        report('structure', `only one ${prefix}[x] variant may be present`, [`${prefix}[x]`]);
      }
    }
    for (const prefix of requiredChoices) {
      const count = countVariants(value, prefix);
      if (count === 0) report('required', `${prefix}[x] is required`, [`${prefix}[x]`]);
      else if (count > 1) report('structure', `only one ${prefix}[x] variant may be present`, [`${prefix}[x]`]);
    }
    for (const invariant of invariants) invariant(value, report);
  };
}

function checkNullItems(value: Record<string, unknown>, key: string, report: Report): void {
  const items = value[key];
  if (!Array.isArray(items)) return;
  const extensions = value[`_${key}`];
  items.forEach((item, index) => {
    if (item !== null) return;
    const sibling = Array.isArray(extensions) ? extensions[index] : undefined;
    if (!isPlainObject(sibling)) {
      report('structure', `null is only allowed in a primitive array when _${key} has an entry at the same index`, [
        key,
        index,
      ]);
    }
  });
}
