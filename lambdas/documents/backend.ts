/**
 * The AWS backend of the document Lambdas (cda-worker, mssante-worker, outbox-relay): configuration from the
 * environment, Aurora through the Data API, the S3 document store, SQS for the relayed outbox rows.
 */

import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { DocumentStore } from '../adapters/documents/document-store.js';
import { documentStoreFromConfig } from '../adapters/documents/from-config.js';
import { relayOutbox } from '../adapters/queue/outbox-relay.js';
import { sqsSender } from '../adapters/queue/sqs-sender.js';
import { secretsManagerReader } from '../adapters/secrets/secrets.js';
import type { SqlExecutor } from '../adapters/sql/executor.js';
import { executorFromConfig } from '../adapters/sql/from-config.js';
import { migrate } from '../adapters/sql/migrate.js';
import type { CdaOrganisation } from '../cda/organisation.js';
import { type Config, loadConfig } from '../config.js';
import { FhirRepository } from '../fhir/repository/repository.js';
import { FhirService } from '../fhir/service.js';
import { annuaireFromConfig, createMssanteSender, loadCdaOrganisation } from './compose.js';
import { DOCUMENT_ROUTES, documentTriggers } from './queues.js';
import type { SendCommunicationDeps } from './send-communication.js';
import { sqlSendJournal } from './send-journal.js';

export interface DocumentsBackend {
  config: Config;
  db: SqlExecutor;
  documents: DocumentStore;
  service: FhirService;
  organisation: CdaOrganisation;
  /** Relays pending outbox rows to SQS; returns how many. */
  relay(): Promise<number>;
  close(): Promise<void>;
}

export async function createDocumentsBackend(): Promise<DocumentsBackend> {
  const config = loadConfig();
  const db = await executorFromConfig(config.database);
  try {
    await migrate(db);
    const documents = await documentStoreFromConfig(config.documents);
    const organisation = await loadCdaOrganisation(config.cda, { required: config.documents.kind === 's3' });
    const service = new FhirService(new FhirRepository(db, config.maxResourceBytes), documents, documentTriggers);
    const sender = sqsSender(new SQSClient({}), config.queueUrls);
    return {
      config,
      db,
      documents,
      service,
      organisation,
      relay: () => relayOutbox(db, DOCUMENT_ROUTES, { sender }),
      close: () => db.close(),
    };
  } catch (err) {
    await db.close().catch(() => undefined);
    throw err;
  }
}

/** The MSSanté worker's dependencies on the backend (SMTP relay from PFI_SMTP_URL, required in AWS). */
export async function mssanteDepsOf(b: DocumentsBackend): Promise<SendCommunicationDeps & { close(): void }> {
  const secrets = secretsManagerReader(new SecretsManagerClient({}));
  const sender = await createMssanteSender(b.config.mssante, undefined, secrets);
  return {
    service: b.service,
    journal: sqlSendJournal(b.db),
    send: sender.send,
    annuaire: await annuaireFromConfig(b.config.annuaire, b.db, secrets),
    settings: {
      from: b.config.mssante.from,
      nil: b.config.mssante.nil,
      receiptsTo: b.config.mssante.receiptsTo,
      sourceId: b.organisation.documentIdRoot,
      messageIdDomain: b.config.mssante.from.split('@')[1]!,
    },
    close: sender.close,
  };
}
