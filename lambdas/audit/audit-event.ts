/**
 * AuditEvent resources as IHE BALP / FHIR R4 expect them, built from technical facts only: the interaction, the
 * token's client and subject, the network address, the PFI component, references to what was touched and, for a
 * search, the names of its parameters. Never a name, INS, NIR, address or birth date: no personal value is ever
 * passed in, and search values are left out by construction.
 */

import type { AuthContext } from '../auth/verify.js';
import type { Resource } from '../fhir/types.js';

export type AuditAction = 'C' | 'R' | 'U' | 'D' | 'E';
/** 0 success, 4 minor failure (the request was refused), 8 serious failure (the server failed), 12 major failure. */
export type AuditOutcome = '0' | '4' | '8' | '12';

/** What happened, by kind: a FHIR REST interaction, or a PFI event (HL7 message, CDA document, MSSanté send). */
export type AuditKind =
  | { kind: 'rest'; interaction: RestInteraction }
  | { kind: 'pfi'; event: 'hl7-message' | 'cda-document' | 'mssante-send' };

export type RestInteraction =
  | 'read'
  | 'vread'
  | 'search-type'
  | 'history-instance'
  | 'history-type'
  | 'create'
  | 'update'
  | 'delete'
  | 'batch'
  | 'transaction'
  | 'operation';

export interface AuditFacts {
  what: AuditKind;
  action: AuditAction;
  outcome: AuditOutcome;
  /** A content-free description (an OperationOutcome diagnostic naming elements, an error code). */
  outcomeDesc?: string;
  /** Who: the token (or a PFI component acting on its own). */
  agent: { subject: string; clientId?: string; address?: string; requestor: boolean };
  /** The PFI component recording it. */
  source: 'pfi-fhir-api' | 'pfi-hl7-ingest' | 'pfi-cda-worker' | 'pfi-mssante-worker';
  /** References (`Type/id`) of what was touched. */
  entities?: string[];
  /** Patients whose data was touched (the Patient compartment of the entities): for the DPO's access report. */
  patients?: string[];
  /** A search: the names of its parameters (never their values). */
  queryParameters?: string[];
  /** An operation's name (`$generate-cda`), or the message type (`ADT^A01`) of an HL7 event. */
  detail?: string;
  recorded?: Date;
}

const AUDIT_TYPE = 'http://terminology.hl7.org/CodeSystem/audit-event-type';
const RESTFUL_INTERACTION = 'http://hl7.org/fhir/restful-interaction';
/** PFI's own event codes (AuditEvent.type) for what is not a REST interaction. */
export const PFI_AUDIT_TYPE = 'urn:pfi:audit-event-type';
const ENTITY_TYPE = 'http://terminology.hl7.org/CodeSystem/audit-entity-type';
const OBJECT_ROLE = 'http://terminology.hl7.org/CodeSystem/object-role';
const SOURCE_TYPE = 'http://terminology.hl7.org/CodeSystem/security-source-type';
/** Token clients as AuditEvent agents. */
export const AUDIT_CLIENT_SYSTEM = 'urn:pfi:oauth-client';

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/** Builds the AuditEvent of `facts` (without id: the recorder assigns it). */
export function buildAuditEvent(facts: AuditFacts): Resource {
  const type =
    facts.what.kind === 'rest'
      ? { system: AUDIT_TYPE, code: 'rest', display: 'RESTful Operation' }
      : { system: PFI_AUDIT_TYPE, code: facts.what.event };
  const subtype =
    facts.what.kind === 'rest' ? [{ system: RESTFUL_INTERACTION, code: facts.what.interaction }] : undefined;
  const address = facts.agent.address?.replace(/^::ffff:/, '');
  const agent: Record<string, unknown> = {
    who: facts.agent.clientId
      ? { identifier: { system: AUDIT_CLIENT_SYSTEM, value: facts.agent.clientId } }
      : { display: facts.agent.subject },
    altId: facts.agent.subject,
    requestor: facts.agent.requestor,
  };
  if (address) agent['network'] = { address, type: IPV4.test(address) || address.includes(':') ? '2' : '1' };
  const entity: Record<string, unknown>[] = [];
  for (const reference of new Set(facts.entities ?? [])) {
    entity.push({ what: { reference }, type: { system: ENTITY_TYPE, code: '2', display: 'System Object' } });
  }
  for (const reference of new Set(facts.patients ?? [])) {
    entity.push({
      what: { reference },
      type: { system: ENTITY_TYPE, code: '1', display: 'Person' },
      role: { system: OBJECT_ROLE, code: '1', display: 'Patient' },
    });
  }
  if (facts.queryParameters?.length) {
    entity.push({
      type: { system: ENTITY_TYPE, code: '2', display: 'System Object' },
      role: { system: OBJECT_ROLE, code: '24', display: 'Query' },
      query: Buffer.from([...new Set(facts.queryParameters)].sort().join('&'), 'utf8').toString('base64'),
    });
  }
  if (facts.detail) entity.push({ type: { system: ENTITY_TYPE, code: '4', display: 'Other' }, name: facts.detail });
  const event: Resource = {
    resourceType: 'AuditEvent',
    type,
    ...(subtype ? { subtype } : {}),
    action: facts.action,
    recorded: (facts.recorded ?? new Date()).toISOString(),
    outcome: facts.outcome,
    ...(facts.outcomeDesc ? { outcomeDesc: facts.outcomeDesc.slice(0, 500) } : {}),
    agent: [agent],
    source: {
      observer: { display: facts.source },
      type: [{ system: SOURCE_TYPE, code: '4', display: 'Application Server' }],
    },
  };
  if (entity.length) event['entity'] = entity;
  return event;
}

/** The agent facts of a token. */
export function agentOf(auth: AuthContext, address: string | undefined): AuditFacts['agent'] {
  return { subject: auth.subject, clientId: auth.clientId, address, requestor: true };
}

const PATIENT_LINKS = ['subject', 'patient', 'beneficiary'] as const;

/** The Patients a resource belongs to (itself for a Patient): its Patient compartment, by its usual links. */
export function patientsOf(resource: Resource | undefined): string[] {
  if (!resource) return [];
  if (resource.resourceType === 'Patient' && resource.id) return [`Patient/${resource.id}`];
  const out: string[] = [];
  for (const key of PATIENT_LINKS) {
    const ref = (resource[key] as { reference?: string } | undefined)?.reference;
    if (typeof ref === 'string' && /^Patient\/[A-Za-z0-9.-]{1,64}$/.test(ref)) out.push(ref);
  }
  return out;
}

/** The FHIR outcome code of an HTTP status. */
export const outcomeOfStatus = (status: number): AuditOutcome => (status < 400 ? '0' : status < 500 ? '4' : '8');
