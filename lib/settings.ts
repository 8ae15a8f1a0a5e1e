import { z } from 'zod';

/**
 * Operator settings of the CDK app, read from CDK context (`cdk.json`, or `-c key=value` on the command line).
 * Every key has a safe default in `cdk.json`, so `cdk synth` works on a fresh clone without AWS credentials.
 */

/** HDS: health data stays in Paris. The region is not a setting, so no context value can move the platform. */
export const PFI_REGION = 'eu-west-3';

/** The three Paris availability zones, in the order subnets are laid out. */
export const PFI_AVAILABILITY_ZONES = ['eu-west-3a', 'eu-west-3b', 'eu-west-3c'] as const;

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
  })
  .refine((s) => s.dbMinCapacity <= s.dbMaxCapacity, {
    path: ['dbMaxCapacity'],
    message: 'must be greater than or equal to pfi:dbMinCapacity',
  });

const KEYS = {
  stage: 'pfi:stage',
  account: 'pfi:account',
  dbMinCapacity: 'pfi:dbMinCapacity',
  dbMaxCapacity: 'pfi:dbMaxCapacity',
  authDomainPrefix: 'pfi:authDomainPrefix',
} as const;

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
  const parsed = schema.safeParse({
    stage: read(context, KEYS.stage),
    account: envAccount ?? read(context, KEYS.account),
    dbMinCapacity: read(context, KEYS.dbMinCapacity),
    dbMaxCapacity: read(context, KEYS.dbMaxCapacity),
    authDomainPrefix: read(context, KEYS.authDomainPrefix),
  });
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => {
      const field = i.path[0];
      const key =
        field === 'account' && envAccount !== undefined
          ? 'CDK_DEFAULT_ACCOUNT'
          : typeof field === 'string' && field in KEYS
            ? KEYS[field as keyof typeof KEYS]
            : '(settings)';
      return `  ${key}: ${i.message}`;
    });
    throw new SettingsError(`Invalid CDK context:\n${lines.join('\n')}`);
  }
  const s = parsed.data;
  return {
    stage: s.stage,
    account: s.account,
    region: PFI_REGION,
    dbMinCapacity: s.dbMinCapacity,
    dbMaxCapacity: s.dbMaxCapacity,
    authDomainPrefix: s.authDomainPrefix ?? `pfi-${s.stage}-${s.account}`,
  };
}
