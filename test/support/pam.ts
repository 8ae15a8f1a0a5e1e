/**
 * Our own PAM FR (IHE PAM national extension France 2.11) test messages: a small builder so each test states only
 * what matters to it. Names, IPPs and NIRs are fictitious (INS-NIR test OID, valid keys).
 */

export const CHU = 'CHU-TEST&1.2.250.1.71.4.2.7.1.9.99&ISO';
export const IPP_SYSTEM = 'urn:oid:1.2.250.1.71.4.2.7.1.9.99';
export const INS_TEST_SYSTEM = 'urn:oid:1.2.250.1.213.1.4.10';
export const RPPS = 'ASIP-SANTE-PS&1.2.250.1.71.4.2.1&ISO';

/** A 15-character NIR with its key: 97 - (first 13 digits mod 97). */
export function nir(first13: string): string {
  const key = 97 - Number(BigInt(first13) % 97n);
  return `${first13}${String(key).padStart(2, '0')}`;
}

export interface PamOptions {
  type?: string;
  event: string;
  structure?: string;
  controlId: string;
  ipp?: string;
  /** INS matricule (sent with PID-32 `status`). */
  ins?: string;
  /** PID-32; default VALI. `''` sends none. */
  status?: string;
  family?: string;
  given?: string;
  birthDate?: string;
  sex?: string;
  usedFamily?: string;
  /** PV1-19 visit number; none = no PV1. */
  visit?: string;
  patientClass?: string;
  /** PV1-3 point of care. */
  location?: string;
  attending?: { rpps: string; family: string; given: string };
  zbe?: {
    id: string;
    at: string;
    action?: 'INSERT' | 'UPDATE' | 'CANCEL';
    original?: string;
    uf?: string;
    ufName?: string;
  };
  /** MRG-1 IPP (A40/A47). */
  mrgIpp?: string;
  charset?: string;
  extra?: string[];
}

/** Builds the message (segments joined with `\r`). */
export function pam(o: PamOptions): string {
  const structure = o.structure ?? `ADT_${o.event === 'A28' || o.event === 'A31' ? 'A05' : 'A01'}`;
  const msh = `MSH|^~\\&|GAM|CHU-TEST|PFI|PFI|20260305103000||${o.type ?? 'ADT'}^${o.event}^${structure}|${o.controlId}|P|2.5^FRA^2.11|||||FRA|${o.charset ?? 'UNICODE UTF-8'}|FR||2.11^IHE_FRANCE-2.11-PAM`;
  const ids = [
    o.ipp ? `${o.ipp}^^^${CHU}^PI` : '',
    o.ins ? `${o.ins}^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.10&ISO^INS` : '',
  ]
    .filter(Boolean)
    .join('~');
  const names = [`${o.family ?? 'Lefèvre'}^${o.given ?? 'Hélène'}^${o.given ?? 'Hélène'} Marie^^^^L`];
  if (o.usedFamily) names.push(`${o.usedFamily}^${o.given ?? 'Hélène'}^^^^^D`);
  const pid = [
    'PID',
    '1',
    '',
    ids,
    '',
    names.join('~'),
    '',
    o.birthDate ?? '19790305',
    o.sex ?? 'F',
    '',
    '',
    '12 rue de la Paix^^Orléans^^45000^FRA^H~^^^^^^BDL^^45234',
    '',
    '0238000000^PRN^PH',
    ...Array(18).fill(''),
    o.status ?? 'VALI',
  ].join('|');
  const segments = [msh, 'EVN||20260305103000', pid];
  if (o.mrgIpp) segments.push(`MRG|${o.mrgIpp}^^^${CHU}^PI`);
  if (o.visit) {
    const pv1 = Array(20).fill('');
    pv1[0] = 'PV1';
    pv1[1] = '1';
    pv1[2] = o.patientClass ?? 'I';
    pv1[3] = o.location ?? '';
    pv1[7] = o.attending ? `${o.attending.rpps}^${o.attending.family}^${o.attending.given}^^^^^^${RPPS}^D^^^RPPS` : '';
    pv1[19] = `${o.visit}^^^${CHU}^VN`;
    segments.push(pv1.join('|'));
  }
  if (o.zbe) {
    const uf = o.zbe.uf ? `${o.zbe.ufName ?? `UF ${o.zbe.uf}`}^^^^^${CHU}^UF^^^${o.zbe.uf}` : '';
    segments.push(
      `ZBE|${o.zbe.id}^CHU-TEST|${o.zbe.at}||${o.zbe.action ?? 'INSERT'}|N|${o.zbe.original ?? ''}|${uf}||HMS`,
    );
  }
  segments.push(...(o.extra ?? []));
  return segments.join('\r');
}
