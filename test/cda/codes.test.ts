/**
 * The codes the generator writes belong to the CI-SIS value sets (read from ../shared/corpus; skipped without it).
 * This also covers the structuration minimale check of the document type (JDV_J07), which the JS harness cannot
 * run because its ART-DECOR value set file is not published (see validation.test.ts).
 */

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CONFIDENTIALITY, CR_BIO_CODE, ENCOUNTER_TYPE, GENDER, INTERPRETATION } from '../../lambdas/cda/codes.js';
import { EXAMPLE_CDA_ORGANISATION } from '../../lambdas/cda/organisation.js';
import type { CdaCode } from '../../lambdas/cda/types.js';

const SCHEMATRON = fileURLToPath(new URL('../../../shared/corpus/cda/schematron', import.meta.url));
const present = existsSync(SCHEMATRON);
if (!present) console.warn(`CI-SIS value set checks skipped: no corpus at ${SCHEMATRON}`);

/** code|codeSystem pairs of a value set file (SVS `Concept` or ART-DECOR `concept`). */
function valueSet(path: string): Set<string> {
  const xml = readFileSync(join(SCHEMATRON, path), 'utf8');
  const pairs = new Set<string>();
  for (const m of xml.matchAll(/<(?:svs:)?[Cc]oncept\b([^>]*)>/g)) {
    const code = /\bcode="([^"]*)"/.exec(m[1]!)?.[1]?.replace('&lt;', '<').replace('&gt;', '>');
    const system = /\bcodeSystem="([^"]*)"/.exec(m[1]!)?.[1];
    if (code && system) pairs.add(`${code}|${system}`);
  }
  return pairs;
}

const key = (c: CdaCode) => `${c.code}|${c.codeSystem}`;
const VOC = 'schematrons/profils/structurationMinimale/include';

describe.skipIf(!present)('codes written by the generator are in the CI-SIS value sets', () => {
  it('document type (JDV_J07), confidentiality', () => {
    expect(valueSet('jeuxDeValeurs/JDV_J07_XdsTypeCode_CISIS.xml')).toContain(key(CR_BIO_CODE));
    const confidentiality = valueSet('jeuxDeValeurs/JDV_HL7_Confidentiality_CISIS.xml');
    for (const c of Object.values(CONFIDENTIALITY)) expect(confidentiality).toContain(key(c));
  });

  it('example organisation: facility type (J02), practice setting (J04), biologist specialty (J01)', () => {
    const org = EXAMPLE_CDA_ORGANISATION;
    expect(valueSet('jeuxDeValeurs/JDV_J02_XdsHealthcareFacilityTypeCode_CISIS.xml')).toContain(key(org.facilityType));
    expect(valueSet('jeuxDeValeurs/JDV_J04_XdsPracticeSettingCode_CISIS.xml')).toContain(key(org.practiceSetting));
    expect(valueSet('jeuxDeValeurs/JDV_J01_XdsAuthorSpecialty_CISIS.xml')).toContain(key(org.biologist!.specialty!));
    expect(valueSet('jeuxDeValeurs/JDV_J02_XdsHealthcareFacilityTypeCode_CISIS.xml')).toContain(
      'SA25|1.2.250.1.71.4.2.4',
    );
  });

  it('sex (J143), encounter type (J142), interpretation (the CR-BIO set, complete)', () => {
    const gender = valueSet(`${VOC}/voc-1.2.250.1.213.1.1.5.590-DYNAMIC.xml`);
    for (const c of Object.values(GENDER)) expect(gender).toContain(key(c));
    const encounter = valueSet(`${VOC}/voc-1.2.250.1.213.1.1.5.589-DYNAMIC.xml`);
    for (const c of Object.values(ENCOUNTER_TYPE)) expect(encounter).toContain(key(c));
    const interpretation = valueSet('jeuxDeValeurs/JDV_HL7_ObservationInterpretation_CISIS.xml');
    expect(new Set(Object.keys(INTERPRETATION).map((c) => `${c}|2.16.840.1.113883.5.83`))).toEqual(interpretation);
  });
});
