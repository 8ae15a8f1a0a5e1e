import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { SUPPORTED_TYPES } from '../lambdas/fhir/types.js';
import { FhirApiFunction } from './constructs/fhir-api-function.js';
import { FhirAuth } from './constructs/fhir-auth.js';
import { FhirDatabase } from './constructs/fhir-database.js';
import { FhirRestApi } from './constructs/fhir-rest-api.js';
import { Network } from './constructs/network.js';
import { PlatformKey } from './constructs/platform-key.js';
import { PFI_AVAILABILITY_ZONES, PFI_REGION, type PfiSettings } from './settings.js';
import { smartSystemScopes } from './smart-scopes.js';

export interface FhirApiStackProps extends StackProps {
  settings: PfiSettings;
  /** Handler source file, for tests; default `lambdas/handlers/fhir-api.ts`. */
  handlerEntry?: string;
}

/** Database name inside the cluster (`PFI_DB_NAME`). */
export const FHIR_DATABASE_NAME = 'pfi';

/** Types clients may read and search but never write (the server refuses writes to them). */
const READ_ONLY_TYPES: ReadonlySet<string> = new Set(['AuditEvent']);

/**
 * The FHIR API slice of PFI in eu-west-3: platform key, network, Aurora (Data API), Cognito with SMART scopes,
 * the FHIR Lambda and its REST API. Composition only; each concern is a construct in `lib/constructs`.
 * Throws when asked for another region or an environment-agnostic stack (HDS: data stays in Paris).
 */
export class FhirApiStack extends Stack {
  constructor(scope: Construct, id: string, props: FhirApiStackProps) {
    if (props.env?.region !== PFI_REGION) {
      throw new Error(`FhirApiStack: region must be ${PFI_REGION} (health data hosting stays in Paris)`);
    }
    if (props.env.account === undefined) throw new Error('FhirApiStack: the account must be given');
    super(scope, id, { terminationProtection: true, ...props });
    const { settings } = props;

    const { key } = new PlatformKey(this, 'Key', { stage: settings.stage });
    const network = new Network(this, 'Network', { availabilityZones: PFI_AVAILABILITY_ZONES });
    const auth = new FhirAuth(this, 'Auth', {
      stage: settings.stage,
      domainPrefix: settings.authDomainPrefix,
      scopes: smartSystemScopes(SUPPORTED_TYPES, READ_ONLY_TYPES),
    });
    const database = new FhirDatabase(this, 'Database', {
      vpc: network.vpc,
      subnets: network.databaseSubnets,
      key,
      databaseName: FHIR_DATABASE_NAME,
      minCapacity: settings.dbMinCapacity,
      maxCapacity: settings.dbMaxCapacity,
      writerAvailabilityZone: PFI_AVAILABILITY_ZONES[0],
      readerAvailabilityZone: PFI_AVAILABILITY_ZONES[1],
    });
    const fn = new FhirApiFunction(this, 'FhirApi', {
      cluster: database.cluster,
      secret: database.secret,
      databaseName: database.databaseName,
      authIssuer: auth.issuer,
      authJwksUrl: auth.jwksUrl,
      key,
      entry: props.handlerEntry,
    });
    const api = new FhirRestApi(this, 'Rest', {
      stage: settings.stage,
      handler: fn.function,
      userPool: auth.userPool,
      scopes: auth.scopeNames,
    });

    new CfnOutput(this, 'FhirBaseUrl', { value: api.fhirBaseUrl, description: 'FHIR R4 base URL' });
    new CfnOutput(this, 'TokenUrl', { value: auth.tokenUrl, description: 'OAuth token endpoint (client credentials)' });
    new CfnOutput(this, 'UserPoolId', { value: auth.userPool.userPoolId });
  }
}
