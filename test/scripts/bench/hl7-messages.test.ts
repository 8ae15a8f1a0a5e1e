import { describe, expect, it } from 'vitest';
import { checkNirKey } from '../../../lambdas/fhir/validation/ins.js';
import { mapMessage } from '../../../lambdas/hl7/map/message.js';
import { parseHl7 } from '../../../lambdas/hl7/parser.js';
import { readHeader } from '../../../mllp-bridge/src/hl7.js';
import { INS_TEST_SYSTEM, IPP_SYSTEM } from '../../../scripts/bench/french-data.js';
import {
  adtCorpus,
  adtMessage,
  adtPlan,
  benchPatient,
  oruCorpus,
  SCENARIOS,
} from '../../../scripts/bench/hl7-messages.js';

/** Smoke test of the hl7 benchmark's messages: every one parses and maps, with the identifiers the bench relies on. */

const RPPS_SYSTEM = 'urn:oid:1.2.250.1.71.4.2.1';

describe('benchPatient', () => {
  it('carries a valid test INS and the seeded IPP', () => {
    for (const i of [0, 1, 4999, 123_456]) {
      const p = benchPatient(i);
      expect(checkNirKey(p.ins)).toBe(true);
      expect(p.ipp).toMatch(/^1\d{8}$/);
      expect(p.birthDate).toMatch(/^\d{8}$/);
    }
    expect(benchPatient(7)).toEqual(benchPatient(7));
    expect(benchPatient(7).ins).not.toBe(benchPatient(8).ins);
  });
});

describe('adtMessage', () => {
  it('maps every scenario step: kind, IPP, qualified INS, visit number, movement', () => {
    const p = benchPatient(42);
    for (const scenario of SCENARIOS) {
      for (const [step, event] of scenario.entries()) {
        const text = adtMessage(p, scenario, step, `CTL${step}`);
        const m = mapMessage(parseHl7(text));
        expect(m.header).toMatchObject({ type: 'ADT', event, controlId: `CTL${step}`, version: '2.5' });
        expect(m.kind).toBe(event === 'A28' || event === 'A31' ? 'identity' : 'movement');
        expect(m.patient.ipp).toEqual({ system: IPP_SYSTEM, value: p.ipp });
        expect(m.patient.ins).toEqual({ system: INS_TEST_SYSTEM, value: p.ins });
        expect(m.patient.warnings).toEqual([]);
        expect(m.patient.demographics['name']).toEqual([
          expect.objectContaining({ use: 'official', family: p.family }),
        ]);
        if (m.kind === 'identity') {
          expect(m.visit?.identifier).toBeUndefined();
          continue;
        }
        expect(m.visit?.identifier).toEqual({ system: IPP_SYSTEM, value: `2024${String(p.index).padStart(7, '0')}` });
        expect(m.visit?.movement?.attending?.system).toBe(RPPS_SYSTEM);
        if (event === 'A08') {
          expect(m.visit?.action).toBe('UPDATE');
        } else {
          expect(m.visit?.action).toBe('INSERT');
          expect(m.visit?.movement).toMatchObject({ event, unit: { code: expect.stringMatching(/^\d{4}$/) } });
        }
      }
    }
  });

  it('declares PAM FR 2.11 and UTF-8 in MSH', () => {
    const text = adtMessage(benchPatient(3), SCENARIOS[0]!, 0, 'X1');
    const msh = parseHl7(text).get('MSH')!;
    expect(msh.field(12).raw).toBe('2.5^FRA^2.11');
    expect(msh.field(18).value).toBe('UNICODE UTF-8');
  });

  it('rejects a step past the end of the scenario', () => {
    expect(() => adtMessage(benchPatient(0), ['A01'], 1, 'X')).toThrow(RangeError);
  });
});

describe('oruMessage', () => {
  it('maps to one report of 5 to 10 numeric observations with UCUM units and flags', () => {
    for (const text of oruCorpus(20)) {
      const m = mapMessage(parseHl7(text));
      expect(m.kind).toBe('results');
      expect(m.patient.ins?.system).toBe(INS_TEST_SYSTEM);
      expect(m.reports).toHaveLength(1);
      const observations = m.reports[0]!.observations;
      expect(observations.length).toBeGreaterThanOrEqual(5);
      expect(observations.length).toBeLessThanOrEqual(10);
      for (const o of observations) {
        expect(o.resource['valueQuantity']).toMatchObject({ system: 'http://unitsofmeasure.org' });
        expect(o.resource['interpretation']).toHaveLength(1);
        expect(o.resource['referenceRange']).toHaveLength(1);
      }
    }
  });
});

describe('adtPlan', () => {
  it('sends each patient on one connection, in scenario order, with unique control ids', () => {
    const plan = adtPlan(402, 7);
    expect(plan).toMatchObject({ messages: 402, patients: 101 });
    expect(plan.connections).toHaveLength(7);
    const texts = plan.connections.flatMap((c) => c.texts);
    const ids = plan.connections.flatMap((c) => c.controlIds);
    expect(texts).toHaveLength(402);
    expect(new Set(ids).size).toBe(402);
    expect(Object.values(plan.events).reduce((a, b) => a + b, 0)).toBe(402);
    const ipps = new Set<string>();
    for (const [c, conn] of plan.connections.entries()) {
      const seen = new Map<string, number>();
      for (const [k, text] of conn.texts.entries()) {
        const header = readHeader(text);
        if ('error' in header) throw new Error(header.error);
        expect(header.controlId).toBe(conn.controlIds[k]);
        const ipp = header.patient!.id;
        // Patient i is on connection i mod 7, and its control ids (index * 4 + step) increase.
        expect(Number(ipp.slice(1)) % 7).toBe(c);
        const n = Number(header.controlId.slice(3));
        expect(n).toBeGreaterThan(seen.get(ipp) ?? -1);
        seen.set(ipp, n);
        ipps.add(ipp);
      }
    }
    expect(ipps.size).toBe(101);
  });

  it('counts the stays the store must end up with', () => {
    // 101 patients, the last with 2 messages; only scenarios starting with A28 cut after 1 message have no stay.
    const plan = adtPlan(402, 7);
    expect(plan.stays).toBeLessThanOrEqual(plan.patients);
    expect(plan.stays).toBe(plan.patients);
    const one = adtPlan(1, 1);
    expect(one.patients).toBe(1);
    expect(one.stays).toBe(one.events.A28 === 1 ? 0 : 1);
  });

  it('numbers a plan from its first patient, sharing nothing with the plan before it', () => {
    const first = adtPlan(402, 7);
    const next = adtPlan(40, 7, first.patients);
    expect(next).toMatchObject({ messages: 40, patients: 10 });
    const ids = (p: typeof first) => p.connections.flatMap((c) => c.controlIds);
    const keys = (p: typeof first) =>
      p.connections.flatMap((c) =>
        c.texts.map((t) => {
          const header = readHeader(t);
          if ('error' in header) throw new Error(header.error);
          return header.patient!.id;
        }),
      );
    const firstIds = new Set(ids(first));
    const firstKeys = new Set(keys(first));
    expect(ids(next).filter((id) => firstIds.has(id))).toEqual([]);
    expect(keys(next).filter((ipp) => firstKeys.has(ipp))).toEqual([]);
    // The patients a plan from 0 would have after the first plan's.
    const whole = adtPlan(442, 7);
    expect(new Set(keys(next))).toEqual(new Set(keys(whole).filter((ipp) => !firstKeys.has(ipp))));
    expect(adtPlan(402, 7, 0)).toEqual(first);
  });

  it('rejects empty plans and negative first patients', () => {
    expect(() => adtPlan(0, 1)).toThrow(RangeError);
    expect(() => adtPlan(10, 0)).toThrow(RangeError);
    expect(() => adtPlan(10, 1, -1)).toThrow(RangeError);
  });

  it('gives a parse corpus of mixed events that all map', () => {
    const corpus = adtCorpus(200);
    expect(corpus).toHaveLength(200);
    const events = new Set(corpus.map((t) => mapMessage(parseHl7(t)).header.event));
    expect([...events].sort()).toEqual(['A01', 'A02', 'A03', 'A08', 'A28', 'A31']);
  });
});
