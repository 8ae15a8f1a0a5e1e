import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { fhirIssue, formatPath, toOperationOutcomeIssues } from '../../../lambdas/fhir/validation/issues.js';

const SECRET = 'Secret-Value-1979';

function issuesOf(schema: z.ZodType, input: unknown) {
  const result = schema.safeParse(input, { reportInput: true });
  if (result.success) throw new Error('expected a failure');
  return toOperationOutcomeIssues('Patient', result.error.issues);
}

describe('formatPath', () => {
  it('builds FHIRPath-ish expressions', () => {
    expect(formatPath('Patient', [])).toBe('Patient');
    expect(formatPath('Patient', ['identifier', 0, 'value'])).toBe('Patient.identifier[0].value');
    expect(formatPath('Observation', ['component', 2, 'value[x]'])).toBe('Observation.component[2].value[x]');
  });
});

describe('fhirIssue', () => {
  it('builds an error issue with the expression in front of the diagnostics', () => {
    expect(fhirIssue('value', 'bad', 'Patient.gender')).toEqual({
      severity: 'error',
      code: 'value',
      diagnostics: 'Patient.gender: bad',
      expression: ['Patient.gender'],
    });
  });
});

describe('toOperationOutcomeIssues', () => {
  const shape = z.looseObject({
    name: z.string(),
    count: z.number().int().min(1).max(3).optional(),
    gender: z.enum(['male', 'female']).optional(),
    tags: z.array(z.string()).min(1, 'must not be an empty array').optional(),
    code: z.string().regex(/^x$/).optional(),
    either: z.union([z.string(), z.number()]).optional(),
  });

  it('maps a missing element to required', () => {
    expect(issuesOf(shape, {})).toEqual([
      {
        severity: 'error',
        code: 'required',
        diagnostics: 'Patient.name: required element is missing',
        expression: ['Patient.name'],
      },
    ]);
  });

  it('maps a missing enum-bound element to required', () => {
    const issues = issuesOf(z.looseObject({ status: z.enum(['a', 'b']) }), {});
    expect(issues.map((i) => i.code)).toEqual(['required']);
  });

  it('maps null and wrong JSON types to structure, without the value', () => {
    expect(issuesOf(shape, { name: null })[0]?.diagnostics).toBe('Patient.name: null is not allowed in FHIR JSON');
    const wrong = issuesOf(shape, { name: ['a'] });
    expect(wrong[0]?.code).toBe('structure');
    expect(wrong[0]?.diagnostics).toBe('Patient.name: wrong type: expected string, got array');
  });

  it('maps integers and ranges to value', () => {
    expect(issuesOf(shape, { name: 'a', count: 1.5 }).map((i) => [i.code, i.diagnostics])).toEqual([
      ['value', 'Patient.count: must be an integer'],
    ]);
    expect(issuesOf(shape, { name: 'a', count: 0 })[0]?.diagnostics).toBe('Patient.count: must be at least 1');
    expect(issuesOf(shape, { name: 'a', count: 4 })[0]?.diagnostics).toBe('Patient.count: must be at most 3');
  });

  it('maps empty arrays to structure and enums to value listing the allowed codes only', () => {
    expect(issuesOf(shape, { name: 'a', tags: [] }).map((i) => [i.code, i.expression?.[0]])).toEqual([
      ['structure', 'Patient.tags'],
    ]);
    const issues = issuesOf(shape, { name: 'a', gender: SECRET });
    expect(issues[0]?.code).toBe('value');
    expect(issues[0]?.diagnostics).toBe('Patient.gender: not in the required value set (male | female)');
  });

  it('maps zod string formats and unions without echoing input', () => {
    const format = issuesOf(shape, { name: 'a', code: SECRET });
    expect(format.map((i) => i.code)).toEqual(['value']);
    const union = issuesOf(shape, { name: 'a', either: true });
    expect(union.map((i) => [i.code, i.diagnostics])).toEqual([['structure', 'Patient.either: invalid element']]);
    expect(JSON.stringify([...format, ...union])).not.toContain(SECRET);
  });

  it('uses the FHIR code carried by custom issues, invariant by default', () => {
    const custom = z.string().superRefine((_, ctx) => {
      ctx.addIssue({ code: 'custom', message: 'custom value', params: { fhirCode: 'value' } });
      ctx.addIssue({ code: 'custom', message: 'plain' });
      ctx.addIssue({ code: 'custom', message: 'odd', params: { fhirCode: 'weird' } });
    });
    expect(issuesOf(custom, SECRET).map((i) => [i.code, i.diagnostics])).toEqual([
      ['value', 'Patient: custom value'],
      ['invariant', 'Patient: plain'],
      ['invariant', 'Patient: odd'],
    ]);
  });
});
