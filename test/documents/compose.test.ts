import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { secretsManagerReader } from '../../lambdas/adapters/secrets/secrets.js';
import { migrate } from '../../lambdas/adapters/sql/migrate.js';
import { createPgliteExecutor } from '../../lambdas/adapters/sql/pglite.js';
import { EXAMPLE_CDA_ORGANISATION } from '../../lambdas/cda/organisation.js';
import { ConfigError, loadConfig } from '../../lambdas/config.js';
import { annuaireFromConfig, createMssanteSender, loadCdaOrganisation } from '../../lambdas/documents/compose.js';
import { startChaosRelay } from '../../scripts/chaos/smtp-relay.js';
import { API_KEY, IDS, MAILBOXES, startFakeAnnuaire } from '../support/annuaire-server.js';
import { createTestPki, type TestPki } from '../support/pki.js';
import { startTestSmtpServer, type TestServer } from '../support/smtp-server.js';

const secrets = mockClient(SecretsManagerClient);
const SMTP_SECRET = 'arn:aws:secretsmanager:eu-west-3:123456789012:secret:pfi-mssante-bal-AbCdEf';
const KEY_SECRET = 'arn:aws:secretsmanager:eu-west-3:123456789012:secret:pfi-annuaire-key-AbCdEf';
let dir: string;
let pki: TestPki;
let relay: TestServer;

const mail = (to: string) => ({
  from: 'pfi@hopital-test.mssante.fr',
  to: [to],
  subject: 'XDM/1.0/DDM+test',
  text: 'x',
});

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pfi-compose-'));
  pki = await createTestPki();
  relay = await startTestSmtpServer(pki, { requireClientCert: true });
});
afterAll(async () => {
  await relay?.close();
  await rm(dir, { recursive: true, force: true });
});
beforeEach(() => secrets.reset());

describe('createMssanteSender', () => {
  it('takes the BAL applicative certificate and the relay URL from the Secrets Manager secret (AWS)', async () => {
    const ca = join(dir, 'ca.pem');
    await writeFile(ca, pki.ca);
    secrets.on(GetSecretValueCommand, { SecretId: SMTP_SECRET }).resolves({
      SecretString: JSON.stringify({
        cert: pki.client.cert,
        key: pki.client.key,
        url: `smtp://localhost:${relay.port}`,
      }),
    });
    const config = loadConfig({ PFI_DATA_DIR: dir, PFI_SMTP_SECRET_ARN: SMTP_SECRET, PFI_SMTP_CA_FILE: ca });
    const sender = await createMssanteSender(
      config.mssante,
      undefined,
      secretsManagerReader(new SecretsManagerClient({})),
    );
    const outcome = await sender.send(mail('dr@test-ci-sis.mssante.fr'));
    sender.close();
    expect(outcome.kind).toBe('sent');
    expect(relay.received.at(-1)?.clientCn).toBeTruthy();
  });

  it('takes them from PEM files otherwise; without a certificate the relay refuses the handshake', async () => {
    const files = { ca: join(dir, 'ca2.pem'), cert: join(dir, 'bal.pem'), key: join(dir, 'bal.key') };
    await writeFile(files.ca, pki.ca);
    await writeFile(files.cert, pki.client.cert);
    await writeFile(files.key, pki.client.key);
    const env = { PFI_DATA_DIR: dir, PFI_SMTP_URL: `smtp://localhost:${relay.port}`, PFI_SMTP_CA_FILE: files.ca };
    const withCert = await createMssanteSender(
      loadConfig({ ...env, PFI_SMTP_CLIENT_CERT_FILE: files.cert, PFI_SMTP_CLIENT_KEY_FILE: files.key }).mssante,
    );
    expect((await withCert.send(mail('dr@test-ci-sis.mssante.fr'))).kind).toBe('sent');
    withCert.close();
    const without = await createMssanteSender(loadConfig(env).mssante);
    expect((await without.send(mail('dr@test-ci-sis.mssante.fr'))).kind).toBe('temporary');
    without.close();
  });

  it('refuses a malformed secret, a missing file and a secret without a store, naming the variable only', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: '{"cert":"x"}' });
    const reader = secretsManagerReader(new SecretsManagerClient({}));
    const bad = loadConfig({ PFI_DATA_DIR: dir, PFI_SMTP_SECRET_ARN: SMTP_SECRET }).mssante;
    await expect(createMssanteSender(bad, undefined, reader)).rejects.toThrow(/PFI_SMTP_SECRET_ARN: must hold/);
    await expect(createMssanteSender(bad)).rejects.toThrow(ConfigError);
    const missing = loadConfig({
      PFI_DATA_DIR: dir,
      PFI_SMTP_URL: 'smtp://localhost:1',
      PFI_SMTP_CA_FILE: join(dir, 'absent.pem'),
    }).mssante;
    await expect(createMssanteSender(missing)).rejects.toThrow('PFI_SMTP_CA_FILE: cannot be read');
    await expect(createMssanteSender(loadConfig({ PFI_DATA_DIR: dir }).mssante)).rejects.toThrow('PFI_SMTP_URL');
  });

  it('applies PFI_SMTP_SEND_TIMEOUT_SECONDS: a relay trickling its replies fails the send as temporary', async () => {
    const trickling = await startChaosRelay({ dir, trickleMs: 100 });
    await trickling.setMode('trickle');
    const sender = await createMssanteSender(
      loadConfig({
        PFI_DATA_DIR: dir,
        PFI_SMTP_URL: `smtp://127.0.0.1:${trickling.port}`,
        PFI_SMTP_CA_FILE: trickling.caFile,
        PFI_SMTP_SEND_TIMEOUT_SECONDS: '1',
      }).mssante,
    );
    try {
      expect((await sender.send(mail('dr@test-ci-sis.mssante.fr'))).kind).toBe('temporary');
      expect(trickling.connections.get('trickle')).toBe(1);
    } finally {
      sender.close();
      await trickling.close();
    }
  });
});

describe('annuaireFromConfig', () => {
  it('reads the API key from its secret and the client sends it', async () => {
    const annuaire = await startFakeAnnuaire();
    const db = await createPgliteExecutor();
    try {
      await migrate(db);
      secrets.on(GetSecretValueCommand, { SecretId: KEY_SECRET }).resolves({ SecretString: `${API_KEY}\n` });
      const config = loadConfig({
        PFI_DATA_DIR: dir,
        PFI_ANNUAIRE_URL: annuaire.baseUrl,
        PFI_ANNUAIRE_API_KEY_SECRET_ARN: KEY_SECRET,
      });
      const client = await annuaireFromConfig(config.annuaire, db, secretsManagerReader(new SecretsManagerClient({})));
      const found = await client!.findMailboxes({
        resourceType: 'Practitioner',
        identifier: { system: 'https://rpps.esante.gouv.fr', value: IDS.paulRpps },
      });
      expect(found.mailboxes.map((m) => m.address)).toContain(MAILBOXES.paul);
      expect(annuaire.requests.every((r) => r.apiKey === API_KEY)).toBe(true);
      expect(await annuaireFromConfig(loadConfig({ PFI_DATA_DIR: dir }).annuaire, db)).toBeUndefined();
      expect(() => loadConfig({ PFI_DATA_DIR: dir, PFI_ANNUAIRE_URL: annuaire.baseUrl })).toThrow(
        /PFI_ANNUAIRE_API_KEY/,
      );
    } finally {
      await db.close();
      await annuaire.close();
    }
  });
});

describe('loadCdaOrganisation', () => {
  const file = (organisationFile: string | undefined) => ({ organisationFile });
  it('reads and validates the organisation file or JSON; the example organisation without one, unless required', async () => {
    expect(await loadCdaOrganisation(file(undefined))).toBe(EXAMPLE_CDA_ORGANISATION);
    await expect(loadCdaOrganisation(file(undefined), { required: true })).rejects.toThrow(
      'PFI_ORGANISATION_JSON: required here',
    );
    const good = join(dir, 'org.json');
    await writeFile(good, JSON.stringify({ ...EXAMPLE_CDA_ORGANISATION, name: 'Laboratoire de test' }));
    expect((await loadCdaOrganisation(file(good))).name).toBe('Laboratoire de test');
    const json = JSON.stringify({ ...EXAMPLE_CDA_ORGANISATION, name: 'Laboratoire JSON' });
    expect(
      (await loadCdaOrganisation({ organisationFile: undefined, organisationJson: json }, { required: true })).name,
    ).toBe('Laboratoire JSON');
    const bad = join(dir, 'bad.json');
    await writeFile(bad, JSON.stringify({ ...EXAMPLE_CDA_ORGANISATION, documentIdRoot: 'not-an-oid' }));
    await expect(loadCdaOrganisation(file(bad))).rejects.toThrow(
      'PFI_ORGANISATION_FILE documentIdRoot: must be an OID',
    );
    await writeFile(bad, '{');
    await expect(loadCdaOrganisation(file(bad))).rejects.toThrow('PFI_ORGANISATION_FILE: cannot be read as JSON');
    await expect(loadCdaOrganisation(file(join(dir, 'absent.json')))).rejects.toThrow(
      'PFI_ORGANISATION_FILE: cannot be read',
    );
    expect(() => loadConfig({ PFI_DATA_DIR: dir, PFI_ORGANISATION_FILE: good, PFI_ORGANISATION_JSON: json })).toThrow(
      /alternatives/,
    );
  });
});
