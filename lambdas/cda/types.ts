/** Data types shared by the CDA generator (lambdas/cda) and the readers of CDA headers (lambdas/mssante). */

/** A CDA `II`: an OID root and an optional extension. */
export interface CdaId {
  root: string;
  extension?: string;
}

/** A CDA `CE`/`CD` code. */
export interface CdaCode {
  code: string;
  codeSystem: string;
  displayName?: string;
  codeSystemName?: string;
}

/** The identity of a produced document: its id, the id shared by all its versions, its version and creation time. */
export interface CdaDocumentIds {
  id: CdaId;
  setId: CdaId;
  versionNumber: number;
  effectiveTime: Date;
}

/** A CDA postal address (AD), as the parties of a document carry it. */
export interface CdaAddress {
  lines: string[];
  postalCode?: string;
  city?: string;
  country?: string;
}
