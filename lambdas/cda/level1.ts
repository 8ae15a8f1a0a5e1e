/**
 * A CI-SIS level-1 document (IHE XDS-SD): the CI-SIS header around a PDF (nonXMLBody, base64), for PDFs that arrive
 * by MDM or FHIR.
 */

import type { Resource } from '../fhir/types.js';
import { TEMPLATE } from './codes.js';
import { CdaInputError } from './errors.js';
import {
  checkDocumentIds,
  encompassingEncounter,
  encounterPeriod,
  HEADER_TEMPLATES,
  header,
  serviceEvent,
} from './header.js';
import type { CdaOrganisation } from './organisation.js';
import { configuredBiologist, personOf } from './people.js';
import { cdaTimestamp } from './time.js';
import type { CdaCode, CdaDocumentIds } from './types.js';
import { renderXml } from './xml.js';

export interface Level1Input {
  pdf: Uint8Array;
  title: string;
  /** LOINC document type (JDV_J07_XdsTypeCode_CISIS). */
  type: CdaCode;
  patient: Resource;
  /** The Practitioner who wrote the document (must have an idNat). */
  author?: Resource;
  encounter?: Resource;
  organisation: CdaOrganisation;
  document: CdaDocumentIds;
  confidentiality?: 'N' | 'R' | 'V';
}

const LAB_REPORT = '11502-2';

function isPdf(pdf: Uint8Array): boolean {
  // "%PDF-"
  return pdf.length > 5 && pdf[0] === 0x25 && pdf[1] === 0x50 && pdf[2] === 0x44 && pdf[3] === 0x46 && pdf[4] === 0x2d;
}

/**
 * Builds the level-1 CDA (UTF-8 XML text with its declaration). The author is the given Practitioner (with an
 * idNat); for a lab report (11502-2) without one, the organisation's configured biologist. Throws
 * {@link CdaInputError} when the PDF is not a PDF, no author has an idNat, or the patient has no usable identifier.
 *
 * @example
 * const xml = buildLevel1({ pdf, title: 'Compte rendu', type: { code: '11490-0', codeSystem: '2.16.840.1.113883.6.1' },
 *   patient, author, organisation: EXAMPLE_CDA_ORGANISATION, document: ids });
 */
export function buildLevel1(input: Level1Input): string {
  checkDocumentIds(input.document);
  if (!isPdf(input.pdf)) throw new CdaInputError('the document body is not a PDF', 'no-pdf');
  const org = input.organisation;
  const author =
    personOf(input.author, org) ??
    (input.type.code === LAB_REPORT && !input.author ? configuredBiologist(org) : undefined);
  if (!author) throw new CdaInputError('no author with an idNat', 'no-author');
  const created = cdaTimestamp(input.document.effectiveTime);
  const period = encounterPeriod(input.encounter) ?? { low: created };
  const doc = {
    ClinicalDocument: {
      ...header({
        templateIds: [...HEADER_TEMPLATES, TEMPLATE.xdsSd],
        document: input.document,
        code: input.type,
        title: input.title,
        confidentiality: input.confidentiality ?? 'N',
        patient: input.patient,
        organisation: org,
        author,
        authorTime: created,
        documentationOf: [
          serviceEvent({
            low: period.low,
            ...(period.high ? { high: period.high } : {}),
            performer: author,
            organisation: org,
          }),
        ],
        componentOf: encompassingEncounter({ encounter: input.encounter, organisation: org, fallbackLow: created }),
      }),
      component: {
        nonXMLBody: {
          text: {
            '@_mediaType': 'application/pdf',
            '@_representation': 'B64',
            '#text': Buffer.from(input.pdf.buffer, input.pdf.byteOffset, input.pdf.byteLength).toString('base64'),
          },
        },
      },
    },
  };
  return renderXml(doc);
}
