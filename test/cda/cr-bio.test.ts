import { describe, expect, it } from 'vitest';
import { buildCrBio, type CrBioInput } from '../../lambdas/cda/cr-bio.js';
import { CdaInputError } from '../../lambdas/cda/errors.js';
import { EXAMPLE_CDA_ORGANISATION } from '../../lambdas/cda/organisation.js';
import type { Resource } from '../../lambdas/fhir/types.js';
import { oruResources } from '../support/cda-fixtures.js';
import { attr, type Node, one, parseCda, select, text } from '../support/cda-xml.js';

const DOCUMENT = {
  id: { root: '2.999.250.1', extension: 'DOC-1' },
  setId: { root: '2.999.250.1', extension: 'SET-1' },
  versionNumber: 2,
  effectiveTime: new Date('2026-12-02T12:45:00Z'),
};

function input(over: Partial<CrBioInput> = {}, oru = oruResources()): CrBioInput {
  return { ...oru, organisation: EXAMPLE_CDA_ORGANISATION, document: DOCUMENT, pdf: false, ...over };
}

const SECTION = 'component/structuredBody/component/section';
const ITEM = `${SECTION}/component/section`;
const RESULTS = `${ITEM}/entry/act/entryRelationship`;

async function cda(over: Partial<CrBioInput> = {}, oru = oruResources()): Promise<Node> {
  return parseCda(await buildCrBio(input(over, oru)));
}

async function problem(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(CdaInputError);
    return (e as CdaInputError).problem;
  }
  return undefined;
}

describe('buildCrBio: header', () => {
  it('the CI-SIS + CR-BIO header fields', async () => {
    const xml = await buildCrBio(input());
    expect(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<ClinicalDocument xmlns="urn:hl7-org:v3"')).toBe(
      true,
    );
    const d = parseCda(xml);
    expect(attr(d, 'realmCode', 'code')).toBe('FR');
    expect(one(d, 'typeId')).toMatchObject({ '@_root': '2.16.840.1.113883.1.3', '@_extension': 'POCD_HD000040' });
    expect(select(d, 'templateId').map((t) => t['@_root'])).toEqual([
      '2.16.840.1.113883.2.8.2.1',
      '1.2.250.1.213.1.1.1.1',
      '1.3.6.1.4.1.19376.1.3.3',
      '1.2.250.1.213.1.1.1.55',
    ]);
    expect(one(d, 'id')).toMatchObject({ '@_root': '2.999.250.1', '@_extension': 'DOC-1' });
    expect(one(d, 'code')).toMatchObject({
      '@_code': '11502-2',
      '@_codeSystem': '2.16.840.1.113883.6.1',
      '@_displayName': "CR d'examens biologiques",
    });
    expect(text(one(d, 'title'))).toBe("Compte rendu d'examens biologiques");
    expect(attr(d, 'effectiveTime', 'value')).toBe('20261202134500+0100');
    expect(one(d, 'confidentialityCode')).toMatchObject({ '@_code': 'N', '@_codeSystem': '2.16.840.1.113883.5.25' });
    expect(attr(d, 'languageCode', 'code')).toBe('fr-FR');
    expect(one(d, 'setId')).toMatchObject({ '@_root': '2.999.250.1', '@_extension': 'SET-1' });
    expect(attr(d, 'versionNumber', 'value')).toBe('2');
    expect(select(d, 'recordTarget/patientRole/id').map((i) => i['@_root'])).toEqual([
      '1.2.250.1.213.1.4.10',
      '1.2.250.1.71.4.2.7.1.9.99',
    ]);
  });

  it('parties: the configured biologist signs when the ORU names none; the organisation keeps the document', async () => {
    const d = await cda();
    const idNat = { '@_root': '1.2.250.1.71.4.2.1', '@_extension': '899700000007' };
    // OBR-22 (results released) is the authoring and signing time.
    expect(attr(d, 'author/time', 'value')).toBe('20261202101500+0100');
    expect(one(d, 'author/assignedAuthor/id')).toMatchObject(idNat);
    expect(attr(d, 'author/assignedAuthor/code', 'code')).toBe('G15_10/SM03');
    expect(one(d, 'custodian/assignedCustodian/representedCustodianOrganization/id')).toMatchObject({
      '@_root': '1.2.250.1.71.4.2.2',
      '@_extension': '1990000002',
    });
    expect(attr(d, 'legalAuthenticator/signatureCode', 'code')).toBe('S');
    expect(one(d, 'legalAuthenticator/assignedEntity/id')).toMatchObject(idNat);
    expect(attr(d, 'authenticator/templateId', 'root')).toBe('1.3.6.1.4.1.19376.1.3.3.1.5');
    expect(one(d, 'authenticator/assignedEntity/id')).toMatchObject(idNat);
    const event = 'documentationOf/serviceEvent';
    expect(attr(d, `${event}/effectiveTime/low`, 'value')).toBe('20261202080000+0100');
    expect(attr(d, `${event}/effectiveTime/high`, 'value')).toBe('20261202101500+0100');
    expect(attr(d, `${event}/performer/templateId`, 'root')).toBe('1.3.6.1.4.1.19376.1.3.3.1.7');
    expect(one(d, `${event}/performer/assignedEntity/id`)).toMatchObject(idNat);
    expect(attr(d, `${event}/performer/assignedEntity/representedOrganization/standardIndustryClassCode`, 'code')).toBe(
      'ETABLISSEMENT',
    );
    const encounter = 'componentOf/encompassingEncounter';
    expect(one(d, `${encounter}/responsibleParty/assignedEntity/id`)).toMatchObject(idNat);
    expect(one(d, `${encounter}/location/healthCareFacility/code`)).toMatchObject({
      '@_code': 'SA01',
      '@_codeSystem': '1.2.250.1.71.4.2.4',
    });
  });

  it('the biologist the report names (resultsInterpreter, with an RPPS) rather than the default', async () => {
    const oru = oruResources();
    oru.report['resultsInterpreter'] = [{ reference: 'Practitioner/bio-1' }];
    const practitioner: Resource = {
      resourceType: 'Practitioner',
      id: 'bio-1',
      identifier: [{ system: 'https://rpps.esante.gouv.fr', value: '10001234567' }],
      name: [{ family: 'Curie', given: ['Marie'] }],
    };
    const d = await cda({ practitioners: [practitioner] }, oru);
    expect(attr(d, 'author/assignedAuthor/id', 'extension')).toBe('810001234567');
    expect(text(one(d, 'legalAuthenticator/assignedEntity/assignedPerson/name/family'))).toBe('Curie');
    // Its qualification is not in the data: the organisation's declared default for its feeds, else unknown.
    expect(attr(d, 'author/assignedAuthor/code', 'code')).toBe('G15_10');
    const { defaultAuthorSpecialty: _, ...withoutDefault } = EXAMPLE_CDA_ORGANISATION;
    const unknown = await cda({ practitioners: [practitioner], organisation: withoutDefault }, oru);
    expect(attr(unknown, 'author/assignedAuthor/code', 'nullFlavor')).toBe('UNK');
  });

  it('the encounter: visit number, type (JDV_J142), period', async () => {
    const encounter: Resource = {
      resourceType: 'Encounter',
      identifier: [{ system: 'urn:oid:1.2.250.1.71.4.2.7.1.9.99.2', value: 'V42' }],
      class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IMP' },
      period: { start: '2026-12-01T09:00:00+01:00' },
    };
    const d = await cda({ encounter, confidentiality: 'R' });
    const enc = 'componentOf/encompassingEncounter';
    expect(one(d, `${enc}/id`)).toMatchObject({ '@_root': '1.2.250.1.71.4.2.7.1.9.99.2', '@_extension': 'V42' });
    expect(attr(d, `${enc}/code`, 'code')).toBe('IMP');
    expect(attr(d, `${enc}/effectiveTime/low`, 'value')).toBe('20261201090000+0100');
    expect(attr(d, 'confidentialityCode', 'code')).toBe('R');
  });

  it('refuses what it cannot sign or identify, with content-free errors', async () => {
    const { biologist: _, ...noBiologist } = EXAMPLE_CDA_ORGANISATION;
    expect(await problem(buildCrBio(input({ organisation: noBiologist })))).toBe('no-author');
    // A practitioner without idNat is no signer either.
    const oru = oruResources();
    oru.report['resultsInterpreter'] = [{ reference: 'Practitioner/p' }];
    const anonymous: Resource = { resourceType: 'Practitioner', id: 'p', name: [{ family: 'X' }] };
    expect(await problem(buildCrBio(input({ organisation: noBiologist, practitioners: [anonymous] }, oru)))).toBe(
      'no-author',
    );
    expect(await problem(buildCrBio(input({ document: { ...DOCUMENT, versionNumber: 0 } })))).toBe('bad-document-ids');
    expect(await problem(buildCrBio(input({ document: { ...DOCUMENT, id: { root: 'urn:pfi:x' } } })))).toBe(
      'bad-document-ids',
    );
  });
});

describe('buildCrBio: body', () => {
  it('a lab specialty section holding the report item section, its table and its entry', async () => {
    const d = await cda();
    expect(select(d, `${SECTION}/templateId`).map((t) => t['@_root'])).toEqual([
      '1.3.6.1.4.1.19376.1.3.3.2.1',
      '1.2.250.1.213.1.1.2.70',
    ]);
    expect(select(d, `${ITEM}/templateId`).map((t) => t['@_root'])).toEqual([
      '1.3.6.1.4.1.19376.1.3.3.2.2',
      '1.2.250.1.213.1.1.2.71',
    ]);
    expect(attr(d, `${ITEM}/code`, 'code')).toBe('24331-1');
    expect(one(d, `${ITEM}/entry`)['@_typeCode']).toBe('DRIV');
    expect(attr(d, `${ITEM}/entry/act/statusCode`, 'code')).toBe('completed');
    expect(select(d, `${ITEM}/text/table/tbody/tr`)).toHaveLength(4);
    expect(select(d, `${ITEM}/text/table/tbody/tr/td/content`).map((c) => [c['@_ID'], text(c)])).toEqual([
      ['res-1', 'Cholestérol total'],
      ['res-2', 'Triglycérides'],
      ['res-3', 'Cholestérol HDL'],
      ['res-4', 'Aspect du sérum'],
    ]);
    // No PDF asked: no PDF copy section.
    expect(select(d, SECTION)).toHaveLength(1);
  });

  it('result entries: LOINC codes, UCUM quantities, comparators, text, interpretation, reference ranges', async () => {
    const d = await cda();
    const [chol, tg, hdl, aspect] = select(d, `${RESULTS}/observation`);
    expect(select(chol!, 'templateId').map((t) => t['@_root'])).toEqual([
      '1.3.6.1.4.1.19376.1.3.1.6',
      '1.2.250.1.213.1.1.3.80',
    ]);
    expect(one(chol!, 'code')).toMatchObject({
      '@_code': '2093-3',
      '@_codeSystem': '2.16.840.1.113883.6.1',
      '@_displayName': 'Cholestérol total',
    });
    expect(attr(chol!, 'code/originalText/reference', 'value')).toBe('#res-1');
    expect(attr(chol!, 'statusCode', 'code')).toBe('completed');
    expect(attr(chol!, 'effectiveTime', 'value')).toBe('20261202081500+0100');
    expect(one(chol!, 'value')).toMatchObject({ '@_xsi:type': 'PQ', '@_value': '6.2', '@_unit': 'mmol/L' });
    expect(one(chol!, 'interpretationCode')).toMatchObject({ '@_code': 'H', '@_codeSystem': '2.16.840.1.113883.5.83' });
    expect(one(chol!, 'referenceRange/observationRange/value/low')).toMatchObject({
      '@_value': '3.5',
      '@_unit': 'mmol/L',
    });
    expect(one(chol!, 'referenceRange/observationRange/value/high')).toMatchObject({
      '@_value': '5.2',
      '@_unit': 'mmol/L',
    });
    // SN "<0.5": an interval open at 0.5.
    expect(one(tg!, 'value')['@_xsi:type']).toBe('IVL_PQ');
    expect(one(tg!, 'value/high')).toMatchObject({ '@_value': '0.5', '@_inclusive': 'false' });
    expect(one(tg!, 'referenceRange/observationRange/value/high')).toMatchObject({ '@_value': '1.7' });
    expect(select(hdl!, 'referenceRange/observationRange/value/low').map((l) => l['@_value'])).toEqual(['1']);
    expect(one(aspect!, 'value')).toMatchObject({ '@_xsi:type': 'ST', '#text': 'Sérum clair' });
  });

  it('keeps decimals as stored, drops interpretation codes outside the CI-SIS set, escapes text', async () => {
    const oru = oruResources();
    const [chol, , , aspect] = oru.observations;
    (chol!['valueQuantity'] as any).value = '1.950';
    chol!['interpretation'] = [
      { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation', code: 'ZZ' }] },
    ];
    aspect!['valueString'] = `a <b> & "c" 'd'`;
    const xml = await buildCrBio(input({}, oru));
    expect(xml).toContain('value="1.950"');
    expect(xml).toContain('a &lt;b&gt; &amp; &quot;c&quot; &apos;d&apos;');
    const [c, , , a] = select(parseCda(xml), `${RESULTS}/observation`);
    expect(select(c!, 'interpretationCode')).toHaveLength(0);
    expect(text(one(a!, 'value'))).toBe(`a <b> & "c" 'd'`);
  });

  it('panels (hasMember) become BATTERY organizers with their results', async () => {
    const oru = oruResources();
    const panel: Resource = {
      resourceType: 'Observation',
      id: 'panel',
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '57698-3', display: 'Bilan lipidique' }] },
      hasMember: oru.observations.slice(0, 3).map((o) => ({ reference: `Observation/${o.id}` })),
    };
    oru.report['result'] = [{ reference: 'Observation/panel' }, { reference: 'Observation/obs-4' }];
    const d = await cda({}, { ...oru, observations: [panel, ...oru.observations] });
    const organizer = one(d, `${RESULTS}/organizer`);
    expect(organizer).toMatchObject({ '@_classCode': 'BATTERY', '@_moodCode': 'EVN' });
    expect(select(organizer, 'templateId').map((t) => t['@_root'])).toEqual([
      '1.3.6.1.4.1.19376.1.3.1.4',
      '1.2.250.1.213.1.1.3.78',
    ]);
    expect(attr(organizer, 'code', 'code')).toBe('57698-3');
    expect(select(organizer, 'component/observation/code').map((c) => c['@_code'])).toEqual([
      '2093-3',
      '2571-8',
      '2085-9',
    ]);
    expect(select(d, `${RESULTS}/observation`)).toHaveLength(1);
    expect(select(d, `${ITEM}/text/table/tbody/tr`)).toHaveLength(5);
  });

  it('only released results: preliminary ones are left out, cancelled ones aborted; none → CdaInputError', async () => {
    const oru = oruResources();
    oru.observations[0]!['status'] = 'preliminary';
    oru.observations[1]!['status'] = 'cancelled';
    const d = await cda({}, oru);
    const observations = select(d, `${RESULTS}/observation`);
    expect(observations.map((o) => attr(o, 'code', 'code'))).toEqual(['2571-8', '2085-9', '8251-1']);
    expect(attr(observations[0]!, 'statusCode', 'code')).toBe('aborted');
    expect(select(observations[0]!, 'value')).toHaveLength(0);
    for (const o of oru.observations) o['status'] = 'registered';
    expect(await problem(buildCrBio(input({}, oru)))).toBe('no-result');
  });

  it('a local code without LOINC: nullFlavor OTH with the narrative reference and the local code as translation', async () => {
    const oru = oruResources({ obx: ['OBX|1|NM|GLY^Glycémie^1.2.250.1.999.7||5,4|mmol/L^mmol/L^UCUM|3.9-5.8|N|||F'] });
    const code = one(await cda({}, oru), `${RESULTS}/observation/code`);
    expect(code['@_nullFlavor']).toBe('OTH');
    expect(attr(code, 'originalText/reference', 'value')).toBe('#res-1');
    expect(one(code, 'translation')).toMatchObject({
      '@_code': 'GLY',
      '@_codeSystem': '1.2.250.1.999.7',
      '@_displayName': 'Glycémie',
    });
  });

  it('the PDF copy section, by default: an attached document holding the PDF in base64', async () => {
    const d = parseCda(await buildCrBio({ ...input(), pdf: undefined }));
    const sections = select(d, SECTION);
    expect(sections).toHaveLength(2);
    const copy = sections[1]!;
    expect(attr(copy, 'templateId', 'root')).toBe('1.2.250.1.213.1.1.2.243');
    expect(attr(copy, 'code', 'code')).toBe('55108-5');
    const media = one(copy, 'entry/organizer/component/observationMedia/value');
    expect(media).toMatchObject({ '@_mediaType': 'application/pdf', '@_representation': 'B64' });
    expect(Buffer.from(text(media), 'base64').subarray(0, 5).toString('latin1')).toBe('%PDF-');
    expect(attr(copy, 'text/table/tbody/tr/td/renderMultiMedia', 'referencedObject')).toBe(
      one(copy, 'entry/organizer/component/observationMedia')['@_ID'],
    );
  });
});
