import { RemovalPolicy } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import type * as cognito from 'aws-cdk-lib/aws-cognito';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

export interface FhirRestApiProps {
  /** Deployment stage: the API name and the stage in the URL (`/<stage>/fhir`). */
  stage: string;
  handler: lambda.IFunction;
  userPool: cognito.IUserPool;
  /** Full scope names; a token needs at least one of them (the handler checks the exact grants). */
  scopes: readonly string[];
  /** Custom domain (`https://<domainName>/fhir`) and its ACM certificate in the same region. */
  domainName: string;
  certificateArn: string;
  /** Stage throttling. */
  throttleRate: number;
  throttleBurst: number;
  /** Access-log group encryption and retention. */
  logsKey: kms.IKey;
  accessLogRetention: logs.RetentionDays;
}

/** OperationOutcome body for responses API Gateway produces itself (the handler never sees these requests). */
function outcomeTemplate(code: string): string {
  // `$context.error.messageString` is API Gateway's own message, already a quoted JSON string; it holds no request data.
  return `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"${code}","diagnostics":$context.error.messageString}]}`;
}

const FHIR_JSON = "'application/fhir+json'";

/**
 * Every media type is binary for API Gateway: a proxy response marked `isBase64Encoded: true` (`GET /fhir/Binary/<id>`
 * with the document's own type) goes out as raw bytes, whatever the client's Accept; text responses are untouched, and
 * request bodies reach the handler base64-encoded, which it decodes.
 */
export const BINARY_MEDIA_TYPES = ['*/*'];

/**
 * The FHIR REST API: a regional API Gateway REST API proxying `/fhir` and `/fhir/{proxy+}` to the handler behind a
 * Cognito user-pool authorizer that requires one of the SMART scopes; `GET /fhir/metadata` (the CapabilityStatement)
 * and `GET /health` are public, as FHIR clients and probes read them before they authenticate. Errors API Gateway
 * raises itself (no token, throttling, timeouts) are OperationOutcomes too. The stage has JSON access logs (no
 * request bodies, no tokens), X-Ray, error-level execution logs (no data traces: PHI) and throttling; the custom
 * domain uses the TLS 1.3-only policy with strict endpoint access, and the execute-api endpoint is off, so every
 * request goes through the domain's TLS policy.
 */
export class FhirRestApi extends Construct {
  readonly api: apigateway.RestApi;
  readonly domain: apigateway.DomainName;
  readonly accessLogGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: FhirRestApiProps) {
    super(scope, id);
    if (props.scopes.length === 0) throw new Error('FhirRestApi: at least one authorization scope is required');
    this.accessLogGroup = new logs.LogGroup(this, 'AccessLogs', {
      encryptionKey: props.logsKey,
      retention: props.accessLogRetention,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.api = new apigateway.RestApi(this, 'Api', {
      restApiName: `pfi-${props.stage}-fhir`,
      description: 'PFI FHIR R4 API',
      endpointConfiguration: { types: [apigateway.EndpointType.REGIONAL] },
      binaryMediaTypes: BINARY_MEDIA_TYPES,
      // The account-level role API Gateway logs with (access and execution logs need it); kept if the stack goes,
      // since it is shared by every API of the account and region.
      cloudWatchRole: true,
      cloudWatchRoleRemovalPolicy: RemovalPolicy.RETAIN,
      disableExecuteApiEndpoint: true,
      deployOptions: {
        stageName: props.stage,
        tracingEnabled: true,
        loggingLevel: apigateway.MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
        metricsEnabled: true,
        throttlingRateLimit: props.throttleRate,
        throttlingBurstLimit: props.throttleBurst,
        accessLogDestination: new apigateway.LogGroupLogDestination(this.accessLogGroup),
        accessLogFormat: apigateway.AccessLogFormat.jsonWithStandardFields({
          caller: false,
          httpMethod: true,
          ip: true,
          protocol: true,
          requestTime: true,
          resourcePath: true,
          responseLength: true,
          status: true,
          user: false,
        }),
      },
    });

    const authorizer = new apigateway.CognitoUserPoolsAuthorizer(this, 'Authorizer', {
      authorizerName: 'smart-scopes',
      cognitoUserPools: [props.userPool],
    });
    const secured: apigateway.MethodOptions = {
      authorizationType: apigateway.AuthorizationType.COGNITO,
      authorizer,
      authorizationScopes: [...props.scopes],
    };
    const open: apigateway.MethodOptions = { authorizationType: apigateway.AuthorizationType.NONE };
    // One permission for the whole API instead of one per method; test invocations from the console are not allowed.
    const integration = new apigateway.LambdaIntegration(props.handler, { scopePermissionToMethod: false });

    const fhir = this.api.root.addResource('fhir');
    fhir.addMethod('ANY', integration, secured);
    fhir.addResource('{proxy+}').addMethod('ANY', integration, secured);
    // A static resource wins over the greedy `{proxy+}` sibling, so only these paths escape the authorizer.
    fhir.addResource('metadata').addMethod('GET', integration, open);
    this.api.root.addResource('health').addMethod('GET', integration, open);

    this.api.addGatewayResponse('Unauthorized', {
      type: apigateway.ResponseType.UNAUTHORIZED,
      statusCode: '401',
      responseHeaders: { 'Content-Type': FHIR_JSON, 'WWW-Authenticate': `'Bearer realm="pfi"'` },
      templates: { 'application/json': outcomeTemplate('login') },
    });
    this.api.addGatewayResponse('AccessDenied', {
      type: apigateway.ResponseType.ACCESS_DENIED,
      statusCode: '403',
      responseHeaders: { 'Content-Type': FHIR_JSON },
      templates: { 'application/json': outcomeTemplate('forbidden') },
    });
    this.api.addGatewayResponse('Default4xx', {
      type: apigateway.ResponseType.DEFAULT_4XX,
      responseHeaders: { 'Content-Type': FHIR_JSON },
      templates: { 'application/json': outcomeTemplate('processing') },
    });
    this.api.addGatewayResponse('Default5xx', {
      type: apigateway.ResponseType.DEFAULT_5XX,
      responseHeaders: { 'Content-Type': FHIR_JSON },
      templates: { 'application/json': outcomeTemplate('exception') },
    });

    this.domain = new apigateway.DomainName(this, 'Domain', {
      domainName: props.domainName,
      certificate: acm.Certificate.fromCertificateArn(this, 'Certificate', props.certificateArn),
      endpointType: apigateway.EndpointType.REGIONAL,
      securityPolicy: apigateway.SecurityPolicy.TLS13_1_3_2025_09,
      endpointAccessMode: apigateway.EndpointAccessMode.STRICT,
    });
    this.domain.addBasePathMapping(this.api, { stage: this.api.deploymentStage });
  }

  /** Base URL of the FHIR endpoint on the custom domain, without trailing slash. */
  get fhirBaseUrl(): string {
    return `https://${this.domain.domainName}/fhir`;
  }

  /** ARN of the deployed stage (WAF association). */
  get stageArn(): string {
    return this.api.deploymentStage.stageArn;
  }
}
