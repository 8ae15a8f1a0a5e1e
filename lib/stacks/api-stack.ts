import { CfnOutput, Duration } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { SUPPORTED_TYPES } from '../../lambdas/fhir/types.js';
import { FhirAuth } from '../constructs/fhir-auth.js';
import { FhirRestApi } from '../constructs/fhir-rest-api.js';
import { FhirWaf } from '../constructs/fhir-waf.js';
import { grantDocumentStore, grantSend } from '../constructs/grants.js';
import type { Network } from '../constructs/network.js';
import { PfiFunction } from '../constructs/pfi-function.js';
import type { PlatformKeys } from '../constructs/platform-keys.js';
import { smartSystemScopes } from '../smart-scopes.js';
import type { DataStack } from './data-stack.js';
import type { MessagingStack } from './messaging-stack.js';
import { PfiStack, type PfiStackProps } from './pfi-stack.js';

/** Types clients may read and search but never write (the server refuses writes to them). */
const READ_ONLY_TYPES: ReadonlySet<string> = new Set(['AuditEvent']);

export interface ApiStackProps extends Omit<PfiStackProps, 'classification'> {
  keys: PlatformKeys;
  network: Network;
  data: DataStack;
  messaging: MessagingStack;
  /** Handler source file, for tests; default `lambdas/handlers/fhir-api.ts`. */
  handlerEntry?: string;
}

/**
 * The FHIR API: Cognito (SMART system scopes, client-credentials clients), the FHIR Lambda, the REST API with its
 * custom domain (TLS 1.3), and the WAF web ACL in front of it.
 */
export class ApiStack extends PfiStack {
  readonly auth: FhirAuth;
  readonly fhir: PfiFunction;
  readonly rest: FhirRestApi;
  readonly waf: FhirWaf;

  constructor(scope: Construct, id: string, props: ApiStackProps) {
    super(scope, id, { ...props, classification: 'health-data' });
    const s = props.settings;
    const { keys, network, data, messaging } = props;
    this.auth = new FhirAuth(this, 'Auth', {
      stage: s.stage,
      domainPrefix: s.authDomainPrefix,
      scopes: smartSystemScopes(SUPPORTED_TYPES, READ_ONLY_TYPES),
    });
    for (const client of s.apiClients) this.auth.addSystemClient(client.name, client.scopes);
    const fhirBaseUrl = `https://${s.apiDomainName}/fhir`;
    this.fhir = new PfiFunction(this, 'FhirApi', {
      handler: 'fhir-api',
      entry: props.handlerEntry,
      description: 'FHIR R4 API (API Gateway proxy)',
      vpc: network.vpc,
      subnets: network.appSubnets,
      securityGroup: network.appSecurityGroup,
      logsKey: keys.logs,
      logRetention: this.logRetention,
      // API Gateway gives up after 29 s; running longer would only waste capacity.
      timeout: Duration.seconds(29),
      memorySize: 1769,
      reservedConcurrency: 100,
      database: {
        cluster: data.database.cluster,
        secret: data.database.secret,
        secretKey: keys.data,
        databaseName: data.database.databaseName,
      },
      environment: {
        PFI_AUTH_MODE: 'jwks',
        PFI_AUTH_ISSUER: this.auth.issuer,
        PFI_AUTH_JWKS_URL: this.auth.jwksUrl,
        PFI_FHIR_BASE_URL: fhirBaseUrl,
        PFI_DOCUMENTS_BUCKET: data.documentsBucket.bucketName,
        PFI_DOCUMENTS_KMS_KEY_ID: keys.documents.keyArn,
        PFI_ORGANISATION_JSON: JSON.stringify(s.organisation),
        ...messaging.queueEnvironment,
      },
    });
    grantDocumentStore(this.fhir.role, data.documentsBucketName, keys.documents);
    grantSend(this.fhir.role, [messaging.cda.queue, messaging.mssante.queue], keys.data);

    this.rest = new FhirRestApi(this, 'Rest', {
      stage: s.stage,
      handler: this.fhir.function,
      userPool: this.auth.userPool,
      scopes: this.auth.scopeNames,
      domainName: s.apiDomainName,
      certificateArn: s.apiCertificateArn,
      throttleRate: s.apiThrottleRate,
      throttleBurst: s.apiThrottleBurst,
      logsKey: keys.logs,
      accessLogRetention: this.auditLogRetention,
    });
    this.waf = new FhirWaf(this, 'Waf', {
      stage: s.stage,
      stageArn: this.rest.stageArn,
      rateLimit: s.wafRateLimit,
      logsKey: keys.logs,
      logRetention: this.auditLogRetention,
    });

    new CfnOutput(this, 'FhirBaseUrl', { value: fhirBaseUrl, description: 'FHIR R4 base URL' });
    new CfnOutput(this, 'ApiDomainTarget', {
      value: this.rest.domain.domainNameAliasDomainName,
      description: `CNAME/alias target for ${s.apiDomainName}`,
    });
    new CfnOutput(this, 'TokenUrl', {
      value: this.auth.tokenUrl,
      description: 'OAuth token endpoint (client credentials)',
    });
    new CfnOutput(this, 'UserPoolId', { value: this.auth.userPool.userPoolId });
  }
}
