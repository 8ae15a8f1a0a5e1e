import { z } from 'zod';
import { type CdaOrganisation, cdaOrganisationSchema, EXAMPLE_CDA_ORGANISATION } from '../lambdas/cda/organisation.js';

/**
 * Operator settings of the CDK app, read from CDK context (`cdk.json`, or `-c key=value` on the command line).
 * Every key has a safe default (in `cdk.json` or here), so `cdk synth` works on a fresh clone without AWS
 * credentials. The table in `docs/deploy.md` lists them all.
 */

/** HDS: health data stays in Paris. The region is not a setting, so no context value can move the platform. */
export const PFI_REGION = 'eu-west-3';

/** The three Paris availability zones, in the order subnets are laid out. */
export const PFI_AVAILABILITY_ZONES = ['eu-west-3a', 'eu-west-3b', 'eu-west-3c'] as const;

/** A Cognito app client using the client-credentials grant (one per partner system). */
export interface ApiClientSetting {
  /** App client name, e.g. `dpi-chu-exemple`. */
  name: string;
  /** Full SMART scope names the client may ask for, e.g. `system/Patient.rs`. */
  scopes: string[];
}

export interface PfiSettings {
  /** Deployment stage, used in resource names (`pfi-<stage>-…`). */
  stage: string;
  /** Target account: `CDK_DEFAULT_ACCOUNT` (the deploying credentials) when set, else context `pfi:account`. */
  account: string;
  region: typeof PFI_REGION;
  /** Aurora Serverless v2 capacity range in ACU. */
  dbMinCapacity: number;
  dbMaxCapacity: number;
  /** Prefix of the Cognito hosted domain (`<prefix>.auth.eu-west-3.amazoncognito.com`), unique per region. */
  authDomainPrefix: string;
  /** VPC range and NAT gateways (one per zone for zone-independent egress; fewer is cheaper). */
  vpcCidr: string;
  natGateways: number;
  /** Custom domain of the FHIR API and its ACM certificate (eu-west-3). */
  apiDomainName: string;
  apiCertificateArn: string;
  /** Stage throttling of the REST API (requests per second, burst). */
  apiThrottleRate: number;
  apiThrottleBurst: number;
  /** WAF rate-based rule: requests per 5 minutes per client IP. */
  wafRateLimit: number;
  /** Client-credentials app clients created in the user pool. */
  apiClients: ApiClientSetting[];
  /** DNS name partners use for MLLP (a CNAME to the NLB) and the ACM certificate of the TLS listener. */
  mllpDomainName: string;
  mllpCertificateArn: string;
  /** Partner networks allowed to reach MLLP 2575 (VPN/Direct Connect ranges); none by default. */
  mllpPartnerCidrs: string[];
  /** SSM parameter holding the partner registry JSON of the bridge (strict mode). */
  mllpRegistryParameter: string;
  /** Fargate tasks of the bridge: at least 2 (two zones); autoscaling up to the maximum. */
  mllpMinTasks: number;
  mllpMaxTasks: number;
  /** HL7 message content in the bridge's log: `off` (default), `refused` (AE/AR) or `all`. Patient data. */
  mllpLogContent: 'off' | 'refused' | 'all';
  /** MSSanté operator's SMTP submission URL (optional when the BAL secret carries it). */
  smtpUrl: string | undefined;
  /** Secrets Manager secret (ARN or name) of the BAL applicative: JSON `{"cert","key","url"?}`. */
  smtpSecret: string;
  mssanteFrom: string;
  mssanteNil: string;
  mssanteReceiptsTo: string | undefined;
  /** Annuaire Santé FHIR API and the secret (ARN or name) holding its API key. */
  annuaireUrl: string;
  annuaireApiKeySecret: string;
  /** Alarm e-mail; no subscription when unset (subscribe the on-call tool to the topic instead). */
  alarmEmail: string | undefined;
  /** Retention of application log groups, and of audit log groups (CloudTrail, WAF, API access). */
  logRetentionDays: number;
  auditLogRetentionDays: number;
  /** Object Lock (compliance mode) retention of the CloudTrail bucket and of the audit export bucket. */
  trailRetentionDays: number;
  auditExportRetentionDays: number;
  /** Days raw HL7 messages (`hl7/raw/`) and claim checks (`hl7/inbound/`) stay in the documents bucket. */
  hl7RawRetentionDays: number;
  /** AWS Backup Vault Lock (compliance mode, immutable after 72 h): off by default. */
  backupVaultLock: boolean;
  /** Most concurrent batches of the HL7 ingest worker (FIFO: also bounded by the number of patients). */
  hl7MaxConcurrency: number;
  /** The organisation's CDA defaults (laboratory idNat_Struct, name, facility type, biologist, document OID root). */
  organisation: CdaOrganisation;
}

export class SettingsError extends Error {
  override readonly name = 'SettingsError';
}

/** Reads a context value; `tryGetContext` is all this module needs from a construct node. */
export interface ContextSource {
  tryGetContext(key: string): unknown;
}

const account = z.string().regex(/^\d{12}$/, 'must be a 12-digit AWS account id');
// Aurora Serverless v2 accepts 0 to 256 ACU in 0.5 steps; below 0.5 the writer may pause (slow first request).
const capacity = z.coerce
  .number()
  .min(0.5, 'must be at least 0.5 ACU (0 would let the writer pause)')
  .max(256)
  .multipleOf(0.5, 'must be a multiple of 0.5 ACU');
const int = (min: number, max: number, fallback: number) => z.coerce.number().int().min(min).max(max).default(fallback);
const domainName = z
  .string()
  .regex(/^(?=.{4,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, 'must be a lower-case DNS name');
const certificateArn = z
  .string()
  .regex(/^arn:aws:acm:eu-west-3:\d{12}:certificate\/[0-9a-f-]{36}$/, 'must be an ACM certificate ARN in eu-west-3');
const cidr = z
  .string()
  .regex(/^(\d{1,3}\.){3}\d{1,3}\/(\d|[12]\d|3[0-2])$/, 'must be an IPv4 CIDR')
  .refine((c) => !c.endsWith('/0'), 'must not be the whole internet (MLLP has no authentication)');
/** Lists arrive as JSON arrays from cdk.json and as JSON text or comma-separated text from `-c`. */
const list = <T extends z.ZodType>(item: T) =>
  z.preprocess((v) => {
    if (typeof v !== 'string') return v;
    const t = v.trim();
    if (t.startsWith('[')) {
      try {
        return JSON.parse(t);
      } catch {
        return v;
      }
    }
    return t === '' ? [] : t.split(',').map((s) => s.trim());
  }, z.array(item));
const optional = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));
const secretRef = z
  .string()
  .regex(
    /^(arn:aws:secretsmanager:eu-west-3:\d{12}:secret:.+|[A-Za-z0-9/_+=.@-]{1,512})$/,
    'must be a secret ARN or name',
  );
const flag = z.preprocess((v) => (v === 'true' ? true : v === 'false' ? false : v), z.boolean());
// CloudWatch Logs only accepts these retention periods.
const LOG_RETENTIONS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
];
const logRetention = (fallback: number) =>
  int(1, 3653, fallback).refine((d) => LOG_RETENTIONS.includes(d), `must be one of ${LOG_RETENTIONS.join(', ')}`);

const schema = z
  .object({
    stage: z
      .string()
      .regex(/^[a-z][a-z0-9]{0,11}$/, 'must be 1-12 lower-case letters or digits, starting with a letter'),
    account,
    dbMinCapacity: capacity,
    dbMaxCapacity: capacity,
    authDomainPrefix: z
      .string()
      .regex(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, 'must be lower-case letters, digits and inner hyphens')
      // Cognito rejects prefixes containing these reserved words.
      .refine((p) => !/aws|amazon|cognito/.test(p), 'must not contain aws, amazon or cognito')
      .optional(),
    vpcCidr: z
      .string()
      .regex(/^10\.\d{1,3}\.0\.0\/16$/, 'must be a 10.x.0.0/16 range')
      .default('10.40.0.0/16'),
    natGateways: int(1, 3, 3),
    apiDomainName: domainName,
    apiCertificateArn: certificateArn,
    apiThrottleRate: int(1, 10_000, 200),
    apiThrottleBurst: int(1, 5_000, 400),
    wafRateLimit: int(100, 2_000_000_000, 3000),
    apiClients: list(
      z.object({
        name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'client names are lower-case letters, digits, hyphens'),
        scopes: z.array(z.string().regex(/^system\/[A-Za-z*]+\.[cruds]+$/, 'must be a SMART system scope')).min(1),
      }),
    ).default([]),
    mllpDomainName: domainName,
    mllpCertificateArn: certificateArn,
    mllpPartnerCidrs: list(cidr).default([]),
    mllpRegistryParameter: z
      .string()
      .regex(/^\/[A-Za-z0-9/_.-]{1,1010}$/, 'must be an SSM parameter name starting with /')
      .optional(),
    mllpMinTasks: int(2, 20, 2),
    mllpMaxTasks: int(2, 50, 6),
    /** HL7 content in the bridge's log (patient data): off, refused (AE/AR) or all; for debugging a feed only. */
    mllpLogContent: z.enum(['off', 'refused', 'all']).default('off'),
    smtpUrl: optional.pipe(
      z
        .string()
        .regex(/^smtps?:\/\//, 'must be an smtp:// or smtps:// URL')
        .optional(),
    ),
    smtpSecret: secretRef.optional(),
    mssanteFrom: z.email().default('pfi@pfi.test-ci-sis.mssante.fr'),
    mssanteNil: z.string().min(1).default('PFI-NIL-A-RENSEIGNER'),
    mssanteReceiptsTo: optional.pipe(z.email().optional()),
    annuaireUrl: z.url().default('https://gateway.api.esante.gouv.fr/fhir/v2'),
    annuaireApiKeySecret: secretRef.optional(),
    alarmEmail: optional.pipe(z.email().optional()),
    logRetentionDays: logRetention(90),
    auditLogRetentionDays: logRetention(365),
    trailRetentionDays: int(1, 36_500, 365),
    auditExportRetentionDays: int(1, 36_500, 1825),
    hl7RawRetentionDays: int(1, 3650, 90),
    backupVaultLock: flag.default(false),
    hl7MaxConcurrency: int(2, 1000, 10),
    // The example organisation is fictitious (FINESS 990000002, OIDs under 2.999): cdk.json names it so a deployer
    // sees what to replace.
    organisation: cdaOrganisationSchema.default(
      () => EXAMPLE_CDA_ORGANISATION as z.output<typeof cdaOrganisationSchema>,
    ),
  })
  .refine((s) => s.dbMinCapacity <= s.dbMaxCapacity, {
    path: ['dbMaxCapacity'],
    message: 'must be greater than or equal to pfi:dbMinCapacity',
  })
  .refine((s) => s.mllpMinTasks <= s.mllpMaxTasks, {
    path: ['mllpMaxTasks'],
    message: 'must be greater than or equal to pfi:mllpMinTasks',
  })
  .refine((s) => s.apiThrottleRate <= s.apiThrottleBurst, {
    path: ['apiThrottleBurst'],
    message: 'must be greater than or equal to pfi:apiThrottleRate',
  });

type SchemaKey = keyof z.input<typeof schema>;

/** Every setting and its context key (`pfi:<name>`). */
export const SETTING_KEYS: Record<SchemaKey, string> = Object.fromEntries(
  (
    [
      'stage',
      'account',
      'dbMinCapacity',
      'dbMaxCapacity',
      'authDomainPrefix',
      'vpcCidr',
      'natGateways',
      'apiDomainName',
      'apiCertificateArn',
      'apiThrottleRate',
      'apiThrottleBurst',
      'wafRateLimit',
      'apiClients',
      'mllpDomainName',
      'mllpCertificateArn',
      'mllpPartnerCidrs',
      'mllpRegistryParameter',
      'mllpMinTasks',
      'mllpMaxTasks',
      'mllpLogContent',
      'smtpUrl',
      'smtpSecret',
      'mssanteFrom',
      'mssanteNil',
      'mssanteReceiptsTo',
      'annuaireUrl',
      'annuaireApiKeySecret',
      'alarmEmail',
      'logRetentionDays',
      'auditLogRetentionDays',
      'trailRetentionDays',
      'auditExportRetentionDays',
      'hl7RawRetentionDays',
      'backupVaultLock',
      'hl7MaxConcurrency',
      'organisation',
    ] as const
  ).map((k) => [k, `pfi:${k}`]),
) as Record<SchemaKey, string>;

/** Context values arrive as strings from `-c`, typed values from `cdk.json`, and `undefined` when absent. */
function read(context: ContextSource, key: string): unknown {
  const v = context.tryGetContext(key);
  return v === '' ? undefined : v;
}

/**
 * Reads and validates the `pfi:*` context keys; throws a {@link SettingsError} naming every bad key.
 *
 * @example
 * const app = new App();
 * const settings = readSettings(app.node); // { stage: 'prod', account: '123456789012', region: 'eu-west-3', … }
 */
export function readSettings(context: ContextSource, env: NodeJS.ProcessEnv = process.env): PfiSettings {
  const envAccount = env['CDK_DEFAULT_ACCOUNT'] || undefined;
  const raw: Record<string, unknown> = {};
  for (const [field, key] of Object.entries(SETTING_KEYS)) raw[field] = read(context, key);
  if (envAccount !== undefined) raw['account'] = envAccount;
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => {
      const field = i.path[0];
      const key =
        field === 'account' && envAccount !== undefined
          ? 'CDK_DEFAULT_ACCOUNT'
          : typeof field === 'string' && field in SETTING_KEYS
            ? SETTING_KEYS[field as SchemaKey]
            : '(settings)';
      return `  ${key}: ${i.message}`;
    });
    throw new SettingsError(`Invalid CDK context:\n${lines.join('\n')}`);
  }
  const s = parsed.data;
  return {
    ...s,
    region: PFI_REGION,
    authDomainPrefix: s.authDomainPrefix ?? `pfi-${s.stage}-${s.account}`,
    mllpRegistryParameter: s.mllpRegistryParameter ?? `/pfi/${s.stage}/mllp/registry`,
    smtpSecret: s.smtpSecret ?? `pfi/${s.stage}/mssante-bal`,
    annuaireApiKeySecret: s.annuaireApiKeySecret ?? `pfi/${s.stage}/annuaire-api-key`,
    smtpUrl: s.smtpUrl,
    mssanteReceiptsTo: s.mssanteReceiptsTo,
    alarmEmail: s.alarmEmail,
  };
}
