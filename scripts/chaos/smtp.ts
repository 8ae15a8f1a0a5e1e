/**
 * `npm run chaos -- smtp`: the MSSanté path against a relay that misbehaves (scripts/chaos/smtp-relay.ts). Through the
 * FHIR API of the platform (child process, PFI_SMTP_URL → the harness relay, its CA in PFI_SMTP_CA_FILE): a lab report
 * over MLLP becomes a CR-BIO document, then Communications sending it are created while the relay is down, slow,
 * trickling, answering 421, deferring recipients (451) or messages (451 after DATA); then the relay comes back.
 *
 * Verdict: every Communication to a reachable mailbox ends `completed`, its message received by the relay exactly once
 * (counted by Message-ID, the one the Communication carries); a Communication with a refused recipient (550) ends
 * `stopped` (another recipient got it) or `not-done`, the reply in statusReason without the address, and no RCPT is
 * tried again after; a message the relay took in full but whose 250 never reached the platform (connection cut, or
 * answered after the client's timeout) ends `unknown` with its Message-ID and is never sent again; nothing is
 * dead-lettered. The full form runs each fault alone with 50 Communications, then all of them in a row; the short form
 * (CI) only the row, with 10.
 *
 * The platform runs with short retries (PFI_MSSANTE_RETRY_BASE_SECONDS=1, …MAX=2), short SMTP timeouts
 * (PFI_SMTP_TIMEOUT_SECONDS=2, PFI_SMTP_SEND_TIMEOUT_SECONDS=4) and enough attempts (PFI_DOCUMENTS_MAX_RECEIVES=60) to
 * outlast the faults.
 */

import { join } from 'node:path';
import { EMAIL_TYPE_EXTENSION } from '../../lambdas/mssante/telecom.js';
import { labReportOru } from '../../test/support/documents.js';
import { sendMllp } from '../../test/support/mllp-client.js';
import { scratchDatabase } from '../scratch-database.js';
import { type PlatformProcess, platformProcess } from './platform-process.js';
import { type Backend, type ChaosContext, mib, type Scenario, verdictOf } from './scenario.js';
import { type ChaosRelay, type RelayMode, startChaosRelay } from './smtp-relay.js';

const MESSAGE_ID_SYSTEM = 'urn:ietf:rfc:5322';
const DOMAIN = 'test-ci-sis.mssante.fr';
const FAULTS: readonly RelayMode[] = ['down', 'slow', 'trickle', 'greet-421', 'rcpt-451', 'data-451'];
const FINAL = new Set(['completed', 'stopped', 'not-done', 'unknown', 'entered-in-error']);

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface CommunicationState {
  id: string;
  status: string;
  reason: string | undefined;
  messageId: string | undefined;
}

/** What a Communication of the run is expected to become. */
type Expectation = 'completed' | 'stopped' | 'not-done' | 'unknown';

interface Sent {
  id: string;
  expect: Expectation;
  /** Addresses refused with a 550 (their RCPT must not come again once the Communication is final). */
  refused: string[];
}

type Api = (path: string, init?: RequestInit) => Promise<Response>;

async function fhirApi(platform: PlatformProcess): Promise<Api> {
  const token = await platform.token('system/*.cruds');
  return (path, init = {}) =>
    fetch(`${platform.fhirBaseUrl}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json', ...(init.headers ?? {}) },
      signal: AbortSignal.timeout(30_000),
    });
}

async function json<T>(res: Response, what: string): Promise<T> {
  if (!res.ok) throw new Error(`${what}: HTTP ${res.status} ${(await res.text()).slice(0, 300)}`);
  return (await res.json()) as T;
}

async function poll<T>(what: string, ms: number, fn: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out (${ms / 1000} s) waiting for ${what}`);
    await sleep(250);
  }
}

/** The platform's fixtures: a CR-BIO document (ORU over MLLP) and practitioners with MSSanté mailboxes. */
async function fixtures(platform: PlatformProcess, api: Api) {
  const ack = await sendMllp(
    platform.mllpPort,
    labReportOru({ ipp: 'CHAOS-SMTP-1', filler: 'CHAOS-SMTP-F1', control: 'CHAOS-SMTP-ORU-1' }),
  );
  if (!ack.includes('MSA|AA|')) throw new Error('the lab report was not accepted (no AA)');
  const document = await poll('the CR-BIO DocumentReference', 60_000, async () => {
    const bundle = await json<{ entry?: { resource: { id: string; subject: unknown } }[] }>(
      await api('/DocumentReference?type=http://loinc.org|11502-2'),
      'DocumentReference search',
    );
    return bundle.entry?.[0]?.resource;
  });
  const practitioners = new Map<string, string>();
  const practitioner = async (address: string): Promise<string> => {
    const known = practitioners.get(address);
    if (known) return known;
    const created = await json<{ id: string }>(
      await api('/Practitioner', {
        method: 'POST',
        body: JSON.stringify({
          resourceType: 'Practitioner',
          name: [{ family: 'Chaos', given: [address.split('@')[0]] }],
          telecom: [
            {
              system: 'email',
              value: address,
              extension: [{ url: EMAIL_TYPE_EXTENSION, valueCoding: { code: 'MSSANTE' } }],
            },
          ],
        }),
      }),
      'Practitioner create',
    );
    const ref = `Practitioner/${created.id}`;
    practitioners.set(address, ref);
    return ref;
  };
  return { document, practitioner };
}

async function communicationStates(api: Api): Promise<Map<string, CommunicationState>> {
  const states = new Map<string, CommunicationState>();
  let next: string | undefined = '/Communication?_count=1000&_elements=status,statusReason,identifier';
  while (next) {
    const bundle: {
      entry?: { resource: Record<string, unknown> }[];
      link?: { relation: string; url: string }[];
    } = await json(await api(next), 'Communication search');
    for (const { resource: c } of bundle.entry ?? []) {
      const identifiers = (c['identifier'] as { system?: string; value?: string }[] | undefined) ?? [];
      states.set(String(c['id']), {
        id: String(c['id']),
        status: String(c['status']),
        reason: (c['statusReason'] as { text?: string } | undefined)?.text,
        messageId: identifiers.find((i) => i.system === MESSAGE_ID_SYSTEM)?.value,
      });
    }
    const url = bundle.link?.find((l) => l.relation === 'next')?.url;
    next = url ? url.slice(url.indexOf('/Communication')) : undefined;
  }
  return states;
}

const failedAttempts = (platform: PlatformProcess) =>
  platform.logLines().filter((l) => l['message'] === 'document job failed' && l['queue'] === 'mssante').length;

async function runOn(ctx: ChaosContext, backend: Backend) {
  const v = verdictOf('smtp', backend);
  const n = ctx.short ? 10 : 50;
  const specials = ctx.short ? 2 : 5;
  const relay: ChaosRelay = await startChaosRelay({ dir: ctx.workDir, slowMs: 6_000, trickleMs: 300, lateMs: 6_000 });
  const db = backend === 'pg' ? await scratchDatabase(ctx.pgUrl, 'pfi_chaos') : undefined;
  let platform: PlatformProcess | undefined;
  let maxRss = 0;
  try {
    platform = await platformProcess({
      dataDir: join(ctx.workDir, 'data'),
      ...(db ? { databaseUrl: db.url } : {}),
      env: {
        PFI_SMTP_URL: `smtp://127.0.0.1:${relay.port}`,
        PFI_SMTP_CA_FILE: relay.caFile,
        PFI_SMTP_TIMEOUT_SECONDS: '2',
        PFI_SMTP_SEND_TIMEOUT_SECONDS: '4',
        PFI_MSSANTE_RETRY_BASE_SECONDS: '1',
        PFI_MSSANTE_RETRY_MAX_SECONDS: '2',
        PFI_DOCUMENTS_MAX_RECEIVES: '60',
      },
    });
    const p = platform;
    const started = Date.now();
    await p.start();
    ctx.log(`platform up in ${((Date.now() - started) / 1000).toFixed(1)} s, relay on 127.0.0.1:${relay.port}`);
    const api = await fhirApi(p);
    const { document, practitioner } = await fixtures(p, api);
    const ok = await practitioner(`dr.chaos@${DOMAIN}`);
    let serial = 0;

    const post = async (recipients: string[], expect: Expectation, refused: string[] = []): Promise<Sent> => {
      const created = await json<{ id: string }>(
        await api('/Communication', {
          method: 'POST',
          body: JSON.stringify({
            resourceType: 'Communication',
            status: 'preparation',
            subject: document.subject,
            recipient: recipients.map((reference) => ({ reference })),
            payload: [{ contentReference: { reference: `DocumentReference/${document.id}` } }],
          }),
        }),
        'Communication create',
      );
      return { id: created.id, expect, refused };
    };
    const postMany = async (count: number) => {
      const out: Sent[] = [];
      for (let i = 0; i < count; i += 10) {
        const batch = Array.from({ length: Math.min(10, count - i) }, () => post([ok], 'completed'));
        out.push(...(await Promise.all(batch)));
      }
      return out;
    };
    const postSpecials = async () => {
      const out: Sent[] = [];
      for (let i = 0; i < specials; i++) {
        const k = ++serial;
        const partial = `refuse-p${k}@${DOMAIN}`;
        const only = `refuse-o${k}@${DOMAIN}`;
        out.push(await post([ok, await practitioner(partial)], 'stopped', [partial]));
        out.push(await post([await practitioner(only)], 'not-done', [only]));
        out.push(await post([await practitioner(`drop-${k}@${DOMAIN}`)], 'unknown'));
        out.push(await post([await practitioner(`late-${k}@${DOMAIN}`)], 'unknown'));
      }
      return out;
    };

    /** Walks the relay through `modes` (each until it met the platform), then brings it back and judges. */
    const phase = async (label: string, modes: readonly RelayMode[], count: number, withSpecials: boolean) => {
      const phaseStart = Date.now();
      const failedBefore = failedAttempts(p);
      const metBefore = new Map(relay.connections);
      await relay.setMode(modes[0]!);
      const sent = [...(await postMany(count)), ...(withSpecials ? await postSpecials() : [])];
      const t = () => `${((Date.now() - phaseStart) / 1000).toFixed(1)} s`;
      ctx.log(`${label}: ${sent.length} Communications created with the relay ${modes[0]} (${t()})`);
      for (const mode of modes) {
        await relay.setMode(mode);
        const since = mode === 'down' ? failedAttempts(p) : (relay.connections.get(mode) ?? 0);
        // The short form: until the platform met the fault twice (at most 8 s). The full form: until every
        // Communication could have met it (as many attempts as Communications, at most 20 s).
        const want = ctx.short ? Math.min(2, sent.length) : sent.length;
        const modeStart = Date.now();
        while (Date.now() - modeStart < (ctx.short ? 8_000 : 20_000)) {
          const met = mode === 'down' ? failedAttempts(p) - since : (relay.connections.get(mode) ?? 0) - since;
          if (met >= want) break;
          await sleep(100);
        }
        maxRss = Math.max(maxRss, p.rss() ?? 0);
        ctx.log(`${label}: relay ${mode} until ${t()}`);
      }
      await relay.setMode('up');
      const upAt = Date.now();
      const ids = new Set(sent.map((s) => s.id));
      const settleMs = ctx.short ? 60_000 : 180_000;
      let states = await poll(`the ${label} Communications to be final`, settleMs, async () => {
        const all = await communicationStates(api);
        return [...ids].every((id) => FINAL.has(all.get(id)?.status ?? '')) ? all : undefined;
      }).catch(() => undefined);
      const settledSeconds = (Date.now() - upAt) / 1000;
      ctx.log(`${label}: relay up, every Communication final at ${t()}`);
      v.check(
        states !== undefined,
        `${label}: Communications still to send ${settleMs / 1000} s after the relay came back`,
      );
      const rcptAtEnd = new Map(relay.rcptCalls);
      const receivedAtEnd = relay.received.length;
      // Past the longest retry delay and the late 250s: nothing may come again.
      await sleep(ctx.short ? 2_500 : 7_000);
      states = await communicationStates(api);

      const byId = new Map<string, string[]>();
      for (const m of relay.received) {
        const id = /^<pfi\.([A-Za-z0-9-]+)\./.exec(m.messageId ?? '')?.[1];
        if (id && ids.has(id)) byId.set(id, [...(byId.get(id) ?? []), m.messageId!]);
      }
      const tally: Record<string, number> = { completed: 0, stopped: 0, 'not-done': 0, unknown: 0, other: 0 };
      let wrong = 0;
      let duplicates = 0;
      let missing = 0;
      let idMismatch = 0;
      let leakedAddress = 0;
      let noReason = 0;
      for (const s of sent) {
        const state = states.get(s.id);
        const status = state?.status ?? 'absent';
        tally[status in tally ? status : 'other']!++;
        if (status !== s.expect) {
          wrong++;
          if (wrong <= 5)
            v.note(`${label}: Communication/${s.id} is ${status}, expected ${s.expect}: ${state?.reason ?? ''}`);
        }
        const got = byId.get(s.id) ?? [];
        const expectedCopies = s.expect === 'not-done' ? 0 : 1;
        if (got.length > expectedCopies) duplicates += got.length - expectedCopies;
        if (got.length < expectedCopies) missing++;
        if (got.length === 1 && state?.messageId !== got[0]) idMismatch++;
        if (s.expect !== 'completed' && !state?.reason) noReason++;
        if (state?.reason && /@/.test(state.reason.replace(/<pfi\.[^>]*>/g, ''))) leakedAddress++;
      }
      let rcptAgain = 0;
      let refusedNever = 0;
      for (const address of sent.flatMap((s) => s.refused)) {
        if ((relay.rcptCalls.get(address) ?? 0) !== (rcptAtEnd.get(address) ?? 0)) rcptAgain++;
        if ((rcptAtEnd.get(address) ?? 0) === 0) refusedNever++;
      }
      const met = FAULTS.filter((m) => modes.includes(m))
        .map((m) => `${m} ${m === 'down' ? '' : (relay.connections.get(m) ?? 0) - (metBefore.get(m) ?? 0)}`.trim())
        .join(', ');
      v.figure(`${label}: Communications`, sent.length);
      v.figure(
        `${label}: completed / stopped / not-done / unknown`,
        `${tally['completed']} / ${tally['stopped']} / ${tally['not-done']} / ${tally['unknown']}` +
          (tally['other'] ? ` (+${tally['other']} not final)` : ''),
      );
      v.figure(`${label}: failed attempts (retried)`, failedAttempts(p) - failedBefore);
      v.figure(`${label}: relay connections per fault`, met);
      v.figure(`${label}: final after the relay came back (s)`, settledSeconds.toFixed(1));
      v.figure(`${label}: phase seconds`, ((Date.now() - phaseStart) / 1000).toFixed(1));
      v.check(wrong === 0, `${label}: ${wrong} Communication(s) did not end as expected`);
      v.check(duplicates === 0, `${label}: ${duplicates} duplicate message(s) at the relay`);
      v.check(missing === 0, `${label}: ${missing} message(s) never received by the relay`);
      v.check(idMismatch === 0, `${label}: ${idMismatch} Communication(s) whose Message-ID is not the one received`);
      v.check(noReason === 0, `${label}: ${noReason} Communication(s) not completed without a statusReason`);
      v.check(leakedAddress === 0, `${label}: ${leakedAddress} statusReason(s) quoting an e-mail address`);
      v.check(rcptAgain === 0, `${label}: ${rcptAgain} refused address(es) tried again after the final status`);
      v.check(refusedNever === 0, `${label}: ${refusedNever} refused address(es) never tried`);
      v.check(
        relay.received.length === receivedAtEnd,
        `${label}: ${relay.received.length - receivedAtEnd} message(s) received after every Communication was final`,
      );
      if (modes.includes('down')) v.check(failedAttempts(p) > failedBefore, `${label}: no attempt met the relay down`);
      for (const m of modes.filter((x) => x !== 'down')) {
        v.check(
          (relay.connections.get(m) ?? 0) > (metBefore.get(m) ?? 0),
          `${label}: the platform never met the relay "${m}"`,
        );
      }
    };

    if (!ctx.short) {
      for (const fault of FAULTS) await phase(fault, [fault], n, false);
    }
    await phase(ctx.short ? 'faults in a row' : 'all faults in a row', FAULTS, n, true);

    const health = await p.health();
    const q = health?.details?.queues?.['mssante'];
    v.figure(
      'mssante queue (visible / in flight / dead letters)',
      q ? `${q.visible} / ${q.inFlight} / ${q.deadLetter}` : 'n/a',
    );
    v.check(q !== undefined && q.deadLetter === 0, `${q?.deadLetter ?? '?'} MSSanté job(s) dead-lettered`);
    v.check(q !== undefined && q.visible + q.inFlight === 0, 'MSSanté jobs still queued at the end');
    v.figure('messages received by the relay', relay.received.length);
    v.figure('max RSS', mib(maxRss || undefined));
    v.note(
      'settings: PFI_SMTP_TIMEOUT_SECONDS=2, PFI_SMTP_SEND_TIMEOUT_SECONDS=4, PFI_MSSANTE_RETRY_BASE_SECONDS=1, ' +
        'PFI_MSSANTE_RETRY_MAX_SECONDS=2, PFI_DOCUMENTS_MAX_RECEIVES=60',
    );
  } finally {
    // A short grace: the process has nothing left to finish once every Communication is final.
    await platform?.stop(5_000).catch(() => undefined);
    await relay.close().catch(() => undefined);
    await db?.drop().catch(() => undefined);
  }
  return v.verdict();
}

export const smtpFaults: Scenario = {
  name: 'smtp',
  summary: 'MSSanté relay down, slow, trickling, 421/451, 550, cut after DATA: final statuses, each message once',
  backends: ['embedded', 'pg'],
  run: runOn,
};
