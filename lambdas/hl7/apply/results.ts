/**
 * Applies an ORU's reports: Observations upserted by their identifier (report id + OBX-3 + OBX-4), embedded
 * documents as DocumentReferences, then the DiagnosticReport listing them. A report without an embedded CDA queues
 * the CDA lab report (outbox topic {@link CDA_LAB_REPORT_TOPIC}, committed with the report) for the documents worker.
 */

import type { ReportFacts } from '../map/results.js';
import type { ApplyContext, Json } from './context.js';
import { applyDocument } from './documents.js';

export const CDA_LAB_REPORT_TOPIC = 'cda-lab-report';

export async function applyReport(
  ctx: ApplyContext,
  report: ReportFacts,
  patientId: string,
  encounterRef: string | undefined,
): Promise<string> {
  const subject = { reference: `Patient/${patientId}` };
  const encounter = encounterRef ? { reference: encounterRef } : undefined;
  const results: string[] = [];
  for (const obs of report.observations) {
    const existing = await ctx.find('Observation', obs.identifier);
    const id = (existing?.['id'] as string | undefined) ?? ctx.newId();
    ctx.write({ ...obs.resource, id, subject, ...(encounter ? { encounter } : {}) });
    results.push(`Observation/${id}`);
  }
  const documents: string[] = [];
  const presentedForm: Json[] = [];
  for (const doc of report.documents) {
    const applied = await applyDocument(ctx, doc, patientId, encounterRef);
    if (!applied) continue;
    documents.push(applied.reference);
    presentedForm.push(...applied.attachments);
  }

  const existing = await ctx.find('DiagnosticReport', report.identifier);
  const id = (existing?.['id'] as string | undefined) ?? ctx.newId();
  // A corrective ORU may resend only the changed results: keep the ones already linked.
  const previous = Array.isArray(existing?.['result']) ? (existing['result'] as Json[]) : [];
  const allResults = [...new Set([...previous.map((r) => r['reference'] as string), ...results])];
  const dr: Json = { ...report.resource, id, subject };
  if (encounter) dr['encounter'] = encounter;
  if (allResults.length) dr['result'] = allResults.map((reference) => ({ reference }));
  if (presentedForm.length) dr['presentedForm'] = presentedForm;
  const needsCda = documents.length === 0 && results.length > 0 && report.resource['status'] !== 'cancelled';
  const outbox = needsCda
    ? [{ topic: CDA_LAB_REPORT_TOPIC, payload: JSON.stringify({ diagnosticReport: `DiagnosticReport/${id}` }) }]
    : undefined;
  ctx.write(dr, { outbox });
  return `DiagnosticReport/${id}`;
}
