import { z } from 'zod';
import { choice, countVariants, element, type Invariant, list, primitiveList } from './elements.js';
import * as p from './primitives.js';

/**
 * FHIR R4 general-purpose datatypes (http://hl7.org/fhir/R4/datatypes.html) and the members shared by
 * all resources. Extension and Reference are recursive through other datatypes, hence the `z.lazy`
 * indirections (resolved once, on first use).
 */

const extensionList: z.ZodType = z.lazy(() => list(extension));
const lazyReference: z.ZodType = z.lazy(() => reference);

/** Members of every element. */
export const elementBase = { id: p.fhirString.optional(), extension: extensionList.optional() };
/** Members of every backbone element. */
export const backboneBase = { ...elementBase, modifierExtension: extensionList.optional() };

/** `<field>` requires `<needs>` (qty-3, att-1, cpt-2 style rules). */
function requires(field: string, needs: string, rule: string): Invariant {
  return (value, report) => {
    if (value[field] !== undefined && value[needs] === undefined) {
      report('invariant', `${needs} is required when ${field} is present (${rule})`, [needs]);
    }
  };
}

export const coding = element({
  ...elementBase,
  system: p.uri.optional(),
  version: p.fhirString.optional(),
  code: p.code.optional(),
  display: p.fhirString.optional(),
  userSelected: p.boolean.optional(),
});

export const codeableConcept = element({
  ...elementBase,
  coding: list(coding).optional(),
  text: p.fhirString.optional(),
});

export const period = element({ ...elementBase, start: p.dateTime.optional(), end: p.dateTime.optional() });

export const identifier = element({
  ...elementBase,
  use: z.enum(['usual', 'official', 'temp', 'secondary', 'old']).optional(),
  type: codeableConcept.optional(),
  system: p.uri.optional(),
  value: p.fhirString.optional(),
  period: period.optional(),
  assigner: lazyReference.optional(),
});

export const reference = element({
  ...elementBase,
  reference: p.fhirString.optional(),
  type: p.uri.optional(),
  identifier: identifier.optional(),
  display: p.fhirString.optional(),
});

export const humanName = element({
  ...elementBase,
  use: z.enum(['usual', 'official', 'temp', 'nickname', 'anonymous', 'old', 'maiden']).optional(),
  text: p.fhirString.optional(),
  family: p.fhirString.optional(),
  given: primitiveList(p.fhirString).optional(),
  prefix: primitiveList(p.fhirString).optional(),
  suffix: primitiveList(p.fhirString).optional(),
  period: period.optional(),
});

export const address = element({
  ...elementBase,
  use: z.enum(['home', 'work', 'temp', 'old', 'billing']).optional(),
  type: z.enum(['postal', 'physical', 'both']).optional(),
  text: p.fhirString.optional(),
  line: primitiveList(p.fhirString).optional(),
  city: p.fhirString.optional(),
  district: p.fhirString.optional(),
  state: p.fhirString.optional(),
  postalCode: p.fhirString.optional(),
  country: p.fhirString.optional(),
  period: period.optional(),
});

export const contactPoint = element(
  {
    ...elementBase,
    system: z.enum(['phone', 'fax', 'email', 'pager', 'url', 'sms', 'other']).optional(),
    value: p.fhirString.optional(),
    use: z.enum(['home', 'work', 'temp', 'old', 'mobile']).optional(),
    rank: p.positiveInt.optional(),
    period: period.optional(),
  },
  { invariants: [requires('value', 'system', 'cpt-2')] },
);

const quantityShape = {
  ...elementBase,
  value: p.decimal.optional(),
  comparator: z.enum(['<', '<=', '>=', '>']).optional(),
  unit: p.fhirString.optional(),
  system: p.uri.optional(),
  code: p.code.optional(),
};

/** Quantity, and its profiles Age, Count, Distance, Duration (same shape in JSON). */
export const quantity = element(quantityShape, { invariants: [requires('code', 'system', 'qty-3')] });

export const simpleQuantity = element(quantityShape, {
  invariants: [
    requires('code', 'system', 'qty-3'),
    (value, report) => {
      if (value['comparator'] !== undefined) {
        report('invariant', 'comparator is not allowed on a SimpleQuantity (sqty-1)', ['comparator']);
      }
    },
  ],
});

export const range = element({ ...elementBase, low: simpleQuantity.optional(), high: simpleQuantity.optional() });

export const ratio = element({ ...elementBase, numerator: quantity.optional(), denominator: quantity.optional() });

export const sampledData = element({
  ...elementBase,
  origin: simpleQuantity,
  period: p.decimal,
  factor: p.decimal.optional(),
  lowerLimit: p.decimal.optional(),
  upperLimit: p.decimal.optional(),
  dimensions: p.positiveInt,
  data: p.fhirString.optional(),
});

export const timing = element({
  ...backboneBase,
  event: primitiveList(p.dateTime).optional(),
  repeat: element(
    {
      ...elementBase,
      ...choice('bounds', { Duration: quantity, Range: range, Period: period }),
      count: p.positiveInt.optional(),
      countMax: p.positiveInt.optional(),
      duration: p.decimal.optional(),
      durationMax: p.decimal.optional(),
      durationUnit: z.enum(['s', 'min', 'h', 'd', 'wk', 'mo', 'a']).optional(),
      frequency: p.positiveInt.optional(),
      frequencyMax: p.positiveInt.optional(),
      period: p.decimal.optional(),
      periodMax: p.decimal.optional(),
      periodUnit: z.enum(['s', 'min', 'h', 'd', 'wk', 'mo', 'a']).optional(),
      dayOfWeek: primitiveList(z.enum(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'])).optional(),
      timeOfDay: primitiveList(p.time).optional(),
      when: primitiveList(p.code).optional(),
      offset: p.unsignedInt.optional(),
    },
    { choices: ['bounds'] },
  ).optional(),
  code: codeableConcept.optional(),
});

export const attachment = element(
  {
    ...elementBase,
    contentType: p.code.optional(),
    language: p.code.optional(),
    data: p.base64Binary.optional(),
    url: p.url.optional(),
    size: p.unsignedInt.optional(),
    hash: p.base64Binary.optional(),
    title: p.fhirString.optional(),
    creation: p.dateTime.optional(),
  },
  { invariants: [requires('data', 'contentType', 'att-1')] },
);

export const annotation = element(
  {
    ...elementBase,
    ...choice('author', { Reference: reference, String: p.fhirString }),
    time: p.dateTime.optional(),
    text: p.markdown,
  },
  { choices: ['author'] },
);

export const signature = element({
  ...elementBase,
  type: list(coding),
  when: p.instant,
  who: reference,
  onBehalfOf: reference.optional(),
  targetFormat: p.code.optional(),
  sigFormat: p.code.optional(),
  data: p.base64Binary.optional(),
});

/** The variants of Extension.value[x] we model; other R4 variants are tolerated unvalidated. */
const extensionValues: Record<string, z.ZodType> = {
  Base64Binary: p.base64Binary,
  Boolean: p.boolean,
  Canonical: p.canonical,
  Code: p.code,
  Date: p.date,
  DateTime: p.dateTime,
  Decimal: p.decimal,
  Id: p.id,
  Instant: p.instant,
  Integer: p.integer,
  Markdown: p.markdown,
  Oid: p.oid,
  PositiveInt: p.positiveInt,
  String: p.fhirString,
  Time: p.time,
  UnsignedInt: p.unsignedInt,
  Uri: p.uri,
  Url: p.url,
  Uuid: p.uuid,
  Address: address,
  Age: quantity,
  Annotation: annotation,
  Attachment: attachment,
  CodeableConcept: codeableConcept,
  Coding: coding,
  ContactPoint: contactPoint,
  Count: quantity,
  Distance: quantity,
  Duration: quantity,
  HumanName: humanName,
  Identifier: identifier,
  Period: period,
  Quantity: quantity,
  Range: range,
  Ratio: ratio,
  Reference: reference,
  SampledData: sampledData,
  Signature: signature,
  Timing: timing,
};

export const extension: z.ZodType = element(
  { ...elementBase, url: p.uri, ...choice('value', extensionValues) },
  {
    choices: ['value'],
    invariants: [
      (value, report) => {
        const hasValue = countVariants(value, 'value') > 0;
        if (hasValue === (value['extension'] !== undefined)) {
          report('invariant', 'an extension must have either a value[x] or nested extensions, not both (ext-1)');
        }
      },
    ],
  },
);

const XHTML_DIV_RE = /^\s*<div[\s>/]/;

export const narrative = element({
  ...elementBase,
  status: z.enum(['generated', 'extensions', 'additional', 'empty']),
  div: p.formatted((value) => XHTML_DIV_RE.test(value), 'must be an XHTML div element'),
});

export const meta = element({
  ...elementBase,
  versionId: p.id.optional(),
  lastUpdated: p.instant.optional(),
  source: p.uri.optional(),
  profile: primitiveList(p.canonical).optional(),
  security: list(coding).optional(),
  tag: list(coding).optional(),
});

/** A contained resource: only its identity and meta are checked, not its content. */
const containedResource = element({ resourceType: p.code, id: p.id.optional(), meta: meta.optional() });

/** Members of every resource (Binary, Bundle...). */
export const resourceBase = {
  id: p.id.optional(),
  meta: meta.optional(),
  implicitRules: p.uri.optional(),
  language: p.code.optional(),
};

/** Members of every DomainResource (all supported types except Binary). */
export const domainResourceBase = {
  ...resourceBase,
  text: narrative.optional(),
  contained: list(containedResource).optional(),
  extension: extensionList.optional(),
  modifierExtension: extensionList.optional(),
};
