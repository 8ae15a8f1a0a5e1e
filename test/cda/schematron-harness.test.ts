/** The test harness itself (test/support/cda-schematron.ts) on a small schematron written for the purpose. */

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSchematron, validateWithSchematron } from '../support/cda-schematron.js';

const dir = mkdtempSync(join(tmpdir(), 'pfi-sch-'));
const SCH = 'xmlns="http://purl.oclc.org/dsdl/schematron"';
writeFileSync(join(dir, 'codes.xml'), '<codes><c v="A"/><c v="B"/></codes>');
writeFileSync(
  join(dir, 'abstract-rule.sch'),
  `<rule ${SCH} abstract="true" id="coded"><assert test="@v">missing @v</assert></rule>`,
);
writeFileSync(
  join(dir, 'abstract-pattern.sch'),
  `<pattern ${SCH} abstract="true" id="inSet"><rule context="$elt"><assert test="document($file)//c[@v = current-v()] or true()">never</assert><assert test="@v = doc($file)//c/@v">[<value-of select="@v"/>] not in set</assert></rule></pattern>`,
);
writeFileSync(
  join(dir, 'main.sch'),
  `<schema ${SCH} queryBinding="xslt2" defaultPhase="main">
  <ns prefix="x" uri="urn:x"/>
  <let name="codes" value="'codes.xml'"/>
  <include href="abstract-pattern.sch"/>
  <phase id="main"><active pattern="first-match"/><active pattern="set"/></phase>
  <pattern id="lib"><include href="abstract-rule.sch"/></pattern>
  <pattern id="first-match">
    <rule context="x:item[@special]"><assert test="false()" role="warning">special <name/></assert></rule>
    <rule context="x:item"><extends rule="coded"/><report test="@v = 'B'">B seen</report></rule>
  </pattern>
  <pattern id="set" is-a="inSet"><param name="elt" value="x:item[@v]"/><param name="file" value="$codes"/></pattern>
  <pattern id="inactive"><rule context="/"><assert test="false()">inactive pattern ran</assert></rule></pattern>
</schema>`,
);

describe('schematron harness', () => {
  it('includes, abstract rules/patterns, phases, first matching rule, roles, messages, document()', () => {
    const schema = loadSchematron(join(dir, 'main.sch'));
    expect(schema.patterns.map((p) => p.id)).toEqual(['first-match', 'set']);
    const report = validateWithSchematron(
      schema,
      '<r xmlns="urn:x"><item v="A"/><item v="B"/><item/><item special="1" v="Z"/></r>',
    );
    expect(report.failures.map((f) => [f.level, f.pattern, f.message])).toEqual([
      ['warning', 'first-match', 'special item'],
      ['error', 'first-match', 'B seen'],
      ['error', 'first-match', 'missing @v'],
      ['error', 'set', '[Z] not in set'],
    ]);
    // current-v() does not exist: that assertion is reported as not evaluated, not dropped.
    expect(report.unevaluated.map((u) => u.expression)).toEqual([expect.stringContaining('current-v()')]);
  });
});
