/**
 * `fhir-abuse`: many FHIR clients at once doing what real clients race on. 200 closed-loop clients (short form 40) for
 * 60 s (10 s) mix reads, searches, conditional creates (`If-None-Exist`) on a small shared set of business identifiers,
 * transaction Bundles whose entries are conditional creates of the same identifiers, and read–increment–`If-Match` PUT
 * loops on a few shared counter Observations (retrying on 412).
 *
 * Verdict: no 5xx and no unanswered request; exactly one resource per identifier raced on, created once (one 201 over
 * the whole run); every transaction applied whole (its plain-create Observation exists exactly once per committed
 * Bundle); no lost update (each counter's final value and version are the number of PUTs answered 2xx); the platform
 * process alive and healthy at the end.
 */

import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { IPP_SYSTEM, seededPatient } from '../bench/french-data.js';
import { type ScratchDatabase, scratchDatabase } from '../scratch-database.js';
import { type FhirClient, fhirClient, formatStatuses, jsonOf, Tally, versionOf } from './fhir-client.js';
import { type PlatformProcess, platformProcess } from './platform-process.js';
import { type Backend, type ChaosContext, mib, type Scenario, verdictOf } from './scenario.js';

/** Fictitious OIDs under the bench facility's: visit numbers and Observation identifiers of the race. */
const VISIT_SYSTEM = `${IPP_SYSTEM}.1`;
const OBSERVATION_SYSTEM = `${IPP_SYSTEM}.2`;
const CHAOS_CODES = 'urn:pfi:chaos';

const SEED_PATIENTS = 40;
const COUNTERS = 4;
/**
 * Identifiers raced on at any moment, per kind (Patient IPP, Encounter visit number, Observation identifier). A new
 * generation of them every {@link GENERATION_MS}: a race happens when an identifier is new (nobody has created it
 * yet), so the clients keep meeting new ones, as when many systems learn of a new patient at once.
 */
const RACE_KEYS = 4;
const GENERATION_MS = 1_000;

/** What each client does, by weight. */
const MIX: readonly [Kind, number][] = [
  ['read', 25],
  ['search', 25],
  ['conditional-create', 20],
  ['transaction', 10],
  ['increment', 20],
];
type Kind = 'read' | 'search' | 'conditional-create' | 'transaction' | 'increment';

/**
 * The statuses each kind of request may get. A conditional create is 201 or 200 (412 only if duplicates exist, which
 * is checked apart); a transaction of conditional creates is 200 whatever the others do; a counter PUT is 200 or 412.
 */
const EXPECTED: Record<string, readonly number[]> = {
  read: [200],
  search: [200],
  'conditional-create': [200, 201],
  transaction: [200],
  'counter-read': [200],
  'counter-put': [200, 412],
};

const pick = <T>(list: readonly T[]): T => list[Math.floor(Math.random() * list.length)]!;

function pickKind(): Kind {
  const total = MIX.reduce((n, [, w]) => n + w, 0);
  let r = Math.random() * total;
  for (const [kind, w] of MIX) {
    r -= w;
    if (r < 0) return kind;
  }
  return MIX[0]![0];
}

/** A raced identifier: generation and key, e.g. `12-3`. */
type RaceKey = string;
const raceIpp = (k: RaceKey) => `CHAOS-R-${k}`;
const raceVisit = (k: RaceKey) => `VN-R-${k}`;
const raceObservation = (k: RaceKey) => `OBS-R-${k}`;

const racePatient = (k: RaceKey) => ({
  resourceType: 'Patient',
  identifier: [{ system: IPP_SYSTEM, value: raceIpp(k), type: { coding: [{ code: 'PI' }] } }],
  name: [{ use: 'official', family: 'Course', given: ['Camille'] }],
  gender: 'female',
  birthDate: '1984-06-01',
});

const raceEncounter = (k: RaceKey, subject: string) => ({
  resourceType: 'Encounter',
  identifier: [{ system: VISIT_SYSTEM, value: raceVisit(k) }],
  status: 'in-progress',
  class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IMP' },
  subject: { reference: subject },
});

const chaosObservation = (code: string, subject: string, value: number, identifier?: string) => ({
  resourceType: 'Observation',
  ...(identifier ? { identifier: [{ system: OBSERVATION_SYSTEM, value: identifier }] } : {}),
  status: 'final',
  code: { coding: [{ system: CHAOS_CODES, code }] },
  subject: { reference: subject },
  valueInteger: value,
});

interface World {
  patients: { id: string; ipp: string; family: string }[];
  counters: string[];
}

/** The Patients to read and search, and the counters (valueInteger 0), written by one transaction. */
async function seed(client: FhirClient): Promise<World> {
  const entries = Array.from({ length: SEED_PATIENTS }, (_, i) => ({
    fullUrl: `urn:uuid:00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    resource: seededPatient(i),
    request: { method: 'POST', url: 'Patient' },
  }));
  const first = entries[0]!.fullUrl;
  for (let c = 0; c < COUNTERS; c++) {
    entries.push({
      fullUrl: `urn:uuid:00000000-0000-4000-9000-${String(c).padStart(12, '0')}`,
      resource: chaosObservation('counter', first, 0) as never,
      request: { method: 'POST', url: 'Observation' },
    });
  }
  const answer = await client.send('POST', '', {
    body: { resourceType: 'Bundle', type: 'transaction', entry: entries },
  });
  if (answer.status !== 200) throw new Error(`seeding failed with HTTP ${answer.status}: ${answer.body.slice(0, 300)}`);
  const out = jsonOf<{
    entry: {
      resource: { id: string; identifier?: { system: string; value: string }[]; name?: { family: string }[] };
    }[];
  }>(answer)!;
  const resources = out.entry.map((e) => e.resource);
  return {
    patients: resources.slice(0, SEED_PATIENTS).map((r) => ({
      id: r.id,
      ipp: r.identifier!.find((x) => x.system === IPP_SYSTEM)!.value,
      family: r.name![0]!.family,
    })),
    counters: resources.slice(SEED_PATIENTS).map((r) => r.id),
  };
}

interface RaceBook {
  /** 201s (plain) and `201 Created` entries (transactions), per identifier. */
  created: Map<string, number>;
  attempts: Map<string, number>;
  /** Attempts answered 200 or 201, per identifier. */
  succeeded: Map<string, number>;
  /** Counter id → PUTs answered 2xx. */
  increments: Map<string, number>;
  /** Counter PUTs answered without a clear outcome (5xx, no answer): may or may not have been applied. */
  uncertain: Map<string, number>;
  committedTransactions: number;
  /** A search of a raced identifier answered more than one resource while the load ran. */
  duplicatesSeen: number;
  /** 2xx answers whose body was not what was asked for. */
  wrongAnswers: string[];
}

const bump = (m: Map<string, number>, key: string, by = 1) => m.set(key, (m.get(key) ?? 0) + by);

interface Clock {
  started: number;
  deadline: number;
}

/** One of the identifiers being raced on now. */
function raceKey(clock: Clock): RaceKey {
  const generation = Math.floor((performance.now() - clock.started) / GENERATION_MS);
  return `${generation}-${Math.floor(Math.random() * RACE_KEYS)}`;
}

async function oneRequest(client: FhirClient, tally: Tally, world: World, book: RaceBook, clock: Clock) {
  const kind = pickKind();
  switch (kind) {
    case 'read': {
      const p = pick(world.patients);
      const a = await tally.send(client, 'read', 'GET', `Patient/${p.id}`);
      if (a?.status === 200 && jsonOf<{ id: string }>(a)?.id !== p.id) book.wrongAnswers.push('read: another Patient');
      return;
    }
    case 'search': {
      const which = Math.floor(Math.random() * 4);
      if (which === 0) {
        const p = pick(world.patients);
        const a = await tally.send(
          client,
          'search',
          'GET',
          `Patient?identifier=${encodeURIComponent(`${IPP_SYSTEM}|${p.ipp}`)}`,
        );
        const n = a?.status === 200 ? (jsonOf<{ entry?: unknown[] }>(a)?.entry?.length ?? 0) : 1;
        if (n !== 1) book.wrongAnswers.push(`search by IPP: ${n} Patients`);
      } else if (which === 1) {
        const p = pick(world.patients);
        await tally.send(
          client,
          'search',
          'GET',
          `Patient?family=${encodeURIComponent(p.family.slice(0, 3))}&_count=10`,
        );
      } else if (which === 2) {
        await tally.send(
          client,
          'search',
          'GET',
          `Observation?subject=Patient/${world.patients[0]!.id}&_count=10&_sort=-_lastUpdated`,
        );
      } else {
        // A raced identifier, mid-race: never more than one.
        const k = raceKey(clock);
        const a = await tally.send(
          client,
          'search',
          'GET',
          `Patient?identifier=${encodeURIComponent(`${IPP_SYSTEM}|${raceIpp(k)}`)}`,
        );
        if (a?.status === 200 && (jsonOf<{ entry?: unknown[] }>(a)?.entry?.length ?? 0) > 1) book.duplicatesSeen++;
      }
      return;
    }
    case 'conditional-create': {
      const k = raceKey(clock);
      if (Math.random() < 0.5) {
        const key = `Patient|${raceIpp(k)}`;
        bump(book.attempts, key);
        const a = await tally.send(client, 'conditional-create', 'POST', 'Patient', {
          body: racePatient(k),
          headers: { 'if-none-exist': `identifier=${IPP_SYSTEM}|${raceIpp(k)}` },
        });
        if (a?.status === 201) bump(book.created, key);
        if (a?.status === 200 || a?.status === 201) bump(book.succeeded, key);
      } else {
        const key = `Observation|${raceObservation(k)}`;
        bump(book.attempts, key);
        const subject = `Patient/${pick(world.patients).id}`;
        const a = await tally.send(client, 'conditional-create', 'POST', 'Observation', {
          body: chaosObservation('race', subject, 1, raceObservation(k)),
          headers: { 'if-none-exist': `identifier=${OBSERVATION_SYSTEM}|${raceObservation(k)}` },
        });
        if (a?.status === 201) bump(book.created, key);
        if (a?.status === 200 || a?.status === 201) bump(book.succeeded, key);
      }
      return;
    }
    case 'transaction': {
      const k = raceKey(clock);
      const patientUrl = `urn:uuid:${randomUUID()}`;
      const bundle = {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          {
            fullUrl: patientUrl,
            resource: racePatient(k),
            request: { method: 'POST', url: 'Patient', ifNoneExist: `identifier=${IPP_SYSTEM}|${raceIpp(k)}` },
          },
          {
            fullUrl: `urn:uuid:${randomUUID()}`,
            resource: raceEncounter(k, patientUrl),
            request: { method: 'POST', url: 'Encounter', ifNoneExist: `identifier=${VISIT_SYSTEM}|${raceVisit(k)}` },
          },
          {
            resource: chaosObservation('transaction', patientUrl, 1),
            request: { method: 'POST', url: 'Observation' },
          },
        ],
      };
      bump(book.attempts, `Patient|${raceIpp(k)}`);
      bump(book.attempts, `Encounter|${raceVisit(k)}`);
      const a = await tally.send(client, 'transaction', 'POST', '', { body: bundle });
      if (a?.status !== 200) return;
      const entries = jsonOf<{ entry?: { response?: { status?: string } }[] }>(a)?.entry ?? [];
      if (entries.length !== 3) {
        book.wrongAnswers.push(`transaction: ${entries.length} response entries`);
        return;
      }
      book.committedTransactions++;
      bump(book.succeeded, `Patient|${raceIpp(k)}`);
      bump(book.succeeded, `Encounter|${raceVisit(k)}`);
      if (entries[0]!.response?.status?.startsWith('201')) bump(book.created, `Patient|${raceIpp(k)}`);
      if (entries[1]!.response?.status?.startsWith('201')) bump(book.created, `Encounter|${raceVisit(k)}`);
      return;
    }
    case 'increment': {
      const id = pick(world.counters);
      // Read, +1, PUT If-Match; a 412 means someone else incremented first: read again.
      while (performance.now() < clock.deadline) {
        const read = await tally.send(client, 'counter-read', 'GET', `Observation/${id}`);
        if (read?.status !== 200) return;
        const body = jsonOf<{ valueInteger: number }>(read)!;
        const version = versionOf(read);
        const put = await tally.send(client, 'counter-put', 'PUT', `Observation/${id}`, {
          body: { ...body, valueInteger: body.valueInteger + 1 },
          headers: { 'if-match': `W/"${version}"` },
        });
        if (put?.status === 412) continue;
        if (put && put.status >= 200 && put.status < 300) bump(book.increments, id);
        else if (!put || put.status >= 500) bump(book.uncertain, id);
        return;
      }
      return;
    }
  }
}

async function countOf(client: FhirClient, query: string): Promise<number | undefined> {
  const a = await client.send('GET', `${query}&_total=accurate&_summary=count`);
  return a.status === 200 ? jsonOf<{ total: number }>(a)?.total : undefined;
}

export const fhirAbuse: Scenario = {
  name: 'fhir-abuse',
  summary: 'hundreds of FHIR clients racing on conditional creates, transactions and If-Match counters',
  backends: ['embedded', 'pg'],
  async run(ctx: ChaosContext, backend: Backend) {
    const v = verdictOf('fhir-abuse', backend);
    const concurrency = ctx.short ? 40 : 200;
    const seconds = ctx.short ? 10 : 60;
    let database: ScratchDatabase | undefined;
    let proc: PlatformProcess | undefined;
    try {
      if (backend === 'pg') database = await scratchDatabase(ctx.pgUrl, 'pfi_chaos');
      proc = await platformProcess({ dataDir: join(ctx.workDir, 'data'), databaseUrl: database?.url });
      await proc.start();
      const client = fhirClient(proc.fhirBaseUrl, await proc.token('system/*.cruds'), concurrency + 4);
      const world = await seed(client);
      ctx.log(
        `  seeded ${world.patients.length} Patients and ${world.counters.length} counters; ${concurrency} clients for ${seconds} s`,
      );

      const tally = new Tally();
      const book: RaceBook = {
        created: new Map(),
        attempts: new Map(),
        succeeded: new Map(),
        increments: new Map(),
        uncertain: new Map(),
        committedTransactions: 0,
        duplicatesSeen: 0,
        wrongAnswers: [],
      };
      let maxRss = proc.rss() ?? 0;
      const started = performance.now();
      const clock: Clock = { started, deadline: started + seconds * 1000 };
      let lastCount = 0;
      let ticks = 0;
      const sampler = setInterval(() => {
        maxRss = Math.max(maxRss, proc?.rss() ?? 0);
        if (++ticks % (ctx.short ? 2 : 10) !== 0) return;
        const elapsed = (performance.now() - clock.started) / 1000;
        ctx.log(
          `  ${elapsed.toFixed(0)} s: ${tally.requests.toLocaleString('en-US')} requests ` +
            `(${Math.round((tally.requests - lastCount) / (ctx.short ? 2 : 10))}/s), RSS ${mib(proc?.rss())}, ` +
            `5xx/none ${tally.failures()}`,
        );
        lastCount = tally.requests;
      }, 1000);
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (performance.now() < clock.deadline) await oneRequest(client, tally, world, book, clock);
        }),
      );
      clearInterval(sampler);
      const elapsed = (performance.now() - started) / 1000;
      maxRss = Math.max(maxRss, proc.rss() ?? 0);

      // What the store holds now.
      const duplicates: string[] = [];
      const multiplyCreated: string[] = [];
      for (const [key, attempts] of book.attempts) {
        if (attempts === 0) continue;
        const [type, value] = key.split('|') as [string, string];
        const system = type === 'Patient' ? IPP_SYSTEM : type === 'Encounter' ? VISIT_SYSTEM : OBSERVATION_SYSTEM;
        const n = await countOf(client, `${type}?identifier=${encodeURIComponent(`${system}|${value}`)}`);
        // Exactly one once an attempt succeeded; none when they all failed (reported apart, as unexpected answers).
        const expected = (book.succeeded.get(key) ?? 0) > 0 ? 1 : 0;
        if (n !== expected) duplicates.push(`${key}: ${n ?? 'search failed'} resources, ${expected} expected`);
        const created = book.created.get(key) ?? 0;
        if (created > 1) multiplyCreated.push(`${key}: ${created} creations answered 201`);
      }
      const txObservations = await countOf(
        client,
        `Observation?code=${encodeURIComponent(`${CHAOS_CODES}|transaction`)}`,
      );
      const lost: string[] = [];
      let increments = 0;
      for (const id of world.counters) {
        const a = await client.send('GET', `Observation/${id}`);
        const value = jsonOf<{ valueInteger: number }>(a)?.valueInteger ?? Number.NaN;
        const ok = book.increments.get(id) ?? 0;
        const maybe = book.uncertain.get(id) ?? 0;
        increments += ok;
        if (value < ok || value > ok + maybe) lost.push(`counter ${id}: value ${value} after ${ok} successful PUTs`);
        const version = versionOf(a) ?? 0;
        if (version - 1 < ok || version - 1 > ok + maybe)
          lost.push(`counter ${id}: version ${version} after ${ok} successful PUTs`);
      }
      const health = await proc.health();
      const alive = proc.pid() !== undefined && health?.ok === true;
      const errorLines = proc.logLines().filter((l) => l['level'] === 'ERROR');
      client.close();

      v.figure('clients', concurrency);
      v.figure('seconds', elapsed.toFixed(1));
      v.figure('requests', tally.requests);
      v.figure('requests/s', Math.round(tally.requests / elapsed));
      v.figure('by status', formatStatuses(tally.statuses));
      v.figure('GETs resent after a kept-alive reset', client.resentAfterReset);
      for (const kind of tally.kinds()) v.figure(`${kind}`, `${tally.latencyOf(kind)}; ${tally.statusesOf(kind)}`);
      v.figure('transactions committed', book.committedTransactions);
      v.figure('counter increments', increments);
      v.figure('duplicates', duplicates.length + multiplyCreated.length + book.duplicatesSeen);
      v.figure('lost updates', lost.length);
      v.figure('max RSS', mib(maxRss));

      v.check(tally.failures() === 0, `${tally.failures()} answers were 5xx or missing`);
      const unexpected = Object.entries(EXPECTED).flatMap(([kind, statuses]) => tally.unexpected(kind, statuses));
      v.check(unexpected.length === 0, `answers no client should get here: ${unexpected.join('; ')}`);
      v.check(
        duplicates.length === 0,
        `identifiers raced on do not name exactly one resource: ${duplicates.join('; ')}`,
      );
      v.check(multiplyCreated.length === 0, `an identifier was created more than once: ${multiplyCreated.join('; ')}`);
      v.check(book.duplicatesSeen === 0, `${book.duplicatesSeen} searches of a raced IPP answered several Patients`);
      v.check(
        txObservations === book.committedTransactions,
        `${txObservations} Observations written by transactions, ${book.committedTransactions} transactions committed`,
      );
      v.check(lost.length === 0, `lost updates: ${lost.join('; ')}`);
      v.check(book.wrongAnswers.length === 0, `wrong answers: ${[...new Set(book.wrongAnswers)].join('; ')}`);
      v.check(increments > 0, 'no counter increment succeeded');
      v.check(
        alive,
        `the platform is not alive and healthy at the end (pid ${proc.pid()}, health ${JSON.stringify(health)})`,
      );
      v.check(
        errorLines.length === 0,
        `${errorLines.length} ERROR log lines: ${JSON.stringify(errorLines.slice(0, 3))}`,
      );
      const uncertain = [...book.uncertain.values()].reduce((n, x) => n + x, 0);
      if (uncertain) v.note(`${uncertain} counter PUTs had no clear answer (counted as maybe applied)`);
      if (!tally.statuses['412']) v.note('no 412 answered: the counters were not raced on');
    } finally {
      await proc?.stop().catch(() => undefined);
      await database?.drop().catch(() => undefined);
    }
    return v.verdict();
  },
};
