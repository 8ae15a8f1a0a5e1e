import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import type * as cognito from 'aws-cdk-lib/aws-cognito';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';

export interface FhirRestApiProps {
  /** Deployment stage: the API name and the stage in the URL (`/<stage>/fhir`). */
  stage: string;
  handler: lambda.IFunction;
  userPool: cognito.IUserPool;
  /** Full scope names; a token needs at least one of them (the handler checks the exact grants). */
  scopes: readonly string[];
}

/** OperationOutcome body for responses API Gateway produces itself (the handler never sees these requests). */
function outcomeTemplate(code: string): string {
  // `$context.error.messageString` is API Gateway's own message, already a quoted JSON string; it holds no request data.
  return `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"${code}","diagnostics":$context.error.messageString}]}`;
}

const FHIR_JSON = "'application/fhir+json'";

/**
 * The FHIR REST API: a regional API Gateway REST API proxying `/fhir` and `/fhir/{proxy+}` to the handler behind a
 * Cognito user-pool authorizer that requires one of the SMART scopes; `GET /fhir/metadata` (the
 * CapabilityStatement) is public, as FHIR clients read it before they authenticate. Errors API Gateway raises
 * itself (no token, throttling, timeouts) are OperationOutcomes too.
 */
export class FhirRestApi extends Construct {
  readonly api: apigateway.RestApi;

  constructor(scope: Construct, id: string, props: FhirRestApiProps) {
    super(scope, id);
    if (props.scopes.length === 0) throw new Error('FhirRestApi: at least one authorization scope is required');
    this.api = new apigateway.RestApi(this, 'Api', {
      restApiName: `pfi-${props.stage}-fhir`,
      description: 'PFI FHIR R4 API',
      endpointConfiguration: { types: [apigateway.EndpointType.REGIONAL] },
      // The account-wide CloudWatch role is a singleton; it comes with access logging, not with this API.
      cloudWatchRole: false,
      deployOptions: { stageName: props.stage },
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
    // One permission for the whole API instead of one per method; test invocations from the console are not allowed.
    const integration = new apigateway.LambdaIntegration(props.handler, { scopePermissionToMethod: false });

    const fhir = this.api.root.addResource('fhir');
    fhir.addMethod('ANY', integration, secured);
    fhir.addResource('{proxy+}').addMethod('ANY', integration, secured);
    // A static resource wins over the greedy `{proxy+}` sibling, so only this path escapes the authorizer.
    fhir
      .addResource('metadata')
      .addMethod('GET', integration, { authorizationType: apigateway.AuthorizationType.NONE });

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
  }

  /** Base URL of the FHIR endpoint, without trailing slash. */
  get fhirBaseUrl(): string {
    return this.api.urlForPath('/fhir');
  }
}
