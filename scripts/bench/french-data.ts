import type { Resource } from '../../lambdas/fhir/types.js';

/**
 * Made-up but realistic French test patients and lab results for the benchmarks. Seeded rows are a pure
 * function of their index, so a kept database can be reused without storing what was generated.
 */

/** INS-NIR test system: the matricules below are never real people (test NIRs). */
export const INS_TEST_SYSTEM = 'urn:oid:1.2.250.1.213.1.4.10';
export const IPP_SYSTEM = 'urn:oid:1.2.250.1.71.4.2.7.1.9.99';
export const LOINC = 'http://loinc.org';

/** Seeded INS use birth order numbers 001-499 and created ones 500-999, so the two never collide. */
const SEEDED_ORDERS = 499;
/** Largest number of seeded patients the INS scheme can tell apart (999 communes × 499 birth orders). */
export const MAX_SEEDED_PATIENTS = 999 * SEEDED_ORDERS;

export const FAMILY_NAMES: readonly string[] = [
  'Martin',
  'Bernard',
  'Thomas',
  'Petit',
  'Robert',
  'Richard',
  'Durand',
  'Dubois',
  'Moreau',
  'Laurent',
  'Simon',
  'Michel',
  'Lefèvre',
  'Leroy',
  'Roux',
  'David',
  'Bertrand',
  'Morel',
  'Fournier',
  'Girard',
  'Bonnet',
  'Dupont',
  'Lambert',
  'Fontaine',
  'Rousseau',
  'Vincent',
  'Müller',
  'Lefebvre',
  'Faure',
  'André',
  'Mercier',
  'Blanc',
  'Guérin',
  'Boyer',
  'Garnier',
  'Chevalier',
  'François',
  'Legrand',
  'Gauthier',
  'Garcia',
  'Perrin',
  'Robin',
  'Clément',
  'Morin',
  'Nicolas',
  'Henry',
  'Roussel',
  'Mathieu',
  'Gautier',
  'Masson',
  'Marchand',
  'Duval',
  'Denis',
  'Dumont',
  'Marie',
  'Lemaire',
  'Noël',
  'Meyer',
  'Dufour',
  'Meunier',
  'Brun',
  'Blanchard',
  'Giraud',
  'Joly',
  'Rivière',
  'Lucas',
  'Brunet',
  'Gaillard',
  'Barbier',
  'Arnaud',
  'Martínez',
  'Gérard',
  'Roche',
  'Renard',
  'Schmitt',
  'Roy',
  'Leroux',
  'Colin',
  'Vidal',
  'Caron',
  'Picard',
  'Roger',
  'Fabre',
  'Aubert',
  'Lemoine',
  'Renaud',
  'Dumas',
  'Lacroix',
  'Olivier',
  'Philippe',
  'Bourgeois',
  'Pierre',
  'Benoît',
  'Rey',
  'Leclerc',
  'Payet',
  'Rolland',
  'Leclercq',
  'Guillaume',
  'Lecomte',
  'Lopez',
  'Jean',
  'Dupuy',
  'Guillot',
  'Hubert',
  'Berger',
  'Carpentier',
  'Sánchez',
  'Dupuis',
  'Moulin',
  'Louis',
  'Deschamps',
  'Huet',
  'Vasseur',
  'Perez',
  'Boucher',
  'Fleury',
  'Royer',
  'Klein',
  'Jacquet',
  'Adam',
  'Paris',
  'Poirier',
  'Marty',
  'Aubry',
  'Guyot',
  'Carré',
  'Charles',
  'Renault',
  'Charpentier',
  'Ménard',
  'Maillard',
  'Baron',
  'Bertin',
  'Bailly',
  'Hervé',
  'Schneider',
  'Fernandez',
  'Le Gall',
  'Collet',
  'Léger',
  'Bouvier',
  'Julien',
  'Prévost',
  'Millet',
  'Perrot',
  'Daniel',
  'Le Roux',
  'Cousin',
  'Germain',
  'Breton',
  'Besson',
  'Langlois',
  'Rémy',
  'Le Goff',
  'Pelletier',
  'Lévêque',
  'Perrier',
  'Leblanc',
  'Barré',
  'Lebrun',
  'Marchal',
  'Weber',
  'Mallet',
  'Hamon',
  'Boulanger',
  'Jacob',
  'Monnier',
  'Michaud',
  'Rodriguez',
  'Guichard',
  'Gillet',
  'Étienne',
  'Grondin',
  'Poulain',
  'Tessier',
  'Chevallier',
  'Collin',
  'Chauvin',
  'Da Silva',
  'Bouchet',
  'Gay',
  'Lemaître',
  'Bénard',
  'Maréchal',
  'Humbert',
  'Reynaud',
  'Antoine',
  'Hoarau',
  'Perret',
  'Barthélemy',
  'Cordier',
  'Pichon',
  'Lejeune',
  'Gilbert',
  'Lamy',
  'Delaunay',
  'Pasquier',
  'Carlier',
  'Laporte',
  "N'Diaye",
  "D'Almeida",
  'Côté',
  'Béranger',
  'Desprès',
  'Œuvrard',
  'Lefèbvre-Dubœuf',
  'Saint-Jean',
  'Éloi',
  'Ducœur',
];

const MALE_GIVEN = [
  'Jean',
  'Pierre',
  'Michel',
  'André',
  'Philippe',
  'Louis',
  'Nicolas',
  'François',
  'Julien',
  'Hugo',
  'Gabriel',
  'Raphaël',
  'Léo',
  'Lucas',
  'Théo',
  'Noé',
  'Jérôme',
  'Stéphane',
  'Frédéric',
  'Loïc',
  'Benoît',
  'Grégoire',
  'Émile',
  'Maël',
  'Anaël',
  'Cédric',
  'Hervé',
  'Rémi',
  'Joël',
  'Timothée',
];
const FEMALE_GIVEN = [
  'Marie',
  'Nathalie',
  'Isabelle',
  'Sylvie',
  'Catherine',
  'Françoise',
  'Valérie',
  'Christine',
  'Sophie',
  'Anne',
  'Camille',
  'Léa',
  'Chloé',
  'Inès',
  'Zoé',
  'Manon',
  'Élodie',
  'Hélène',
  'Mélanie',
  'Agnès',
  'Gaëlle',
  'Noémie',
  'Céline',
  'Joëlle',
  'Renée',
  'Bérénice',
  'Maëlys',
  'Clémence',
  'Anaïs',
  'Éloïse',
];

/** Département codes used for birth places (digits only: Corsica's 2A/2B are left out on purpose). */
const DEPARTEMENTS = [
  '75',
  '69',
  '13',
  '33',
  '59',
  '31',
  '44',
  '67',
  '06',
  '34',
  '35',
  '38',
  '76',
  '57',
  '62',
  '92',
  '93',
  '94',
];

const CITIES: readonly { city: string; postalCode: string }[] = [
  { city: 'Paris', postalCode: '75014' },
  { city: 'Lyon', postalCode: '69003' },
  { city: 'Marseille', postalCode: '13005' },
  { city: 'Bordeaux', postalCode: '33000' },
  { city: 'Lille', postalCode: '59000' },
  { city: 'Toulouse', postalCode: '31400' },
  { city: 'Nantes', postalCode: '44000' },
  { city: 'Strasbourg', postalCode: '67000' },
  { city: 'Nice', postalCode: '06000' },
  { city: 'Montpellier', postalCode: '34090' },
  { city: 'Rennes', postalCode: '35000' },
  { city: 'Saint-Étienne', postalCode: '42000' },
];

export interface LabTest {
  code: string;
  display: string;
  unit: string;
  low: number;
  high: number;
  decimals: number;
}

/** Common lab tests (LOINC) with the units and usual ranges of French laboratories. */
export const LAB_TESTS: readonly LabTest[] = [
  { code: '15074-8', display: 'Glucose [Moles/volume] in Blood', unit: 'mmol/L', low: 3.9, high: 7.5, decimals: 1 },
  { code: '718-7', display: 'Hemoglobin [Mass/volume] in Blood', unit: 'g/dL', low: 10.5, high: 17.5, decimals: 1 },
  {
    code: '14682-9',
    display: 'Creatinine [Moles/volume] in Serum or Plasma',
    unit: 'umol/L',
    low: 45,
    high: 130,
    decimals: 0,
  },
  {
    code: '2951-2',
    display: 'Sodium [Moles/volume] in Serum or Plasma',
    unit: 'mmol/L',
    low: 132,
    high: 147,
    decimals: 0,
  },
  {
    code: '2823-3',
    display: 'Potassium [Moles/volume] in Serum or Plasma',
    unit: 'mmol/L',
    low: 3.3,
    high: 5.3,
    decimals: 1,
  },
  {
    code: '6690-2',
    display: 'Leukocytes [#/volume] in Blood by Automated count',
    unit: '10*3/uL',
    low: 3.5,
    high: 12,
    decimals: 1,
  },
  {
    code: '777-3',
    display: 'Platelets [#/volume] in Blood by Automated count',
    unit: '10*3/uL',
    low: 140,
    high: 420,
    decimals: 0,
  },
  { code: '4548-4', display: 'Hemoglobin A1c/Hemoglobin.total in Blood', unit: '%', low: 4.5, high: 9.5, decimals: 1 },
  {
    code: '1742-6',
    display: 'Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma',
    unit: 'U/L',
    low: 7,
    high: 70,
    decimals: 0,
  },
  {
    code: '1988-5',
    display: 'C reactive protein [Mass/volume] in Serum or Plasma',
    unit: 'mg/L',
    low: 0.5,
    high: 60,
    decimals: 1,
  },
];

/** A 32-bit integer hash (splitmix-style): the deterministic source of every seeded value. */
export function hash32(n: number, salt = 0): number {
  let h = (Math.imul(n ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(salt + 1, 0xc2b2ae35)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/** A value picker: `pick(n)` returns an integer in [0, n). */
export type Pick = (n: number) => number;

/** Picker deterministic in (`index`, call order). */
export function seededPick(index: number): Pick {
  let salt = 0;
  return (n) => hash32(index, salt++) % n;
}

/** Picker from Math.random (created patients must differ between runs). */
export const randomPick: Pick = (n) => Math.floor(Math.random() * n);

const pad = (n: number, width: number) => String(n).padStart(width, '0');
const choose = <T>(list: readonly T[], pick: Pick): T => list[pick(list.length)] as T;

/** The 2-digit NIR key of a 13-digit NIR: 97 - (n mod 97), computed digit by digit (n exceeds 2^53 / 97 precision). */
export function nirKey(first13: string): string {
  if (!/^\d{13}$/.test(first13)) throw new RangeError('a NIR key needs exactly 13 digits');
  let remainder = 0;
  for (let i = 0; i < first13.length; i++) remainder = (remainder * 10 + (first13.charCodeAt(i) - 48)) % 97;
  return pad(97 - remainder, 2);
}

interface Birth {
  sex: 1 | 2;
  year: number;
  month: number;
  day: number;
}

/** NIR of a birth: sex, year, month, 2-digit département, commune and birth order, then the key. */
function nir(b: Birth, departement: string, commune: number, order: number): string {
  const first13 = `${b.sex}${pad(b.year % 100, 2)}${pad(b.month, 2)}${departement.slice(0, 2)}${pad(commune, 3)}${pad(order, 3)}`;
  return first13 + nirKey(first13);
}

function birth(pick: Pick): Birth {
  const year = 1935 + pick(88);
  const month = 1 + pick(12);
  return { sex: pick(2) === 0 ? 1 : 2, year, month, day: 1 + pick(28) };
}

function patientResource(pick: Pick, b: Birth, ins: string, ipp: string): Resource {
  const given = b.sex === 1 ? MALE_GIVEN : FEMALE_GIVEN;
  const first = choose(given, pick);
  const second = pick(3) === 0 ? [choose(given, pick)] : [];
  const family = choose(FAMILY_NAMES, pick);
  const place = choose(CITIES, pick);
  return {
    resourceType: 'Patient',
    identifier: [
      {
        use: 'official',
        type: {
          coding: [{ system: 'https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203', code: 'INS-NIR-TEST' }],
        },
        system: INS_TEST_SYSTEM,
        value: ins,
      },
      {
        use: 'usual',
        type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'PI' }] },
        system: IPP_SYSTEM,
        value: ipp,
      },
    ],
    name: [{ use: 'official', family, given: [first, ...second] }],
    gender: b.sex === 1 ? 'male' : 'female',
    birthDate: `${b.year}-${pad(b.month, 2)}-${pad(b.day, 2)}`,
    address: [{ use: 'home', line: [`${1 + pick(150)} rue ${choose(FAMILY_NAMES, pick)}`], ...place, country: 'FR' }],
  };
}

/** IPP of seeded patient `index`: "1" + 8 digits (created patients use "9" + 11 digits). */
export const seededIpp = (index: number): string => `1${pad(index, 8)}`;

/** The seeded patient index an IPP encodes, or undefined for any other IPP. */
export function indexFromIpp(ipp: string): number | undefined {
  const m = /^1(\d{8})$/.exec(ipp);
  return m ? Number(m[1]) : undefined;
}

/** Seeded patient `index` (0 ≤ index < {@link MAX_SEEDED_PATIENTS}): always the same resource. */
export function seededPatient(index: number): Resource {
  if (!Number.isSafeInteger(index) || index < 0 || index >= MAX_SEEDED_PATIENTS) {
    throw new RangeError(`seeded patient index must be in [0, ${MAX_SEEDED_PATIENTS})`);
  }
  const pick = seededPick(index);
  const b = birth(pick);
  const ins = nir(b, choose(DEPARTEMENTS, pick), 1 + Math.floor(index / SEEDED_ORDERS), 1 + (index % SEEDED_ORDERS));
  return patientResource(pick, b, ins, seededIpp(index));
}

/** A new patient with a random INS (birth order ≥ 500) and IPP, for the create interaction. */
export function randomPatient(pick: Pick = randomPick): Resource {
  const b = birth(pick);
  const ins = nir(b, choose(DEPARTEMENTS, pick), 1 + pick(999), 500 + pick(500));
  const ipp = `9${pad(pick(1_000_000), 6)}${pad(pick(100_000), 5)}`;
  return patientResource(pick, b, ins, ipp);
}

/** How many of `observations` seeded Observations belong to patient `index` (they are dealt round-robin). */
export function observationCount(index: number, patients: number, observations: number): number {
  return Math.floor(observations / patients) + (index < observations % patients ? 1 : 0);
}

/** LOINC test of the `k`-th Observation of patient `index`: consecutive k give distinct tests. */
export const labTestOf = (index: number, k: number): LabTest =>
  LAB_TESTS[(hash32(index, 101) + k) % LAB_TESTS.length] as LabTest;

/** Seeded Observation number `j` (of patient j mod `patients`), subject `Patient/<patientId>`. */
export function seededObservation(j: number, patients: number, patientId: string): Resource {
  const index = j % patients;
  const k = Math.floor(j / patients);
  const test = labTestOf(index, k);
  const pick = seededPick(1_000_000_000 + j);
  const value = Number((test.low + (pick(10_000) / 10_000) * (test.high - test.low)).toFixed(test.decimals));
  const effective = `${2022 + pick(4)}-${pad(1 + pick(12), 2)}-${pad(1 + pick(28), 2)}T${pad(7 + pick(12), 2)}:${pad(pick(60), 2)}:00+01:00`;
  return {
    resourceType: 'Observation',
    status: 'final',
    category: [
      { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] },
    ],
    code: { coding: [{ system: LOINC, code: test.code, display: test.display }] },
    subject: { reference: `Patient/${patientId}` },
    effectiveDateTime: effective,
    valueQuantity: { value, unit: test.unit, system: 'http://unitsofmeasure.org', code: test.unit },
  };
}
