/**
 * `POST /fhir/Patient/<id>/$expunge?everything=true&reason=<text>` (or the same as Parameters): RGPD erasure of the
 * patient (./erasure.ts). Needs the dedicated scope `system/Patient.expunge`, which `*.cruds` does not grant; answers
 * an OperationOutcome with the counts, 409 under legal hold.
 */

import type { DocumentStore } from '../adapters/documents/document-store.js';
import { allowsOperation } from '../auth/scopes.js';
import { badRequest, forbidden, outcome } from '../fhir/errors.js';
import type { OperationHandler } from '../fhir/router.js';
import type { FhirService } from '../fhir/service.js';
import type { RawMessageArchive } from '../hl7/raw-archive.js';
import { expungePatient } from './erasure.js';

function parameter(body: string | undefined, name: string): string | undefined {
  if (!body?.trim()) return undefined;
  const parameters = (
    JSON.parse(body) as { parameter?: { name?: string; valueString?: string; valueBoolean?: boolean }[] }
  ).parameter;
  const p = parameters?.find((x) => x.name === name);
  return p?.valueString ?? (p?.valueBoolean === undefined ? undefined : String(p.valueBoolean));
}

export function erasureOperations(deps: {
  documents: DocumentStore | undefined;
  archive: RawMessageArchive | undefined;
}): (service: FhirService) => Readonly<Record<string, OperationHandler>> {
  return (service) => ({
    'Patient/$expunge': async ({ auth, id, req }) => {
      if (!allowsOperation(auth.scopes, 'Patient', 'expunge')) {
        throw forbidden('Erasure needs the scope system/Patient.expunge');
      }
      const query = (name: string) => req.query.find(([k]) => k === name)?.[1] ?? parameter(req.body, name);
      if (query('everything') !== 'true') throw badRequest('$expunge erases a whole patient: pass everything=true');
      const reason = query('reason')?.trim();
      if (!reason) throw badRequest('$expunge needs a reason (recorded in the erasure journal)');
      if (reason.length > 500) throw badRequest('The reason is limited to 500 characters');
      const r = await expungePatient(
        { db: service.repo.db, documents: deps.documents, archive: deps.archive, audit: service.audit?.recorder },
        auth,
        id,
        reason,
      );
      const c = r.counts;
      const text = `${r.already ? 'Already erased' : 'Erased'}: ${c.resources} resources (${c.versions} versions, ${c.indexRows} index rows), ${c.documents} stored documents, ${c.rawMessages} raw HL7 messages, ${c.queuedMessages} queued messages, ${c.sendJournal} MSSanté send records`;
      return { status: 200, body: outcome('information', 'informational', text) };
    },
  });
}
