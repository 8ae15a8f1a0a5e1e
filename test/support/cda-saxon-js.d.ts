/** The part of SaxonJS 2 (npm `saxon-js`, no typings of its own) that the CDA test harness uses. */
declare module 'saxon-js' {
  /** A node of SaxonJS's DOM (the subset the schematron loader reads). */
  export interface SaxonNode {
    readonly nodeType: number;
    readonly localName: string | null;
    readonly namespaceURI: string | null;
    readonly nodeValue: string | null;
    readonly textContent: string | null;
    readonly childNodes: { readonly length: number; item(index: number): SaxonNode | null };
    readonly documentElement?: SaxonNode;
    readonly attributes: { getNamedItem(name: string): { readonly value: string } | null };
  }

  export interface XPathOptions {
    namespaceContext?: Record<string, string>;
    params?: Record<string, unknown>;
    staticBaseURI?: string;
    resultForm?: 'default' | 'array' | 'iterator' | 'xdm';
  }

  const SaxonJS: {
    XPath: { evaluate(expression: string, context: unknown, options?: XPathOptions): unknown };
  };
  export default SaxonJS;
}
