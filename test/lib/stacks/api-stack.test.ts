import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { idsOf, propsOf, testPlatform } from '../cdk-test-app.js';

describe('ApiStack (item 4: REST API, Cognito, WAF, custom domain)', () => {
  let t: Template;
  beforeAll(() => {
    t = testPlatform().templates.api;
  });

  it('offers SMART system scopes from a Cognito resource server and creates client-credentials app clients', () => {
    const server = propsOf(t, 'AWS::Cognito::UserPoolResourceServer')[0];
    expect(server?.Identifier).toBe('system');
    const names: string[] = server?.Scopes.map((s: { ScopeName: string }) => s.ScopeName);
    expect(names).toEqual(expect.arrayContaining(['*.rs', '*.cruds', 'Patient.rs', 'AuditEvent.rs']));
    expect(names).not.toContain('AuditEvent.cruds');
    const client = propsOf(t, 'AWS::Cognito::UserPoolClient')[0];
    expect(client).toMatchObject({
      ClientName: 'example-dpi',
      GenerateSecret: true,
      AllowedOAuthFlows: ['client_credentials'],
      AllowedOAuthFlowsUserPoolClient: true,
    });
    // `<resource server identifier>/<scope>`, the identifier being a reference to the resource server.
    expect(JSON.stringify(client?.AllowedOAuthScopes)).toMatch(/\/Patient\.rs".*\/Observation\.rs"/);
  });

  it('proxies /fhir and /fhir/{proxy+} behind the Cognito authorizer; only GET /fhir/metadata and GET /health are open', () => {
    const methods = propsOf(t, 'AWS::ApiGateway::Method');
    const open = methods.filter((m) => m.AuthorizationType !== 'COGNITO_USER_POOLS');
    expect(open).toHaveLength(2);
    expect(open.every((m) => m.HttpMethod === 'GET' && m.AuthorizationType === 'NONE')).toBe(true);
    const paths = Object.fromEntries(
      Object.entries(t.findResources('AWS::ApiGateway::Resource')).map(([id, r]) => [id, r['Properties'].PathPart]),
    );
    expect(open.map((m) => paths[m.ResourceId.Ref]).sort()).toEqual(['health', 'metadata']);
    const proxyId = idsOf(t, 'AWS::ApiGateway::Resource', { PathPart: '{proxy+}' })[0];
    t.hasResourceProperties('AWS::ApiGateway::Method', {
      ResourceId: { Ref: proxyId },
      HttpMethod: 'ANY',
      AuthorizationType: 'COGNITO_USER_POOLS',
      AuthorizationScopes: Match.arrayWith(['system/*.cruds', 'system/Patient.rs']),
      Integration: Match.objectLike({ Type: 'AWS_PROXY' }),
    });
  });

  it('is a regional REST API with binary media types for raw Binary reads, and the execute-api endpoint off', () => {
    t.hasResourceProperties('AWS::ApiGateway::RestApi', {
      EndpointConfiguration: { Types: ['REGIONAL'] },
      BinaryMediaTypes: ['*/*'],
      DisableExecuteApiEndpoint: true,
    });
  });

  it('has JSON access logs, X-Ray, metrics and stage throttling, no data traces', () => {
    const stage = propsOf(t, 'AWS::ApiGateway::Stage')[0];
    expect(stage?.TracingEnabled).toBe(true);
    expect(JSON.parse(stage?.AccessLogSetting.Format)).toMatchObject({
      requestId: '$context.requestId',
      status: '$context.status',
    });
    expect(stage?.MethodSettings[0]).toMatchObject({
      DataTraceEnabled: false,
      LoggingLevel: 'ERROR',
      MetricsEnabled: true,
      ThrottlingRateLimit: 200,
      ThrottlingBurstLimit: 400,
    });
  });

  it('serves the custom domain with the TLS 1.3 policy in strict mode', () => {
    t.hasResourceProperties('AWS::ApiGateway::DomainName', {
      DomainName: 'fhir.pfi.example.fr',
      SecurityPolicy: 'SecurityPolicy_TLS13_1_3_2025_09',
      EndpointAccessMode: 'STRICT',
      RegionalCertificateArn: Match.stringLikeRegexp('^arn:aws:acm:eu-west-3:'),
    });
    t.resourceCountIs('AWS::ApiGateway::BasePathMapping', 1);
  });

  it('puts WAF in front: Common (SizeRestrictions_BODY counted), KnownBadInputs, SQLi, a rate rule, logged', () => {
    const acl = propsOf(t, 'AWS::WAFv2::WebACL')[0];
    const rules = Object.fromEntries(acl?.Rules.map((r: any) => [r.Name, r]));
    expect(Object.keys(rules).sort()).toEqual([
      'AWSManagedRulesCommonRuleSet',
      'AWSManagedRulesKnownBadInputsRuleSet',
      'AWSManagedRulesSQLiRuleSet',
      'RateLimitPerIp',
    ]);
    expect(rules.AWSManagedRulesCommonRuleSet.Statement.ManagedRuleGroupStatement.RuleActionOverrides).toEqual([
      { Name: 'SizeRestrictions_BODY', ActionToUse: { Count: {} } },
    ]);
    expect(rules.RateLimitPerIp.Statement.RateBasedStatement).toMatchObject({ AggregateKeyType: 'IP', Limit: 3000 });
    t.resourceCountIs('AWS::WAFv2::WebACLAssociation', 1);
    t.hasResourceProperties('AWS::WAFv2::LoggingConfiguration', {
      RedactedFields: [{ SingleHeader: { Name: 'authorization' } }],
    });
    t.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: 'aws-waf-logs-pfi-prod-fhir',
      KmsKeyId: Match.anyValue(),
    });
  });

  it('runs the FHIR handler on Node.js 24 arm64 in the VPC, configured for the Data API, Cognito, documents and queues', () => {
    t.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Timeout: 29,
      TracingConfig: { Mode: 'Active' },
      VpcConfig: Match.objectLike({ SubnetIds: Match.anyValue() }),
      Environment: {
        Variables: Match.objectLike({
          PFI_DB_CLUSTER_ARN: Match.anyValue(),
          PFI_DB_SECRET_ARN: Match.anyValue(),
          PFI_DB_NAME: 'pfi',
          PFI_AUTH_MODE: 'jwks',
          PFI_AUTH_ISSUER: Match.anyValue(),
          PFI_AUTH_JWKS_URL: Match.anyValue(),
          PFI_FHIR_BASE_URL: 'https://fhir.pfi.example.fr/fhir',
          PFI_DOCUMENTS_BUCKET: Match.anyValue(),
          PFI_DOCUMENTS_KMS_KEY_ID: Match.anyValue(),
          PFI_CDA_QUEUE_URL: Match.anyValue(),
          PFI_MSSANTE_QUEUE_URL: Match.anyValue(),
        }),
      },
    });
    const policy = JSON.stringify(propsOf(t, 'AWS::IAM::Policy'));
    for (const action of [
      'rds-data:ExecuteStatement',
      'secretsmanager:GetSecretValue',
      'sqs:SendMessage',
      's3:PutObject',
    ]) {
      expect(policy).toContain(action);
    }
  });

  it('answers API Gateway errors with a FHIR OperationOutcome and a Bearer challenge on 401', () => {
    t.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
      ResponseType: 'UNAUTHORIZED',
      StatusCode: '401',
      ResponseParameters: Match.objectLike({ 'gatewayresponse.header.WWW-Authenticate': `'Bearer realm="pfi"'` }),
    });
  });
});
