/**
 * Composition of the document features from configuration, shared by `npm start` and the Lambda handlers: the
 * organisation defaults, the `$generate-cda` operation, the MSSanté transport and the annuaire client.
 */

import { readFile } from 'node:fs/promises';
import type { SendMailOptions } from 'nodemailer';
import type { SqlExecutor } from '../adapters/sql/executor.js';
import { type CdaOrganisation, cdaOrganisationSchema, EXAMPLE_CDA_ORGANISATION } from '../cda/organisation.js';
import type { Config } from '../config.js';
import { ConfigError } from '../config.js';
import type { OperationHandler } from '../fhir/router.js';
import type { FhirService } from '../fhir/service.js';
import { type AnnuaireClient, createAnnuaireClient } from '../mssante/annuaire.js';
import { sqlAnnuaireCache } from '../mssante/annuaire-cache.js';
import { createMssanteTransport, type SendOutcome, sendMail } from '../mssante/smtp.js';
import { generateLabReport, type LabReportDeps } from './lab-report.js';
import { generatePdfDocument } from './pdf-document.js';

/** The organisation defaults of CDA documents: the configured file, else the example organisation (local mode). */
export async function loadCdaOrganisation(file: string | undefined): Promise<CdaOrganisation> {
  if (!file) return EXAMPLE_CDA_ORGANISATION;
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch {
    throw new ConfigError('PFI_ORGANISATION_FILE: cannot be read as JSON');
  }
  const parsed = cdaOrganisationSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  PFI_ORGANISATION_FILE ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  return parsed.data;
}

/**
 * `POST DiagnosticReport/<id>/$generate-cda` (the report's CR-BIO) and `POST DocumentReference/<id>/$generate-cda`
 * (the level-1 CDA of a PDF document): the generated DocumentReference, 201 made now, 200 existing.
 */
export function documentOperations(
  deps: Omit<LabReportDeps, 'service'>,
): (service: FhirService) => Readonly<Record<string, OperationHandler>> {
  return (service) => ({
    'DiagnosticReport/$generate-cda': async ({ auth, id }) => {
      const r = await generateLabReport({ ...deps, service }, auth, id);
      return { status: r.created ? 201 : 200, resource: r.documentReference };
    },
    'DocumentReference/$generate-cda': async ({ auth, id }) => {
      const r = await generatePdfDocument({ ...deps, service }, auth, id);
      return { status: r.created ? 201 : 200, resource: r.documentReference };
    },
  });
}

export interface MssanteSender {
  send(mail: SendMailOptions): Promise<SendOutcome>;
  close(): void;
}

/**
 * The SMTP sender of MSSanté messages: `smtpUrl` with the configured CA and client certificate, or the embedded
 * sink (`sink`: its address and the CA of its generated certificate).
 */
export async function createMssanteSender(
  config: Config['mssante'],
  sink?: { url: string; ca: string },
): Promise<MssanteSender> {
  const url = config.smtpUrl ?? sink?.url;
  if (!url) throw new ConfigError('Invalid configuration:\n  PFI_SMTP_URL: required (no embedded SMTP sink here)');
  const read = async (file: string | undefined, name: string) => {
    if (!file) return undefined;
    try {
      return await readFile(file);
    } catch {
      throw new ConfigError(`Invalid configuration:\n  ${name}: cannot be read`);
    }
  };
  const transport = createMssanteTransport({
    url,
    ca: (await read(config.caFile, 'PFI_SMTP_CA_FILE')) ?? (config.smtpUrl ? undefined : sink?.ca),
    cert: await read(config.clientCertFile, 'PFI_SMTP_CLIENT_CERT_FILE'),
    key: await read(config.clientKeyFile, 'PFI_SMTP_CLIENT_KEY_FILE'),
    rejectUnauthorized: config.rejectUnauthorized,
  });
  return { send: (mail) => sendMail(transport, mail), close: () => transport.close() };
}

/** The Annuaire Santé client with its database cache, when configured. */
export function annuaireFromConfig(config: Config['annuaire'], db: SqlExecutor): AnnuaireClient | undefined {
  if (!config) return undefined;
  return createAnnuaireClient({
    baseUrl: config.url,
    apiKey: config.apiKey,
    cache: sqlAnnuaireCache(db),
    ttlSeconds: config.cacheTtlSeconds,
  });
}
