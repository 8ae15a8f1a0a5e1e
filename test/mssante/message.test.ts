import { simpleParser } from 'mailparser';
import nodemailer from 'nodemailer';
import { describe, expect, it } from 'vitest';
import { readCdaHeader } from '../../lambdas/mssante/cda-header.js';
import {
  bracketMessageId,
  composeMssanteMail,
  deterministicMessageId,
  type MssanteMailInput,
} from '../../lambdas/mssante/message.js';
import { cdaFixture } from './fixtures.js';

function input(extra: Partial<MssanteMailInput> = {}, xml = cdaFixture()): MssanteMailInput {
  return {
    from: 'pfi-bal@hopital-test.mssante.fr',
    to: ['dr.dupont@test-ci-sis.mssante.fr'],
    title: "CR d'examens biologiques",
    cda: { xml, header: readCdaHeader(xml) },
    xdmZip: new Uint8Array([0x50, 0x4b, 0x05, 0x06, ...new Array(18).fill(0)]),
    nil: 'NIL-TEST-0001',
    messageId: 'abc123@hopital-test.mssante.fr',
    date: new Date('2026-12-02T12:46:00Z'),
    ...extra,
  };
}

/** The message as it would go on the wire. */
async function render(mail: ReturnType<typeof composeMssanteMail>) {
  const transport = nodemailer.createTransport({ streamTransport: true, buffer: true });
  const info = await transport.sendMail(mail);
  return simpleParser(info.message as Buffer);
}

describe('composeMssanteMail', () => {
  it('sets the ANS subject, the X-MSS headers, the receipt request and both attachments', async () => {
    const parsed = await render(composeMssanteMail(input({ receiptsTo: 'accuses@hopital-test.mssante.fr' })));
    expect(parsed.subject).toBe("XDM/1.0/DDM+CR d'examens biologiques");
    expect(parsed.messageId).toBe('<abc123@hopital-test.mssante.fr>');
    expect(parsed.headers.get('x-mss-codecda')).toBe('11502-2');
    expect(parsed.headers.get('x-mss-ins')).toBe('O');
    expect(parsed.headers.get('x-mss-nil')).toBe('NIL-TEST-0001');
    expect(JSON.stringify(parsed.headers.get('disposition-notification-to'))).toContain(
      'accuses@hopital-test.mssante.fr',
    );
    expect(parsed.attachments.map((a) => [a.filename, a.contentType])).toEqual([
      ['DOC0001.XML', 'text/xml'],
      ['IHE_XDM.ZIP', 'application/zip'],
    ]);
    expect(parsed.text).toContain('IHE_XDM.ZIP');
  });

  it('says N without a qualified INS, and asks no receipt unless configured', async () => {
    const parsed = await render(composeMssanteMail(input({}, cdaFixture({ ins: false }))));
    expect(parsed.headers.get('x-mss-ins')).toBe('N');
    expect(parsed.headers.has('disposition-notification-to')).toBe(false);
  });

  it('keeps header values on one line (no header injection through the title)', async () => {
    const parsed = await render(composeMssanteMail(input({ title: 'CR\r\nBcc: attacker@example.org' })));
    expect(parsed.headers.has('bcc')).toBe(false);
    expect(parsed.subject).toBe('XDM/1.0/DDM+CR Bcc: attacker@example.org');
  });

  it('uses the given Message-ID, and derives stable ones', () => {
    expect(bracketMessageId('<x@y.fr>')).toBe('<x@y.fr>');
    expect(() => bracketMessageId('not an id')).toThrow(TypeError);
    const a = deterministicMessageId('Communication/c1/1', 'hopital-test.mssante.fr');
    expect(a).toBe(deterministicMessageId('Communication/c1/1', 'hopital-test.mssante.fr'));
    expect(a).not.toBe(deterministicMessageId('Communication/c2/1', 'hopital-test.mssante.fr'));
    expect(a).toMatch(/^<[0-9a-f]{32}@hopital-test\.mssante\.fr>$/);
  });
});
