import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { FhirAuth } from '../../../lib/constructs/fhir-auth.js';
import { testStack } from '../cdk-test-app.js';

describe('FhirAuth', () => {
  it('names scopes, issuer, key set and token endpoint as clients and the API see them', () => {
    const stack = testStack();
    const auth = new FhirAuth(stack, 'Auth', {
      stage: 'dev',
      domainPrefix: 'pfi-dev-test',
      scopes: [{ name: 'Patient.rs', description: 'Read and search Patient' }],
    });
    expect(auth.scopeNames).toEqual(['system/Patient.rs']);
    const poolId = stack.resolve(auth.userPool.userPoolId);
    expect(stack.resolve(auth.issuer)).toEqual({
      'Fn::Join': ['', ['https://cognito-idp.eu-west-3.amazonaws.com/', poolId]],
    });
    expect(stack.resolve(auth.jwksUrl)).toEqual({
      'Fn::Join': ['', ['https://cognito-idp.eu-west-3.amazonaws.com/', poolId, '/.well-known/jwks.json']],
    });
    expect(JSON.stringify(stack.resolve(auth.tokenUrl))).toMatch(
      /\.auth\.eu-west-3\.amazoncognito\.com\/oauth2\/token/,
    );
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Cognito::UserPoolDomain', { Domain: 'pfi-dev-test' });
    template.hasResource('AWS::Cognito::UserPool', {
      Properties: { UserPoolName: 'pfi-dev-fhir', DeletionProtection: 'ACTIVE' },
      DeletionPolicy: 'Retain',
    });
  });

  it('needs at least one scope', () => {
    expect(() => new FhirAuth(testStack(), 'Auth', { stage: 'dev', domainPrefix: 'pfi-dev-test', scopes: [] })).toThrow(
      /at least one scope/,
    );
  });

  it('creates client-credentials clients only for scopes the resource server offers', () => {
    const stack = testStack();
    const auth = new FhirAuth(stack, 'Auth', {
      stage: 'dev',
      domainPrefix: 'pfi-dev-test',
      scopes: [{ name: 'Patient.rs', description: 'Read and search Patient' }],
    });
    expect(() => auth.addSystemClient('lab', ['system/Observation.cruds'])).toThrow(/system\/Observation\.cruds/);
    auth.addSystemClient('dpi', ['system/Patient.rs']);
    Template.fromStack(stack).hasResourceProperties('AWS::Cognito::UserPoolClient', {
      ClientName: 'dpi',
      AllowedOAuthFlows: ['client_credentials'],
      GenerateSecret: true,
      ExplicitAuthFlows: ['ALLOW_REFRESH_TOKEN_AUTH'],
    });
  });
});
