/**
 * Compiles a search parameter's FHIRPath expression into a function that visits each value it
 * selects together with the value's FHIR datatype.
 *
 * The forms that make up nearly all R4 search parameters are run by a small evaluator over the
 * JSON (a property lookup per step, typed with the fhirpath R4 model): dotted paths with array
 * flattening, choice types (`Observation.value`, `(Observation.value as Quantity)`,
 * `Observation.value.as(Quantity)`, `Observation.valueQuantity`), `.where(resolve() is Patient)` and
 * `.where(system='email')`. Anything else goes to the `fhirpath` package, which is much slower.
 */
import fhirpath from 'fhirpath';
import r4model from 'fhirpath/fhir-context/r4';
import type { Resource } from '../types.js';
import { PRIMITIVES, parseReference } from './extract-values.js';

/** Called with each selected value and its FHIR datatype ('' when unknown). */
export type Visit = (value: unknown, type: string) => void;
export type PathEvaluator = (resource: Resource, visit: Visit) => void;

type Obj = Record<string, unknown>;

type Op =
  | { kind: 'get'; key: string }
  | { kind: 'refIs'; type: string }
  | { kind: 'eq'; key: string; value: string }
  /** Last op of an untyped choice (`Observation.effective`): each JSON key with its datatype. */
  | { kind: 'choice'; options: [key: string, type: string][] };

const IDENT_RE = /^[A-Za-z][A-Za-z0-9_]*$/;
const AS_RE = /^(?:as|ofType)\(([A-Za-z]+)\)$/;
const RESOLVE_IS_RE = /^where\(resolve\(\) is ([A-Z][A-Za-z]+)\)$/;
const WHERE_EQ_RE = /^where\(([A-Za-z]+)\s*=\s*'([^'\\]*)'\)$/;
const CAST_RE = /^(.+?)\s+as\s+([A-Za-z]+)$/;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `DateTime` (a choice suffix) or `System.String` (model) to the FHIR type name (`dateTime`, `string`). */
function fhirTypeName(t: string): string {
  const bare = t.startsWith('System.') ? t.slice(7) : t;
  const lower = bare.charAt(0).toLowerCase() + bare.slice(1);
  return PRIMITIVES.has(lower) ? lower : bare;
}

/** Splits on '.' outside parentheses and quotes. */
function splitSteps(path: string): string[] | undefined {
  const steps: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < path.length; i++) {
    const c = path[i];
    if (c === "'") quoted = !quoted;
    else if (quoted) continue;
    else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === '.' && depth === 0) {
      steps.push(path.slice(start, i).trim());
      start = i + 1;
    }
  }
  steps.push(path.slice(start).trim());
  return depth === 0 && !quoted && steps.every((s) => s.length > 0) ? steps : undefined;
}

/** `(A.b as T).c` → [A, b, as(T), c]; a plain path is split on its dots. */
function toSteps(part: string): string[] | undefined {
  if (!part.startsWith('(')) return splitSteps(part);
  let depth = 0;
  let close = -1;
  for (let i = 0; i < part.length && close < 0; i++) {
    if (part[i] === '(') depth++;
    else if (part[i] === ')' && --depth === 0) close = i;
  }
  const cast = close > 0 ? CAST_RE.exec(part.slice(1, close).trim()) : null;
  const tail = part.slice(close + 1).trim();
  if (!cast?.[1] || !cast[2] || (tail !== '' && !tail.startsWith('.'))) return undefined;
  const head = splitSteps(cast[1]);
  const rest = tail === '' ? [] : splitSteps(tail.slice(1));
  return head && rest ? [...head, `as(${cast[2]})`, ...rest] : undefined;
}

/** Model type of `ctx.name`, looking through datatype parents (`Age.value` is `Quantity.value`). */
function elementKey(ctx: string, name: string): string | undefined {
  for (let t: string | undefined = ctx; t; t = r4model.type2Parent[t]) {
    const key = `${t}.${name}`;
    if (r4model.path2Type[key] !== undefined || r4model.choiceTypePaths[key] !== undefined) return key;
  }
  return undefined;
}

const EXISTS_NOT_FALSE_RE = /^(\S+)\.exists\(\) and (\S+) != false$/;

/**
 * `P.exists() and P != false` (Patient-deceased): one boolean, false when P is absent or is the
 * boolean false, true otherwise — what fhirpath yields for a single-valued P.
 */
function compileExistsNotFalse(resourceType: string, part: string): PathEvaluator | undefined {
  const m = EXISTS_NOT_FALSE_RE.exec(part);
  if (!m?.[1] || m[1] !== m[2]) return undefined;
  const inner = compileFastPart(resourceType, m[1]);
  if (!inner) return undefined;
  return (resource, visit) => {
    let count = 0;
    let onlyFalse = false;
    inner(resource, (v) => {
      count++;
      onlyFalse = count === 1 && v === false;
    });
    visit(count > 0 && !onlyFalse, 'boolean');
  };
}

/**
 * Compiles one union-free part for the fast evaluator, or returns undefined when the part uses
 * anything it does not understand.
 */
export function compileFastPart(resourceType: string, part: string): PathEvaluator | undefined {
  if (part.includes(' and ')) return compileExistsNotFalse(resourceType, part.trim());
  const steps = toSteps(part.trim());
  if (!steps || steps[0] !== resourceType) return undefined;
  const ops: Op[] = [];
  let ctx = resourceType; // model path whose children the next step names
  let type = resourceType; // FHIR datatype of the current values
  for (let i = 1; i < steps.length; i++) {
    const step = steps[i] as string;
    const next = steps[i + 1];
    if (IDENT_RE.test(step)) {
      const key = elementKey(ctx, step);
      if (!key) return undefined;
      const choices = r4model.choiceTypePaths[key];
      if (choices) {
        const cast = next === undefined ? undefined : AS_RE.exec(next)?.[1];
        if (cast) {
          const suffix = choices.find((c) => fhirTypeName(c) === fhirTypeName(cast));
          if (!suffix) return undefined;
          ops.push({ kind: 'get', key: step + suffix });
          type = fhirTypeName(suffix);
          ctx = type;
          i++;
          continue;
        }
        if (next !== undefined) return undefined;
        ops.push({ kind: 'choice', options: choices.map((c) => [step + c, fhirTypeName(c)]) });
        return evaluator(ops, '');
      }
      const modelType = r4model.path2Type[key] as string;
      ops.push({ kind: 'get', key: step });
      if (modelType === 'BackboneElement' || modelType === 'Element') {
        ctx = r4model.pathsDefinedElsewhere[key] ?? key;
        type = 'BackboneElement';
      } else {
        type = fhirTypeName(modelType);
        ctx = type;
      }
      continue;
    }
    const as = AS_RE.exec(step)?.[1];
    if (as) {
      // A cast on a non-choice element only passes values that already have that type.
      if (fhirTypeName(as) !== type) return undefined;
      continue;
    }
    const refType = RESOLVE_IS_RE.exec(step)?.[1];
    if (refType) {
      if (type !== 'Reference') return undefined;
      ops.push({ kind: 'refIs', type: refType });
      continue;
    }
    const eq = WHERE_EQ_RE.exec(step);
    if (eq?.[1] && eq[2] !== undefined) {
      const fieldKey = elementKey(ctx, eq[1]);
      const fieldType = fieldKey ? r4model.path2Type[fieldKey] : undefined;
      if (!fieldType || !PRIMITIVES.has(fhirTypeName(fieldType))) return undefined;
      ops.push({ kind: 'eq', key: eq[1], value: eq[2] });
      continue;
    }
    return undefined;
  }
  return evaluator(ops, type);
}

function pushFlat(out: unknown[], v: unknown): void {
  if (Array.isArray(v)) {
    for (const x of v) if (x !== null && x !== undefined) out.push(x);
  } else if (v !== null && v !== undefined) out.push(v);
}

/** `resolve() is T` without resolving: the reference's type, its `T/id` form, or a contained T. */
function isReferenceTo(v: Obj, type: string, resource: Resource): boolean {
  if (v.type === type) return true;
  const ref = v.reference;
  if (typeof ref !== 'string') return false;
  if (ref.startsWith('#')) {
    const contained = resource.contained;
    const id = ref.slice(1);
    return Array.isArray(contained) && contained.some((c) => isObj(c) && c.id === id && c.resourceType === type);
  }
  return parseReference(ref).targetType === type;
}

function evaluator(ops: Op[], finalType: string): PathEvaluator {
  return (resource, visit) => {
    let cur: unknown[] = [resource];
    for (const op of ops) {
      const next: unknown[] = [];
      for (const v of cur) {
        if (!isObj(v)) continue;
        switch (op.kind) {
          case 'get':
            pushFlat(next, v[op.key]);
            break;
          case 'refIs':
            if (isReferenceTo(v, op.type, resource)) next.push(v);
            break;
          case 'eq':
            if (v[op.key] === op.value) next.push(v);
            break;
          case 'choice':
            for (const [key, type] of op.options) {
              const found: unknown[] = [];
              pushFlat(found, v[key]);
              for (const x of found) visit(x, type);
            }
            break;
        }
      }
      if (op.kind === 'choice' || next.length === 0) return;
      cur = next;
    }
    for (const v of cur) visit(v, finalType);
  };
}

interface FhirPathNode {
  data: unknown;
  fhirNodeDataType: string | null;
}

function isNode(v: unknown): v is FhirPathNode {
  return isObj(v) && 'fhirNodeDataType' in v && 'data' in v;
}

/** Compiles with the `fhirpath` package; throws if it cannot parse the expression. */
export function compileWithFhirpath(expression: string): PathEvaluator {
  const fn = fhirpath.compile(expression, r4model, { resolveInternalTypes: false });
  return (resource, visit) => {
    for (const item of fn(resource) as unknown[]) {
      if (isNode(item)) visit(item.data, item.fhirNodeDataType ?? '');
      else {
        // Computed values (booleans, FP_DateTime...) come back as internal types.
        const value: unknown = fhirpath.resolveInternalTypes(item);
        visit(value, typeof value === 'boolean' ? 'boolean' : '');
      }
    }
  };
}

/**
 * Splits a FHIRPath expression on its top-level unions (`|` outside parentheses and string literals).
 */
export function splitUnion(expression: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < expression.length; i++) {
    const c = expression[i];
    if (c === "'") quoted = !quoted;
    else if (quoted) continue;
    else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === '|' && depth === 0) {
      parts.push(expression.slice(start, i).trim());
      start = i + 1;
    }
  }
  parts.push(expression.slice(start).trim());
  return parts.filter((p) => p.length > 0);
}

/**
 * Compiles a search parameter expression (already restricted to `resourceType`): each union part
 * by the fast evaluator when it can, else by `fhirpath`. Throws when `fhirpath` rejects a part.
 */
export function compileExpression(resourceType: string, expression: string): PathEvaluator {
  const evaluators = splitUnion(expression).map((p) => compileFastPart(resourceType, p) ?? compileWithFhirpath(p));
  const [first] = evaluators;
  if (first === undefined) throw new Error('empty search parameter expression');
  if (evaluators.length === 1) return first;
  return (resource, visit) => {
    for (const e of evaluators) e(resource, visit);
  };
}
