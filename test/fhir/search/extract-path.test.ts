import { describe, expect, it } from 'vitest';
import {
  compileExpression,
  compileFastPart,
  compileWithFhirpath,
  type PathEvaluator,
  splitUnion,
} from '../../../lambdas/fhir/search/extract-path.js';
import { listSearchParams } from '../../../lambdas/fhir/search/registry.js';
import { type Resource, SUPPORTED_TYPES } from '../../../lambdas/fhir/types.js';
import { encounter, labObservation, richPatient } from './fixtures.js';

function run(evaluate: PathEvaluator, resource: Resource): [unknown, string][] {
  const out: [unknown, string][] = [];
  evaluate(resource, (v, t) => out.push([v, t]));
  return out;
}

describe('splitUnion', () => {
  it('splits on top-level unions only', () => {
    expect(splitUnion("A.b | (A.c as T) | A.d.where(x='a|b') | A.e.where(f | g)")).toEqual([
      'A.b',
      '(A.c as T)',
      "A.d.where(x='a|b')",
      'A.e.where(f | g)',
    ]);
    expect(splitUnion(' | A.b | ')).toEqual(['A.b']);
  });
});

describe('compileFastPart', () => {
  it('compiles every generated part of every supported type', () => {
    const slow: string[] = [];
    for (const type of SUPPORTED_TYPES) {
      for (const p of listSearchParams(type)) {
        for (const part of splitUnion(p.expression)) if (!compileFastPart(type, part)) slow.push(`${type}.${p.code}`);
      }
    }
    expect(slow).toEqual([]);
  });

  it.each([
    ['a path from another type', 'Patient', 'Person.name'],
    ['an unknown element', 'Patient', 'Patient.nickname'],
    ['a function it does not know', 'Patient', 'Patient.name.first()'],
    ['a cast to a type the choice does not allow', 'Observation', '(Observation.value as Address)'],
    ['a cast on a non-choice element of another type', 'Patient', 'Patient.name.as(Address)'],
    ['navigation below an uncast choice', 'Observation', 'Observation.value.code'],
    ['resolve() on a non-Reference', 'Patient', 'Patient.name.where(resolve() is Patient)'],
    ['where() on an unknown or complex child', 'Patient', "Patient.telecom.where(period='x')"],
    ['unbalanced parentheses', 'Observation', '(Observation.value as Quantity'],
    ['a cast followed by garbage', 'Observation', '(Observation.value as Quantity)x'],
    ['a different exists/and form', 'Patient', 'Patient.deceased.exists() and Patient.active != false'],
  ])('declines %s', (_label, type, part) => {
    expect(compileFastPart(type, part)).toBeUndefined();
  });

  it('accepts the .as(T) and valueX spellings of a choice', () => {
    const obs = labObservation();
    const asFn = compileFastPart('Observation', 'Observation.value.as(Quantity)');
    const direct = compileFastPart('Observation', 'Observation.valueQuantity');
    expect(asFn && run(asFn, obs)).toEqual([[obs.valueQuantity, 'Quantity']]);
    expect(direct && run(direct, obs)).toEqual([[obs.valueQuantity, 'Quantity']]);
  });

  it('types an uncast choice per JSON key', () => {
    const fn = compileFastPart('Observation', 'Observation.effective');
    expect(fn && run(fn, labObservation())).toEqual([['2024-03-05T10:00:00+01:00', 'dateTime']]);
  });

  it('filters with where(field=literal) on a primitive child', () => {
    const fn = compileFastPart('Patient', "Patient.telecom.where(system='email')");
    expect(fn && run(fn, richPatient())).toEqual([[{ system: 'email', value: 'zoe@example.test' }, 'ContactPoint']]);
  });
});

/** Resources exercising most paths of the generated parameters. */
const samples: Resource[] = [
  richPatient(),
  { ...richPatient(), deceasedBoolean: undefined, deceasedDateTime: '2020-02-02' },
  { resourceType: 'Patient', deceasedBoolean: true },
  { resourceType: 'Patient' },
  labObservation(),
  {
    ...labObservation(),
    valueQuantity: undefined,
    valueString: 'x',
    effectiveDateTime: undefined,
    effectivePeriod: { start: '2024' },
  },
  { ...labObservation(), valueQuantity: undefined, valueCodeableConcept: { text: 't', coding: [{ code: 'c' }] } },
  encounter(),
];

describe('fast evaluator agrees with fhirpath', () => {
  const cases = samples.flatMap((resource, i) =>
    listSearchParams(resource.resourceType).flatMap((p) =>
      splitUnion(p.expression)
        // fhirpath cannot resolve() references without a server; those filters are checked above.
        .filter((part) => !part.includes('resolve()'))
        .map((part) => ({ name: `#${i} ${part}`, resource, part })),
    ),
  );

  it.each(cases)('$name', ({ resource, part }) => {
    const fast = compileFastPart(resource.resourceType, part);
    expect(fast).toBeDefined();
    if (!fast) return;
    const normalise = (pairs: [unknown, string][]) => pairs.map(([v, t]) => JSON.stringify([v, t]));
    expect(normalise(run(fast, resource))).toEqual(normalise(run(compileWithFhirpath(part), resource)));
  });
});

describe('compileExpression', () => {
  it('visits each union part in order', () => {
    const fn = compileExpression('Location', 'Location.name | Location.alias');
    const values = run(fn, { resourceType: 'Location', name: 'Hôpital', alias: ['CHU'] }).map(([v]) => v);
    expect(values).toEqual(['Hôpital', 'CHU']);
  });

  it('throws when fhirpath cannot parse a part', () => {
    expect(() => compileExpression('Patient', 'Patient.name | Patient.(((')).toThrow();
  });

  it('throws on an empty expression', () => {
    expect(() => compileExpression('Patient', ' ')).toThrow('empty search parameter expression');
  });
});
