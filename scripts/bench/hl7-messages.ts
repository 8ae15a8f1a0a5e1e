import { FAMILY_NAMES, hash32, LAB_TESTS, seededPatient, seededPick } from './french-data.js';

/**
 * Made-up but realistic French HL7 v2 messages for `npm run bench -- hl7`: IHE PAM FR 2.11 ADT (A01, A02, A03, A08,
 * A28, A31) with IPP + qualified INS, birth place, ZBE movements and RPPS doctors, and ORU^R01 lab results with 5 to
 * 10 numeric OBX. Every message is a pure function of its indexes, so the client thread and the main thread build the
 * same plan without exchanging it. The people are the seeded patients of ./french-data.ts (test NIRs).
 */

export type AdtEvent = 'A01' | 'A02' | 'A03' | 'A08' | 'A28' | 'A31';

/** The sending facility and the OID of its IPP and visit-number authority. */
export const BENCH_FACILITY = 'CHU-BENCH';
export const BENCH_OID = '1.2.250.1.71.4.2.7.1.9.99';
const AUTHORITY = `${BENCH_FACILITY}&${BENCH_OID}&ISO`;
const INS_AUTHORITY = 'ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.10&ISO';
const RPPS_AUTHORITY = 'ASIP-SANTE-PS&1.2.250.1.71.4.2.1&ISO';

/**
 * What one patient goes through, in order (4 messages each). A08 carries no ZBE (PAM FR sends the movement in
 * A01/A02/A03; an A08 updates the current one), A28/A31 no visit.
 */
export const SCENARIOS: readonly (readonly AdtEvent[])[] = [
  ['A01', 'A02', 'A08', 'A03'],
  ['A28', 'A01', 'A02', 'A03'],
  ['A01', 'A08', 'A02', 'A03'],
  ['A01', 'A31', 'A02', 'A03'],
];
export const MESSAGES_PER_PATIENT = 4;

/** Functional units (UF): name and code. */
const UNITS: readonly { name: string; code: string }[] = [
  { name: 'CARDIOLOGIE HC', code: '2310' },
  { name: 'PNEUMOLOGIE', code: '2420' },
  { name: 'MEDECINE INTERNE', code: '2110' },
  { name: 'CHIRURGIE DIGESTIVE', code: '3150' },
  { name: 'ORTHOPEDIE TRAUMATO', code: '3210' },
  { name: 'GERIATRIE AIGUE', code: '2610' },
  { name: 'NEUROLOGIE', code: '2520' },
  { name: 'SOINS CONTINUS', code: '1840' },
];

const BIRTH_PLACES: readonly { city: string; insee: string }[] = [
  { city: 'PARIS', insee: '75056' },
  { city: 'LYON', insee: '69123' },
  { city: 'MARSEILLE', insee: '13055' },
  { city: 'BORDEAUX', insee: '33063' },
  { city: 'LILLE', insee: '59350' },
  { city: 'TOULOUSE', insee: '31555' },
  { city: 'NANTES', insee: '44109' },
  { city: 'STRASBOURG', insee: '67482' },
  { city: 'RENNES', insee: '35238' },
  { city: 'SAINT-ÉTIENNE', insee: '42218' },
];

const DOCTOR_GIVEN = ['Claire', 'Julien', 'Sophie', 'Étienne', 'Isabelle', 'Thomas', 'Camille', 'Noémie', 'Antoine'];
const DOCTORS = 40;

const LAB_PANELS: readonly { code: string; display: string }[] = [
  { code: '24323-8', display: 'Bilan métabolique complet' },
  { code: '58410-2', display: 'Numération formule sanguine' },
  { code: '24362-6', display: 'Bilan rénal' },
];

const pad = (n: number, width: number) => String(n).padStart(width, '0');

/** One patient as the messages carry it. */
export interface BenchPatient {
  index: number;
  ipp: string;
  /** 15-character INS-NIR (test NIR with its key). */
  ins: string;
  family: string;
  given: string;
  /** Second birth given name, or ''. */
  second: string;
  sex: 'M' | 'F';
  /** YYYYMMDD */
  birthDate: string;
  line: string;
  city: string;
  postalCode: string;
  birthPlace: { city: string; insee: string };
  mobile: string;
}

interface SeededIdentifier {
  value: string;
}
interface SeededName {
  family: string;
  given: string[];
}
interface SeededAddress {
  line: string[];
  city: string;
  postalCode: string;
}

/** Patient `index` of the bench (the seeded patient of ./french-data.ts with its IPP and INS). */
export function benchPatient(index: number): BenchPatient {
  const r = seededPatient(index);
  const [ins, ipp] = r['identifier'] as SeededIdentifier[];
  const name = (r['name'] as SeededName[])[0]!;
  const address = (r['address'] as SeededAddress[])[0]!;
  const pick = seededPick(index + 7_000_000);
  return {
    index,
    ipp: ipp!.value,
    ins: ins!.value,
    family: name.family.toUpperCase(),
    given: name.given[0]!.toUpperCase(),
    second: (name.given[1] ?? '').toUpperCase(),
    sex: r['gender'] === 'male' ? 'M' : 'F',
    birthDate: (r['birthDate'] as string).replace(/-/g, ''),
    line: address.line[0]!,
    city: address.city,
    postalCode: address.postalCode,
    birthPlace: BIRTH_PLACES[pick(BIRTH_PLACES.length)]!,
    mobile: `06${pad(pick(100_000_000), 8)}`,
  };
}

/** HL7 TS (Paris local time, no offset, as PAM FR senders write it) of an instant given in ms. */
function ts(ms: number): string {
  const d = new Date(ms);
  return (
    `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1, 2)}${pad(d.getUTCDate(), 2)}` +
    `${pad(d.getUTCHours(), 2)}${pad(d.getUTCMinutes(), 2)}${pad(d.getUTCSeconds(), 2)}`
  );
}

/** A segment from its fields by number (field 1 first); missing numbers are empty. */
function segment(name: string, fields: Record<number, string>): string {
  const last = Math.max(...Object.keys(fields).map(Number));
  const out = [name];
  for (let n = 1; n <= last; n++) out.push(fields[n] ?? '');
  return out.join('|');
}

function msh(type: string, controlId: string, at: number, application: string, version: string): string {
  // MSH-1 is the '|' itself, so `MSH|^~\&` then MSH-3 onwards; MSH-15/16 AL/NE, MSH-17 country, MSH-18 charset.
  return [
    'MSH',
    '^~\\&',
    application,
    BENCH_FACILITY,
    'PFI',
    BENCH_FACILITY,
    ts(at),
    '',
    type,
    controlId,
    'P',
    version,
    '',
    '',
    'AL',
    'NE',
    'FRA',
    'UNICODE UTF-8',
  ].join('|');
}

function pid(p: BenchPatient, variant: number): string {
  const names = `${p.family}^${p.given}^${p.second}^^^^L`;
  // A31 updates the address: a variant moves the patient a few doors down.
  const street = variant === 0 ? p.line : p.line.replace(/^\d+/, (n) => String(Number(n) + 2));
  const address = `${street}^^${p.city}^^${p.postalCode}^FRA^H~^^${p.birthPlace.city}^^^FRA^BDL^^${p.birthPlace.insee}`;
  return segment('PID', {
    1: '1',
    3: `${p.ipp}^^^${AUTHORITY}^PI~${p.ins}^^^${INS_AUTHORITY}^INS`,
    5: names,
    7: p.birthDate,
    8: p.sex,
    11: address,
    13: `^PRN^CP^^^^^^^^^${p.mobile}`,
    32: 'VALI',
  });
}

/** The doctor `k` (0 ≤ k < 40): idNat_PS (8 + RPPS) and name. */
function doctor(k: number): string {
  const id = `8000${pad((k * 7_919_113 + 1_234_567) % 100_000_000, 8)}`;
  const family = (FAMILY_NAMES[(k * 13) % FAMILY_NAMES.length] ?? 'MARTIN').toUpperCase();
  const given = DOCTOR_GIVEN[k % DOCTOR_GIVEN.length]!;
  return `${id}^${family}^${given}^^^^^^${RPPS_AUTHORITY}^D^^^RPPS`;
}

const visitNumber = (p: BenchPatient) => `2024${pad(p.index, 7)}^^^${AUTHORITY}^VN`;
const unitXon = (u: { name: string; code: string }) => `${u.name}^^^^^${AUTHORITY}^UF^^^${u.code}`;

/** Instant of a patient's `step`-th event: admissions spread over March 2024, then 6 to 53 hours apart. */
function eventTime(p: BenchPatient, step: number): number {
  let at = Date.UTC(2024, 2, 1, 7, 0, 0) + (hash32(p.index, 11) % (30 * 24 * 60)) * 60_000;
  for (let k = 1; k <= step; k++) at += (6 + (hash32(p.index, 20 + k) % 48)) * 3_600_000;
  return at;
}

/**
 * ADT message number `step` of patient `p`'s `scenario` (PAM FR 2.11, UTF-8). Movement events carry PV1 (location,
 * RPPS attending doctor, visit number, admission date) and a ZBE INSERT; A08 updates the attending doctor without
 * ZBE; A28/A31 have a `PV1|1|N`.
 */
export function adtMessage(p: BenchPatient, scenario: readonly AdtEvent[], step: number, controlId: string): string {
  const event = scenario[step];
  if (event === undefined) throw new RangeError('step is past the end of the scenario');
  const at = eventTime(p, step);
  const when = ts(at);
  const structure = event === 'A28' || event === 'A31' ? 'ADT_A05' : event === 'A08' ? 'ADT_A01' : `ADT_${event}`;
  const segments = [
    msh(`ADT^${event}^${structure}`, controlId, at + 45_000, 'BENCH-GAM', '2.5^FRA^2.11'),
    segment('EVN', { 2: when, 5: `OPE${pad(hash32(p.index, step) % 500, 3)}^ACCUEIL^BENCH`, 6: when }),
    pid(p, event === 'A31' ? 1 : 0),
  ];
  if (event === 'A28' || event === 'A31') {
    segments.push(segment('PV1', { 1: '1', 2: 'N' }));
    return `${segments.join('\r')}\r`;
  }
  // Location and unit: the admission unit, another one after the transfer (A02), kept by A03.
  const moved = scenario.slice(0, step + 1).includes('A02') ? 1 : 0;
  const unit = UNITS[(hash32(p.index, 30) + moved * 3) % UNITS.length]!;
  const room = 100 + (hash32(p.index, 31 + moved) % 40);
  const bed = 1 + (hash32(p.index, 33 + moved) % 2);
  const attending = doctor((hash32(p.index, 40 + moved) + (event === 'A08' ? 1 : 0)) % DOCTORS);
  const pv1: Record<number, string> = {
    1: '1',
    2: 'I',
    3: `${unit.code}^${room}^${bed}^${BENCH_FACILITY}`,
    4: 'R',
    7: attending,
    10: 'MED',
    19: visitNumber(p),
    44: ts(eventTime(p, Math.max(0, scenario.indexOf('A01')))),
  };
  if (event === 'A03') pv1[45] = when;
  segments.push(segment('PV1', pv1));
  if (event !== 'A08') {
    const movementId = `${10_000_000 + p.index * 10 + step}^${BENCH_FACILITY}^${BENCH_OID}^ISO`;
    segments.push(segment('ZBE', { 1: movementId, 2: when, 4: 'INSERT', 5: 'N', 7: unitXon(unit), 9: 'HMS' }));
  }
  return `${segments.join('\r')}\r`;
}

/** Reference-range flag of a value (table 0078). */
const flagOf = (v: number, low: number, high: number) => (v < low ? 'L' : v > high ? 'H' : 'N');

/**
 * ORU^R01 number `n` of patient `p` (v2.5, UTF-8): one OBR (filler order number) with 5 to 10 numeric OBX
 * (LOINC code, UCUM unit, reference range, abnormal flag; about one value in five out of range).
 */
export function oruMessage(p: BenchPatient, n: number, controlId: string): string {
  const pick = seededPick(p.index * 100 + n + 50_000_000);
  const at = eventTime(p, 0) + (2 + pick(40)) * 3_600_000;
  const collected = ts(at);
  const reported = ts(at + (1 + pick(5)) * 3_600_000);
  const panel = LAB_PANELS[pick(LAB_PANELS.length)]!;
  const order = `${p.index}${pad(n, 3)}`;
  const segments = [
    msh('ORU^R01^ORU_R01', controlId, at + 6 * 3_600_000, 'BENCH-SIL', '2.5'),
    pid(p, 0),
    segment('PV1', { 1: '1', 2: 'I', 19: visitNumber(p) }),
    segment('ORC', { 1: 'RE', 2: `DPI${order}^BENCH-DPI`, 3: `SIL${order}^BENCH-SIL`, 5: 'CM' }),
    segment('OBR', {
      1: '1',
      2: `DPI${order}^BENCH-DPI`,
      3: `SIL${order}^BENCH-SIL`,
      4: `${panel.code}^${panel.display}^LN`,
      7: collected,
      16: doctor(pick(DOCTORS)),
      22: reported,
      25: 'F',
    }),
  ];
  const count = 5 + pick(6);
  const first = pick(LAB_TESTS.length);
  for (let k = 0; k < count; k++) {
    const test = LAB_TESTS[(first + k) % LAB_TESTS.length]!;
    const span = test.high - test.low;
    // Mostly inside the range, sometimes below or above it.
    const value = test.low - 0.1 * span + (pick(10_000) / 10_000) * 1.2 * span;
    const shown = Math.max(0, value).toFixed(test.decimals);
    segments.push(
      segment('OBX', {
        1: String(k + 1),
        2: 'NM',
        3: `${test.code}^${test.display}^LN`,
        5: shown,
        6: `${test.unit}^${test.unit}^UCUM`,
        7: `${test.low}-${test.high}`,
        8: flagOf(Number(shown), test.low, test.high),
        11: 'F',
        14: collected,
      }),
    );
  }
  return `${segments.join('\r')}\r`;
}

/** MSH-10 of ADT message `step` of patient `index`: unique over the run. */
export const adtControlId = (index: number, step: number): string =>
  `ADT${pad(index * MESSAGES_PER_PATIENT + step, 9)}`;

/** One connection's messages, in sending order. */
export interface ConnectionPlan {
  texts: string[];
  controlIds: string[];
}

/** The end-to-end workload: who sends what on which connection, and what the FHIR store must hold afterwards. */
export interface AdtPlan {
  connections: ConnectionPlan[];
  messages: number;
  /** Distinct patients (expected Patient resources). */
  patients: number;
  /** Patients with a stay (expected Encounter resources: one per visit number). */
  stays: number;
  /** Messages per event. */
  events: Record<AdtEvent, number>;
}

/**
 * `messages` distinct ADT messages over ⌈messages / 4⌉ patients (the last scenario is cut short when needed), the
 * patients numbered from `firstPatient` (plans over disjoint ranges share no patient, stay or control id).
 * Patient `i` goes to connection `i mod connections`, so its events are sent in order on one connection; a
 * connection sends its patients' first events, then their second events, and so on (many stays open at once).
 */
export function adtPlan(messages: number, connections: number, firstPatient = 0): AdtPlan {
  if (!Number.isInteger(messages) || messages < 1) throw new RangeError('messages must be a positive integer');
  if (!Number.isInteger(connections) || connections < 1) throw new RangeError('connections must be a positive integer');
  if (!Number.isInteger(firstPatient) || firstPatient < 0) {
    throw new RangeError('firstPatient must be a non-negative integer');
  }
  const patients = Math.ceil(messages / MESSAGES_PER_PATIENT);
  const plans: ConnectionPlan[] = Array.from({ length: Math.min(connections, patients) }, () => ({
    texts: [],
    controlIds: [],
  }));
  const events = { A01: 0, A02: 0, A03: 0, A08: 0, A28: 0, A31: 0 };
  let stays = 0;
  const scenarios: (readonly AdtEvent[])[] = [];
  for (let i = 0; i < patients; i++) {
    const full = SCENARIOS[hash32(firstPatient + i, 1) % SCENARIOS.length]!;
    const left = messages - i * MESSAGES_PER_PATIENT;
    const scenario = full.slice(0, Math.min(MESSAGES_PER_PATIENT, left));
    scenarios.push(scenario);
    if (scenario.some((e) => e !== 'A28' && e !== 'A31')) stays++;
    for (const e of scenario) events[e]++;
  }
  const patientsOf = plans.map(() => [] as number[]);
  for (let i = 0; i < patients; i++) patientsOf[i % plans.length]!.push(i);
  for (const [c, list] of patientsOf.entries()) {
    const people = list.map((i) => benchPatient(firstPatient + i));
    for (let step = 0; step < MESSAGES_PER_PATIENT; step++) {
      for (const p of people) {
        const scenario = scenarios[p.index - firstPatient]!;
        if (step >= scenario.length) continue;
        const controlId = adtControlId(p.index, step);
        plans[c]!.texts.push(adtMessage(p, scenario, step, controlId));
        plans[c]!.controlIds.push(controlId);
      }
    }
  }
  return { connections: plans, messages, patients, stays, events };
}

/** `count` distinct ADT messages (the first of an {@link adtPlan}, all events mixed) for the parse benchmark. */
export function adtCorpus(count: number): string[] {
  return adtPlan(count, 1).connections.flatMap((c) => c.texts);
}

/** `count` distinct ORU^R01 messages (one per patient) for the parse benchmark. */
export function oruCorpus(count: number): string[] {
  return Array.from({ length: count }, (_, i) => oruMessage(benchPatient(i), 1, `ORU${pad(i, 9)}`));
}
