/**
 * The operator's opt-in to message content in the logs (PFI_MLLP_LOG_CONTENT=refused) on the local platform: a
 * warning at start, the refused message with its ACK, nothing of the accepted one.
 */
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { loadConfig } from '../../lambdas/config.js';
import { CONTENT_LOG_WARNING } from '../../mllp-bridge/src/content-log.js';
import { captureProcessOutput } from '../support/captured-output.js';
import { startTestLocalPlatform } from '../support/local-platform.js';
import { sendMllp } from '../support/mllp-client.js';
import { pam } from '../support/pam.js';

let local: Awaited<ReturnType<typeof startTestLocalPlatform>>;
let captured: string[] = [];

beforeAll(async () => {
  captured = captureProcessOutput();
  local = await startTestLocalPlatform({ env: { PFI_MLLP_LOG_CONTENT: 'refused' }, logLevel: 'INFO' });
});
afterAll(async () => {
  await local?.dispose();
  vi.restoreAllMocks();
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
