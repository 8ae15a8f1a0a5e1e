import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CdaHeaderError, readCdaHeader } from '../../lambdas/mssante/cda-header.js';
import {
  CORPUS_CDA_DIR,
  CORPUS_SKIP_MESSAGE,
  cdaFixture,
  FACILITY_OID,
  HAS_CORPUS,
  TEST_INS,
  TEST_IPP,
} from './fixtures.js';

describe('readCdaHeader on our own fixture', () => {
  it('reads every header field', () => {
    const h = readCdaHeader(cdaFixture());
    expect(h.id).toEqual({ root: '1.2.250.1.999.7.1.3', extension: 'DOC-2026-0001' });
    expect(h.setId).toEqual({ root: '1.2.250.1.999.7.1.4', extension: 'SET-2026-0001' });
    expect(h.versionNumber).toBe(2);
    expect(h.code).toEqual({
      code: '11502-2',
      codeSystem: '2.16.840.1.113883.6.1',
      displayName: "CR d'examens biologiques",
    });
    expect(h.title).toBe("Compte rendu d'examens biologiques");
    expect(h.effectiveTime).toBe('20261202134500+0100');
    expect(h.confidentiality).toMatchObject({ code: 'N', codeSystem: '2.16.840.1.113883.5.25' });
    expect(h.languageCode).toBe('fr-FR');
    expect(h.templateIds).toContain('1.3.6.1.4.1.19376.1.3.3');
    expect(h.formatCode).toMatchObject({ code: 'urn:ihe:lab:xd-lab:2008', codeSystem: '1.3.6.1.4.1.19376.1.2.3' });
    expect(h.classCode).toMatchObject({ code: '10', codeSystem: '1.2.250.1.213.1.1.4.1' });
    expect(h.practiceSetting).toMatchObject({ code: 'ETABLISSEMENT', codeSystem: '1.2.250.1.213.1.1.4.9' });
    expect(h.facilityType).toMatchObject({ code: 'SA01', codeSystem: '1.2.250.1.71.4.2.4' });
    expect(h.encounterCode).toMatchObject({ code: 'IMP' });
    expect(h.serviceStart).toBe('20261202080000+0100');
    expect(h.serviceStop).toBe('20261202130000+0100');
    expect(h.patient).toEqual({
      ids: [
        { root: '1.2.250.1.213.1.4.10', extension: TEST_INS },
        { root: FACILITY_OID, extension: TEST_IPP },
      ],
      ins: { root: '1.2.250.1.213.1.4.10', extension: TEST_INS },
      insQualified: true,
      ipp: { root: FACILITY_OID, extension: TEST_IPP },
      family: 'MARTIN', // the birth name (qualifier BR), not the used name
      given: 'JEANNE', // the first birth given name
      gender: 'F',
      birthTime: '19800412',
    });
    expect(h.authors).toEqual([
      {
        time: '20261202134500+0100',
        id: { root: '1.2.250.1.71.4.2.1', extension: '810000000001' },
        family: 'BIOLOGISTE',
        given: 'Paul',
        specialty: {
          code: 'G15_10/SM03',
          codeSystem: '1.2.250.1.213.1.1.4.5',
          displayName: 'Médecin - Biologie médicale (SM)',
        },
        role: { code: 'ATTPHYS', codeSystem: '2.16.840.1.113883.5.88', displayName: 'Référent' },
        organisation: { id: { root: '1.2.250.1.71.4.2.2', extension: '1990000001' }, name: 'Laboratoire & Co <PFI>' },
      },
    ]);
    expect(h.legalAuthenticator).toEqual({
      time: '20261202134000+0100',
      id: { root: '1.2.250.1.71.4.2.1', extension: '810000000001' },
      family: 'BIOLOGISTE',
      given: 'Paul',
    });
    expect(h.custodian).toEqual({
      id: { root: '1.2.250.1.71.4.2.2', extension: '1990000001' },
      name: 'Hôpital de test PFI',
    });
  });

  it('reads a document whose elements carry a namespace prefix', () => {
    const h = readCdaHeader(cdaFixture({ prefix: 'cda' }));
    expect(h.code.code).toBe('11502-2');
    expect(h.patient.ins?.extension).toBe(TEST_INS);
    expect(h.formatCode.code).toBe('urn:ihe:lab:xd-lab:2008');
  });

  it('without an INS: not qualified, the IPP stays', () => {
    const h = readCdaHeader(cdaFixture({ ins: false }));
    expect(h.patient.insQualified).toBe(false);
    expect(h.patient.ins).toBeUndefined();
    expect(h.patient.ipp).toEqual({ root: FACILITY_OID, extension: TEST_IPP });
  });

  it('an INS-NIA (1.2.250.1.213.1.4.9) is neither a qualified INS nor the IPP', () => {
    const xml = cdaFixture({ ins: false }).replace(
      `<id root="${FACILITY_OID}"`,
      `<id root="1.2.250.1.213.1.4.9" extension="${TEST_INS}"/><id root="${FACILITY_OID}"`,
    );
    const h = readCdaHeader(xml);
    expect(h.patient.insQualified).toBe(false);
    expect(h.patient.ipp?.root).toBe(FACILITY_OID);
  });

  it.each([
    ['application/pdf', 'urn:ihe:iti:xds-sd:pdf:2008'],
    ['text/plain', 'urn:ihe:iti:xds-sd:text:2008'],
  ])('a level-1 body in %s gets formatCode %s', (media, format) => {
    expect(readCdaHeader(cdaFixture({ level1: media })).formatCode.code).toBe(format);
  });

  it('an unknown structured template falls back to mimeTypeSufficient, an unknown type has no classCode', () => {
    const xml = cdaFixture({ code: { code: '99999-9', codeSystem: '2.16.840.1.113883.6.1' } })
      .replace('<templateId root="1.3.6.1.4.1.19376.1.3.3"/>', '')
      .replace('<templateId root="1.2.250.1.213.1.1.1.55"/>', '');
    const h = readCdaHeader(xml);
    expect(h.formatCode.code).toBe('urn:ihe:iti:xds:2017:mimeTypeSufficient');
    expect(h.classCode).toBeUndefined();
  });

  it('decodes XML entities and character references', () => {
    const h = readCdaHeader(cdaFixture({ title: 'CR &amp; synth&#232;se &lt;urgent&gt;' }));
    expect(h.title).toBe('CR & synthèse <urgent>');
  });

  describe('refuses what is not a usable CDA, with a content-free message', () => {
    const cases: [string, string][] = [
      ['not XML at all', 'MSH|^~\\&|LAB|'],
      ['another XML document', '<Bundle xmlns="http://hl7.org/fhir"><type value="document"/></Bundle>'],
      ['a DOCTYPE', `<!DOCTYPE x [<!ENTITY a "MARTIN">]>${cdaFixture().replace(/^<\?xml[^>]*>/, '')}`],
      ['a malformed header (bare ampersand)', cdaFixture().replace('Laboratoire &amp; Co', 'Laboratoire & Co')],
      ['no code', cdaFixture().replace(/<code code="11502-2"[^>]*\/>/, '')],
      ['no title', cdaFixture().replace(/<title>Compte rendu[^<]*<\/title>/, '')],
      ['no effectiveTime', cdaFixture().replace('<effectiveTime value="20261202134500+0100"/>', '')],
      [
        'no patient id',
        cdaFixture().replace(
          /<id root="1\.2\.250\.1\.213\.1\.4\.10"[^>]*\/><id root="[^"]*" extension="IPP-0042"\/>/,
          '',
        ),
      ],
    ];
    it.each(cases)('%s', (_name, xml) => {
      let error: unknown;
      try {
        readCdaHeader(xml);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(CdaHeaderError);
      const message = (error as Error).message;
      for (const secret of ['MARTIN', 'JEANNE', TEST_INS, TEST_IPP]) expect(message).not.toContain(secret);
    });
  });
});

describe.skipIf(!HAS_CORPUS)('readCdaHeader on the ANS examples', () => {
  if (!HAS_CORPUS) console.warn(CORPUS_SKIP_MESSAGE);
  const files = HAS_CORPUS ? readdirSync(CORPUS_CDA_DIR).filter((f) => f.endsWith('.xml')) : [];
  const expectedFormat = (file: string) =>
    /N1|Niveau-1|CDAN1/.test(file)
      ? 'urn:ihe:iti:xds-sd:pdf:2008'
      : /BIO-CR-BIO|CR-BIO/.test(file)
        ? 'urn:ihe:lab:xd-lab:2008'
        : /LDL-SES/.test(file)
          ? 'urn:asip:ci-sis:ldl-ses:2017'
          : /VSM/.test(file)
            ? 'urn:asip:ci-sis:vsm:2012'
            : undefined;

  it('finds the nine examples', () => {
    expect(files.length).toBeGreaterThanOrEqual(9);
  });

  it.each(files)('%s', (file) => {
    const h = readCdaHeader(readFileSync(path.join(CORPUS_CDA_DIR, file), 'utf8'));
    expect(h.id.root).toMatch(/^\d+(\.\d+)+$/);
    expect(h.title.length).toBeGreaterThan(0);
    expect(h.effectiveTime).toMatch(/^\d{8,14}/);
    // Every ANS example uses the test INS of PAT-TROIS DOMINIQUE.
    expect(h.patient).toMatchObject({ insQualified: true, ins: { root: '1.2.250.1.213.1.4.10' }, gender: 'F' });
    expect(h.authors.length).toBeGreaterThan(0);
    expect(h.authors[0]?.id?.root).toBe('1.2.250.1.71.4.2.1');
    expect(h.facilityType?.codeSystem).toBe('1.2.250.1.71.4.2.4');
    expect(h.practiceSetting?.codeSystem).toBe('1.2.250.1.213.1.1.4.9');
    expect(h.formatCode.code).toBe(expectedFormat(file));
    if (h.code.code === '11502-2' || h.code.code === '18748-4') expect(h.classCode?.code).toBe('10');
  });
});
