/**
 * MSSanté submission against a misbehaving relay (the chaos harness relay, real STARTTLS): what the worker is told
 * when the relay is down, slow, trickling, shedding load, or loses its reply to a message it took.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createMssanteTransport, type MssanteTransport, sendMail } from '../../lambdas/mssante/smtp.js';
import { type ChaosRelay, startChaosRelay } from '../../scripts/chaos/smtp-relay.js';

let dir: string;
let relay: ChaosRelay;
/** Default timeouts (30 s inactivity, 90 s deadline). */
let transport: MssanteTransport;
/** Short timeouts (0.5 s inactivity, 1.5 s deadline) for the slow relays. */
let impatient: MssanteTransport;
let n = 0;

const mail = (to: string) => ({
  from: 'pfi@hopital-test.mssante.fr',
  to: [to],
  subject: 'XDM/1.0/DDM+test',
  text: 'x',
  messageId: `<pfi.test-${++n}.1.${Date.now()}@hopital-test.mssante.fr>`,
});

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pfi-smtp-faults-'));
  relay = await startChaosRelay({ dir, slowMs: 3_000, trickleMs: 100, lateMs: 3_000 });
  const ca = await readFile(relay.caFile);
  transport = createMssanteTransport({ url: `smtp://127.0.0.1:${relay.port}`, ca });
  impatient = createMssanteTransport({
    url: `smtp://127.0.0.1:${relay.port}`,
    ca,
    timeoutMs: 500,
    sendTimeoutMs: 1_500,
  });
});
afterEach(async () => {
  await relay.setMode('up');
});
afterAll(async () => {
  transport?.close();
  impatient?.close();
  await relay?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('MSSanté submission to a faulty relay', () => {
  it('delivers once the relay is up (the harness relay is a real STARTTLS relay)', async () => {
    const m = mail('dr.a@test-ci-sis.mssante.fr');
    const outcome = await sendMail(transport, m);
    expect(outcome.kind).toBe('sent');
    expect(relay.received.at(-1)).toMatchObject({ messageId: m.messageId, unconfirmed: false });
  });

  it.each([
    ['down', /ECONNECTION|ECONNREFUSED/],
    ['slow', /ETIMEDOUT/],
    ['greet-421', /421/],
    ['rcpt-451', /451/],
    ['data-451', /451/],
  ] as const)('relay %s: temporary, nothing received', async (mode, reply) => {
    await relay.setMode(mode);
    const before = relay.received.length;
    const outcome = await sendMail(mode === 'slow' ? impatient : transport, mail('dr.b@test-ci-sis.mssante.fr'));
    expect(outcome.kind).toBe('temporary');
    expect(outcome.kind === 'temporary' && outcome.reply).toMatch(reply);
    expect(relay.received).toHaveLength(before);
  });

  it('a relay trickling its EHLO reply never trips an inactivity timeout: temporary once the send deadline passes', async () => {
    await relay.setMode('trickle');
    const outcome = await sendMail(impatient, mail('dr.c@test-ci-sis.mssante.fr'));
    expect(outcome.kind).toBe('temporary');
    expect(outcome.kind === 'temporary' && outcome.reply).toMatch(/EABORT|abort/i);
  });

  it('the connection cut after the whole message, before the 250: unknown (the relay has it), not temporary', async () => {
    const before = relay.received.length;
    const m = mail('drop-1@test-ci-sis.mssante.fr');
    const outcome = await sendMail(transport, m);
    expect(outcome.kind).toBe('unknown');
    expect(relay.received).toHaveLength(before + 1);
    expect(relay.received.at(-1)).toMatchObject({ messageId: m.messageId, unconfirmed: true });
  });

  it('the 250 arriving after the client gave up: unknown, not temporary', async () => {
    const outcome = await sendMail(impatient, mail('late-1@test-ci-sis.mssante.fr'));
    expect(outcome.kind).toBe('unknown');
    expect(outcome.kind === 'unknown' && outcome.reply).toMatch(/ETIMEDOUT/);
  });

  it('a 550 for one of two recipients: sent to the other, the refusal listed, the address redacted', async () => {
    const outcome = await sendMail(transport, {
      ...mail('dr.d@test-ci-sis.mssante.fr'),
      to: ['dr.d@test-ci-sis.mssante.fr', 'refuse-1@test-ci-sis.mssante.fr'],
    });
    expect(outcome.kind).toBe('sent');
    if (outcome.kind !== 'sent') return;
    expect(outcome.accepted).toEqual(['dr.d@test-ci-sis.mssante.fr']);
    expect(outcome.rejected).toMatchObject([{ permanent: true }]);
    expect(outcome.rejected[0]!.reply).toMatch(/^550/);
    expect(outcome.rejected[0]!.reply).not.toContain('refuse-1@');
  });
});
