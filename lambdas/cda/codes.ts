/** OIDs, template ids and the small code tables of the CI-SIS documents PFI produces. */

import type { CdaCode } from './types.js';

export const OID = {
  loinc: '2.16.840.1.113883.6.1',
  snomed: '2.16.840.1.113883.6.96',
  ucum: '2.16.840.1.113883.6.8',
  confidentiality: '2.16.840.1.113883.5.25',
  gender: '2.16.840.1.113883.5.1',
  interpretation: '2.16.840.1.113883.5.83',
  actCode: '2.16.840.1.113883.5.4',
  idNatPs: '1.2.250.1.71.4.2.1',
  idNatStruct: '1.2.250.1.71.4.2.2',
} as const;

export const TEMPLATE = {
  hl7France: '2.16.840.1.113883.2.8.2.1',
  ciSis: '1.2.250.1.213.1.1.1.1',
  xdsSd: '1.3.6.1.4.1.19376.1.2.20',
  xdLab: '1.3.6.1.4.1.19376.1.3.3',
  crBio: '1.2.250.1.213.1.1.1.55',
  labAuthenticator: '1.3.6.1.4.1.19376.1.3.3.1.5',
  labPerformer: '1.3.6.1.4.1.19376.1.3.3.1.7',
  specialtySection: '1.3.6.1.4.1.19376.1.3.3.2.1',
  frChapter: '1.2.250.1.213.1.1.2.70',
  reportItemSection: '1.3.6.1.4.1.19376.1.3.3.2.2',
  frSubChapter: '1.2.250.1.213.1.1.2.71',
  dataProcessingEntry: '1.3.6.1.4.1.19376.1.3.1',
  frResultsEntry: '1.2.250.1.213.1.1.3.21',
  batteryOrganizer: '1.3.6.1.4.1.19376.1.3.1.4',
  frBattery: '1.2.250.1.213.1.1.3.78',
  labObservation: '1.3.6.1.4.1.19376.1.3.1.6',
  frLabObservation: '1.2.250.1.213.1.1.3.80',
  pdfCopySection: '1.2.250.1.213.1.1.2.243',
  attachedDocument: '1.2.250.1.213.1.1.3.18',
  simpleObservation: '1.3.6.1.4.1.19376.1.5.3.1.4.13',
  frSimpleObservation: '1.2.250.1.213.1.1.3.48',
  attachedDocumentType: '1.2.250.1.213.1.1.3.48.18',
} as const;

export const loinc = (code: string, displayName: string): CdaCode => ({
  code,
  displayName,
  codeSystem: OID.loinc,
  codeSystemName: 'LOINC',
});

export const CR_BIO_CODE = loinc('11502-2', "CR d'examens biologiques");
export const CR_BIO_TITLE = "Compte rendu d'examens biologiques";

/** HL7 Confidentiality (JDV_HL7_Confidentiality_CISIS). */
export const CONFIDENTIALITY: Record<'N' | 'R' | 'V', CdaCode> = {
  N: { code: 'N', displayName: 'Normal', codeSystem: OID.confidentiality },
  R: { code: 'R', displayName: 'Restreint', codeSystem: OID.confidentiality },
  V: { code: 'V', displayName: 'Très restreint', codeSystem: OID.confidentiality },
};

/** FHIR administrative gender → JDV_J143_AdministrativeGender_CISIS. */
export const GENDER: Record<string, CdaCode> = {
  male: { code: 'M', displayName: 'Masculin', codeSystem: OID.gender },
  female: { code: 'F', displayName: 'Féminin', codeSystem: OID.gender },
  other: { code: 'UN', displayName: 'Inconnu', codeSystem: OID.gender },
  unknown: { code: 'UN', displayName: 'Inconnu', codeSystem: OID.gender },
};

/** FHIR Encounter.class (v3 ActCode) → JDV_J142_TypeRencontre_CISIS. */
export const ENCOUNTER_TYPE: Record<string, CdaCode> = {
  IMP: { code: 'IMP', displayName: 'Hospitalisation (établissement, y compris HAD)', codeSystem: OID.actCode },
  ACUTE: { code: 'IMP', displayName: 'Hospitalisation (établissement, y compris HAD)', codeSystem: OID.actCode },
  NONAC: { code: 'IMP', displayName: 'Hospitalisation (établissement, y compris HAD)', codeSystem: OID.actCode },
  EMER: { code: 'EMER', displayName: 'Passage aux urgences (établissement)', codeSystem: OID.actCode },
  // A hospital's outpatient visit is an "externe" encounter; AMB in the CI-SIS set means outside any facility.
  AMB: {
    code: 'EXTERNE',
    displayName: 'Acte et consultation externe (établissement)',
    codeSystem: '1.2.250.1.213.1.1.4.2.291',
  },
  HH: { code: 'HH', displayName: 'Soins à domicile (hors établissement)', codeSystem: OID.actCode },
  FLD: { code: 'FLD', displayName: 'Terrain (voie publique, hélicoptère, ambulance, etc.)', codeSystem: OID.actCode },
  VR: { code: 'VR', displayName: "Virtuelle (exemple : RCP en l'absence du patient)", codeSystem: OID.actCode },
};

/** JDV_HL7_ObservationInterpretation_CISIS: the codes a CR-BIO may carry, with their French labels. */
export const INTERPRETATION: Record<string, string> = {
  '<': 'Inférieur à la limite de détection',
  '>': 'Supérieur à la limite maximale de mesure',
  A: 'Anormal',
  AA: 'Très anormal, alerte',
  B: 'Amélioration',
  CAR: "Porteur d'une forme altérée d'un gène",
  D: 'Diminution significative par rapport au résultat antérieur',
  DET: 'Détecté',
  E: 'Équivoque',
  EX: 'Hors seuils',
  EXP: 'Attendu',
  H: 'Anormalement haut',
  HH: 'Très anormalement haut, alerte',
  HU: 'Significativement haut',
  HX: 'Hors seuil supérieur',
  I: 'Intermédiaire',
  IE: 'Preuves insuffisantes',
  IND: 'Indéterminé',
  L: 'Anormalement bas',
  LL: 'Très anormalement bas, alerte',
  LU: 'Significativement bas',
  LX: 'Hors seuil inférieur',
  N: 'Normal',
  NCL: 'Pas de standard défini',
  ND: 'Non détecté',
  NEG: 'Négatif',
  NR: 'Non réactif',
  NS: 'Non sensible',
  POS: 'Positif',
  R: 'Résistant',
  RR: 'Réactif',
  S: 'Sensible',
  SDD: 'Sensible à forte dose',
  'SYN-R': 'Synergie - résistant',
  'SYN-S': 'Synergie - sensible',
  U: 'Augmentation significative par rapport au résultat antérieur',
  UNE: 'Inattendu',
  W: 'Dégradation',
  WR: 'Faiblement réactif',
};

/** Lab specialties (IHE XD-LAB chapters, LOINC) by HL7 v2 diagnostic service section (table 0074). */
export const SPECIALTY_BY_SECTION: Record<string, CdaCode> = {
  BG: loinc('18767-4', 'Gaz du sang'),
  BLB: loinc('18717-9', 'Immuno-hématologie'),
  CH: loinc('18719-5', 'Biochimie'),
  HM: loinc('18723-7', 'Hématologie'),
  IMM: loinc('18727-8', 'Sérologie'),
  SR: loinc('18727-8', 'Sérologie'),
  MB: loinc('18725-2', 'Microbiologie'),
  MCB: loinc('18725-2', 'Microbiologie'),
  MYC: loinc('18725-2', 'Microbiologie'),
  PAR: loinc('18725-2', 'Microbiologie'),
  VR: loinc('18725-2', 'Microbiologie'),
  TX: loinc('18728-6', 'Toxicologie'),
  URN: loinc('18729-4', 'Examens urinaires'),
};

/** The chapter codes themselves, so that a report coded with one is filed under it. */
export const SPECIALTY_CODES: ReadonlySet<string> = new Set([
  '18717-9',
  '18718-7',
  '18719-5',
  '18720-3',
  '18721-1',
  '18722-9',
  '18723-7',
  '18724-5',
  '18725-2',
  '18727-8',
  '18728-6',
  '18729-4',
  '18767-4',
  '18768-2',
  '18769-0',
  '26435-8',
  '26436-6',
  '26437-4',
  '26438-2',
]);

/** The chapter of a report no section code places: "Laboratory studies". */
export const DEFAULT_SPECIALTY = loinc('26436-6', 'Examens de biologie médicale');
