import { describe, expect, it } from 'vitest';
import { checkInsRules, checkNirKey, isInsSystem, nirProblem } from '../../../lambdas/fhir/validation/ins.js';

// ANS test NIR (key 89) and self-computed vectors: key = 97 - (13 digits mod 97), 2A -> 19, 2B -> 18.
const ANS_TEST_NIR = '279035121518989';
const CORSICA_2A = '185052A12345633'; // 1850519123456 mod 97 = 64 -> key 33
const CORSICA_2B = '285102B00401230'; // 2851018004012 mod 97 = 67 -> key 30
const KEY_97 = '194000000000097'; // 1940000000000 = 97 * 20000000000 -> remainder 0, key 97
const NIA = '785031234567889'; // 7850312345678 -> key 89

describe('checkNirKey', () => {
  it('accepts valid matricules', () => {
    for (const matricule of [ANS_TEST_NIR, CORSICA_2A, CORSICA_2B, KEY_97, NIA]) {
      expect(checkNirKey(matricule), matricule).toBe(true);
    }
  });

  it('rejects a wrong key', () => {
    expect(checkNirKey('279035121518988')).toBe(false);
    expect(checkNirKey('279035121518900')).toBe(false);
    expect(checkNirKey('185052A12345634')).toBe(false);
    expect(checkNirKey('285102B00401231')).toBe(false);
    expect(nirProblem('279035121518988')).toBe('key');
  });

  it('computes Corsican keys with 2A = 19 and 2B = 18, not as other departments', () => {
    // Same digits with the department written 19 / 18 give the same key...
    expect(checkNirKey('185051912345633')).toBe(true);
    expect(checkNirKey('285101800401230')).toBe(true);
    // ...but swapping 2A and 2B breaks it.
    expect(checkNirKey('185052B12345633')).toBe(false);
    expect(checkNirKey('285102A00401230')).toBe(false);
  });

  it('rejects wrong lengths', () => {
    for (const matricule of ['', '27903512151898', '2790351215189890', `${ANS_TEST_NIR} `]) {
      expect(checkNirKey(matricule)).toBe(false);
      expect(nirProblem(matricule)).toBe('length');
    }
  });

  it('rejects letters outside the Corsican department positions', () => {
    for (const matricule of [
      'A79035121518989',
      '27903512151898A',
      '185052C12345633',
      '185052a12345633',
      '18505A212345633',
      '1850A2A12345633',
      '27903 121518989',
      '２79035121518989',
    ]) {
      expect(checkNirKey(matricule), matricule).toBe(false);
      expect(nirProblem(matricule)).toBe('characters');
    }
  });
});

describe('isInsSystem', () => {
  it('recognises INS-NIR, NIA, test and demo OIDs', () => {
    for (const suffix of ['8', '9', '10', '11']) expect(isInsSystem(`urn:oid:1.2.250.1.213.1.4.${suffix}`)).toBe(true);
  });

  it('rejects INS-C, the unknown .12, bare OIDs and other systems', () => {
    for (const system of [
      'urn:oid:1.2.250.1.213.1.4.2',
      'urn:oid:1.2.250.1.213.1.4.12',
      '1.2.250.1.213.1.4.8',
      'urn:oid:1.2.250.1.213.1.4.80',
      'urn:oid:1.2.250.1.71.4.2.1',
      '',
    ]) {
      expect(isInsSystem(system), system).toBe(false);
    }
  });
});

const official = { use: 'official', family: 'Martinez', given: ['Zoé'] };

describe('checkInsRules', () => {
  it('accepts a Patient with a valid INS and an official name', () => {
    const patient = { identifier: [{ system: 'urn:oid:1.2.250.1.213.1.4.8', value: ANS_TEST_NIR }], name: [official] };
    expect(checkInsRules(patient)).toEqual([]);
  });

  it('checks every INS system including NIA and Corsican values', () => {
    const patient = {
      identifier: [
        { system: 'urn:oid:1.2.250.1.213.1.4.9', value: NIA },
        { system: 'urn:oid:1.2.250.1.213.1.4.10', value: CORSICA_2A },
        { system: 'urn:oid:1.2.250.1.213.1.4.11', value: CORSICA_2B },
      ],
      name: [official],
    };
    expect(checkInsRules(patient)).toEqual([]);
  });

  it('reports the index of each invalid INS with code value and a value-free message', () => {
    const patient = {
      identifier: [
        { system: 'urn:oid:1.2.250.1.71.4.2.7', value: 'IPP-not-checked' },
        { system: 'urn:oid:1.2.250.1.213.1.4.9', value: '785031234567888' },
        { system: 'urn:oid:1.2.250.1.213.1.4.10', value: '27903512151898' },
        { system: 'urn:oid:1.2.250.1.213.1.4.8', value: '27903512151898X' },
      ],
      name: [official],
    };
    const issues = checkInsRules(patient);
    expect(issues.map((i) => [i.code, i.expression?.[0], i.severity])).toEqual([
      ['value', 'Patient.identifier[1].value', 'error'],
      ['value', 'Patient.identifier[2].value', 'error'],
      ['value', 'Patient.identifier[3].value', 'error'],
    ]);
    expect(issues[0]?.diagnostics).toContain('invalid NIR/NIA key');
    expect(issues[1]?.diagnostics).toContain('15 characters');
    expect(issues[2]?.diagnostics).toContain('digits only');
    const text = JSON.stringify(issues);
    for (const value of ['785031234567888', '27903512151898', 'Martinez', 'Zoé']) expect(text).not.toContain(value);
  });

  it('requires a value on an INS identifier', () => {
    const issues = checkInsRules({ identifier: [{ system: 'urn:oid:1.2.250.1.213.1.4.8' }], name: [official] });
    expect(issues.map((i) => [i.code, i.expression?.[0]])).toEqual([['required', 'Patient.identifier[0].value']]);
  });

  it('requires an official name with a non-blank family and given when an INS is present', () => {
    const identifier = [{ system: 'urn:oid:1.2.250.1.213.1.4.10', value: ANS_TEST_NIR }];
    const invalidNames: unknown[] = [
      undefined,
      [],
      [{ ...official, use: 'usual' }],
      [{ use: 'official', given: ['Zoé'] }],
      [{ use: 'official', family: '  ', given: ['Zoé'] }],
      [{ use: 'official', family: 'Martinez' }],
      [{ use: 'official', family: 'Martinez', given: [' ', null] }],
      'Martinez',
      [null],
    ];
    for (const name of invalidNames) {
      const issues = checkInsRules({ identifier, name });
      expect(
        issues.map((i) => [i.code, i.expression?.[0]]),
        JSON.stringify(name),
      ).toEqual([['required', 'Patient.name']]);
      expect(issues[0]?.diagnostics).not.toContain('Martinez');
    }
    // One official name among others is enough.
    expect(checkInsRules({ identifier, name: [{ use: 'usual', text: 'Z' }, official] })).toEqual([]);
  });

  it('ignores Patients without INS and malformed identifier lists', () => {
    expect(checkInsRules({ identifier: [{ system: 'urn:oid:1.2.250.1.213.1.4.2', value: 'x' }] })).toEqual([]);
    expect(checkInsRules({ identifier: 'nope' })).toEqual([]);
    expect(checkInsRules({ identifier: [null, 3, { system: 8 }] })).toEqual([]);
    expect(checkInsRules({})).toEqual([]);
  });

  it('still requires the official name when the INS value has the wrong type (schema reports the type)', () => {
    const issues = checkInsRules({ identifier: [{ system: 'urn:oid:1.2.250.1.213.1.4.8', value: 279035121518989 }] });
    expect(issues.map((i) => [i.code, i.expression?.[0]])).toEqual([['required', 'Patient.name']]);
  });
});
