/**
 * Our own small CI-SIS-shaped CDA documents (fictional people; the INS is the ANS test NIR under the test OID),
 * and the corpus location for the tests that also read the ANS examples.
 */

import { existsSync } from 'node:fs';
import path from 'node:path';

export const CORPUS_CDA_DIR = path.resolve(import.meta.dirname, '../../../shared/corpus/cda/examples');
export const HAS_CORPUS = existsSync(CORPUS_CDA_DIR);
export const CORPUS_SKIP_MESSAGE = `../shared/corpus/cda/examples is absent: the ANS example tests are skipped`;

export const TEST_INS = '279035121518989';
export const TEST_IPP = 'IPP-0042';
export const FACILITY_OID = '1.2.250.1.999.7.1';

export interface CdaFixtureOptions {
  /** Include the INS in recordTarget (a qualified identity); default true. */
  ins?: boolean;
  /** Make it a level-1 document with this body media type. */
  level1?: string;
  title?: string;
  /** Namespace prefix for every element (e.g. `cda`), to test prefixed documents. */
  prefix?: string;
  /** Replace the document type code. */
  code?: { code: string; codeSystem: string; displayName?: string };
}

/** A small CR-BIO-like CDA (structured body, or a level-1 body when `level1` is set). */
export function cdaFixture(opts: CdaFixtureOptions = {}): string {
  const p = opts.prefix ? `${opts.prefix}:` : '';
  const ns = opts.prefix ? `xmlns:${opts.prefix}="urn:hl7-org:v3"` : 'xmlns="urn:hl7-org:v3"';
  const code = opts.code ?? {
    code: '11502-2',
    codeSystem: '2.16.840.1.113883.6.1',
    displayName: "CR d'examens biologiques",
  };
  const templates = opts.level1
    ? ['2.16.840.1.113883.2.8.2.1', '1.2.250.1.213.1.1.1.1', '1.3.6.1.4.1.19376.1.2.20']
    : ['2.16.840.1.113883.2.8.2.1', '1.2.250.1.213.1.1.1.1', '1.3.6.1.4.1.19376.1.3.3', '1.2.250.1.213.1.1.1.55'];
  const body = opts.level1
    ? `<${p}nonXMLBody><${p}text mediaType="${opts.level1}" representation="B64">JVBERi0xLjQKJcfsj6IKJSVFT0YK</${p}text></${p}nonXMLBody>`
    : `<${p}structuredBody><${p}component><${p}section><${p}templateId root="1.3.6.1.4.1.19376.1.3.3.2.1"/>` +
      `<${p}code code="18719-5" codeSystem="2.16.840.1.113883.6.1"/><${p}title>Biochimie</${p}title>` +
      `<${p}text>Glucose 5,4 mmol/L</${p}text></${p}section></${p}component></${p}structuredBody>`;
  const x = (tag: string, inner: string, attrs = '') => `<${p}${tag}${attrs ? ` ${attrs}` : ''}>${inner}</${p}${tag}>`;
  const e = (tag: string, attrs: string) => `<${p}${tag} ${attrs}/>`;
  return `<?xml version="1.0" encoding="UTF-8"?>
<${p}ClinicalDocument ${ns} xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  ${e('realmCode', 'code="FR"')}
  ${e('typeId', 'root="2.16.840.1.113883.1.3" extension="POCD_HD000040"')}
  ${templates.map((t) => e('templateId', `root="${t}"`)).join('\n  ')}
  ${e('id', 'root="1.2.250.1.999.7.1.3" extension="DOC-2026-0001"')}
  ${e('code', `code="${code.code}" codeSystem="${code.codeSystem}"${code.displayName ? ` displayName="${code.displayName}"` : ''}`)}
  ${x('title', opts.title ?? "Compte rendu d'examens biologiques")}
  ${e('effectiveTime', 'value="20261202134500+0100"')}
  ${e('confidentialityCode', 'code="N" codeSystem="2.16.840.1.113883.5.25" displayName="Normal"')}
  ${e('languageCode', 'code="fr-FR"')}
  ${e('setId', 'root="1.2.250.1.999.7.1.4" extension="SET-2026-0001"')}
  ${e('versionNumber', 'value="2"')}
  ${x(
    'recordTarget',
    x(
      'patientRole',
      (opts.ins === false ? '' : e('id', `root="1.2.250.1.213.1.4.10" extension="${TEST_INS}"`)) +
        e('id', `root="${FACILITY_OID}" extension="${TEST_IPP}"`) +
        x(
          'patient',
          x(
            'name',
            x('family', 'MARTIN', 'qualifier="BR"') +
              x('given', 'JEANNE CLAIRE') +
              x('given', 'JEANNE', 'qualifier="BR"') +
              x('family', 'DURAND', 'qualifier="CL"'),
          ) +
            e('administrativeGenderCode', 'code="F" codeSystem="2.16.840.1.113883.5.1"') +
            e('birthTime', 'value="19800412"'),
        ),
    ),
  )}
  ${x(
    'author',
    e('functionCode', 'code="ATTPHYS" codeSystem="2.16.840.1.113883.5.88" displayName="Référent"') +
      e('time', 'value="20261202134500+0100"') +
      x(
        'assignedAuthor',
        e('id', 'root="1.2.250.1.71.4.2.1" extension="810000000001"') +
          e(
            'code',
            'code="G15_10/SM03" codeSystem="1.2.250.1.213.1.1.4.5" displayName="Médecin - Biologie médicale (SM)"',
          ) +
          x('assignedPerson', x('name', x('given', 'Paul') + x('family', 'BIOLOGISTE'))) +
          x(
            'representedOrganization',
            e('id', 'root="1.2.250.1.71.4.2.2" extension="1990000001"') + x('name', 'Laboratoire &amp; Co &lt;PFI&gt;'),
          ),
      ),
  )}
  ${x(
    'custodian',
    x(
      'assignedCustodian',
      x(
        'representedCustodianOrganization',
        e('id', 'root="1.2.250.1.71.4.2.2" extension="1990000001"') + x('name', 'Hôpital de test PFI'),
      ),
    ),
  )}
  ${x(
    'legalAuthenticator',
    e('time', 'value="20261202134000+0100"') +
      e('signatureCode', 'code="S"') +
      x(
        'assignedEntity',
        e('id', 'root="1.2.250.1.71.4.2.1" extension="810000000001"') +
          x('assignedPerson', x('name', x('family', 'BIOLOGISTE') + x('given', 'Paul'))),
      ),
  )}
  ${x(
    'documentationOf',
    x(
      'serviceEvent',
      e('code', 'code="18719-5" codeSystem="2.16.840.1.113883.6.1"') +
        x('effectiveTime', e('low', 'value="20261202080000+0100"') + e('high', 'value="20261202130000+0100"')) +
        x(
          'performer',
          x(
            'assignedEntity',
            e('id', 'root="1.2.250.1.71.4.2.1" extension="810000000001"') +
              x(
                'representedOrganization',
                e('id', 'root="1.2.250.1.71.4.2.2" extension="1990000001"') +
                  e(
                    'standardIndustryClassCode',
                    'code="ETABLISSEMENT" codeSystem="1.2.250.1.213.1.1.4.9" displayName="Etablissement de santé"',
                  ),
              ),
          ),
          'typeCode="PRF"',
        ),
    ),
  )}
  ${x(
    'componentOf',
    x(
      'encompassingEncounter',
      e('code', 'code="IMP" codeSystem="2.16.840.1.113883.5.4" displayName="Hospitalisation"') +
        x('effectiveTime', e('low', 'value="20261201"')) +
        x(
          'location',
          x(
            'healthCareFacility',
            e('code', 'code="SA01" codeSystem="1.2.250.1.71.4.2.4" displayName="Etablissement public de santé"'),
          ),
        ),
    ),
  )}
  ${x('component', body)}
</${p}ClinicalDocument>
`;
}
