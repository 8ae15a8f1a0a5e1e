/**
 * RGPD erasure end to end on the local platform: a patient arrives over MLLP with a lab report (CR-BIO generated,
 * stored, raw message archived), is mailed over MSSanté, then erased with $expunge: nothing of them is left but the
 * AuditEvents' technical references.
 */

import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LEGAL_HOLD } from '../../lambdas/audit/erasure.js';
import { loadOrCreateLocalKeys, signLocalToken } from '../../lambdas/auth/local-keys.js';
import { DOCUMENTS_AUTH } from '../../lambdas/documents/jobs.js';
import { binaryContentKey } from '../../lambdas/fhir/binary-content.js';
import { labReportOru } from '../support/documents.js';
import { startTestLocalPlatform } from '../support/local-platform.js';
import { eventually, sendMllp } from '../support/mllp-client.js';

let local: Awaited<ReturnType<typeof startTestLocalPlatform>>;
let keys: Awaited<ReturnType<typeof loadOrCreateLocalKeys>>;
let token: string;

beforeAll(async () => {
  local = await startTestLocalPlatform();
  keys = await loadOrCreateLocalKeys(join(local.dataDir, 'keys'));
  token = await signLocalToken(keys, { scopes: 'system/*.cruds' });
});
afterAll(async () => {
  await local?.dispose();
});

const api = (path: string, init: RequestInit = {}, bearer = token) =>
  fetch(`${local.fhirBaseUrl}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/fhir+json', ...(init.headers ?? {}) },
  });

/** Rows anywhere outside the audit trail that still carry a text. */
async function traces(text: string): Promise<number> {
  let n = 0;
  for (const [table, column] of [
    ['resource', 'content'],
    ['resource_history', 'content'],
    ['hl7_raw_message', 'body'],
    ['queue_message', 'body'],
  ] as const) {
    const res = await local.platform.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${table} WHERE position($1 IN ${column}) > 0 ${table.startsWith('resource') ? "AND resource_type <> 'AuditEvent'" : ''}`,
      [text],
    );
    n += res.rows[0]!.n;
  }
  return n;
}

describe('POST /fhir/Patient/<id>/$expunge', () => {
  it('erases the patient’s compartment, documents, raw messages and send journal, keeps AuditEvents, and is idempotent', async () => {
    expect(
      await sendMllp(local.mllpPort, labReportOru({ ipp: 'ERASE-IPP-1', filler: 'ERASE-F-1', control: 'ERASE-1' })),
    ).toContain('MSA|AA|ERASE-1');
    const document = await eventually('the CR-BIO', async () => {
      const bundle = (await (await api('/DocumentReference?type=http://loinc.org|11502-2')).json()) as {
        entry?: { resource: any }[];
      };
      return bundle.entry?.[0]?.resource;
    });
    const patientRef: string = document.subject.reference;
    const patientId = patientRef.split('/')[1]!;
    const sent = await api('/Communication', {
      method: 'POST',
      body: JSON.stringify({
        resourceType: 'Communication',
        status: 'preparation',
        subject: { reference: patientRef },
        recipient: [{ identifier: { value: 'mailto:dr.erase@test-ci-sis.mssante.fr' } }],
        payload: [{ contentReference: { reference: `DocumentReference/${document.id}` } }],
      }),
    });
    const communicationId = ((await sent.json()) as { id: string }).id;
    await eventually('the send', async () => {
      const c = JSON.parse(
        (await local.platform.service.read(DOCUMENTS_AUTH, 'Communication', communicationId)).resource!.json,
      );
      return c.status === 'completed' ? c : undefined;
    });
    expect(await traces('Roux')).toBeGreaterThan(0);
    await local.auditTrail.runNow();

    // Guards: the dedicated scope, everything=true, a reason.
    const path = `/Patient/${patientId}/$expunge`;
    expect((await api(`${path}?everything=true&reason=test`, { method: 'POST' })).status).toBe(403);
    const expunger = await signLocalToken(keys, { scopes: 'system/Patient.expunge' });
    expect((await api(`${path}?reason=test`, { method: 'POST' }, expunger)).status).toBe(400);
    expect((await api(`${path}?everything=true`, { method: 'POST' }, expunger)).status).toBe(400);

    const res = await api(
      `${path}?everything=true&reason=${encodeURIComponent('demande RGPD n° 42')}`,
      { method: 'POST' },
      expunger,
    );
    expect(res.status).toBe(200);
    const text = ((await res.json()) as { issue: { diagnostics: string }[] }).issue[0]!.diagnostics;
    expect(text).toMatch(/^Erased: \d+ resources/);
    expect(text).toMatch(/[1-9]\d* stored documents/);
    expect(text).toMatch(/[1-9]\d* raw HL7 messages/);
    expect(text).toMatch(/1 MSSanté send records/);

    expect((await api(`/Patient/${patientId}`)).status).toBe(404);
    expect((await api(`/DocumentReference/${document.id}`)).status).toBe(404);
    await expect(local.documents.get(binaryContentKey(document.id))).rejects.toThrow(/not found/);
    expect(await traces('Roux')).toBe(0);
    expect(await traces('ERASE-IPP-1')).toBe(0);
    const journal = await local.platform.db.query<{ reason: string; counts: string }>(
      'SELECT reason, counts FROM erasure_journal WHERE patient_id = $1',
      [patientId],
    );
    expect(journal.rows[0]?.reason).toBe('demande RGPD n° 42');
    expect(JSON.parse((await local.documents.get(`erasure-journal/${patientId}.json`)).body.toString())).toMatchObject({
      patientId,
      completedAt: expect.any(String),
    });

    // AuditEvents stay, with technical references only; the erasure has its own.
    await local.auditTrail.runNow();
    const audits = (await (await api(`/AuditEvent?patient=${patientRef}&_count=200`)).json()) as {
      entry: { resource: any }[];
    };
    expect(audits.entry.length).toBeGreaterThan(3);
    expect(JSON.stringify(audits.entry)).not.toMatch(/Roux|ERASE-IPP-1/);
    const erasure = (await (await api(`/AuditEvent?entity=${patientRef}&action=D&_count=50`)).json()) as {
      entry: { resource: any }[];
    };
    expect(erasure.entry.some((e) => e.resource.outcomeDesc?.startsWith('erased:'))).toBe(true);

    // Asked again: the same answer, nothing to do.
    const again = await api(`${path}?everything=true&reason=again`, { method: 'POST' }, expunger);
    expect(again.status).toBe(200);
    expect(((await again.json()) as { issue: { diagnostics: string }[] }).issue[0]!.diagnostics).toMatch(
      /^Already erased/,
    );
  });

  it('refuses a patient under legal hold (409) and an unknown patient (404)', async () => {
    const created = await api('/Patient', {
      method: 'POST',
      body: JSON.stringify({ resourceType: 'Patient', meta: { security: [LEGAL_HOLD] }, gender: 'female' }),
    });
    const id = ((await created.json()) as { id: string }).id;
    const expunger = await signLocalToken(keys, { scopes: 'system/Patient.expunge' });
    expect((await api(`/Patient/${id}/$expunge?everything=true&reason=x`, { method: 'POST' }, expunger)).status).toBe(
      409,
    );
    expect((await api(`/Patient/${id}`)).status).toBe(200);
    expect((await api('/Patient/nobody/$expunge?everything=true&reason=x', { method: 'POST' }, expunger)).status).toBe(
      404,
    );
  });
});
