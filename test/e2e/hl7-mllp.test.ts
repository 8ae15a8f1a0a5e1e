/**
 * MLLP → queue → worker → FHIR on the local platform (in-process): charsets, duplicates, poison messages.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INGEST_AUTH } from '../../lambdas/hl7/apply/context.js';
import { startTestLocalPlatform } from '../support/local-platform.js';
import { IPP_SYSTEM, pam } from '../support/pam.js';

let local: Awaited<ReturnType<typeof startTestLocalPlatform>>;

beforeAll(async () => {
  local = await startTestLocalPlatform();
});

afterAll(async () => {
  await local?.dispose();
});

/** Sends framed messages on one connection, one at a time; resolves with the ACKs. */
async function sendAll(payloads: Buffer[]): Promise<string[]> {
  const socket = connect(local.mllpPort, '127.0.0.1');
  await new Promise<void>((r) => socket.once('connect', () => r()));
  const acks: string[] = [];
  let buffer = Buffer.alloc(0);
  let waiting: ((ack: string) => void) | undefined;
  socket.on('data', (d: Buffer) => {
    buffer = Buffer.concat([buffer, d]);
    const end = buffer.indexOf(0x1c);
    if (end >= 0 && waiting) {
      const ack = buffer.subarray(1, end).toString('latin1');
      buffer = buffer.subarray(end + 2);
      waiting(ack);
    }
  });
  for (const p of payloads) {
    const ack = new Promise<string>((r) => (waiting = r));
    socket.write(Buffer.concat([Buffer.from([0x0b]), p, Buffer.from([0x1c, 0x0d])]));
    acks.push(await ack);
  }
  socket.end();
  return acks;
}

async function patient(ipp: string): Promise<any> {
  const { result } = await local.platform.service.search(INGEST_AUTH, 'Patient', [
    ['identifier', `${IPP_SYSTEM}|${ipp}`],
  ]);
  return result.matches[0] ? JSON.parse(result.matches[0].json) : undefined;
}

describe('MLLP to FHIR on the local platform', () => {
  it('a latin1 feed (MSH-18 8859/1) and a UTF-8 feed both give the same accented names in FHIR', async () => {
    const latin1 = pam({
      event: 'A28',
      controlId: 'L1',
      ipp: 'E2E-LAT1',
      family: 'Bérénice-Œ',
      given: 'Zoë',
      charset: '8859/1',
    });
    const utf8 = pam({ event: 'A28', controlId: 'U1', ipp: 'E2E-UTF8', family: 'Bérénice', given: 'Zoë' });
    const acks = await sendAll([Buffer.from(latin1.replace('Œ', 'E'), 'latin1'), Buffer.from(utf8, 'utf8')]);
    expect(acks.map((a) => /MSA\|(\w+)\|(\w+)/.exec(a)?.slice(1))).toEqual([
      ['AA', 'L1'],
      ['AA', 'U1'],
    ]);
    await local.worker.idle();
    expect((await patient('E2E-LAT1')).name[0]).toMatchObject({ family: 'Bérénice-E', given: ['Zoë'] });
    expect((await patient('E2E-UTF8')).name[0]).toMatchObject({ family: 'Bérénice', given: ['Zoë'] });
  });

  it('a message sent twice (sender retry after a lost ACK) is ACKed twice and applied once', async () => {
    const message = Buffer.from(pam({ event: 'A28', controlId: 'D1', ipp: 'E2E-DUP' }), 'utf8');
    const acks = await sendAll([message, message]);
    expect(acks.every((a) => a.includes('MSA|AA|D1'))).toBe(true);
    await local.worker.idle();
    expect((await patient('E2E-DUP')).meta.versionId).toBe('1');
  });

  it('an unsupported type gets AE at once; a message the worker cannot apply goes to the dead-letter queue', async () => {
    const orm = 'MSH|^~\\&|RIS|CHU|PFI|PFI|20260305103000||ORM^O01^ORM_O01|O1|P|2.5\rPID|||X1^^^CHU^PI';
    const noPatientId = 'MSH|^~\\&|GAM|CHU|PFI|PFI|20260305103000||ADT^A28^ADT_A05|P1|P|2.5\rPID|||||Nom^Prenom^^^^^L';
    const before = (await local.queue.depth('hl7-inbound')).deadLetter;
    const acks = await sendAll([Buffer.from(orm), Buffer.from(noPatientId)]);
    expect(acks[0]).toMatch(/MSA\|AE\|O1/);
    expect(acks[0]).toMatch(/ERR\|\|[^|]*\|200\^Unsupported message type/);
    expect(acks[1]).toMatch(/MSA\|AA\|P1/);
    await local.worker.idle();
    expect((await local.queue.depth('hl7-inbound')).deadLetter).toBe(before + 1);
    const [dead] = await local.queue.receive('hl7-inbound-dlq', {
      max: 1,
      visibilityTimeoutSeconds: 0,
      maxReceives: 100,
    });
    expect(dead?.lastError).toMatch(/no-patient-identifier/);
  });

  it("serves the bridge's counters in Prometheus text at /metrics, as the standalone bridge does", async () => {
    const url = `http://127.0.0.1:${local.httpPort}/metrics`;
    const count = (text: string, sample: string) => Number(new RegExp(`^${sample} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
    const before = await (await fetch(url)).text();
    await sendAll([Buffer.from(pam({ event: 'A28', controlId: 'M1', ipp: 'E2E-METRICS' }), 'utf8')]);
    const response = await fetch(url);
    expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const after = await response.text();
    expect(count(after, 'pfi_mllp_received_total') - count(before, 'pfi_mllp_received_total')).toBe(1);
    const aa = 'pfi_mllp_acks_total\\{code="AA",reason="enqueued"\\}';
    expect(count(after, aa) - count(before, aa)).toBe(1);
    expect(after).toContain('pfi_mllp_enqueue_latency_milliseconds_count');
    expect(after).not.toContain('E2E-METRICS');
  });
});
