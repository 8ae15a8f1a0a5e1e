/**
 * The FR-Document-PDF-copie section (1.2.250.1.213.1.1.2.243) a CR-BIO must carry: the report rendered as PDF, in an
 * FR-Document-attache organizer (type "Copie du document" + the observationMedia holding the PDF in base64).
 */

import { loinc, TEMPLATE } from './codes.js';
import { ce, ii } from './parties.js';
import type { CdaId } from './types.js';
import type { XmlElement } from './xml.js';

const COPY = loinc('55108-5', 'Copie du document');
const MEDIA_ID = 'pdf-copie';

/** An id of a part of the document: the document's root, its extension suffixed (unique, stable). */
export function partId(document: CdaId, suffix: string): CdaId {
  return { root: document.root, extension: document.extension ? `${document.extension}.${suffix}` : suffix };
}

/** The section element (to put in a structuredBody component). */
export function pdfCopySection(pdf: Uint8Array, documentId: CdaId): XmlElement {
  return {
    section: {
      templateId: { '@_root': TEMPLATE.pdfCopySection },
      id: ii(partId(documentId, 'copie')),
      code: ce(COPY),
      title: 'Copie du document',
      text: {
        table: { '@_border': '0', tbody: { tr: { td: { renderMultiMedia: { '@_referencedObject': MEDIA_ID } } } } },
      },
      entry: {
        organizer: {
          '@_classCode': 'CLUSTER',
          '@_moodCode': 'EVN',
          templateId: { '@_root': TEMPLATE.attachedDocument },
          id: ii(partId(documentId, 'copie.document')),
          code: ce(loinc('55107-7', 'Document attaché')),
          statusCode: { '@_code': 'completed' },
          component: [
            {
              observation: {
                '@_classCode': 'OBS',
                '@_moodCode': 'EVN',
                templateId: [
                  { '@_root': TEMPLATE.simpleObservation },
                  { '@_root': TEMPLATE.frSimpleObservation },
                  { '@_root': TEMPLATE.attachedDocumentType },
                ],
                id: ii(partId(documentId, 'copie.type')),
                code: ce(loinc('69764-9', 'Type de document')),
                statusCode: { '@_code': 'completed' },
                effectiveTime: { '@_nullFlavor': 'NA' },
                value: ce(COPY, { '@_xsi:type': 'CD' }),
              },
            },
            {
              observationMedia: {
                '@_classCode': 'OBS',
                '@_moodCode': 'EVN',
                '@_ID': MEDIA_ID,
                value: {
                  '@_mediaType': 'application/pdf',
                  '@_representation': 'B64',
                  '#text': Buffer.from(pdf.buffer, pdf.byteOffset, pdf.byteLength).toString('base64'),
                },
              },
            },
          ],
        },
      },
    },
  };
}
