import { describe, expect, it } from 'vitest';
import { isMailboxAddress, isMssanteDomain, redactAddresses } from '../../lambdas/mssante/address.js';
import { hl7, uuidUrn, xcn, xdsTime, xon } from '../../lambdas/mssante/ebrim.js';
import { safeReply } from '../../lambdas/mssante/smtp.js';

describe('XDS value formats', () => {
  it.each([
    ['20261202134500+0100', '20261202124500'],
    ['20261231233000-0500', '20270101043000'], // crosses a year
    ['20210409094914.827+0100', '20210409084914'], // fraction dropped
    ['202101040735+0100', '202101040635'], // minute precision kept
    ['20261202', '20261202'], // a date has no time zone to convert
    ['20261202134500', '20261202134500'], // no offset: kept as written
    ['2026-12-02', undefined],
    [undefined, undefined],
  ])('xdsTime(%s) = %s', (ts, expected) => {
    expect(xdsTime(ts)).toBe(expected);
  });

  it('escapes HL7 delimiters inside XCN/XON components', () => {
    expect(hl7('A^B|C~D\\E&F')).toBe('A\\S\\B\\F\\C\\R\\D\\E\\E\\T\\F');
    expect(xcn({ family: "D'ARC^X", given: 'Jeanne' })).toBe("^D'ARC\\S\\X^Jeanne");
    expect(xcn({ id: { root: '1.2.3', extension: 'L42' }, family: 'X' })).toBe('L42^X^^^^^^^&1.2.3&ISO^D^^^EI');
    expect(xon({ name: 'Clinique' })).toBe('Clinique');
    expect(xon({ id: { root: '1.2.3', extension: '9' }, name: 'C' })).toBe('C^^^^^&1.2.3&ISO^^^^9');
  });

  it('derives stable version-5 UUID URNs', () => {
    expect(uuidUrn('a')).toBe(uuidUrn('a'));
    expect(uuidUrn('a')).not.toBe(uuidUrn('b'));
    expect(uuidUrn('a')).toMatch(/^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});

describe('addresses', () => {
  it.each([
    ['dr.x@test-ci-sis.mssante.fr', true],
    ["o'brien+cr@hopital.mssante.fr", true],
    ['279035121518989@patient.mssante.fr', true],
    ['no-at-sign', false],
    ['two@@signs.fr', false],
    ['Dr X <x@y.fr>', false],
    ['x@localhost', false],
    ['.dot@start.fr', false],
    [`${'a'.repeat(65)}@x.fr`, false],
  ])('isMailboxAddress(%s) = %s', (address, ok) => {
    expect(isMailboxAddress(address)).toBe(ok);
  });

  it('knows the MSSanté domains', () => {
    expect(isMssanteDomain('a@mssante.fr')).toBe(true);
    expect(isMssanteDomain('a@Medecin.MSSante.fr')).toBe(true);
    expect(isMssanteDomain('a@notmssante.fr')).toBe(false);
    expect(isMssanteDomain('a@mssante.fr.evil.com')).toBe(false);
  });

  it('redacts addresses and bounds server replies', () => {
    expect(redactAddresses('550 5.1.1 <279035121518989@patient.mssante.fr>: unknown')).toBe(
      '550 5.1.1 <[redacted]>: unknown',
    );
    const reply = safeReply(`550-first line\r\n550 ${'x'.repeat(1000)}`);
    expect(reply).not.toMatch(/[\r\n]/);
    expect(reply.length).toBeLessThanOrEqual(501);
  });
});
