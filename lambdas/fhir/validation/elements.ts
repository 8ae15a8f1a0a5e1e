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

/**
 * A FHIR element (datatype, backbone element or resource) as a loose zod object: unknown elements are
 * tolerated, modeled ones validated. Adds the checks of FHIR JSON that a zod shape cannot express:
 * no empty object (ele-1, for elements without required children), no `null` on unmodeled keys,
 * `null` items of primitive arrays only with a matching `_name` entry, choice-type cardinality,
 * and the element's own invariants.
 */
export function element(shape: Record<string, z.ZodType>, options: ElementOptions = {}): z.ZodType {
  const keys = Object.keys(shape);
  const hasRequired =
    (options.requiredChoices?.length ?? 0) > 0 || keys.some((key) => !(shape[key] instanceof z.ZodOptional));
  const nullableLists = keys.filter((key) => {
    const schema = shape[key];
    return schema !== undefined && primitiveLists.has(unwrapOptional(schema));
  });
  const choices = options.choices ?? [];
  const requiredChoices = options.requiredChoices ?? [];
  const invariants = options.invariants ?? [];

  return z.looseObject(shape).superRefine(
    (value, ctx) => {
      // Runs even when the shape has issues (see `when`), so `value` may be anything.
      if (!isPlainObject(value)) return;
      const report: Report = (fhirCode, message, path = []) =>
        ctx.addIssue({ code: 'custom', message, path, params: { fhirCode } });

      let childCount = 0;
      for (const key in value) {
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
    },
    { when: () => true },
  );
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
