/**
 * A local HTTP server answering like the Annuaire Santé FHIR API v2 for a handful of fictional professionals:
 * Bundle searchset with `next` paging links, `mailbox-mss` telecom slices (FR Core e-mail type MSSANTE plus the
 * `as-ext-mailbox-mss-metadata` type), ordinary e-mails to filter out, `ESANTE-API-KEY` checking, a 429 with
 * Retry-After, a failing and a hanging identifier.
 */

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export const API_KEY = 'test-api-key-0123456789';

export const IDS = {
  paulRpps: '10000000001',
  paulIdNat: '810000000001',
  noMailboxRpps: '10000000002',
  labFiness: '990000001',
  labIdNat: '1990000001',
  role: 'ROLE-0001',
  rateLimited: '10000000429',
  broken: '10000000503',
  slow: '10000000999',
  evilNext: '10000000666',
} as const;

export const MAILBOXES = {
  paul: 'paul.biologiste@test-ci-sis.mssante.fr',
  cabinet: 'cabinet.biologie@test-ci-sis.mssante.fr',
  lab: 'secretariat.labo@hopital-test.mssante.fr',
  role: 'consultations@hopital-test.mssante.fr',
} as const;

const EMAIL_TYPE = 'https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-contact-point-email-type';
const METADATA = 'https://interop.esante.gouv.fr/ig/fhir/annuaire/StructureDefinition/as-ext-mailbox-mss-metadata';
const TYPE_MESSAGERIE = 'https://mos.esante.gouv.fr/NOS/TRE_R256-TypeMessagerie/FHIR/TRE-R256-TypeMessagerie';

function mailboxMss(address: string, type: 'PER' | 'CAB' | 'ORG' | 'APP') {
  return {
    extension: [
      { url: EMAIL_TYPE, valueCoding: { system: TYPE_MESSAGERIE, code: 'MSSANTE', display: 'MSSANTE' } },
      {
        url: METADATA,
        extension: [
          {
            url: 'type',
            valueCodeableConcept: {
              coding: [{ system: 'https://mos.esante.gouv.fr/NOS/TRE_R257-TypeBAL/FHIR/TRE-R257-TypeBAL', code: type }],
            },
          },
          { url: 'description', valueString: 'BAL de test' },
          { url: 'listeRouge', valueBoolean: false },
        ],
      },
    ],
    system: 'email',
    value: address,
  };
}

const plainEmail = (address: string, code?: string) => ({
  ...(code ? { extension: [{ url: EMAIL_TYPE, valueCoding: { system: TYPE_MESSAGERIE, code } }] } : {}),
  system: 'email',
  value: address,
});

const practitioner = (id: string, rpps: string, telecom: unknown[]) => ({
  resourceType: 'Practitioner',
  id,
  identifier: [
    { system: 'urn:oid:1.2.250.1.71.4.2.1', value: `8${rpps}` },
    { system: 'https://rpps.esante.gouv.fr', value: rpps },
  ],
  telecom,
});

export interface FakeAnnuaire {
  baseUrl: string;
  requests: { path: string; query: URLSearchParams; apiKey: string | undefined }[];
  close(): Promise<void>;
}

export async function startFakeAnnuaire(): Promise<FakeAnnuaire> {
  const requests: FakeAnnuaire['requests'] = [];
  const rateLimitedSeen = new Set<string>();
  let base = '';

  const bundle = (entries: { resource: unknown; mode?: 'match' | 'include' }[], next?: string, total?: number) => ({
    resourceType: 'Bundle',
    id: 'b1',
    type: 'searchset',
    total: total ?? entries.filter((e) => e.mode !== 'include').length,
    link: [{ relation: 'self', url: `${base}/self` }, ...(next ? [{ relation: 'next', url: next }] : [])],
    entry: entries.map((e) => ({
      fullUrl: `${base}/${(e.resource as { resourceType: string }).resourceType}/x`,
      resource: e.resource,
      search: { mode: e.mode ?? 'match' },
    })),
  });

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/fhir+json;charset=utf-8', ...headers });
    res.end(JSON.stringify(body));
  };

  function answer(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', base);
    const apiKey = req.headers['esante-api-key'] as string | undefined;
    requests.push({ path: url.pathname, query: url.searchParams, apiKey });
    if (apiKey !== API_KEY) {
      return send(res, 401, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'security' }] });
    }
    const type = url.pathname.replace(/^\/fhir\/v2\//, '');
    const identifier = url.searchParams.get('identifier') ?? '';
    const value = identifier.includes('|') ? identifier.slice(identifier.indexOf('|') + 1) : identifier;

    if (url.searchParams.get('_page') === '2') {
      // Second page of Paul's search: the included PractitionerRole with the cabinet mailbox.
      const role = {
        resourceType: 'PractitionerRole',
        id: 'role-paul',
        practitioner: { reference: 'Practitioner/paul' },
        telecom: [mailboxMss(MAILBOXES.cabinet, 'CAB')],
      };
      return send(res, 200, bundle([{ resource: role, mode: 'include' }], undefined, 1));
    }
    if (type === 'Practitioner') {
      if (value === IDS.paulRpps || value === IDS.paulIdNat) {
        const paul = practitioner('paul', IDS.paulRpps, [
          mailboxMss(MAILBOXES.paul, 'PER'),
          plainEmail('paul.perso@example.org'),
          plainEmail('paul.apicrypt@example.apicrypt.org', 'APICRYPT'),
          { system: 'phone', value: '0100000000' },
        ]);
        return send(res, 200, bundle([{ resource: paul }], `${base}/fhir/v2/Practitioner?_getpages=abc&_page=2`));
      }
      if (value === IDS.noMailboxRpps || value === `8${IDS.noMailboxRpps}`) {
        const p = practitioner('nomail', IDS.noMailboxRpps, [plainEmail('someone@example.org', 'APICRYPT')]);
        return send(res, 200, bundle([{ resource: p }]));
      }
      if (value === IDS.rateLimited) {
        if (!rateLimitedSeen.has(value)) {
          rateLimitedSeen.add(value);
          return send(res, 429, { message: 'Rate limit exceeded' }, { 'retry-after': '1' });
        }
        return send(res, 200, bundle([{ resource: practitioner('rl', value, [mailboxMss(MAILBOXES.paul, 'PER')]) }]));
      }
      if (value === IDS.broken) return send(res, 503, { message: 'unavailable' });
      if (value === IDS.slow) return; // never answers
      if (value === IDS.evilNext) {
        return send(res, 200, bundle([{ resource: practitioner('e', value, []) }], 'http://elsewhere.invalid/steal'));
      }
    }
    if (type === 'Organization' && (value === IDS.labFiness || value === IDS.labIdNat)) {
      const org = {
        resourceType: 'Organization',
        id: 'lab',
        identifier: [{ system: 'https://finess.esante.gouv.fr', value: IDS.labFiness }],
        telecom: [mailboxMss(MAILBOXES.lab, 'ORG'), plainEmail('contact@hopital-test.fr')],
      };
      return send(res, 200, bundle([{ resource: org }]));
    }
    if (type === 'PractitionerRole' && value === IDS.role) {
      const role = { resourceType: 'PractitionerRole', id: 'r1', telecom: [mailboxMss(MAILBOXES.role, 'CAB')] };
      return send(res, 200, bundle([{ resource: role }]));
    }
    return send(res, 200, bundle([]));
  }

  const server = createServer(answer);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    baseUrl: `${base}/fhir/v2`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
