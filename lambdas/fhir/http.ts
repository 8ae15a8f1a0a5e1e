/** The HTTP request/response model shared by the local server and the Lambda handler. */

export interface HttpRequest {
  method: string;
  /** Path below the FHIR base: `/Patient/123`, `/metadata`, `` or `/` for the base itself. */
  path: string;
  /** Query pairs in URL order (repeated names kept). */
  query: [string, string][];
  /** Header names in lower case. */
  headers: Record<string, string | undefined>;
  body?: string;
  /** Claims an API Gateway authorizer already verified (production); the token is then not re-checked. */
  authorizerClaims?: Record<string, unknown>;
  sourceIp?: string;
  requestId: string;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  body?: string;
  /** Raw (non-FHIR) content instead of `body`: a Binary read as its own content type. */
  rawBody?: Buffer;
}

export const FHIR_JSON = 'application/fhir+json; charset=utf-8';
