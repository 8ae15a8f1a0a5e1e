import type { APIGatewayEventIdentity } from 'aws-lambda';

/** The execute-api host the API Gateway test events use. */
export const API_HOST = 'abc123.execute-api.eu-west-3.amazonaws.com';

/** The caller identity of a REST API proxy event, as API Gateway fills it for an unauthenticated IAM context. */
export function apiGatewayIdentity(): APIGatewayEventIdentity {
  return {
    accessKey: null,
    accountId: null,
    apiKey: null,
    apiKeyId: null,
    caller: null,
    clientCert: null,
    cognitoAuthenticationProvider: null,
    cognitoAuthenticationType: null,
    cognitoIdentityId: null,
    cognitoIdentityPoolId: null,
    principalOrgId: null,
    sourceIp: '203.0.113.7',
    user: null,
    userAgent: 'vitest',
    userArn: null,
  };
}
