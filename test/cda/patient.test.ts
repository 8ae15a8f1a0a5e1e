import { describe, expect, it } from 'vitest';
import { CdaInputError } from '../../lambdas/cda/errors.js';
import { recordTarget } from '../../lambdas/cda/patient.js';
import { renderXml } from '../../lambdas/cda/xml.js';
import type { Resource } from '../../lambdas/fhir/types.js';
import { oruResources, TEST_NIR } from '../support/cda-fixtures.js';
import { attr, type Node, parseCda, select, text } from '../support/cda-xml.js';

/** The recordTarget alone, serialised and read back. */
function target(patient: Resource): Node {
  return parseCda(
    renderXml({ ClinicalDocument: { '@_xmlns': 'urn:hl7-org:v3', recordTarget: recordTarget(patient) } }),
  );
}

const ids = (d: Node) => select(d, 'recordTarget/patientRole/id').map((i) => [i['@_root'], i['@_extension']]);

describe('recordTarget', () => {
  it('a qualified identity (VALI) with all strict traits: INS then IPP, birth names, birth place', () => {
    const d = target(oruResources().patient);
    expect(ids(d)).toEqual([
      ['1.2.250.1.213.1.4.10', TEST_NIR],
      ['1.2.250.1.71.4.2.7.1.9.99', 'IPP0001'],
    ]);
    const name = 'recordTarget/patientRole/patient/name';
    expect(select(d, `${name}/family[@qualifier='BR']`).map(text)).toEqual(['Lefèvre']);
    expect(select(d, `${name}/given[@qualifier='BR']`).map(text)).toEqual(['Hélène']);
    expect(
      select(d, `${name}/given`)
        .filter((g) => !g['@_qualifier'])
        .map(text),
    ).toEqual(['Hélène Marie']);
    expect(select(d, `${name}/family[@qualifier='CL']`).map(text)).toEqual(['Martin']);
    expect(attr(d, 'recordTarget/patientRole/patient/administrativeGenderCode', 'code')).toBe('F');
    expect(attr(d, 'recordTarget/patientRole/patient/birthTime', 'value')).toBe('19790305');
    expect(select(d, 'recordTarget/patientRole/patient/birthplace/place/addr/county').map(text)).toEqual(['45234']);
    expect(select(d, 'recordTarget/patientRole/addr/streetAddressLine').map(text)).toEqual([
      '12 rue de la Paix',
      '45000 Orléans',
      'FRA',
    ]);
    expect(attr(d, 'recordTarget/patientRole/telecom', 'value')).toBe('tel:0238000000');
  });

  it('an identity that is not qualified (PROV, or QUAL per this platform’s rule) gets the IPP only', () => {
    for (const status of ['PROV', 'QUAL']) {
      const { patient } = oruResources();
      const reliability = (patient['extension'] as any[]).find((e) => String(e.url).endsWith('identity-reliability'));
      reliability.extension[0].valueCoding.code = status;
      expect(ids(target(patient))).toEqual([['1.2.250.1.71.4.2.7.1.9.99', 'IPP0001']]);
    }
  });

  it('a qualified INS without its birth place cannot be shared: IPP only', () => {
    const { patient } = oruResources();
    patient['extension'] = (patient['extension'] as any[]).filter((e) => !String(e.url).endsWith('patient-birthPlace'));
    expect(ids(target(patient))).toEqual([['1.2.250.1.71.4.2.7.1.9.99', 'IPP0001']]);
  });

  it('unknown sex, birth date, address and telecom are nullFlavor UNK (CR-BIO rule)', () => {
    const d = target({
      resourceType: 'Patient',
      identifier: [
        {
          type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'PI' }] },
          system: 'urn:oid:1.2.3.4',
          value: 'P1',
        },
      ],
      name: [{ family: 'X' }],
    });
    for (const path of ['addr', 'telecom', 'patient/administrativeGenderCode', 'patient/birthTime']) {
      expect(attr(d, `recordTarget/patientRole/${path}`, 'nullFlavor')).toBe('UNK');
    }
  });

  it('escapes every text (names with <&>"\')', () => {
    const { patient } = oruResources();
    (patient['name'] as any[])[0].family = `O'<&>"Brien`;
    const xml = renderXml({ ClinicalDocument: { '@_xmlns': 'urn:hl7-org:v3', recordTarget: recordTarget(patient) } });
    expect(xml).toContain('O&apos;&lt;&amp;&gt;&quot;Brien');
    expect(select(parseCda(xml), "recordTarget/patientRole/patient/name/family[@qualifier='BR']").map(text)).toEqual([
      `O'<&>"Brien`,
    ]);
  });

  it('drops characters XML cannot carry (control characters from a feed)', () => {
    const { patient } = oruResources();
    (patient['name'] as any[])[0].family = 'Le\u0001fèvre\u001b';
    const xml = renderXml({ ClinicalDocument: { '@_xmlns': 'urn:hl7-org:v3', recordTarget: recordTarget(patient) } });
    expect(select(parseCda(xml), "recordTarget/patientRole/patient/name/family[@qualifier='BR']").map(text)).toEqual([
      'Lefèvre',
    ]);
  });

  it('no qualified INS and no IPP under an OID: a content-free CdaInputError', () => {
    const patient: Resource = {
      resourceType: 'Patient',
      identifier: [{ system: 'urn:pfi:hl7-authority:LABO', value: 'P1' }],
      name: [{ family: 'Secret' }],
    };
    let error: unknown;
    try {
      recordTarget(patient);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CdaInputError);
    expect((error as CdaInputError).problem).toBe('no-patient-identifier');
    expect((error as Error).message).not.toMatch(/Secret|P1/);
  });
});
