/**
 * The operator's opt-in to message content in the logs (PFI_MLLP_LOG_CONTENT=refused) on the local platform: a
 * warning at start, the refused message with its ACK, nothing of the accepted one.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { loadConfig } from '../../lambdas/config.js';
import { CONTENT_LOG_WARNING } from '../../mllp-bridge/src/content-log.js';
import { type LocalPlatform, startLocalPlatform } from '../../scripts/local-platform.js';
import { sendMllp } from '../support/mllp-client.js';
import { pam } from '../support/pam.js';

let dir: string;
let local: LocalPlatform;
const captured: string[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pfi-content-log-'));
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
    PFI_MLLP_LOG_CONTENT: 'refused',
  });
  local = await startLocalPlatform(config, { logger: new Logger({ serviceName: 'pfi-test', logLevel: 'INFO' }) });
});
afterAll(async () => {
  await local?.stop();
  vi.restoreAllMocks();
  await rm(dir, { recursive: true, force: true });
});

it('logs the content of a refused message with its ACK after a start-up warning, and nothing of an accepted one', async () => {
  expect(() => loadConfig({ PFI_MLLP_LOG_CONTENT: 'some' })).toThrow(/PFI_MLLP_LOG_CONTENT/);
  const accepted = pam({ event: 'A28', controlId: 'C-AA', ipp: 'C-IPP-1', family: 'Acceptée', given: 'Zoë' });
  expect(await sendMllp(local.mllpPort, accepted)).toContain('MSA|AA|C-AA');
  const refused =
    'MSH|^~\\&|RIS|CHU|PFI|PFI|20260305103000||ORM^O01^ORM_O01|C-AE|P|2.5\rPID|||C-IPP-2^^^CHU^PI||Refusée^Léa';
  expect(await sendMllp(local.mllpPort, refused)).toContain('MSA|AE|C-AE');
  const lines = captured.flatMap((c) => c.split('\n')).filter((l) => l.startsWith('{'));
  const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(parsed.find((l) => l['message'] === CONTENT_LOG_WARNING)).toMatchObject({ level: 'WARN', mode: 'refused' });
  const content = parsed.filter((l) => l['message'] === 'hl7 message content');
  expect(content).toHaveLength(1);
  expect(content[0]).toMatchObject({ code: 'AE', reason: 'unsupported-message', hl7: refused });
  expect(String(content[0]?.['ack'])).toContain('MSA|AE|C-AE');
  expect(lines.join('\n')).not.toContain('Accept');
});
