/**
 * Test-only: reads a generated CDA back with fast-xml-parser and selects elements by a small path syntax:
 * `recordTarget/patientRole/id`, with `[@attr='value']` predicates on a step (every step returns all matches).
 */

import { XMLParser } from 'fast-xml-parser';

export type Node = Record<string, unknown>;

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  processEntities: true,
  isArray: (_name, _path, _leaf, isAttribute) => !isAttribute,
});

/** The `ClinicalDocument` element of a CDA text. */
export function parseCda(xml: string): Node {
  const doc = parser.parse(xml) as Record<string, Node[]>;
  const root = doc['ClinicalDocument']?.[0];
  if (!root) throw new Error('not a ClinicalDocument');
  return root;
}

const STEP = /^([\w:]+)((?:\[@[\w:]+='[^']*'\])*)$/;

function children(node: Node, name: string): Node[] {
  const value = node[name];
  if (!Array.isArray(value)) return [];
  return value.map((v) => (typeof v === 'object' && v !== null ? (v as Node) : { '#text': String(v) }));
}

/** Every element reached by `path` from `node`. */
export function select(node: Node, path: string): Node[] {
  let current = [node];
  for (const step of path.split('/')) {
    const m = STEP.exec(step);
    if (!m) throw new Error(`bad step ${step}`);
    const predicates = [...m[2]!.matchAll(/\[@([\w:]+)='([^']*)'\]/g)].map((p) => [p[1]!, p[2]!] as const);
    current = current.flatMap((n) => children(n, m[1]!)).filter((n) => predicates.every(([a, v]) => n[`@_${a}`] === v));
  }
  return current;
}

/** The single element at `path` (throws when there is not exactly one). */
export function one(node: Node, path: string): Node {
  const found = select(node, path);
  if (found.length !== 1) throw new Error(`${path}: ${found.length} elements`);
  return found[0]!;
}

/** An attribute of the single element at `path`. */
export function attr(node: Node, path: string, name: string): string | undefined {
  return one(node, path)[`@_${name}`] as string | undefined;
}

/** The text of an element. */
export function text(node: Node): string {
  return typeof node['#text'] === 'string' ? node['#text'] : '';
}
