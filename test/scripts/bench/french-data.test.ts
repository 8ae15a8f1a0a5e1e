import { describe, expect, it } from 'vitest';
import type { Resource } from '../../../lambdas/fhir/types.js';
import { checkNirKey, validateResource } from '../../../lambdas/fhir/validation/index.js';
import {
  hash32,
  INS_TEST_SYSTEM,
  IPP_SYSTEM,
  indexFromIpp,
  LAB_TESTS,
  labTestOf,
  MAX_SEEDED_PATIENTS,
  nirKey,
  observationCount,
  randomPatient,
  seededIpp,
  seededObservation,
  seededPatient,
} from '../../../scripts/bench/french-data.js';

interface Identifier {
  system: string;
  value: string;
}
const identifiers = (r: Resource) => r['identifier'] as Identifier[];
const insOf = (r: Resource) => identifiers(r).find((i) => i.system === INS_TEST_SYSTEM)?.value ?? '';

describe('nirKey', () => {
  it('computes 97 - (n mod 97) on two digits', () => {
    // 1 85 05 78 006 084: n mod 97 = 6, key 91 (the usual documentation example).
    expect(nirKey('1850578006084')).toBe('91');
    expect(checkNirKey(`1850578006084${nirKey('1850578006084')}`)).toBe(true);
  });

  it('pads a one-digit key', () => {
    // 97 - 88 = 09 for a number ≡ 88 (mod 97): 88 itself, 13 digits wide.
    expect(nirKey('0000000000088')).toBe('09');
  });

  it.each(['123', '12345678901234', '18505780060AB'])('refuses %s', (value) => {
    expect(() => nirKey(value)).toThrow(RangeError);
  });
});

describe('seeded patients', () => {
  it('are valid FHIR Patients with a valid INS test key, an IPP and an official name', () => {
    for (const i of [0, 1, 498, 499, 12_345, 99_999, MAX_SEEDED_PATIENTS - 1]) {
      const p = seededPatient(i);
      expect(validateResource(p, 'Patient')).toEqual([]);
      expect(checkNirKey(insOf(p))).toBe(true);
      expect(identifiers(p).find((x) => x.system === IPP_SYSTEM)?.value).toBe(seededIpp(i));
    }
  });

  it('are a pure function of the index', () => {
    expect(seededPatient(42)).toEqual(seededPatient(42));
    expect(seededPatient(42)).not.toEqual(seededPatient(43));
  });

  it('have distinct INS over a range of indexes', () => {
    const seen = new Set(Array.from({ length: 5000 }, (_, i) => insOf(seededPatient(i))));
    expect(seen.size).toBe(5000);
  });

  it('refuse an index out of range', () => {
    expect(() => seededPatient(-1)).toThrow(RangeError);
    expect(() => seededPatient(MAX_SEEDED_PATIENTS)).toThrow(RangeError);
    expect(() => seededPatient(1.5)).toThrow(RangeError);
  });
});

describe('IPP', () => {
  it('round-trips the seed index and ignores created IPPs', () => {
    expect(indexFromIpp(seededIpp(0))).toBe(0);
    expect(indexFromIpp(seededIpp(99_999))).toBe(99_999);
    expect(indexFromIpp('912345678901')).toBeUndefined();
    expect(indexFromIpp('1234')).toBeUndefined();
  });
});

describe('randomPatient', () => {
  it('is valid, with a valid INS whose birth order (never used by seeded ones) is ≥ 500', () => {
    for (let n = 0; n < 50; n++) {
      const p = randomPatient();
      expect(validateResource(p, 'Patient')).toEqual([]);
      const ins = insOf(p);
      expect(checkNirKey(ins)).toBe(true);
      expect(Number(ins.slice(10, 13))).toBeGreaterThanOrEqual(500);
      expect(indexFromIpp(identifiers(p).find((x) => x.system === IPP_SYSTEM)?.value ?? '')).toBeUndefined();
    }
    expect(Number(insOf(seededPatient(498)).slice(10, 13))).toBe(499);
  });

  it('uses the picker it is given', () => {
    expect(randomPatient(() => 0)).toEqual(randomPatient(() => 0));
  });
});

describe('seeded observations', () => {
  it('are valid lab Observations of the patient with the LOINC test the bench searches for', () => {
    const o = seededObservation(7, 100, 'abc-123');
    expect(validateResource(o, 'Observation')).toEqual([]);
    expect(o.subject).toEqual({ reference: 'Patient/abc-123' });
    expect((o.code as { coding: { code: string }[] }).coding[0]?.code).toBe(labTestOf(7, 0).code);
    const second = seededObservation(107, 100, 'abc-123');
    expect((second.code as { coding: { code: string }[] }).coding[0]?.code).toBe(labTestOf(7, 1).code);
    expect(labTestOf(7, 1).code).not.toBe(labTestOf(7, 0).code);
  });

  it('keep values within the test range', () => {
    for (let j = 0; j < 200; j++) {
      const o = seededObservation(j, 50, 'p');
      const test = labTestOf(j % 50, Math.floor(j / 50));
      const value = (o.valueQuantity as { value: number }).value;
      expect(value).toBeGreaterThanOrEqual(test.low);
      expect(value).toBeLessThanOrEqual(test.high);
    }
  });

  it('are dealt round-robin: observationCount adds up', () => {
    expect(observationCount(0, 3, 7)).toBe(3);
    expect(observationCount(1, 3, 7)).toBe(2);
    expect(observationCount(2, 3, 7)).toBe(2);
    expect(observationCount(5, 10, 4)).toBe(0);
  });
});

describe('hash32', () => {
  it('spreads consecutive indexes over the lab tests', () => {
    const used = new Set(Array.from({ length: 100 }, (_, i) => hash32(i, 101) % LAB_TESTS.length));
    expect(used.size).toBe(LAB_TESTS.length);
  });
});
