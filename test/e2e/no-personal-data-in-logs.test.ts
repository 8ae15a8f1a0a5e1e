/**
 * No personal data in logs: the whole platform runs at DEBUG with its output captured, receives an HL7 message (and
 * a broken one), FHIR creates (and a refused one); the captured logs never carry the patient's name or INS.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadOrCreateLocalKeys, signLocalToken } from '../../lambdas/auth/local-keys.js';
import { captureProcessOutput } from '../support/captured-output.js';
import { startTestLocalPlatform } from '../support/local-platform.js';
import { sendMllp } from '../support/mllp-client.js';
import { nir, pam } from '../support/pam.js';

const FAMILY = 'Zéphyrine';
const GIVEN = 'Philomène';
const INS = nir('2850575123456');

let local: Awaited<ReturnType<typeof startTestLocalPlatform>>;
let captured: string[] = [];

beforeAll(async () => {
  captured = captureProcessOutput();
  local = await startTestLocalPlatform({ logLevel: 'DEBUG' });
});
afterAll(async () => {
  await local?.dispose();
  vi.restoreAllMocks();
});

describe('logs', () => {
  it('carry neither the name nor the INS of a patient, whatever happens to their data', async () => {
    const token = await signLocalToken(await loadOrCreateLocalKeys(join(local.dataDir, 'keys')), {
      scopes: 'system/*.cruds',
    });
    const api = (path: string, init: RequestInit = {}) =>
      fetch(`${local.fhirBaseUrl}${path}`, {
        ...init,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json' },
      });
    const ack = await sendMllp(
      local.mllpPort,
      pam({ event: 'A28', controlId: 'LOG-1', ipp: 'LOG-IPP-1', ins: INS, family: FAMILY, given: GIVEN }),
    );
    expect(ack).toContain('MSA|AA');
    // A message the worker cannot apply (an A47 without MRG): dead-lettered, logged.
    await sendMllp(
      local.mllpPort,
      pam({ event: 'A47', controlId: 'LOG-2', ipp: 'LOG-IPP-2', ins: INS, family: FAMILY, given: GIVEN }),
    );
    await local.worker.idle();
    await api('/Patient', {
      method: 'POST',
      body: JSON.stringify({ resourceType: 'Patient', name: [{ family: FAMILY, given: [GIVEN] }], gender: 'female' }),
    });
    // Refused: an invalid INS value and a bad date, both carried by the body.
    const refused = await api('/Patient', {
      method: 'POST',
      body: JSON.stringify({
        resourceType: 'Patient',
        name: [{ family: FAMILY }],
        birthDate: `not-a-date-${FAMILY}`,
        identifier: [{ system: 'urn:oid:1.2.250.1.213.1.4.8', value: `${INS}x` }],
      }),
    });
    expect(refused.status).toBeGreaterThanOrEqual(400);
    await local.auditTrail.runNow();
    const logs = captured.join('');
    // The capture works: the dead-lettered message was logged (by code and queue id).
    expect(logs).toContain('hl7 message dead-lettered');
    for (const secret of [FAMILY, GIVEN, INS, INS.slice(0, 13)]) expect(logs).not.toContain(secret);
  });
});
