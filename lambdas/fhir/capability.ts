import { listSearchParams } from './search/registry.js';
import { SUPPORTED_TYPES } from './types.js';

const READ_ONLY = new Set(['AuditEvent']);
const WRITE_INTERACTIONS = ['create', 'update', 'delete'];
const READ_INTERACTIONS = ['read', 'vread', 'history-instance', 'history-type', 'search-type'];

let cached: Record<string, unknown> | undefined;
let cachedBase: string | undefined;

/** The CapabilityStatement, generated from the supported types and the indexed search parameters. */
export function capabilityStatement(baseUrl: string): Record<string, unknown> {
  if (cached && cachedBase === baseUrl) return cached;
  cachedBase = baseUrl;
  cached = {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: '2026-11-25',
    publisher: 'PFI',
    kind: 'instance',
    software: { name: 'PFI - Plateforme de Flux Interopérable', version: '0.1.0' },
    implementation: { description: 'PFI FHIR R4 server', url: baseUrl },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'json'],
    rest: [
      {
        mode: 'server',
        security: {
          cors: false,
          service: [
            {
              coding: [
                { system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'SMART-on-FHIR' },
              ],
            },
          ],
          description:
            'OAuth2 bearer tokens (JWT) with SMART v2 system scopes, e.g. system/Patient.rs or system/*.cruds',
        },
        resource: SUPPORTED_TYPES.map((type) => ({
          type,
          interaction: [...READ_INTERACTIONS, ...(READ_ONLY.has(type) ? [] : WRITE_INTERACTIONS)].map((code) => ({
            code,
          })),
          versioning: 'versioned-update',
          readHistory: true,
          updateCreate: !READ_ONLY.has(type),
          conditionalCreate: !READ_ONLY.has(type),
          conditionalUpdate: !READ_ONLY.has(type),
          conditionalDelete: READ_ONLY.has(type) ? 'not-supported' : 'single',
          conditionalRead: 'not-match',
          referencePolicy: ['literal', 'local'],
          searchInclude: listSearchParams(type)
            .filter((p) => p.type === 'reference')
            .map((p) => `${type}:${p.code}`),
          searchParam: [
            { name: '_id', type: 'token', definition: 'http://hl7.org/fhir/SearchParameter/Resource-id' },
            {
              name: '_lastUpdated',
              type: 'date',
              definition: 'http://hl7.org/fhir/SearchParameter/Resource-lastUpdated',
            },
            ...listSearchParams(type).map((p) => ({ name: p.code, type: p.type, definition: p.url })),
          ],
        })),
        interaction: [{ code: 'transaction' }, { code: 'batch' }],
      },
    ],
  };
  return cached;
}
