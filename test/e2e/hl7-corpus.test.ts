/**
 * Acceptance over the public HL7 corpus (../shared/corpus/hl7v2, absent on a user's fresh clone: skipped with a
 * message): every message gets an ACK for its own control id; the French ADT, ORU and MDM samples are accepted (AA)
 * and mapped (their Provenance exists: the worker applied them); other types may be refused with the reason.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INGEST_AUTH } from '../../lambdas/hl7/apply/context.js';
import { startTestLocalPlatform } from '../support/local-platform.js';

const CORPUS = join(import.meta.dirname, '../../../shared/corpus/hl7v2');
const present = existsSync(CORPUS);
if (!present) console.warn(`HL7 corpus acceptance skipped: ${CORPUS} not found (it sits beside the project in CI)`);

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.hl7') ? [join(dir, e.name)] : [],
  );
}

/** Sends one framed message and resolves with the ACK text. */
function exchange(port: number, payload: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () =>
      socket.write(Buffer.concat([Buffer.from([0x0b]), payload, Buffer.from([0x1c, 0x0d])])),
    );
    let data = Buffer.alloc(0);
    socket.on('data', (d: Buffer) => {
      data = Buffer.concat([data, d]);
      const end = data.indexOf(0x1c);
      if (end >= 0) {
        socket.end();
        resolve(data.subarray(1, end).toString('utf8'));
      }
    });
    socket.on('error', reject);
  });
}

const segment = (text: string, name: string) => text.split(/\r\n|\r|\n/).find((s) => s.startsWith(`${name}|`)) ?? '';
const field = (seg: string, n: number) => seg.split('|')[n] ?? '';
/** MSH-n with HL7 numbering (MSH-1 is the field separator). */
const mshField = (text: string, n: number) => field(segment(text, 'MSH'), n - 1);

describe.skipIf(!present)('HL7 corpus acceptance over MLLP', () => {
  let local: Awaited<ReturnType<typeof startTestLocalPlatform>>;

  beforeAll(async () => {
    local = await startTestLocalPlatform();
  });

  afterAll(async () => {
    await local?.dispose();
  });

  it('ACKs every message with its own control id; accepts and maps every French ADT, ORU and MDM sample', async () => {
    const counts = { messages: 0, AA: 0, AE: 0, AR: 0, frenchClinical: 0, frenchMapped: 0, deadLetters: 0 };
    const refused: string[] = [];
    const french: { name: string; sha: string }[] = [];
    for (const file of files(CORPUS).sort()) {
      const bytes = readFileSync(file);
      const text = bytes.toString('utf8');
      const name = relative(CORPUS, file);
      const ack = await exchange(local.mllpPort, bytes);
      counts.messages++;
      const msa = segment(ack, 'MSA');
      const code = field(msa, 1) as 'AA' | 'AE' | 'AR';
      counts[code]++;
      expect(field(msa, 2), name).toBe(mshField(text, 10));
      const type = mshField(text, 9).split('^')[0];
      if (code !== 'AA') refused.push(`${name}: ${code} ${field(segment(ack, 'ERR'), 3)}`);
      if (name.startsWith('fr/') && ['ADT', 'ORU', 'MDM'].includes(type ?? '')) {
        counts.frenchClinical++;
        expect(code, name).toBe('AA');
        french.push({ name, sha: createHash('sha256').update(text, 'utf8').digest('hex') });
      } else if (code !== 'AA') {
        expect(['ORM', 'OMI', 'OML', 'ZAM', 'ACK', 'SIU', 'MDM'], name).toContain(type);
      }
    }
    await local.worker.idle();
    for (const f of french) {
      const r = await local.platform.service
        .read(INGEST_AUTH, 'Provenance', `hl7-${f.sha.slice(0, 40)}`)
        .catch(() => undefined);
      expect(r?.status, `${f.name} was not applied`).toBe(200);
      counts.frenchMapped++;
    }
    counts.deadLetters = (await local.queue.depth('hl7-inbound')).deadLetter;
    console.log(`HL7 corpus: ${JSON.stringify(counts)}\nrefused at the bridge:\n  ${refused.join('\n  ')}`);
    expect(counts.frenchMapped).toBe(counts.frenchClinical);
    expect(counts.frenchClinical).toBeGreaterThanOrEqual(20);
  });
});
