/**
 * Composition of the document features from configuration, shared by `npm start` and the Lambda handlers: the
 * organisation defaults, the `$generate-cda` operation, the MSSanté transport and the annuaire client.
 */

import { readFile } from 'node:fs/promises';
import type { SendMailOptions } from 'nodemailer';
import { z } from 'zod';
import type { SecretReader } from '../adapters/secrets/secrets.js';
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

/**
 * The organisation defaults of CDA documents: the configured JSON (PFI_ORGANISATION_JSON) or file
 * (PFI_ORGANISATION_FILE); without either, the example organisation — refused when `required` (production: a
 * document must never carry the example FINESS).
 */
export async function loadCdaOrganisation(
  source: { organisationFile: string | undefined; organisationJson?: string | undefined },
  opts: { required?: boolean } = {},
): Promise<CdaOrganisation> {
  const name = source.organisationJson !== undefined ? 'PFI_ORGANISATION_JSON' : 'PFI_ORGANISATION_FILE';
  let text = source.organisationJson;
  if (text === undefined && source.organisationFile !== undefined) {
    try {
      text = await readFile(source.organisationFile, 'utf8');
    } catch {
      throw new ConfigError(`Invalid configuration:\n  ${name}: cannot be read`);
    }
  }
  if (text === undefined) {
    if (opts.required) {
      throw new ConfigError(
        'Invalid configuration:\n  PFI_ORGANISATION_JSON: required here (documents must not carry the example organisation)',
      );
    }
    return EXAMPLE_CDA_ORGANISATION;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new ConfigError(`Invalid configuration:\n  ${name}: cannot be read as JSON`);
  }
  const parsed = cdaOrganisationSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${name} ${i.path.join('.')}: ${i.message}`);
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

const smtpSecretSchema = z.object({
  cert: z.string().min(1),
  key: z.string().min(1),
  url: z
    .string()
    .regex(/^smtps?:\/\//)
    .optional(),
});

/**
 * The SMTP sender of MSSanté messages: `smtpUrl` with the configured CA and client certificate (PEM files, or the
 * Secrets Manager secret in AWS, which may also hold the relay URL with its credentials), or the embedded sink
 * (`sink`: its address and the CA of its generated certificate).
 */
export async function createMssanteSender(
  config: Config['mssante'],
  sink?: { url: string; ca: string },
  secrets?: SecretReader,
): Promise<MssanteSender> {
  let secret: z.infer<typeof smtpSecretSchema> | undefined;
  if (config.secretArn) {
    if (!secrets) throw new ConfigError('Invalid configuration:\n  PFI_SMTP_SECRET_ARN: no secret store here');
    let raw: unknown;
    try {
      raw = JSON.parse(await secrets(config.secretArn));
    } catch (err) {
      if (err instanceof SyntaxError) throw new ConfigError('Invalid configuration:\n  PFI_SMTP_SECRET_ARN: not JSON');
      throw err;
    }
    const parsed = smtpSecretSchema.safeParse(raw);
    if (!parsed.success) {
      throw new ConfigError('Invalid configuration:\n  PFI_SMTP_SECRET_ARN: must hold {"cert", "key", "url"?} (PEM)');
    }
    secret = parsed.data;
  }
  const url = secret?.url ?? config.smtpUrl ?? sink?.url;
  if (!url) throw new ConfigError('Invalid configuration:\n  PFI_SMTP_URL: required (no embedded SMTP sink here)');
  const read = async (file: string | undefined, name: string) => {
    if (!file) return undefined;
    try {
      return await readFile(file);
    } catch {
      throw new ConfigError(`Invalid configuration:\n  ${name}: cannot be read`);
    }
  };
  const external = Boolean(secret?.url ?? config.smtpUrl);
  const transport = createMssanteTransport({
    url,
    ca: (await read(config.caFile, 'PFI_SMTP_CA_FILE')) ?? (external ? undefined : sink?.ca),
    cert: secret?.cert ?? (await read(config.clientCertFile, 'PFI_SMTP_CLIENT_CERT_FILE')),
    key: secret?.key ?? (await read(config.clientKeyFile, 'PFI_SMTP_CLIENT_KEY_FILE')),
    rejectUnauthorized: config.rejectUnauthorized,
    timeoutMs: config.smtpTimeoutSeconds * 1000,
    sendTimeoutMs: config.smtpSendTimeoutSeconds * 1000,
  });
  return { send: (mail) => sendMail(transport, mail), close: () => transport.close() };
}

/** The Annuaire Santé client with its database cache, when configured (its API key possibly in Secrets Manager). */
export async function annuaireFromConfig(
  config: Config['annuaire'],
  db: SqlExecutor,
  secrets?: SecretReader,
): Promise<AnnuaireClient | undefined> {
  if (!config) return undefined;
  let apiKey: string;
  if (typeof config.apiKey === 'string') apiKey = config.apiKey;
  else if (secrets) apiKey = (await secrets(config.apiKey.secretArn)).trim();
  else throw new ConfigError('Invalid configuration:\n  PFI_ANNUAIRE_API_KEY_SECRET_ARN: no secret store here');
  return createAnnuaireClient({
    baseUrl: config.url,
    apiKey,
    cache: sqlAnnuaireCache(db),
    ttlSeconds: config.cacheTtlSeconds,
  });
}
