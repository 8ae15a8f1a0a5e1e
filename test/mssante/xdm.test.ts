import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { unzipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { readCdaHeader } from '../../lambdas/mssante/cda-header.js';
import { buildXdmArchive, XDS, XdmError } from '../../lambdas/mssante/xdm.js';
import {
  CORPUS_CDA_DIR,
  CORPUS_SKIP_MESSAGE,
  cdaFixture,
  FACILITY_OID,
  HAS_CORPUS,
  TEST_INS,
  TEST_IPP,
} from './fixtures.js';

const SUBMISSION = {
  sourceId: '1.2.250.1.999.7.1.100',
  uniqueId: '1.2.250.1.999.7.1.100.2026.42',
  submissionTime: new Date('2026-12-02T12:46:00Z'),
  intendedRecipients: ['dr.dupont@test-ci-sis.mssante.fr'],
  contentTypeCode: { code: '03', codeSystem: '1.2.250.1.213.2.2', displayName: 'Hospitalisation' },
};

type El = Record<string, any>;
const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  removeNSPrefix: true,
  parseTagValue: false,
  isArray: (name: string) =>
    ['Slot', 'Value', 'Classification', 'ExternalIdentifier', 'ExtrinsicObject', 'Association'].includes(name),
});
const text = new TextDecoder();
const sha1 = (b: Uint8Array) => createHash('sha1').update(b).digest('hex');

function parseMetadata(xml: string) {
  const list = parser.parse(xml).SubmitObjectsRequest.RegistryObjectList as El;
  const slots = (o: El) =>
    Object.fromEntries((o.Slot ?? []).map((s: El) => [s['@name'], s.ValueList.Value as string[]])) as Record<
      string,
      string[]
    >;
  const byScheme = (o: El, scheme: string) =>
    (o.Classification ?? []).filter((c: El) => c['@classificationScheme'] === scheme);
  const extId = (o: El, scheme: string) =>
    (o.ExternalIdentifier as El[]).find((e) => e['@identificationScheme'] === scheme)?.['@value'] as string | undefined;
  return { list, slots, byScheme, extId };
}

function build(xml = cdaFixture(), extra: Partial<typeof SUBMISSION> = {}) {
  return buildXdmArchive({ documents: [{ xml, header: readCdaHeader(xml) }], submission: { ...SUBMISSION, ...extra } });
}

describe('buildXdmArchive', () => {
  it('lays out INDEX.HTM, README.TXT, METADATA.XML and DOC0001.XML', () => {
    const xml = cdaFixture();
    const xdm = build(xml);
    const files = unzipSync(xdm.zip);
    expect(Object.keys(files).sort()).toEqual([
      'IHE_XDM/SUBSET01/DOC0001.XML',
      'IHE_XDM/SUBSET01/METADATA.XML',
      'INDEX.HTM',
      'README.TXT',
    ]);
    expect(text.decode(files['IHE_XDM/SUBSET01/DOC0001.XML'])).toBe(xml);
    expect(text.decode(files['IHE_XDM/SUBSET01/METADATA.XML'])).toBe(xdm.metadataXml);
    expect(text.decode(files['INDEX.HTM'])).toContain('href="IHE_XDM/SUBSET01/DOC0001.XML"');
    const readme = text.decode(files['README.TXT']);
    expect(readme).toContain('PFI');
    expect(readme).toContain(SUBMISSION.sourceId);
    // No patient data outside the document and its metadata.
    for (const f of ['INDEX.HTM', 'README.TXT']) {
      for (const secret of ['MARTIN', 'JEANNE', TEST_INS, TEST_IPP])
        expect(text.decode(files[f])).not.toContain(secret);
    }
    expect(xdm.entries.map((e) => e.fileName)).toEqual([
      'INDEX.HTM',
      'README.TXT',
      'IHE_XDM/SUBSET01/METADATA.XML',
      'IHE_XDM/SUBSET01/DOC0001.XML',
    ]);
    for (const e of xdm.entries) {
      expect(e.sha1).toBe(sha1(files[e.fileName]!));
      expect(e.size).toBe(files[e.fileName]!.length);
    }
    expect(xdm.warnings).toEqual([]);
  });

  it('writes the document entry with every slot, classification and identifier', () => {
    const xml = cdaFixture();
    const xdm = build(xml);
    const doc = unzipSync(xdm.zip)['IHE_XDM/SUBSET01/DOC0001.XML']!;
    const { list, slots, byScheme, extId } = parseMetadata(xdm.metadataXml);
    const [de] = list.ExtrinsicObject as El[];
    expect(de!['@objectType']).toBe(XDS.documentEntry);
    expect(de!['@mimeType']).toBe('text/xml');
    expect(de!['@id']).toMatch(/^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(slots(de!)).toEqual({
      creationTime: ['20261202124500'], // 13:45 +01:00 in UTC
      hash: [sha1(doc)],
      languageCode: ['fr-FR'],
      legalAuthenticator: ['810000000001^BIOLOGISTE^Paul^^^^^^&1.2.250.1.71.4.2.1&ISO^D^^^IDNPS'],
      serviceStartTime: ['20261202070000'],
      serviceStopTime: ['20261202120000'],
      size: [String(doc.length)],
      sourcePatientId: [`${TEST_IPP}^^^&${FACILITY_OID}&ISO^PI`],
      sourcePatientInfo: ['PID-5|MARTIN^JEANNE^^^^^L', 'PID-7|19800412', 'PID-8|F'],
      URI: ['DOC0001.XML'],
    });
    expect(de!.Name.LocalizedString['@value']).toBe("Compte rendu d'examens biologiques");

    const [author] = byScheme(de!, XDS.deAuthor);
    expect(author['@classifiedObject']).toBe(de!['@id']);
    expect(slots(author)).toEqual({
      // HL7 v2 escaping inside the XON (& is the subcomponent separator), XML escaping around it.
      authorInstitution: ['Laboratoire \\T\\ Co <PFI>^^^^^&1.2.250.1.71.4.2.2&ISO^IDNST^^^1990000001'],
      authorPerson: ['810000000001^BIOLOGISTE^Paul^^^^^^&1.2.250.1.71.4.2.1&ISO^D^^^IDNPS'],
      authorRole: ['ATTPHYS^Référent^2.16.840.1.113883.5.88'],
      authorSpecialty: ['G15_10/SM03^Médecin - Biologie médicale (SM)^1.2.250.1.213.1.1.4.5'],
    });
    const coded = (scheme: string) => {
      const [c] = byScheme(de!, scheme);
      return { code: c['@nodeRepresentation'], system: slots(c).codingScheme?.[0], object: c['@classifiedObject'] };
    };
    const id = de!['@id'];
    expect(coded(XDS.classCode)).toEqual({ code: '10', system: '1.2.250.1.213.1.1.4.1', object: id });
    expect(coded(XDS.confidentialityCode)).toEqual({ code: 'N', system: '2.16.840.1.113883.5.25', object: id });
    expect(coded(XDS.formatCode)).toEqual({
      code: 'urn:ihe:lab:xd-lab:2008',
      system: '1.3.6.1.4.1.19376.1.2.3',
      object: id,
    });
    expect(coded(XDS.healthcareFacilityTypeCode)).toEqual({ code: 'SA01', system: '1.2.250.1.71.4.2.4', object: id });
    expect(coded(XDS.practiceSettingCode)).toEqual({
      code: 'ETABLISSEMENT',
      system: '1.2.250.1.213.1.1.4.9',
      object: id,
    });
    expect(coded(XDS.typeCode)).toEqual({ code: '11502-2', system: '2.16.840.1.113883.6.1', object: id });
    expect(extId(de!, XDS.dePatientId)).toBe(`${TEST_INS}^^^&1.2.250.1.213.1.4.10&ISO^NH`);
    expect(extId(de!, XDS.deUniqueId)).toBe('1.2.250.1.999.7.1.3^DOC-2026-0001');
  });

  it('writes the submission set, its classification node and the HasMember association', () => {
    const { list, slots, byScheme, extId } = parseMetadata(build().metadataXml);
    const ss = list.RegistryPackage as El;
    expect(slots(ss)).toEqual({
      submissionTime: ['20261202124600'],
      intendedRecipient: ['||^^Internet^dr.dupont@test-ci-sis.mssante.fr'],
    });
    const [author] = byScheme(ss, XDS.ssAuthor);
    expect(slots(author).authorPerson).toEqual(['810000000001^BIOLOGISTE^Paul^^^^^^&1.2.250.1.71.4.2.1&ISO^D^^^IDNPS']);
    expect(byScheme(ss, XDS.contentTypeCode)[0]['@nodeRepresentation']).toBe('03');
    expect(extId(ss, XDS.ssUniqueId)).toBe(SUBMISSION.uniqueId);
    expect(extId(ss, XDS.ssSourceId)).toBe(SUBMISSION.sourceId);
    expect(extId(ss, XDS.ssPatientId)).toBe(`${TEST_INS}^^^&1.2.250.1.213.1.4.10&ISO^NH`);
    const node = (list.Classification as El[]).find((c) => c['@classificationNode'] === XDS.submissionSet);
    expect(node?.['@classifiedObject']).toBe(ss['@id']);
    const [assoc] = list.Association as El[];
    expect(assoc).toMatchObject({
      '@associationType': 'urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember',
      '@sourceObject': ss['@id'],
      '@targetObject': (list.ExtrinsicObject as El[])[0]!['@id'],
    });
    expect(slots(assoc!).SubmissionSetStatus).toEqual(['Original']);
    // Every id is a distinct UUID URN.
    const ids = [...xdmIds(build().metadataXml)];
    expect(ids.length).toBeGreaterThan(10);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('is deterministic: same input, same bytes; another submission, other ids', () => {
    expect(Buffer.from(build().zip).equals(Buffer.from(build().zip))).toBe(true);
    const other = build(undefined, { uniqueId: '1.2.250.1.999.7.1.100.2026.43' });
    const a = new Set(xdmIds(build().metadataXml));
    expect([...xdmIds(other.metadataXml)].some((id) => a.has(id))).toBe(false);
  });

  it('uses the IPP as patientId when the identity is not qualified', () => {
    const { list, extId } = parseMetadata(build(cdaFixture({ ins: false })).metadataXml);
    expect(extId((list.ExtrinsicObject as El[])[0]!, XDS.dePatientId)).toBe(`${TEST_IPP}^^^&${FACILITY_OID}&ISO^PI`);
  });

  it('escapes markup and HL7 delimiters in values', () => {
    const xdm = build(cdaFixture({ title: 'CR &lt;urgent&gt; &amp; suite^1' }));
    const { list } = parseMetadata(xdm.metadataXml);
    expect((list.ExtrinsicObject as El[])[0]!.Name.LocalizedString['@value']).toBe('CR <urgent> & suite^1');
    expect(text.decode(unzipSync(xdm.zip)['INDEX.HTM'])).toContain('CR &lt;urgent&gt; &amp; suite^1');
  });

  it('reports metadata it could not fill, and refuses an empty archive', () => {
    const xml = cdaFixture({ code: { code: '99999-9', codeSystem: '2.16.840.1.113883.6.1' } });
    const xdm = build(xml);
    expect(xdm.warnings).toEqual(['document 1: no classCode for its type, classification omitted']);
    expect(() => buildXdmArchive({ documents: [], submission: SUBMISSION })).toThrow(XdmError);
  });

  it('packs several documents as DOC0001.XML, DOC0002.XML', () => {
    const a = cdaFixture();
    const b = cdaFixture({ level1: 'application/pdf', title: 'Copie PDF' });
    const xdm = buildXdmArchive({
      documents: [a, b].map((xml) => ({ xml, header: readCdaHeader(xml) })),
      submission: SUBMISSION,
    });
    expect(Object.keys(unzipSync(xdm.zip))).toContain('IHE_XDM/SUBSET01/DOC0002.XML');
    const { list, slots, byScheme } = parseMetadata(xdm.metadataXml);
    const des = list.ExtrinsicObject as El[];
    expect(des.map((d) => slots(d).URI?.[0])).toEqual(['DOC0001.XML', 'DOC0002.XML']);
    expect(byScheme(des[1]!, XDS.formatCode)[0]['@nodeRepresentation']).toBe('urn:ihe:iti:xds-sd:pdf:2008');
    expect((list.Association as El[]).map((x) => x['@targetObject'])).toEqual(des.map((d) => d['@id']));
  });
});

describe.skipIf(!HAS_CORPUS)('buildXdmArchive on an ANS example', () => {
  if (!HAS_CORPUS) console.warn(CORPUS_SKIP_MESSAGE);
  it('packages the CR-BIO TSH example with its hash and size', () => {
    const xml = readFileSync(path.join(CORPUS_CDA_DIR, 'ANS_TestContenuCDA_BIO-CR-BIO_2024.01_TSH_1.xml'), 'utf8');
    const xdm = build(xml);
    const doc = unzipSync(xdm.zip)['IHE_XDM/SUBSET01/DOC0001.XML']!;
    const { list, slots } = parseMetadata(xdm.metadataXml);
    const de = (list.ExtrinsicObject as El[])[0]!;
    expect(slots(de).hash).toEqual([sha1(doc)]);
    expect(slots(de).size).toEqual([String(Buffer.byteLength(xml))]);
    expect(slots(de).creationTime).toEqual(['20210401161000']);
  });
});

function* xdmIds(xml: string): Generator<string> {
  for (const m of xml.matchAll(/\sid="(urn:uuid:[^"]+)"/g)) yield m[1]!;
}
