import type { MllpClientResult } from './hl7-mllp.js';
import type { Hl7Backend } from './hl7-options.js';
import type { ParseRate } from './hl7-parse.js';
import { summarize } from './stats.js';

/** The hl7 benchmark's figures and the targets (pure). */

export const TARGETS = {
  /** Part (a): PFI parse + map of ADT messages on one core. */
  parseMapAdtPerSecond: 20_000,
  /** Part (b): ACKed messages per second as a share of the bare MLLP server's. */
  ackShareOfCeiling: 0.3,
  ackP99Ms: 50,
  /** Part (b), PostgreSQL server: first send → every message applied. */
  allInFhirSeconds: 20,
} as const;

/** The MLLP side of one run: what the client saw. */
export interface AckFigures {
  messages: number;
  sent: number;
  aa: number;
  ae: number;
  ar: number;
  /** ACKs without MSA or with another control id. */
  bad: number;
  /** Connection failures (codes). */
  errors: string[];
  /** First send → last ACK. */
  seconds: number;
  /** ACKs per second over that span. */
  perSecond: number;
  p50: number;
  p99: number;
  max: number;
}

/** The FHIR side of one run: when everything was applied and what the store holds. */
export interface IngestFigures {
  /** First send → the worker had applied every message; undefined when it had not within the timeout. */
  allAppliedSeconds: number | undefined;
  /** First send → the end of the wait (all applied, idle, or the timeout). */
  elapsedSeconds: number;
  /** Messages applied when the last ACK arrived (the rest was still queued). */
  appliedAtLastAck: number;
  applied: number;
  /** Failed attempts (retried) and dead letters. */
  failedAttempts: number;
  /** Failed attempts by error code (`fhir-409`, `error`…), as the worker reports them. */
  failures: Record<string, number>;
  /** Ingest warnings by code (`movement-repeated`, `ins-not-qualified`…). */
  warnings: Record<string, number>;
  deadLetters: number;
  /** SQL statements sent from the first send to the end (queue, ingest, polling), per message. */
  sqlPerMessage: number;
  counts: { Patient: number; Encounter: number; Provenance: number };
  expected: { Patient: number; Encounter: number; Provenance: number };
}

/** The platform's warm-up before the measured run (scripts/bench/hl7-e2e.ts). */
export interface WarmUpFigures {
  /** Distinct messages, sent `rounds` times (the runs after the first are duplicates). */
  messages: number;
  rounds: number;
  /** The first run, on a platform just started, and the last. */
  first: AckFigures;
  last: AckFigures;
  /** The warm-up's last ACK → the worker idle. */
  drainSeconds: number;
}

export interface BackendRun {
  backend: Hl7Backend;
  skipped?: string;
  warmUp?: WarmUpFigures;
  ack?: AckFigures;
  ingest?: IngestFigures;
  /** Seconds spent starting the platform (migrations included). */
  startSeconds?: number;
}

export interface Verdict {
  target: string;
  actual: string;
  /** undefined: reported, no target applies. */
  pass: boolean | undefined;
}

/** Latency and throughput figures of a client run of `messages` messages. */
export function ackFigures(r: MllpClientResult, messages: number): AckFigures {
  const s = summarize(r.latenciesMs);
  const seconds = (r.finishedAt - r.startedAt) / 1000;
  const acked = r.aa + r.ae + r.ar + r.bad;
  return {
    messages,
    sent: r.sent,
    aa: r.aa,
    ae: r.ae,
    ar: r.ar,
    bad: r.bad,
    errors: r.errors,
    seconds,
    perSecond: seconds > 0 ? acked / seconds : 0,
    p50: s.p50,
    p99: s.p99,
    max: s.max,
  };
}

/** `a`'s ACK rate as a whole percentage of `of`'s (`20%`). */
export const shareOf = (a: AckFigures, of: AckFigures): string => `${((a.perSecond / of.perSecond) * 100).toFixed(0)}%`;

/** Every message got its AA and nothing failed. */
export const cleanAcks = (a: AckFigures): boolean =>
  a.aa === a.messages && a.ae === 0 && a.ar === 0 && a.bad === 0 && a.errors.length === 0;

/** Every message applied, none dead-lettered, and the store holds what the plan implies. */
export const complete = (i: IngestFigures): boolean =>
  i.allAppliedSeconds !== undefined &&
  i.deadLetters === 0 &&
  i.counts.Patient === i.expected.Patient &&
  i.counts.Encounter === i.expected.Encounter &&
  i.counts.Provenance === i.expected.Provenance;

const perSecond = (v: number) => `${Math.round(v).toLocaleString('en-US')}/s`;
const ackProblems = (a: AckFigures) => (cleanAcks(a) ? '' : ` (not all AA: AE ${a.ae}, AR ${a.ar}, bad ${a.bad})`);

/** Part (a): PFI parse + map of ADT against 20,000/s. */
export function judgeParse(rates: ParseRate[]): Verdict[] {
  const adt = rates.find((r) => r.parser === 'pfi-parse-map' && r.corpus === 'ADT');
  if (!adt) return [];
  return [
    {
      target: `parse+map ≥ ${TARGETS.parseMapAdtPerSecond.toLocaleString('en-US')} ADT/s (one core)`,
      actual: perSecond(adt.perSecond),
      pass: adt.perSecond >= TARGETS.parseMapAdtPerSecond,
    },
  ];
}

function fhirActual(i: IngestFigures, messages: number): string {
  const counts = `Patient ${i.counts.Patient}/${i.expected.Patient}, Encounter ${i.counts.Encounter}/${i.expected.Encounter}`;
  if (i.allAppliedSeconds === undefined) {
    const rate = i.elapsedSeconds > 0 ? i.applied / i.elapsedSeconds : 0;
    return (
      `not all applied: ${i.applied.toLocaleString('en-US')}/${messages.toLocaleString('en-US')} after ` +
      `${i.elapsedSeconds.toFixed(0)} s (${perSecond(rate)}), dead letters ${i.deadLetters}`
    );
  }
  const tail = complete(i) ? '' : ` (incomplete: dead letters ${i.deadLetters}, ${counts})`;
  return `${i.allAppliedSeconds.toFixed(1)} s${tail}`;
}

/**
 * Part (b) for one backend: ACK throughput ≥ 30% of the ceiling's, ACK p99 ≤ 50 ms (both missed when a message was
 * not AA), and every message in FHIR within 20 s — a target on the PostgreSQL server, reported for the embedded
 * database.
 */
export function judgeBackend(
  run: BackendRun,
  ceiling: AckFigures | undefined,
  bridgeAlone?: AckFigures | undefined,
): Verdict[] {
  const { ack, ingest } = run;
  if (!ack) return [];
  const out: Verdict[] = [];
  const share = (of: AckFigures) => `${shareOf(ack, of)} (${perSecond(ack.perSecond)} vs ${perSecond(of.perSecond)})`;
  if (ceiling && ceiling.perSecond > 0) {
    out.push({
      target: `ACK throughput ≥ ${TARGETS.ackShareOfCeiling * 100}% of the bare MLLP ceiling`,
      actual: `${share(ceiling)}${ackProblems(ack)}`,
      pass: ack.perSecond / ceiling.perSecond >= TARGETS.ackShareOfCeiling && cleanAcks(ack),
    });
  }
  // Not the target: what the durable enqueue keeps of the bridge's own rate.
  if (bridgeAlone && bridgeAlone.perSecond > 0) {
    out.push({
      target: 'ACK throughput, share of the bridge without a queue',
      actual: share(bridgeAlone),
      pass: undefined,
    });
  }
  out.push({
    target: `ACK p99 ≤ ${TARGETS.ackP99Ms} ms`,
    actual: `${ack.p99.toFixed(1)} ms${ackProblems(ack)}`,
    pass: ack.p99 <= TARGETS.ackP99Ms && cleanAcks(ack),
  });
  if (ingest) {
    const all = `all ${ack.messages.toLocaleString('en-US')} in FHIR`;
    out.push(
      run.backend === 'pg'
        ? {
            target: `${all} ≤ ${TARGETS.allInFhirSeconds} s`,
            actual: fhirActual(ingest, ack.messages),
            pass:
              complete(ingest) && cleanAcks(ack) && (ingest.allAppliedSeconds ?? Infinity) <= TARGETS.allInFhirSeconds,
          }
        : {
            target: `${all} (the ${TARGETS.allInFhirSeconds} s target is the PostgreSQL server's)`,
            actual: fhirActual(ingest, ack.messages),
            pass: undefined,
          },
    );
  }
  return out;
}
