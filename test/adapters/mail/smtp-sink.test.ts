import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SmtpSink, startSmtpSink } from '../../../lambdas/adapters/mail/smtp-sink.js';
import { createMssanteTransport, sendMail } from '../../../lambdas/mssante/smtp.js';
import { createTestPki } from '../../support/pki.js';

const MAIL = {
  from: 'pfi-bal@hopital-test.mssante.fr',
  to: ['dr.dupont@test-ci-sis.mssante.fr'],
  subject: 'XDM/1.0/DDM+Résultat de test',
  text: 'Bonjour',
  messageId: '<sink-test-1@hopital-test.mssante.fr>',
};

describe('startSmtpSink', () => {
  let dir: string;
  let sink: SmtpSink;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'pfi-sink-'));
    sink = await startSmtpSink({ dir: path.join(dir, 'mssante-outbox') });
  });
  afterAll(async () => {
    await sink.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('stores a message received over STARTTLS as an .eml file (mode 0600)', async () => {
    const transport = createMssanteTransport({
      url: `smtp://anyone:anything@127.0.0.1:${sink.port}`,
      ca: sink.caCertificate,
    });
    const outcome = await sendMail(transport, MAIL);
    expect(outcome).toMatchObject({ kind: 'sent', response: expect.stringMatching(/^250 .*\.eml/) });
    const outbox = path.join(dir, 'mssante-outbox');
    const files = await readdir(outbox);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^\d{8}T\d{9}Z-[\w-]+-1\.eml$/);
    const file = path.join(outbox, files[0]!);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(outbox)).mode & 0o777).toBe(0o700);
    const parsed = await simpleParser(await readFile(file));
    expect(parsed.subject).toBe(MAIL.subject);
    expect(parsed.messageId).toBe(MAIL.messageId);
  });

  it('works without credentials too (a local relay may need none)', async () => {
    const transport = createMssanteTransport({ url: `smtp://localhost:${sink.port}`, ca: sink.caCertificate });
    expect((await sendMail(transport, { ...MAIL, messageId: '<sink-test-2@x.mssante.fr>' })).kind).toBe('sent');
  });

  it('refuses MAIL FROM before STARTTLS', async () => {
    const clear = nodemailer.createTransport({ host: '127.0.0.1', port: sink.port, ignoreTLS: true, logger: false });
    await expect(clear.sendMail(MAIL)).rejects.toMatchObject({ responseCode: 530 });
  });

  it('survives a failed TLS handshake', async () => {
    // A client that does not trust the sink's CA aborts the handshake.
    const transport = createMssanteTransport({ url: `smtp://127.0.0.1:${sink.port}` });
    expect((await sendMail(transport, MAIL)).kind).toBe('temporary');
    const ok = createMssanteTransport({ url: `smtp://127.0.0.1:${sink.port}`, ca: sink.caCertificate });
    expect((await sendMail(ok, { ...MAIL, messageId: '<sink-test-3@x.mssante.fr>' })).kind).toBe('sent');
  });

  it('the generated certificate names localhost and 127.0.0.1, issued by the returned CA', async () => {
    for (const host of ['localhost', '127.0.0.1']) {
      const transport = createMssanteTransport({ url: `smtp://${host}:${sink.port}`, ca: sink.caCertificate });
      await expect(transport.verify()).resolves.toBe(true);
    }
  });
});

describe('startSmtpSink requiring a client certificate', () => {
  it('accepts the certified client and refuses the others', async () => {
    const pki = await createTestPki();
    const dir = await mkdtemp(path.join(tmpdir(), 'pfi-sink-mtls-'));
    const sink = await startSmtpSink({ dir, requireClientCert: { ca: pki.ca } });
    try {
      const anonymous = createMssanteTransport({ url: `smtp://127.0.0.1:${sink.port}`, ca: sink.caCertificate });
      expect((await sendMail(anonymous, MAIL)).kind).toBe('temporary');
      const certified = createMssanteTransport({
        url: `smtp://127.0.0.1:${sink.port}`,
        ca: sink.caCertificate,
        cert: pki.client.cert,
        key: pki.client.key,
      });
      expect((await sendMail(certified, MAIL)).kind).toBe('sent');
      expect(await readdir(dir)).toHaveLength(1);
    } finally {
      await sink.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
