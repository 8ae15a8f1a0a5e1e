import { describe, expect, it } from 'vitest';
import { CdaInputError } from '../../lambdas/cda/errors.js';
import { buildLevel1, type Level1Input } from '../../lambdas/cda/level1.js';
import { EXAMPLE_CDA_ORGANISATION } from '../../lambdas/cda/organisation.js';
import type { Resource } from '../../lambdas/fhir/types.js';
import { oruResources, TINY_PDF } from '../support/cda-fixtures.js';
import { attr, one, parseCda, select, text } from '../support/cda-xml.js';

const DOCUMENT = {
  id: { root: '2.999.250.1', extension: 'N1-1' },
  setId: { root: '2.999.250.1', extension: 'N1-SET' },
  versionNumber: 1,
  effectiveTime: new Date('2026-07-14T08:00:00Z'),
};

const AUTHOR: Resource = {
  resourceType: 'Practitioner',
  id: 'dr',
  identifier: [{ system: 'urn:oid:1.2.250.1.71.4.2.1', value: '810009999999' }],
  name: [{ family: 'Radiologue', given: ['Jean'], prefix: ['DR'] }],
  qualification: [
    {
      code: {
        coding: [
          {
            system: 'urn:oid:1.2.250.1.213.1.1.4.5',
            code: 'G15_10/SM44',
            display: 'Médecin - Radio-diagnostic et imagerie médicale (SM)',
          },
        ],
      },
    },
  ],
};

const TYPE = {
  code: '18748-4',
  displayName: "CR d'imagerie médicale",
  codeSystem: '2.16.840.1.113883.6.1',
  codeSystemName: 'LOINC',
};

function input(over: Partial<Level1Input> = {}): Level1Input {
  return {
    pdf: TINY_PDF,
    title: `Compte rendu <scanner> & "suite"`,
    type: TYPE,
    patient: oruResources().patient,
    author: AUTHOR,
    organisation: EXAMPLE_CDA_ORGANISATION,
    document: DOCUMENT,
    ...over,
  };
}

describe('buildLevel1', () => {
  it('the CI-SIS header with exactly the three level-1 templateIds and the PDF as nonXMLBody', () => {
    const xml = buildLevel1(input());
    const d = parseCda(xml);
    expect(select(d, 'templateId').map((t) => t['@_root'])).toEqual([
      '2.16.840.1.113883.2.8.2.1',
      '1.2.250.1.213.1.1.1.1',
      '1.3.6.1.4.1.19376.1.2.20',
    ]);
    expect(one(d, 'code')).toMatchObject({ '@_code': '18748-4', '@_codeSystem': '2.16.840.1.113883.6.1' });
    expect(text(one(d, 'title'))).toBe(`Compte rendu <scanner> & "suite"`);
    expect(xml).toContain('<title>Compte rendu &lt;scanner&gt; &amp; &quot;suite&quot;</title>');
    expect(attr(d, 'effectiveTime', 'value')).toBe('20260714100000+0200');
    expect(attr(d, 'confidentialityCode', 'code')).toBe('N');
    expect(attr(d, 'author/assignedAuthor/id', 'extension')).toBe('810009999999');
    expect(attr(d, 'author/assignedAuthor/code', 'code')).toBe('G15_10/SM44');
    expect(select(d, 'author/assignedAuthor/assignedPerson/name/prefix').map(text)).toEqual(['DR']);
    expect(attr(d, 'legalAuthenticator/assignedEntity/id', 'extension')).toBe('810009999999');
    expect(attr(d, 'documentationOf/serviceEvent/performer/assignedEntity/id', 'extension')).toBe('810009999999');
    expect(select(d, 'authenticator')).toHaveLength(0);
    const body = one(d, 'component/nonXMLBody/text');
    expect(body).toMatchObject({ '@_mediaType': 'application/pdf', '@_representation': 'B64' });
    expect(Buffer.from(text(body), 'base64').equals(Buffer.from(TINY_PDF))).toBe(true);
  });

  it('confidentiality as asked; a lab PDF without author is signed by the configured biologist', () => {
    const d = parseCda(
      buildLevel1(
        input({
          author: undefined,
          confidentiality: 'V',
          type: { code: '11502-2', codeSystem: '2.16.840.1.113883.6.1' },
        }),
      ),
    );
    expect(attr(d, 'confidentialityCode', 'code')).toBe('V');
    expect(attr(d, 'author/assignedAuthor/id', 'extension')).toBe('899700000007');
  });

  it('refuses a body that is not a PDF, and a document nobody with an idNat signs', () => {
    const problem = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(CdaInputError);
        return (e as CdaInputError).problem;
      }
      return undefined;
    };
    expect(problem(() => buildLevel1(input({ pdf: new TextEncoder().encode('<html>') })))).toBe('no-pdf');
    expect(problem(() => buildLevel1(input({ author: undefined })))).toBe('no-author');
    const noIdNat = { ...AUTHOR, identifier: [] };
    expect(
      problem(() =>
        buildLevel1(input({ author: noIdNat, type: { code: '11502-2', codeSystem: '2.16.840.1.113883.6.1' } })),
      ),
    ).toBe('no-author');
  });
});
