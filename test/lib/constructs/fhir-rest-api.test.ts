import { Template } from 'aws-cdk-lib/assertions';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { describe, expect, it } from 'vitest';
import { FhirRestApi } from '../../../lib/constructs/fhir-rest-api.js';
import { testStack } from '../cdk-test-app.js';

function parts(): { stack: ReturnType<typeof testStack>; handler: lambda.Function; userPool: cognito.UserPool } {
  const stack = testStack();
  const handler = new lambda.Function(stack, 'Fn', {
    runtime: lambda.Runtime.NODEJS_22_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => ({ statusCode: 200 });'),
  });
  return { stack, handler, userPool: new cognito.UserPool(stack, 'Pool') };
}

describe('FhirRestApi', () => {
  it('serves FHIR under /<stage>/fhir', () => {
    const { stack, handler, userPool } = parts();
    const rest = new FhirRestApi(stack, 'Rest', { stage: 'dev', handler, userPool, scopes: ['system/*.rs'] });
    const url = stack.resolve(rest.fhirBaseUrl)['Fn::Join'][1];
    expect(url.slice(-3)).toEqual(['/', { Ref: stack.resolve(rest.api.deploymentStage.stageName).Ref }, '/fhir']);
    Template.fromStack(stack).hasResourceProperties('AWS::ApiGateway::Stage', { StageName: 'dev' });
  });

  it('needs at least one scope, or every token would pass', () => {
    const { stack, handler, userPool } = parts();
    expect(() => new FhirRestApi(stack, 'Rest', { stage: 'dev', handler, userPool, scopes: [] })).toThrow(
      /at least one authorization scope/,
    );
  });
});
