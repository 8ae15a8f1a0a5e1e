import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { FhirApiStack } from '../../lib/fhir-api-stack.js';
import { TEST_SETTINGS, testApp } from './cdk-test-app.js';

const ENV = { account: TEST_SETTINGS.account, region: TEST_SETTINGS.region };

function newStack(app: App = testApp()): FhirApiStack {
  return new FhirApiStack(app, 'pfi-prod-fhir-api', { env: ENV, settings: TEST_SETTINGS });
}

/** The logical id of the only resource of `type` matching `props`. */
function onlyId(template: Template, type: string, props: Record<string, unknown> = {}): string {
  const ids = Object.keys(template.findResources(type, { Properties: props }));
  expect(ids, `${type} ${JSON.stringify(props)}`).toHaveLength(1);
  return ids[0] as string;
}

describe('FhirApiStack', () => {
  let stack: FhirApiStack;
  let template: Template;
  let keyId: string;
  let clusterId: string;

  beforeAll(() => {
    stack = newStack();
    template = Template.fromStack(stack);
    keyId = onlyId(template, 'AWS::KMS::Key');
    clusterId = onlyId(template, 'AWS::RDS::DBCluster');
  });

  it('deploys to eu-west-3 with termination protection', () => {
    expect(stack.region).toBe('eu-west-3');
    expect(stack.account).toBe('123456789012');
    expect(stack.terminationProtection).toBe(true);
  });

  it('creates a rotating customer-managed key that is kept when the stack goes', () => {
    template.hasResource('AWS::KMS::Key', {
      Properties: { EnableKeyRotation: true },
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
    template.hasResourceProperties('AWS::KMS::Alias', { AliasName: 'alias/pfi-prod' });
  });

  it('runs Aurora PostgreSQL 16 Serverless v2 with the Data API on, encrypted with the key, protected', () => {
    template.hasResource('AWS::RDS::DBCluster', {
      Properties: {
        Engine: 'aurora-postgresql',
        EngineVersion: Match.stringLikeRegexp('^16\\.'),
        EnableHttpEndpoint: true,
        StorageEncrypted: true,
        KmsKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] },
        DeletionProtection: true,
        BackupRetentionPeriod: 7,
        DatabaseName: 'pfi',
        ServerlessV2ScalingConfiguration: { MinCapacity: 0.5, MaxCapacity: 16 },
      },
      DeletionPolicy: 'Snapshot',
    });
    // The master secret is under the same key.
    template.hasResourceProperties('AWS::SecretsManager::Secret', { KmsKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] } });
  });

  it('has a serverless writer and a failover reader in another zone, neither public', () => {
    const instances = Object.values(template.findResources('AWS::RDS::DBInstance')).map((r) => r['Properties']);
    expect(instances).toHaveLength(2);
    expect(instances.map((p) => [p.DBInstanceClass, p.PromotionTier, p.PubliclyAccessible])).toEqual([
      ['db.serverless', 0, false],
      ['db.serverless', 1, false],
    ]);
    expect(new Set(instances.map((p) => p.AvailabilityZone))).toEqual(new Set(['eu-west-3a', 'eu-west-3b']));
  });

  it('places the database in isolated subnets over the three Paris zones, with no way to the internet', () => {
    const subnets = Object.values(template.findResources('AWS::EC2::Subnet')).map((r) => r['Properties']);
    expect(subnets.map((p) => p.AvailabilityZone).sort()).toEqual(['eu-west-3a', 'eu-west-3b', 'eu-west-3c']);
    expect(subnets.every((p) => p.MapPublicIpOnLaunch === false)).toBe(true);
    template.resourceCountIs('AWS::EC2::InternetGateway', 0);
    template.resourceCountIs('AWS::EC2::NatGateway', 0);
    const subnetGroup = template.findResources('AWS::RDS::DBSubnetGroup');
    expect(Object.values(subnetGroup)[0]?.['Properties'].SubnetIds).toHaveLength(3);
  });

  it('runs the FHIR handler on Node.js 22 configured for the Data API and Cognito tokens', () => {
    const poolId = onlyId(template, 'AWS::Cognito::UserPool');
    const secretRef = { Ref: onlyId(template, 'AWS::SecretsManager::SecretTargetAttachment') };
    const issuer = ['https://cognito-idp.eu-west-3.amazonaws.com/', { Ref: poolId }];
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Handler: 'index.handler',
      Architectures: ['arm64'],
      Timeout: 29,
      Environment: {
        Variables: {
          PFI_DB_CLUSTER_ARN: {
            'Fn::Join': [
              '',
              ['arn:', { Ref: 'AWS::Partition' }, ':rds:eu-west-3:123456789012:cluster:', { Ref: clusterId }],
            ],
          },
          PFI_DB_SECRET_ARN: secretRef,
          PFI_DB_NAME: 'pfi',
          PFI_AUTH_MODE: 'jwks',
          PFI_AUTH_ISSUER: { 'Fn::Join': ['', issuer] },
          PFI_AUTH_JWKS_URL: { 'Fn::Join': ['', [...issuer, '/.well-known/jwks.json']] },
        },
      },
    });
  });

  it('lets the function use the Data API, read the master secret and decrypt it through Secrets Manager only', () => {
    const secretRef = { Ref: onlyId(template, 'AWS::SecretsManager::SecretTargetAttachment') };
    const fnId = onlyId(template, 'AWS::Lambda::Function', { Runtime: 'nodejs22.x' });
    const fn = template.findResources('AWS::Lambda::Function')[fnId];
    const roleId = fn?.['Properties'].Role['Fn::GetAtt'][0];
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: roleId }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Action: Match.arrayWith(['rds-data:BeginTransaction', 'rds-data:ExecuteStatement']) }),
          Match.objectLike({ Action: Match.arrayWith(['secretsmanager:GetSecretValue']), Resource: secretRef }),
          {
            Action: 'kms:Decrypt',
            Effect: 'Allow',
            Resource: { 'Fn::GetAtt': [keyId, 'Arn'] },
            Condition: { StringEquals: { 'kms:ViaService': 'secretsmanager.eu-west-3.amazonaws.com' } },
          },
        ]),
      },
    });
  });

  it('offers SMART system scopes from a Cognito resource server named system', () => {
    const server = template.findResources('AWS::Cognito::UserPoolResourceServer');
    const props = Object.values(server)[0]?.['Properties'];
    expect(props.Identifier).toBe('system');
    const names: string[] = props.Scopes.map((s: { ScopeName: string }) => s.ScopeName);
    expect(names).toEqual(expect.arrayContaining(['*.rs', '*.cruds', 'Patient.rs', 'Patient.cruds', 'AuditEvent.rs']));
    // The audit trail is read-only for clients.
    expect(names).not.toContain('AuditEvent.cruds');
    template.hasResourceProperties('AWS::Cognito::UserPool', {
      AdminCreateUserConfig: { AllowAdminCreateUserOnly: true },
      MfaConfiguration: 'ON',
    });
    template.hasResourceProperties('AWS::Cognito::UserPoolDomain', { Domain: 'pfi-prod-123456789012' });
  });

  it('exposes a regional REST API whose /fhir and /fhir/{proxy+} require a Cognito token with a SMART scope', () => {
    template.hasResourceProperties('AWS::ApiGateway::RestApi', { EndpointConfiguration: { Types: ['REGIONAL'] } });
    const poolId = onlyId(template, 'AWS::Cognito::UserPool');
    const authorizerId = onlyId(template, 'AWS::ApiGateway::Authorizer', {
      Type: 'COGNITO_USER_POOLS',
      ProviderARNs: [{ 'Fn::GetAtt': [poolId, 'Arn'] }],
    });
    const fhirId = onlyId(template, 'AWS::ApiGateway::Resource', { PathPart: 'fhir' });
    const proxyId = onlyId(template, 'AWS::ApiGateway::Resource', { PathPart: '{proxy+}', ParentId: { Ref: fhirId } });
    for (const resourceId of [fhirId, proxyId]) {
      template.hasResourceProperties('AWS::ApiGateway::Method', {
        ResourceId: { Ref: resourceId },
        HttpMethod: 'ANY',
        AuthorizationType: 'COGNITO_USER_POOLS',
        AuthorizerId: { Ref: authorizerId },
        AuthorizationScopes: Match.arrayWith(['system/*.cruds', 'system/Patient.rs', 'system/AuditEvent.rs']),
        Integration: Match.objectLike({ Type: 'AWS_PROXY' }),
      });
    }
  });

  it('leaves only GET /fhir/metadata without an authorizer', () => {
    const metadataId = onlyId(template, 'AWS::ApiGateway::Resource', { PathPart: 'metadata' });
    const open = Object.values(template.findResources('AWS::ApiGateway::Method'))
      .map((r) => r['Properties'])
      .filter((p) => p.AuthorizationType !== 'COGNITO_USER_POOLS');
    expect(open).toHaveLength(1);
    expect(open[0]).toMatchObject({ ResourceId: { Ref: metadataId }, HttpMethod: 'GET', AuthorizationType: 'NONE' });
    expect(open[0]).not.toHaveProperty('AuthorizerId');
    expect(open[0]).not.toHaveProperty('AuthorizationScopes');
  });

  it('answers API Gateway errors with a FHIR OperationOutcome and a Bearer challenge on 401', () => {
    template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
      ResponseType: 'UNAUTHORIZED',
      StatusCode: '401',
      ResponseParameters: {
        'gatewayresponse.header.Content-Type': "'application/fhir+json'",
        'gatewayresponse.header.WWW-Authenticate': `'Bearer realm="pfi"'`,
      },
    });
    const responses = Object.values(template.findResources('AWS::ApiGateway::GatewayResponse')).map(
      (r) => r['Properties'],
    );
    expect(responses.map((p) => p.ResponseType).sort()).toEqual([
      'ACCESS_DENIED',
      'DEFAULT_4XX',
      'DEFAULT_5XX',
      'UNAUTHORIZED',
    ]);
    for (const p of responses) {
      // The VTL variable is substituted by API Gateway; the rest must be JSON once it is.
      const body = JSON.parse(p.ResponseTemplates['application/json'].replace('$context.error.messageString', '"x"'));
      expect(body).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ severity: 'error' }] });
    }
  });

  it('refuses any region but eu-west-3 and environment-agnostic stacks', () => {
    const app = testApp();
    expect(() => new FhirApiStack(app, 'A', { env: { ...ENV, region: 'eu-west-1' }, settings: TEST_SETTINGS })).toThrow(
      /region must be eu-west-3/,
    );
    expect(() => new FhirApiStack(app, 'B', { settings: TEST_SETTINGS })).toThrow(/region must be eu-west-3/);
    expect(() => new FhirApiStack(app, 'C', { env: { region: 'eu-west-3' }, settings: TEST_SETTINGS })).toThrow(
      /account must be given/,
    );
  });

  it('synthesizes with no CloudFormation validation finding', () => {
    // The built-in validation is off in the other tests for speed; here it runs once on the whole stack.
    const app = testApp({ validation: true });
    newStack(app);
    const assembly = app.synth();
    expect(assembly.stacks.map((s) => s.environment.region)).toEqual(['eu-west-3']);
    const report = JSON.parse(readFileSync(join(assembly.directory, 'validation-report.json'), 'utf8'));
    expect(report.pluginReports.flatMap((r: { violations?: unknown[] }) => r.violations ?? [])).toEqual([]);
  });
});
