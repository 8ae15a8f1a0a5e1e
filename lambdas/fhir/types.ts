/** Minimal structural types for FHIR R4 JSON; full validation lives in `validation/`. */

export interface Meta {
  versionId?: string;
  lastUpdated?: string;
  profile?: string[];
  security?: Coding[];
  tag?: Coding[];
  [key: string]: unknown;
}

export interface Resource {
  resourceType: string;
  id?: string;
  meta?: Meta;
  [key: string]: unknown;
}

export interface Coding {
  system?: string;
  code?: string;
  display?: string;
  [key: string]: unknown;
}

export interface Reference {
  reference?: string;
  type?: string;
  identifier?: { system?: string; value?: string };
  display?: string;
  [key: string]: unknown;
}

export interface OperationOutcomeIssue {
  severity: 'fatal' | 'error' | 'warning' | 'information';
  code: string;
  diagnostics?: string;
  expression?: string[];
  details?: { text?: string; coding?: Coding[] };
}

export interface OperationOutcome extends Resource {
  resourceType: 'OperationOutcome';
  issue: OperationOutcomeIssue[];
}

export interface BundleEntry {
  fullUrl?: string;
  resource?: Resource;
  search?: { mode?: 'match' | 'include' | 'outcome'; score?: number };
  request?: {
    method: string;
    url: string;
    ifMatch?: string;
    ifNoneExist?: string;
    ifNoneMatch?: string;
    ifModifiedSince?: string;
  };
  response?: { status: string; location?: string; etag?: string; lastModified?: string; outcome?: Resource };
}

export interface Bundle extends Resource {
  resourceType: 'Bundle';
  type: string;
  total?: number;
  link?: { relation: string; url: string }[];
  entry?: BundleEntry[];
}

/** The resource types this server stores (AuditEvent is read/search only for clients). */
export const SUPPORTED_TYPES = [
  'Patient',
  'Practitioner',
  'PractitionerRole',
  'Organization',
  'Location',
  'Encounter',
  'Observation',
  'DiagnosticReport',
  'DocumentReference',
  'Binary',
  'Communication',
  'Provenance',
  'AuditEvent',
] as const;

export type SupportedType = (typeof SUPPORTED_TYPES)[number];

export function isSupportedType(t: string): t is SupportedType {
  return (SUPPORTED_TYPES as readonly string[]).includes(t);
}
