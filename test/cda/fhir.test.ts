import { describe, expect, it } from 'vitest';
import { cdaIdOf, decimalText, idNatOf, oidOf, referencedId } from '../../lambdas/cda/fhir.js';

describe('FHIR readers', () => {
  it('writes decimals as given, never in exponent notation', () => {
    expect(decimalText(6.2)).toBe('6.2');
    expect(decimalText('1.950')).toBe('1.950');
    expect(decimalText(0)).toBe('0');
    expect(decimalText(-0.5)).toBe('-0.5');
    expect(decimalText(1e-7)).toBe('0.0000001');
    expect(decimalText(-2.5e-8)).toBe('-0.000000025');
    expect(decimalText(1.5e21)).toBe('1500000000000000000000');
    expect(decimalText('1,5')).toBeUndefined();
    expect(decimalText(Number.NaN)).toBeUndefined();
  });

  it('maps systems to OIDs and identifiers to II', () => {
    expect(oidOf('http://loinc.org')).toBe('2.16.840.1.113883.6.1');
    expect(oidOf('urn:oid:1.2.250.1.213.1.4.10')).toBe('1.2.250.1.213.1.4.10');
    expect(oidOf('urn:pfi:hl7-authority:LABO')).toBeUndefined();
    expect(cdaIdOf({ system: 'urn:oid:1.2.3', value: 'X' })).toEqual({ root: '1.2.3', extension: 'X' });
    expect(cdaIdOf({ system: 'urn:pfi:hl7-authority:LABO', value: 'X' })).toBeUndefined();
  });

  it('reads the idNat of a Practitioner: idNatPs as given, else 8 + RPPS, never made up', () => {
    const idNatPs = { system: 'urn:oid:1.2.250.1.71.4.2.1', value: '810001234567' };
    const rpps = { system: 'https://rpps.esante.gouv.fr', value: '10001234567' };
    expect(idNatOf({ resourceType: 'Practitioner', identifier: [rpps, idNatPs] })).toBe('810001234567');
    expect(idNatOf({ resourceType: 'Practitioner', identifier: [rpps] })).toBe('810001234567');
    expect(
      idNatOf({ resourceType: 'Practitioner', identifier: [{ system: 'urn:oid:1.2.3', value: '12' }] }),
    ).toBeUndefined();
    expect(idNatOf(undefined)).toBeUndefined();
  });

  it('resolves literal references', () => {
    expect(referencedId({ reference: 'Practitioner/abc' }, 'Practitioner')).toBe('abc');
    expect(referencedId({ reference: 'https://x/fhir/Practitioner/abc/_history/2' }, 'Practitioner')).toBe('abc');
    expect(referencedId({ reference: 'Organization/abc' }, 'Practitioner')).toBeUndefined();
  });
});
