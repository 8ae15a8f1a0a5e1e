import { describe, expect, it } from 'vitest';
import {
  checkPatientLinks,
  PATIENT_LINKED_TYPES,
  requiredPatientLinks,
} from '../../../lambdas/fhir/validation/patient-links.js';

const LINKED = ['Encounter', 'Observation', 'DiagnosticReport', 'DocumentReference'];

describe('requiredPatientLinks', () => {
  it('lists the subject of each linked type', () => {
    expect([...PATIENT_LINKED_TYPES].sort()).toEqual([...LINKED].sort());
    for (const type of LINKED) {
      expect(requiredPatientLinks({ resourceType: type, subject: { reference: 'Patient/p-1' } })).toEqual([
        { expression: `${type}.subject`, reference: 'Patient/p-1' },
      ]);
    }
  });

  it('returns an undefined reference when the subject or its reference is missing or malformed', () => {
    for (const subject of [undefined, null, 'Patient/1', { display: 'x' }, { reference: 42 }]) {
      expect(requiredPatientLinks({ resourceType: 'Observation', subject })).toEqual([
        { expression: 'Observation.subject', reference: undefined },
      ]);
    }
  });

  it('returns nothing for other types and non-resources', () => {
    expect(requiredPatientLinks({ resourceType: 'Communication', subject: { reference: 'Patient/1' } })).toEqual([]);
    expect(requiredPatientLinks({ resourceType: 'Patient' })).toEqual([]);
    expect(requiredPatientLinks({ subject: { reference: 'Patient/1' } })).toEqual([]);
    expect(requiredPatientLinks(null)).toEqual([]);
    expect(requiredPatientLinks([{ resourceType: 'Observation' }])).toEqual([]);
  });
});

const summary = (resource: Record<string, unknown>) =>
  checkPatientLinks(resource).map((i) => [i.severity, i.code, i.expression?.[0]]);

describe('checkPatientLinks', () => {
  it('accepts Patient/<id> subjects, with or without type', () => {
    for (const type of LINKED) {
      expect(summary({ resourceType: type, subject: { reference: 'Patient/abc.1-2' } })).toEqual([]);
      expect(summary({ resourceType: type, subject: { reference: 'Patient/x', type: 'Patient' } })).toEqual([]);
    }
  });

  it('requires the subject on linked types', () => {
    for (const type of LINKED) {
      expect(summary({ resourceType: type })).toEqual([['error', 'required', `${type}.subject`]]);
    }
  });

  it('requires a literal reference', () => {
    expect(summary({ resourceType: 'Encounter', subject: { identifier: { value: 'x' } } })).toEqual([
      ['error', 'required', 'Encounter.subject.reference'],
    ]);
  });

  it('rejects references to something other than Patient/<id>', () => {
    for (const reference of [
      'Group/1',
      'Patient',
      'Patient/',
      'patient/1',
      'Patient/1/_history/2',
      'http://other.example/fhir/Patient/1',
      'urn:uuid:0e1e2f4a-1b2c-4d5e-8f90-123456789abc',
      '#contained',
      `Patient/${'a'.repeat(65)}`,
    ]) {
      const issues = checkPatientLinks({ resourceType: 'Observation', subject: { reference } });
      expect(
        issues.map((i) => [i.code, i.expression?.[0]]),
        reference,
      ).toEqual([['value', 'Observation.subject.reference']]);
      // ('Patient' and 'Patient/' are words of the message itself.)
      if (reference.length > 8) expect(issues[0]?.diagnostics).not.toContain(reference);
    }
  });

  it('rejects a declared type other than Patient', () => {
    expect(summary({ resourceType: 'DiagnosticReport', subject: { reference: 'Patient/1', type: 'Group' } })).toEqual([
      ['error', 'value', 'DiagnosticReport.subject.type'],
    ]);
  });

  it('leaves subject shape errors to the schema', () => {
    expect(summary({ resourceType: 'Observation', subject: null })).toEqual([]);
    expect(summary({ resourceType: 'Observation', subject: { reference: 7 } })).toEqual([]);
  });

  it('ignores types without a mandatory patient link', () => {
    expect(summary({ resourceType: 'Communication' })).toEqual([]);
    expect(summary({ resourceType: 'Provenance', subject: { reference: 'Group/1' } })).toEqual([]);
  });
});
