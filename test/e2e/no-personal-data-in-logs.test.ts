/**
 * No personal data in logs: the whole platform runs at DEBUG with its output captured, receives an HL7 message (and
 * a broken one), FHIR creates (and a refused one); the captured logs never carry the patient's name or INS.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadOrCreateLocalKeys, signLocalToken } from '../../lambdas/auth/local-keys.js';
import { loadConfig } from '../../lambdas/config.js';
import { type LocalPlatform, startLocalPlatform } from '../../scripts/local-platform.js';
import { sendMllp } from '../support/mllp-client.js';
import { nir, pam } from '../support/pam.js';

const FAMILY = 'Zéphyrine';
const GIVEN = 'Philomène';
const INS = nir('2850575123456');

let dir: string;
let local: LocalPlatform;
const captured: string[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pfi-logs-'));
  const write = (chunk: unknown) => {
    captured.push(String(chunk));
    return true;
  };
  vi.spyOn(process.stdout, 'write').mockImplementation(write);
  vi.spyOn(process.stderr, 'write').mockImplementation(write);
  const config = loadConfig({
    PFI_DATA_DIR: dir,
    PFI_HTTP_PORT: '0',
    PFI_MLLP_PORT: '0',
    PFI_SMTP_SINK_PORT: '0',
    PFI_HL7_MAX_RECEIVES: '1',
    PFI_LOG_LEVEL: 'DEBUG',
  });
  local = await startLocalPlatform(config, { logger: new Logger({ serviceName: 'pfi-test', logLevel: 'DEBUG' }) });
});
afterAll(async () => {
  await local?.stop();
  vi.restoreAllMocks();
  await rm(dir, { recursive: true, force: true });
});

describe('logs', () => {
  it('carry neither the name nor the INS of a patient, whatever happens to their data', async () => {
    const token = await signLocalToken(await loadOrCreateLocalKeys(join(dir, 'keys')), { scopes: 'system/*.cruds' });
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
