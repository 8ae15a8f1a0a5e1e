import { unzipSync } from 'fflate';
import { type ParsedMail, simpleParser } from 'mailparser';
import type { SendMailOptions } from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCdaHeader } from '../../lambdas/mssante/cda-header.js';
import { composeMssanteMail, deterministicMessageId } from '../../lambdas/mssante/message.js';
import { createMssanteTransport, SmtpConfigError, sendMail } from '../../lambdas/mssante/smtp.js';
import { buildXdmArchive } from '../../lambdas/mssante/xdm.js';
import { createTestPki, type TestPki } from '../support/pki.js';
import { startTestSmtpServer as startServer, type TestServer } from '../support/smtp-server.js';
import { cdaFixture, TEST_INS } from './fixtures.js';

const FROM = 'pfi-bal@hopital-test.mssante.fr';
const DR_A = 'dr.dupont@test-ci-sis.mssante.fr';
const DR_B = 'dr.durand@test-ci-sis.mssante.fr';

function message(to: string[], messageKey = 'Communication/c1/1'): SendMailOptions {
  const xml = cdaFixture();
  const header = readCdaHeader(xml);
  const xdm = buildXdmArchive({
    documents: [{ xml, header }],
    submission: {
      sourceId: '1.2.250.1.999.7.1.100',
      uniqueId: '1.2.250.1.999.7.1.100.9',
      submissionTime: new Date('2026-12-02T12:46:00Z'),
      intendedRecipients: to,
    },
  });
  return composeMssanteMail({
    from: FROM,
    to,
    title: "CR d'examens biologiques",
    cda: { xml, header },
    xdmZip: xdm.zip,
    nil: 'NIL-TEST-0001',
    receiptsTo: FROM,
    messageId: deterministicMessageId(messageKey, 'hopital-test.mssante.fr'),
  });
}

describe('MSSanté SMTP submission', () => {
  let pki: TestPki;
  beforeAll(async () => {
    pki = await createTestPki();
  });

  describe('to a server requiring STARTTLS', () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startServer(pki, {
        rcpt: (a) =>
          a.startsWith('gone') ? { code: 550, message: `5.1.1 <${a}>: Recipient address rejected` } : undefined,
      });
    });
    afterAll(() => server.close());

    it('delivers over TLS 1.2+ with the MSSanté headers, the CDA and a readable IHE_XDM.ZIP', async () => {
      const transport = createMssanteTransport({
        url: `smtp://pfi:secret@127.0.0.1:${server.port}`,
        ca: pki.ca,
        servername: 'localhost',
      });
      const mail = message([DR_A]);
      const outcome = await sendMail(transport, mail);
      expect(outcome).toMatchObject({ kind: 'sent', accepted: [DR_A], rejected: [], messageId: mail.messageId });
      const got = server.received.at(-1)!;
      expect(['TLSv1.2', 'TLSv1.3']).toContain(got.tlsProtocol);
      expect(got.user).toBe('pfi'); // logged in, after STARTTLS
      const parsed: ParsedMail = await simpleParser(got.raw);
      expect(parsed.subject).toBe("XDM/1.0/DDM+CR d'examens biologiques");
      expect(parsed.messageId).toBe(mail.messageId);
      expect(parsed.headers.get('x-mss-codecda')).toBe('11502-2');
      expect(parsed.headers.get('x-mss-ins')).toBe('O');
      expect(parsed.headers.get('x-mss-nil')).toBe('NIL-TEST-0001');
      expect(JSON.stringify(parsed.headers.get('disposition-notification-to'))).toContain(FROM);
      expect(parsed.text).toContain('ci-joint');
      const names = parsed.attachments.map((a) => a.filename);
      expect(names).toEqual(['DOC0001.XML', 'IHE_XDM.ZIP']);
      const cda = parsed.attachments[0]!;
      expect(cda.contentType).toBe('text/xml');
      expect(cda.content.toString('utf8')).toBe(cdaFixture());
      const zip = unzipSync(new Uint8Array(parsed.attachments[1]!.content));
      expect(Object.keys(zip).sort()).toEqual([
        'IHE_XDM/SUBSET01/DOC0001.XML',
        'IHE_XDM/SUBSET01/METADATA.XML',
        'INDEX.HTM',
        'README.TXT',
      ]);
      expect(new TextDecoder().decode(zip['IHE_XDM/SUBSET01/DOC0001.XML'])).toBe(cdaFixture());
    });

    it('a 550 recipient is a permanent failure carrying the reply, without the address', async () => {
      const transport = createMssanteTransport({ url: `smtp://127.0.0.1:${server.port}`, ca: pki.ca });
      const gone = `gone.${TEST_INS}@patient.mssante.fr`;
      const outcome = await sendMail(transport, message([gone]));
      expect(outcome.kind).toBe('permanent');
      if (outcome.kind !== 'permanent') return;
      expect(outcome.reply).toMatch(/^550 .*Recipient address rejected/);
      expect(outcome.reply).not.toContain(TEST_INS);
      expect(outcome.accepted).toEqual([]);
      expect(outcome.rejected).toEqual([{ address: gone, reply: expect.stringMatching(/^550 /), permanent: true }]);
    });

    it('one of two recipients refused: sent, with the refused one listed', async () => {
      const transport = createMssanteTransport({ url: `smtp://127.0.0.1:${server.port}`, ca: pki.ca });
      const gone = 'gone.someone@test-ci-sis.mssante.fr';
      const outcome = await sendMail(transport, message([DR_B, gone]));
      expect(outcome).toMatchObject({
        kind: 'sent',
        accepted: [DR_B],
        rejected: [{ address: gone, permanent: true, reply: expect.stringContaining('550') }],
      });
      expect(server.received.at(-1)!.rcpt).toEqual([DR_B]);
    });

    it('refuses an untrusted server certificate (no CA given): temporary, nothing sent', async () => {
      const before = server.received.length;
      const transport = createMssanteTransport({ url: `smtp://127.0.0.1:${server.port}` });
      const outcome = await sendMail(transport, message([DR_A]));
      expect(outcome.kind).toBe('temporary');
      expect(server.received.length).toBe(before);
    });
  });

  it('a refused login is temporary (a configuration problem, not a verdict on the message)', async () => {
    const server = await startServer(pki);
    try {
      const transport = createMssanteTransport({ url: `smtp://pfi:wrong@127.0.0.1:${server.port}`, ca: pki.ca });
      const outcome = await sendMail(transport, message([DR_A]));
      expect(outcome).toMatchObject({ kind: 'temporary', reply: expect.stringContaining('EAUTH') });
      if (outcome.kind === 'temporary') expect(outcome.reply).not.toContain('wrong');
    } finally {
      await server.close();
    }
  });

  it('a 451 is a temporary failure', async () => {
    const server = await startServer(pki, { rcpt: () => ({ code: 451, message: '4.3.0 Try again later' }) });
    try {
      const transport = createMssanteTransport({ url: `smtp://127.0.0.1:${server.port}`, ca: pki.ca });
      const outcome = await sendMail(transport, message([DR_A]));
      expect(outcome).toMatchObject({ kind: 'temporary', reply: expect.stringContaining('451') });
    } finally {
      await server.close();
    }
  });

  it('a 554 on the message data is a permanent failure', async () => {
    const server = await startServer(pki, { data: () => ({ code: 554, message: '5.6.0 Content refused' }) });
    try {
      const transport = createMssanteTransport({ url: `smtp://127.0.0.1:${server.port}`, ca: pki.ca });
      const outcome = await sendMail(transport, message([DR_A]));
      expect(outcome).toMatchObject({ kind: 'permanent', reply: expect.stringContaining('554'), accepted: [] });
    } finally {
      await server.close();
    }
  });

  it('never sends in clear to a server without STARTTLS', async () => {
    const server = await startServer(pki, { noStartTls: true });
    try {
      const transport = createMssanteTransport({ url: `smtp://127.0.0.1:${server.port}`, ca: pki.ca });
      const outcome = await sendMail(transport, message([DR_A]));
      expect(outcome.kind).toBe('temporary');
      expect(server.mailFromCalls).toBe(0);
      expect(server.received).toEqual([]);
    } finally {
      await server.close();
    }
  });

  describe('to a server requiring a client certificate', () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startServer(pki, { requireClientCert: true });
    });
    afterAll(() => server.close());

    it('fails without the certificate (temporary: a TLS failure), and the server survives it', async () => {
      const transport = createMssanteTransport({ url: `smtp://127.0.0.1:${server.port}`, ca: pki.ca });
      const outcome = await sendMail(transport, message([DR_A]));
      expect(outcome.kind).toBe('temporary');
      expect(server.received).toEqual([]);
      expect(server.errors.length).toBeGreaterThan(0);
    });

    it('delivers with the BAL applicative certificate', async () => {
      const transport = createMssanteTransport({
        url: `smtp://127.0.0.1:${server.port}`,
        ca: pki.ca,
        cert: pki.client.cert,
        key: pki.client.key,
      });
      const outcome = await sendMail(transport, message([DR_A]));
      expect(outcome.kind).toBe('sent');
      expect(server.received.at(-1)!.clientCn).toBe('pfi-bal-applicative.test');
    });
  });

  it('rejects bad transport settings without echoing the URL', () => {
    expect(() => createMssanteTransport({ url: 'http://user:hunter2@relay:25' })).toThrow(SmtpConfigError);
    expect(() => createMssanteTransport({ url: 'smtp://relay:25', cert: 'x' })).toThrow(SmtpConfigError);
    try {
      createMssanteTransport({ url: 'http://user:hunter2@relay:25' });
    } catch (e) {
      expect((e as Error).message).not.toContain('hunter2');
    }
  });
});
