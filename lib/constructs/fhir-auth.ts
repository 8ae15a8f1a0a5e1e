import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
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
  readonly resourceServer: cognito.UserPoolResourceServer;

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
    this.resourceServer = new cognito.UserPoolResourceServer(this, 'SmartSystemScopes', {
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

  /**
   * A confidential app client for one partner system: client-credentials grant only, limited to the given SMART
   * scopes (full names, e.g. `system/Patient.rs`), one-hour access tokens. Its secret is read once from Cognito
   * (docs/deploy.md, first client credentials).
   */
  addSystemClient(name: string, scopes: readonly string[]): cognito.UserPoolClient {
    const offered = new Set(this.scopeNames);
    const unknown = scopes.filter((s) => !offered.has(s));
    if (scopes.length === 0 || unknown.length > 0) {
      throw new Error(`FhirAuth: client ${name} asks for scopes the server does not offer: ${unknown.join(', ')}`);
    }
    const client = this.userPool.addClient(`Client-${name}`, {
      userPoolClientName: name,
      generateSecret: true,
      authFlows: {},
      oAuth: {
        flows: { clientCredentials: true },
        scopes: scopes.map((s) =>
          cognito.OAuthScope.resourceServer(
            this.resourceServer,
            new cognito.ResourceServerScope({
              scopeName: s.slice(SMART_SYSTEM_RESOURCE_SERVER.length + 1),
              scopeDescription: s,
            }),
          ),
        ),
      },
      accessTokenValidity: Duration.hours(1),
      preventUserExistenceErrors: true,
      enableTokenRevocation: true,
    });
    client.node.addDependency(this.resourceServer);
    // No user sign-in through this client (Cognito would default to SRP and custom auth); client credentials issue
    // no refresh tokens, so this only closes the other doors.
    (client.node.defaultChild as cognito.CfnUserPoolClient).explicitAuthFlows = ['ALLOW_REFRESH_TOKEN_AUTH'];
    return client;
  }

  /** The OAuth token endpoint clients call (client-credentials grant). */
  get tokenUrl(): string {
    return `${this.domain.baseUrl()}/oauth2/token`;
  }
}
