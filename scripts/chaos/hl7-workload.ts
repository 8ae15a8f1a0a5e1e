/**
 * The HL7 workload of the crash and outage scenarios, and the check that what was ACKed is in FHIR exactly once.
 * Each patient goes through A01 (admission), ORU^R01 (5–10 numeric results), A02 (transfer), A03 (discharge), in that
 * order on one connection (patients are spread over the connections, their events interleaved). After the run the
 * FHIR store must hold, for every message answered AA: its Patient once, its stay once (finished after the A03), its
 * DiagnosticReport once with one Observation per OBX, and one Provenance per distinct message.
 */

import type { SqlExecutor } from '../../lambdas/adapters/sql/executor.js';
import { type AdtEvent, adtMessage, benchPatient, oruMessage } from '../bench/hl7-messages.js';
import type { SenderConnectionPlan } from './resilient-sender.js';

const STAY: readonly AdtEvent[] = ['A01', 'A02', 'A03'];
export const MESSAGES_PER_PATIENT = 4;

export interface ExpectedMessage {
  controlId: string;
  event: 'A01' | 'A02' | 'A03' | 'ORU';
  ipp: string;
  visit: string;
  /** ORU: the filler order number (DiagnosticReport identifier) and its OBX count. */
  order?: string;
  results?: number;
}

export interface Hl7Workload {
  connections: SenderConnectionPlan[];
  messages: ExpectedMessage[];
  patients: number;
}

/** PV1-19 of a message (ASCII, `|` separators: the bench messages). */
const visitOf = (text: string): string =>
  text
    .split('\r')
    .find((s) => s.startsWith('PV1|'))
    ?.split('|')[19]
    ?.split('^')[0] ?? '';

/** `patients` patients × 4 messages over `connections` connections; `prefix` keeps control ids unique per run. */
export function hl7Workload(patients: number, connections: number, prefix = 'CHAOS'): Hl7Workload {
  const plans: SenderConnectionPlan[] = Array.from({ length: Math.min(connections, patients) }, () => ({
    texts: [],
    controlIds: [],
  }));
  const messages: ExpectedMessage[] = [];
  const people = Array.from({ length: patients }, (_, i) => benchPatient(i));
  for (let step = 0; step < MESSAGES_PER_PATIENT; step++) {
    for (const p of people) {
      const plan = plans[p.index % plans.length]!;
      const controlId = `${prefix}${String(p.index * MESSAGES_PER_PATIENT + step).padStart(8, '0')}`;
      let text: string;
      let expected: ExpectedMessage;
      if (step === 1) {
        text = oruMessage(p, 1, controlId);
        expected = {
          controlId,
          event: 'ORU',
          ipp: p.ipp,
          visit: visitOf(text),
          order: `SIL${p.index}001`,
          results: text.split('\r').filter((s) => s.startsWith('OBX|')).length,
        };
      } else {
        const stayStep = step === 0 ? 0 : step - 1;
        text = adtMessage(p, STAY, stayStep, controlId);
        expected = { controlId, event: STAY[stayStep] as 'A01' | 'A02' | 'A03', ipp: p.ipp, visit: visitOf(text) };
      }
      plan.texts.push(text);
      plan.controlIds.push(controlId);
      messages.push(expected);
    }
  }
  return { connections: plans, messages, patients };
}

export interface WorkloadCheck {
  /** ACKed messages whose effect is missing from FHIR (control ids, first ones). */
  missing: string[];
  missingCount: number;
  /** Business identifiers held by more than one resource. */
  duplicates: string[];
  duplicateCount: number;
  found: { Patient: number; Encounter: number; DiagnosticReport: number; Observation: number; Provenance: number };
  expectedObservations: number;
}

interface Identified {
  identifier?: { value?: string }[];
}

/** Reads the FHIR tables and checks every ACKed message of `workload` against them. */
export async function checkWorkload(
  db: SqlExecutor,
  workload: Hl7Workload,
  acked: ReadonlySet<string>,
): Promise<WorkloadCheck> {
  const rows = await db.query<{ resource_type: string; content: string }>(
    `SELECT resource_type, content FROM resource
     WHERE NOT deleted AND resource_type IN ('Patient', 'Encounter', 'DiagnosticReport', 'Observation', 'Provenance')`,
  );
  const byIdentifier = new Map<string, { count: number; resource: Record<string, unknown> }>();
  const found = { Patient: 0, Encounter: 0, DiagnosticReport: 0, Observation: 0, Provenance: 0 };
  for (const row of rows.rows) {
    const type = row.resource_type as keyof typeof found;
    found[type]++;
    if (type === 'Observation' || type === 'Provenance') continue;
    const resource = JSON.parse(row.content) as Record<string, unknown> & Identified;
    // One resource may carry an identifier value twice (IPP and an old IPP); count it once per resource.
    for (const value of new Set((resource.identifier ?? []).map((i) => i.value))) {
      if (!value) continue;
      const key = `${type}|${value}`;
      const entry = byIdentifier.get(key);
      if (entry) entry.count++;
      else byIdentifier.set(key, { count: 1, resource });
    }
  }
  const duplicates = [...byIdentifier.entries()].filter(([, e]) => e.count > 1).map(([k, e]) => `${k} ×${e.count}`);
  const missing: string[] = [];
  let expectedObservations = 0;
  for (const m of workload.messages) {
    if (!acked.has(m.controlId)) continue;
    const problems: string[] = [];
    if (!byIdentifier.has(`Patient|${m.ipp}`)) problems.push('no Patient');
    const stay = byIdentifier.get(`Encounter|${m.visit}`);
    if (m.event !== 'ORU' && !stay) problems.push('no Encounter');
    if (m.event === 'A03' && stay && stay.resource['status'] !== 'finished') problems.push('stay not finished');
    if (m.event === 'ORU') {
      expectedObservations += m.results ?? 0;
      const report = byIdentifier.get(`DiagnosticReport|${m.order}`);
      const results = (report?.resource['result'] as unknown[] | undefined)?.length ?? 0;
      if (!report) problems.push('no DiagnosticReport');
      else if (results !== m.results) problems.push(`${results} results of ${m.results}`);
    }
    if (problems.length) missing.push(`${m.controlId} (${m.event}: ${problems.join(', ')})`);
  }
  return {
    missing: missing.slice(0, 20),
    missingCount: missing.length,
    duplicates: duplicates.slice(0, 20),
    duplicateCount: duplicates.length,
    found,
    expectedObservations,
  };
}
