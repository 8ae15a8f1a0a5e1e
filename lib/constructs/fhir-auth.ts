import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import { Construct } from 'constructs';
import { SMART_SYSTEM_RESOURCE_SERVER, type SmartScope } from '../smart-scopes.js';

export interface FhirAuthProps {
  /** Deployment stage, part of the pool name. */
  stage: string;
  /** Prefix of the Cognito hosted domain that serves the OAuth token endpoint. */
  domainPrefix: string;
  /** SMART system scopes offered by the resource server (see `smartSystemScopes`). */
  scopes: readonly SmartScope[];
}

/**
 * The OAuth 2.0 authorization server of the FHIR API: a Cognito user pool whose resource server `system` offers
 * SMART system scopes, and a hosted domain for the token endpoint (client-credentials clients are added per
 * partner system). Self sign-up is off; the few human users (administrators) need TOTP MFA.
 */
export class FhirAuth extends Construct {
  readonly userPool: cognito.UserPool;
  readonly domain: cognito.UserPoolDomain;
  /** Token issuer (`iss` claim), as the FHIR API checks it: `https://cognito-idp.<region>.amazonaws.com/<pool id>`. */
  readonly issuer: string;
  readonly jwksUrl: string;
  /** Full scope names as they appear in tokens, e.g. `system/Patient.rs`. */
  readonly scopeNames: string[];

  constructor(scope: Construct, id: string, props: FhirAuthProps) {
    super(scope, id);
    if (props.scopes.length === 0) throw new Error('FhirAuth: at least one scope is required');
    this.userPool = new cognito.UserPool(this, 'UserPool', {
      userPoolName: `pfi-${props.stage}-fhir`,
      selfSignUpEnabled: false,
      signInAliases: { username: true, email: true },
      signInCaseSensitive: false,
      mfa: cognito.Mfa.REQUIRED,
      mfaSecondFactor: { otp: true, sms: false },
      passwordPolicy: {
        minLength: 14,
        requireLowercase: true,
        requireUppercase: true,
        requireDigits: true,
        requireSymbols: true,
      },
      accountRecovery: cognito.AccountRecovery.EMAIL_ONLY,
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    new cognito.UserPoolResourceServer(this, 'SmartSystemScopes', {
      userPool: this.userPool,
      identifier: SMART_SYSTEM_RESOURCE_SERVER,
      userPoolResourceServerName: 'SMART on FHIR system scopes',
      scopes: props.scopes.map(
        (s) => new cognito.ResourceServerScope({ scopeName: s.name, scopeDescription: s.description }),
      ),
    });
    this.domain = this.userPool.addDomain('Domain', { cognitoDomain: { domainPrefix: props.domainPrefix } });
    // Built from the region and pool id rather than the ProviderURL attribute, to state the exact `iss` value.
    this.issuer = `https://cognito-idp.${Stack.of(this).region}.amazonaws.com/${this.userPool.userPoolId}`;
    this.jwksUrl = `${this.issuer}/.well-known/jwks.json`;
    this.scopeNames = props.scopes.map((s) => `${SMART_SYSTEM_RESOURCE_SERVER}/${s.name}`);
  }

  /** The OAuth token endpoint clients call (client-credentials grant). */
  get tokenUrl(): string {
    return `${this.domain.baseUrl()}/oauth2/token`;
  }
}
