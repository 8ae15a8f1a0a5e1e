/**
 * The document queues and the outbox topics that feed them. A lab report to turn into a CDA (committed with the
 * DiagnosticReport by the HL7 worker) goes to `cda`; a Communication to send over MSSanté (committed with the
 * Communication) goes to `mssante`. FIFO groups: one report, one Communication.
 */

import type { OutboxRoute } from '../adapters/queue/outbox-relay.js';
import type { OutboxMessage } from '../fhir/repository/repository.js';
import type { Resource } from '../fhir/types.js';
import { CDA_LAB_REPORT_TOPIC } from '../hl7/apply/results.js';
import { needsLevel1 } from './pdf-document.js';

export { CDA_LAB_REPORT_TOPIC };
export const MSSANTE_SEND_TOPIC = 'mssante-send';
/** A DocumentReference carrying a PDF and no CDA: wrap it in a level-1 CI-SIS document. */
export const CDA_PDF_DOCUMENT_TOPIC = 'cda-pdf-document';
export const CDA_QUEUE = 'cda';
export const MSSANTE_QUEUE = 'mssante';

export type CdaJob = { diagnosticReport: string } | { documentReference: string };
export interface MssanteJob {
  communication: string;
}

/** Reads a job body; throws on a body no producer writes (the worker dead-letters it). */
export function parseJob<K extends 'diagnosticReport' | 'documentReference' | 'communication'>(
  body: string,
  key: K,
  type: string,
): Record<K, string> & { id: string } {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    throw new JobBodyError('the job body is not JSON');
  }
  const ref = (value as Record<string, unknown> | null)?.[key];
  const m = typeof ref === 'string' ? new RegExp(`^${type}/([A-Za-z0-9.-]{1,64})$`).exec(ref) : null;
  if (!m) throw new JobBodyError(`the job body has no ${key} reference`);
  return { [key]: ref, id: m[1]! } as Record<K, string> & { id: string };
}

/** A queue body no producer writes: retrying cannot help. */
export class JobBodyError extends Error {
  override readonly name = 'JobBodyError';
}

const groupOf = (key: string) => (payload: string) => {
  try {
    const value = (JSON.parse(payload) as Record<string, unknown>)[key];
    return typeof value === 'string' ? value : 'unknown';
  } catch {
    return 'unknown';
  }
};

/** Outbox topic → queue routes of the document workers. */
export const DOCUMENT_ROUTES: Readonly<Record<string, OutboxRoute>> = {
  [CDA_LAB_REPORT_TOPIC]: { queue: CDA_QUEUE, groupId: groupOf('diagnosticReport') },
  [CDA_PDF_DOCUMENT_TOPIC]: { queue: CDA_QUEUE, groupId: groupOf('documentReference') },
  [MSSANTE_SEND_TOPIC]: { queue: MSSANTE_QUEUE, groupId: groupOf('communication') },
};

/**
 * The write trigger of MSSanté sending: a Communication written with status `preparation` or `in-progress`, a
 * recipient and a DocumentReference as payload queues a send. Written again while still to send, it queues again:
 * the worker is idempotent (it checks the Communication's status and its send journal).
 */
export function mssanteTrigger(resource: Resource): OutboxMessage[] {
  if (resource.resourceType !== 'Communication') return [];
  if (resource['status'] !== 'preparation' && resource['status'] !== 'in-progress') return [];
  const recipients = resource['recipient'];
  if (!Array.isArray(recipients) || recipients.length === 0) return [];
  const payload = resource['payload'];
  const hasDocument =
    Array.isArray(payload) &&
    payload.some((p) =>
      /^DocumentReference\//.test(
        String((p as { contentReference?: { reference?: string } }).contentReference?.reference),
      ),
    );
  if (!hasDocument) return [];
  return [{ topic: MSSANTE_SEND_TOPIC, payload: JSON.stringify({ communication: `Communication/${resource.id}` }) }];
}

/**
 * The write trigger of level-1 documents: a current DocumentReference whose content is a PDF (a Binary) and no CDA —
 * from an MDM or a FHIR client — queues its wrapping. PFI's own level-1 documents are XML, so they trigger nothing.
 */
export function pdfDocumentTrigger(resource: Resource): OutboxMessage[] {
  if (resource.resourceType !== 'DocumentReference' || !needsLevel1(resource)) return [];
  return [
    {
      topic: CDA_PDF_DOCUMENT_TOPIC,
      payload: JSON.stringify({ documentReference: `DocumentReference/${resource.id}` }),
    },
  ];
}

/** Every document trigger: what the FHIR service of each composition root is given. */
export const documentTriggers = (resource: Resource): OutboxMessage[] => [
  ...mssanteTrigger(resource),
  ...pdfDocumentTrigger(resource),
];
