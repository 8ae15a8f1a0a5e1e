import { parseScopes } from '../../lambdas/auth/scopes.js';
import type { AuthContext } from '../../lambdas/auth/verify.js';
import type { Resource } from '../../lambdas/fhir/types.js';

/** Our own test data (never copied from the shared corpus). The INS test NIR 279035121518989 has a valid key. */
export const INS_TEST_SYSTEM = 'urn:oid:1.2.250.1.213.1.4.10';
export const IPP_SYSTEM = 'urn:oid:1.2.250.1.71.4.2.7.1.9.99';

export function authWith(scopes = 'system/*.cruds'): AuthContext {
  return { subject: 'test-client', clientId: 'test-client', scopes: parseScopes(scopes) };
}

export function patient(
  opts: { ipp?: string; family?: string; given?: string; birthDate?: string; gender?: string; ins?: string } = {},
): Resource {
  const identifier: Record<string, unknown>[] = [];
  if (opts.ipp) identifier.push({ system: IPP_SYSTEM, value: opts.ipp, type: { coding: [{ code: 'PI' }] } });
  if (opts.ins) identifier.push({ system: INS_TEST_SYSTEM, value: opts.ins });
  return {
    resourceType: 'Patient',
    ...(identifier.length ? { identifier } : {}),
    name: [{ use: 'official', family: opts.family ?? 'Martin', given: [opts.given ?? 'Jeanne'] }],
    gender: opts.gender ?? 'female',
    birthDate: opts.birthDate ?? '1980-04-12',
  };
}

export function observation(
  patientId: string,
  opts: { loinc?: string; value?: number; unit?: string; date?: string; status?: string } = {},
): Resource {
  return {
    resourceType: 'Observation',
    status: opts.status ?? 'final',
    category: [
      { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] },
    ],
    code: { coding: [{ system: 'http://loinc.org', code: opts.loinc ?? '2345-7' }] },
    subject: { reference: `Patient/${patientId}` },
    effectiveDateTime: opts.date ?? '2026-03-05T10:30:00+01:00',
    valueQuantity: {
      value: opts.value ?? 5.4,
      unit: opts.unit ?? 'mmol/L',
      system: 'http://unitsofmeasure.org',
      code: opts.unit ?? 'mmol/L',
    },
  };
}
