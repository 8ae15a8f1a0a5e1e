/**
 * Test-only: a small ISO Schematron interpreter (queryBinding xslt2) on SaxonJS's XPath 3.1 engine, enough for the
 * ANS CI-SIS schematrons (no ISO skeleton XSLT needed):
 *
 * - `include` (at any level, resolved from the including file), `ns`, `let` (schema and pattern lets are global, as
 *   the ISO skeleton makes them; rule lets are bound before the rule's assertions), phases (`defaultPhase`);
 * - abstract rules with `extends`, abstract patterns instantiated by `is-a` + `param` (textual `$param` replacement);
 * - in a pattern a node is handled by the first rule whose context matches it (skeleton template priorities);
 * - `assert`/`report` with `role`, messages with `value-of` and `name`;
 * - XSLT's `document()` and XPath's `doc()` load files relative to the main schema (parsed once, cached).
 *
 * An expression the engine cannot evaluate (unknown function, dynamic error) is never dropped silently: it is
 * reported in {@link SchematronReport.unevaluated} with the engine's message.
 */

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import SaxonJS, { type SaxonNode } from 'saxon-js';

const SCH = 'http://purl.oclc.org/dsdl/schematron';
const XSL = 'http://www.w3.org/1999/XSL/Transform';
const JS_NS = 'http://saxonica.com/ns/globalJS';
const DOC_FUNCTION = 'pfiSchematronDoc';

export type SchematronLevel = 'error' | 'warning' | 'info';

type MessagePart = string | { select: string } | { name: string };

interface Assertion {
  kind: 'assert' | 'report';
  test: string;
  level: SchematronLevel;
  id: string | undefined;
  message: MessagePart[];
}

interface Let {
  name: string;
  value: string;
}

interface Rule {
  context: string;
  /** The context pattern as a selection from the document root. */
  select: string;
  lets: Let[];
  assertions: Assertion[];
}

interface Pattern {
  id: string;
  rules: Rule[];
}

/** A schematron read and expanded once, ready to validate documents. */
export interface CompiledSchematron {
  title: string;
  /** Phase used (`#ALL` when the schema has none). */
  phase: string;
  patterns: Pattern[];
  globals: Let[];
  namespaces: Record<string, string>;
  baseUri: string;
  /** Constructs of the schema this interpreter does not run (e.g. `xsl:function`), with where they were found. */
  unsupported: string[];
}

export interface SchematronFailure {
  level: SchematronLevel;
  pattern: string;
  context: string;
  /** The failing node (XPath `path()`, HL7 namespace left out). */
  location: string;
  test: string;
  id: string | undefined;
  message: string;
}

export interface Unevaluated {
  pattern: string;
  expression: string;
  reason: string;
  /** How many times it could not be evaluated in this document. */
  count: number;
}

export interface SchematronReport {
  failures: SchematronFailure[];
  errors: SchematronFailure[];
  warnings: SchematronFailure[];
  unevaluated: Unevaluated[];
  /** Rule firings (a rule on one context node). */
  rulesFired: number;
  assertionsEvaluated: number;
}

// ---------------------------------------------------------------------------------------------------------------
// Loading

const parsed = new Map<string, SaxonNode>();

function parseXml(text: string): SaxonNode {
  return SaxonJS.XPath.evaluate('parse-xml($x)', null, { params: { x: text } }) as SaxonNode;
}

function parseFile(path: string): SaxonNode {
  let doc = parsed.get(path);
  if (!doc) {
    doc = parseXml(readFileSync(path, 'utf8'));
    parsed.set(path, doc);
  }
  return doc;
}

// `doc()`/`document()` of the schematrons: the value sets, read once per process.
(globalThis as Record<string, unknown>)[DOC_FUNCTION] = (base: string, href: string) =>
  parseFile(fileURLToPath(new URL(href, base)));

function elements(node: SaxonNode): SaxonNode[] {
  const out: SaxonNode[] = [];
  for (let i = 0; i < node.childNodes.length; i++) {
    const child = node.childNodes.item(i);
    if (child?.nodeType === 1) out.push(child);
  }
  return out;
}

function attr(el: SaxonNode, name: string): string | undefined {
  // SaxonJS's getAttribute returns '' for an absent attribute: look the attribute node up instead.
  return el.attributes.getNamedItem(name)?.value;
}

/** An element with the folder its relative references resolve from. */
interface Located {
  el: SaxonNode;
  dir: string;
}

/** The children of `el`, each `include` replaced by the root element of the file it names. */
function expandedChildren(item: Located): Located[] {
  return elements(item.el).flatMap((el) => {
    if (el.namespaceURI === SCH && el.localName === 'include') {
      const path = join(item.dir, attr(el, 'href') ?? '');
      const root = parseFile(path).documentElement!;
      return [{ el: root, dir: dirname(path) }];
    }
    return [{ el, dir: item.dir }];
  });
}

function levelOf(role: string | undefined): SchematronLevel {
  const r = (role ?? '').toLowerCase();
  if (r === 'warning' || r === 'warn') return 'warning';
  if (r === 'info' || r === 'information' || r === 'hint') return 'info';
  return 'error';
}

/** XSLT's `document()` and `doc()` → the cached loader, relative to the main schema's static base URI. */
function rewriteDocCalls(expr: string): string {
  return expr.replace(/(?<![\w:.-])(?:doc|document)\s*\(/g, `Q{${JS_NS}}${DOC_FUNCTION}(static-base-uri(), `);
}

/** Splits an XSLT pattern on its top-level `|`. */
function splitUnion(pattern: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quote: string | undefined;
  let start = 0;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') depth--;
    else if (c === '|' && depth === 0) {
      parts.push(pattern.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(pattern.slice(start));
  return parts.map((p) => p.trim()).filter(Boolean);
}

/** A node matches a relative pattern P when it is selected by `//P` from its root (XSLT 2.0 §5.5.3). */
function selectionOf(pattern: string): string {
  return splitUnion(pattern)
    .map((p) => (p.startsWith('/') ? p : `//${p}`))
    .join(' | ');
}

type Substitute = (expr: string) => string;
const identity: Substitute = (s) => s;

function substitution(params: Map<string, string>): Substitute {
  const names = [...params.keys()].sort((a, b) => b.length - a.length);
  if (!names.length) return identity;
  const re = new RegExp(
    `\\$(${names.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})(?![\\w.\\-])`,
    'g',
  );
  return (expr) => expr.replace(re, (_, name: string) => params.get(name)!);
}

class Loader {
  readonly namespaces: Record<string, string> = {};
  readonly globals: Let[] = [];
  readonly unsupported: string[] = [];
  readonly abstractRules = new Map<string, Located>();
  readonly abstractPatterns = new Map<string, Located>();
  readonly patterns: Located[] = [];
  readonly phases = new Map<string, Set<string>>();
  title = '';
  defaultPhase: string | undefined;

  readSchema(item: Located): void {
    this.defaultPhase = attr(item.el, 'defaultPhase');
    for (const child of expandedChildren(item)) this.readTop(child);
  }

  private readTop(item: Located): void {
    const { el } = item;
    if (el.namespaceURI === XSL) {
      this.unsupported.push(`xsl:${el.localName} (${item.dir})`);
      return;
    }
    if (el.namespaceURI !== SCH) return;
    switch (el.localName) {
      case 'title':
        this.title ||= (el.textContent ?? '').trim();
        break;
      case 'ns':
        this.namespaces[attr(el, 'prefix') ?? ''] = attr(el, 'uri') ?? '';
        break;
      case 'let':
        this.globals.push(this.letOf(el, identity));
        break;
      case 'phase':
        this.phases.set(
          attr(el, 'id') ?? '',
          new Set(
            elements(el)
              .filter((a) => a.localName === 'active')
              .map((a) => attr(a, 'pattern') ?? ''),
          ),
        );
        break;
      case 'pattern':
        this.readPattern(item);
        break;
      case 'rule':
        this.readRuleDefinition(item);
        break;
      case 'diagnostics':
      case 'p':
      case 'properties':
        break;
      default:
        this.unsupported.push(`sch:${el.localName} (${item.dir})`);
    }
  }

  private readPattern(item: Located): void {
    const id = attr(item.el, 'id') ?? `pattern-${this.patterns.length + 1}`;
    if (attr(item.el, 'abstract') === 'true') {
      this.abstractPatterns.set(id, item);
      return;
    }
    for (const child of expandedChildren(item)) {
      if (child.el.localName === 'rule') this.readRuleDefinition(child);
      else if (child.el.localName === 'let') this.globals.push(this.letOf(child.el, identity));
      else if (child.el.namespaceURI === XSL) this.unsupported.push(`xsl:${child.el.localName} in pattern ${id}`);
    }
    this.patterns.push(item);
  }

  private readRuleDefinition(item: Located): void {
    if (attr(item.el, 'abstract') === 'true') this.abstractRules.set(attr(item.el, 'id') ?? '', item);
  }

  private letOf(el: SaxonNode, sub: Substitute): Let {
    const value = attr(el, 'value');
    if (value === undefined) this.unsupported.push(`let ${attr(el, 'name')} without @value`);
    return { name: attr(el, 'name') ?? '', value: rewriteDocCalls(sub(value ?? '()')) };
  }

  private messageOf(el: SaxonNode, sub: Substitute): MessagePart[] {
    const parts: MessagePart[] = [];
    for (let i = 0; i < el.childNodes.length; i++) {
      const n = el.childNodes.item(i)!;
      if (n.nodeType === 3) parts.push(n.nodeValue ?? '');
      else if (n.nodeType === 1 && n.localName === 'value-of') {
        parts.push({ select: rewriteDocCalls(sub(attr(n, 'select') ?? '.')) });
      } else if (n.nodeType === 1 && n.localName === 'name') parts.push({ name: sub(attr(n, 'path') ?? '.') });
      else if (n.nodeType === 1) parts.push(...this.messageOf(n, sub));
    }
    return parts;
  }

  /** The lets and assertions of a rule, `extends` expanded in place. */
  private ruleBody(
    item: Located,
    sub: Substitute,
    role: string | undefined,
    depth = 0,
  ): Pick<Rule, 'lets' | 'assertions'> {
    const body: Pick<Rule, 'lets' | 'assertions'> = { lets: [], assertions: [] };
    if (depth > 20) throw new Error('schematron: extends too deep (a cycle?)');
    for (const { el } of expandedChildren(item)) {
      if (el.namespaceURI !== SCH) {
        if (el.namespaceURI === XSL) this.unsupported.push(`xsl:${el.localName} in a rule`);
        continue;
      }
      if (el.localName === 'let') body.lets.push(this.letOf(el, sub));
      else if (el.localName === 'assert' || el.localName === 'report') {
        body.assertions.push({
          kind: el.localName,
          test: rewriteDocCalls(sub(attr(el, 'test') ?? 'true()')),
          level: levelOf(attr(el, 'role') ?? role),
          id: attr(el, 'id'),
          message: this.messageOf(el, sub),
        });
      } else if (el.localName === 'extends') {
        const ref = attr(el, 'rule');
        const base = ref ? this.abstractRules.get(ref) : undefined;
        if (!base) {
          this.unsupported.push(`extends ${ref ?? attr(el, 'href') ?? '?'} (abstract rule not found)`);
          continue;
        }
        const inherited = this.ruleBody(base, sub, role, depth + 1);
        body.lets.push(...inherited.lets);
        body.assertions.push(...inherited.assertions);
      }
    }
    return body;
  }

  private rulesOf(item: Located, sub: Substitute): Rule[] {
    return expandedChildren(item)
      .filter(({ el }) => el.namespaceURI === SCH && el.localName === 'rule' && attr(el, 'abstract') !== 'true')
      .map((rule) => {
        const context = sub(attr(rule.el, 'context') ?? '/');
        return {
          context,
          select: rewriteDocCalls(selectionOf(context)),
          ...this.ruleBody(rule, sub, attr(rule.el, 'role')),
        };
      });
  }

  /** The concrete patterns of the phase, abstract ones instantiated. */
  build(phase: string): Pattern[] {
    const active = phase === '#ALL' ? undefined : this.phases.get(phase);
    if (phase !== '#ALL' && !active) throw new Error(`schematron: no phase ${phase}`);
    const out: Pattern[] = [];
    for (const item of this.patterns) {
      const id = attr(item.el, 'id') ?? '';
      if (active && !active.has(id)) continue;
      const isA = attr(item.el, 'is-a');
      if (!isA) {
        out.push({ id, rules: this.rulesOf(item, identity) });
        continue;
      }
      const abstract = this.abstractPatterns.get(isA);
      if (!abstract) {
        this.unsupported.push(`pattern ${id} is-a ${isA} (abstract pattern not found)`);
        continue;
      }
      const params = new Map<string, string>();
      for (const p of elements(item.el).filter((e) => e.localName === 'param')) {
        params.set(attr(p, 'name') ?? '', attr(p, 'value') ?? '');
      }
      out.push({ id, rules: this.rulesOf(abstract, substitution(params)) });
    }
    return out;
  }
}

/**
 * Reads a schematron file with everything it includes. `phase` defaults to the schema's `defaultPhase`, else all
 * patterns.
 *
 * @example
 * const sch = loadSchematron('../shared/corpus/cda/schematron/schematrons/CI-SIS_BIO-CR-BIO_2024.01.sch');
 * const report = validateWithSchematron(sch, xml);
 */
export function loadSchematron(path: string, opts: { phase?: string } = {}): CompiledSchematron {
  const loader = new Loader();
  const root = parseFile(path).documentElement!;
  if (root.namespaceURI !== SCH || root.localName !== 'schema') throw new Error(`${path} is not an ISO schematron`);
  loader.readSchema({ el: root, dir: dirname(path) });
  const phase = opts.phase ?? loader.defaultPhase ?? '#ALL';
  const patterns = loader.build(phase);
  return {
    title: loader.title,
    phase,
    patterns,
    globals: loader.globals,
    namespaces: { xs: 'http://www.w3.org/2001/XMLSchema', ...loader.namespaces },
    baseUri: pathToFileURL(path).href,
    unsupported: [...new Set(loader.unsupported)],
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Validation

class Evaluator {
  readonly unevaluated = new Map<string, Unevaluated>();
  private readonly globals: Record<string, unknown> = {};

  constructor(
    private readonly schema: CompiledSchematron,
    readonly doc: SaxonNode,
  ) {
    for (const g of schema.globals) {
      try {
        this.globals[g.name] = this.evaluate(g.value, doc, 'xdm');
      } catch (e) {
        this.failed('(global)', `let $${g.name} := ${g.value}`, e);
      }
    }
  }

  evaluate(expr: string, context: unknown, resultForm: 'array' | 'xdm' | 'default' = 'default'): unknown {
    return SaxonJS.XPath.evaluate(expr, context, {
      namespaceContext: this.schema.namespaces,
      params: this.globals,
      staticBaseURI: this.schema.baseUri,
      resultForm,
    });
  }

  failed(pattern: string, expression: string, e: unknown): void {
    const reason = (e instanceof Error ? e.message : String(e)).split('\n')[0]!.slice(0, 300);
    const key = `${pattern}\u0000${expression}\u0000${reason}`;
    const known = this.unevaluated.get(key);
    if (known) known.count++;
    else this.unevaluated.set(key, { pattern, expression, reason, count: 1 });
  }
}

function withLets(lets: Let[], body: string): string {
  if (!lets.length) return body;
  return `let ${lets.map((l) => `$${l.name} := (${l.value})`).join(', ')} return (${body})`;
}

function holds(a: Assertion, result: boolean): boolean {
  return a.kind === 'assert' ? result : !result;
}

function messageOf(ev: Evaluator, rule: Rule, a: Assertion, node: unknown): string {
  const text = a.message
    .map((part) => {
      if (typeof part === 'string') return part;
      const expr = 'select' in part ? `string-join((${part.select}) ! string(), ' ')` : `name(${part.name})`;
      try {
        return String(ev.evaluate(withLets(rule.lets, expr), node));
      } catch {
        return '?';
      }
    })
    .join('');
  return text.replace(/\s+/g, ' ').trim();
}

/** The assertions' results on one node: one call for the whole rule, one per assertion if that call fails. */
function results(ev: Evaluator, pattern: Pattern, rule: Rule, node: unknown): (boolean | undefined)[] {
  const bundle = withLets(rule.lets, rule.assertions.map((a) => `boolean(${a.test})`).join(', '));
  try {
    return ev.evaluate(bundle, node, 'array') as boolean[];
  } catch {
    return rule.assertions.map((a) => {
      try {
        return ev.evaluate(withLets(rule.lets, `boolean(${a.test})`), node) as boolean;
      } catch (e) {
        ev.failed(pattern.id, a.test, e);
        return undefined;
      }
    });
  }
}

function locationOf(ev: Evaluator, node: unknown): string {
  try {
    return String(ev.evaluate('path(.)', node)).replaceAll('Q{urn:hl7-org:v3}', '');
  } catch {
    return '?';
  }
}

/** Runs the schematron's active patterns on a document (the XML text). */
export function validateWithSchematron(schema: CompiledSchematron, xml: string): SchematronReport {
  const doc = parseXml(xml);
  const ev = new Evaluator(schema, doc);
  const failures: SchematronFailure[] = [];
  let rulesFired = 0;
  let assertionsEvaluated = 0;
  for (const pattern of schema.patterns) {
    const handled = new Set<unknown>();
    for (const rule of pattern.rules) {
      let nodes: unknown[];
      try {
        nodes = ev.evaluate(rule.select, doc, 'array') as unknown[];
      } catch (e) {
        ev.failed(pattern.id, `context ${rule.context}`, e);
        continue;
      }
      for (const node of nodes) {
        if (handled.has(node)) continue;
        handled.add(node);
        if (!rule.assertions.length) continue;
        rulesFired++;
        const outcome = results(ev, pattern, rule, node);
        rule.assertions.forEach((a, i) => {
          const r = outcome[i];
          if (r === undefined) return;
          assertionsEvaluated++;
          if (holds(a, r)) return;
          failures.push({
            level: a.level,
            pattern: pattern.id,
            context: rule.context,
            location: locationOf(ev, node),
            test: a.test,
            id: a.id,
            message: messageOf(ev, rule, a, node),
          });
        });
      }
    }
  }
  return {
    failures,
    errors: failures.filter((f) => f.level === 'error'),
    warnings: failures.filter((f) => f.level === 'warning'),
    unevaluated: [...ev.unevaluated.values()],
    rulesFired,
    assertionsEvaluated,
  };
}

/** One line per failure, for test output. */
export function formatFailures(failures: SchematronFailure[]): string {
  return failures.map((f) => `[${f.level}] ${f.location}: ${f.message.slice(0, 400)}`).join('\n');
}
