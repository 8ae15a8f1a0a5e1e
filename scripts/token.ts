import { parseArgs } from 'node:util';
import { loadOrCreateLocalKeys, signLocalToken } from '../lambdas/auth/local-keys.js';
import { formatScopes, parseScopes } from '../lambdas/auth/scopes.js';
import { ConfigError, loadConfig } from '../lambdas/config.js';

/**
 * Prints one access token for the local FHIR API, signed with the key in `$PFI_DATA_DIR/keys`:
 *   npm run --silent token -- "system/Patient.rs system/Observation.cruds" --ttl 600 --sub integration-test
 * Only the token goes to stdout, so `TOKEN=$(npm run --silent token)` works.
 */

const DEFAULT_SCOPES = 'system/*.cruds';
const USAGE = `usage: npm run --silent token -- ["<space separated scopes>"] [--ttl <seconds>] [--sub <subject>]
  default scopes: ${DEFAULT_SCOPES}; default ttl: 3600 seconds; local auth mode only (PFI_AUTH_MODE=local)`;

interface Args {
  scopes: string;
  ttlSeconds: number | undefined;
  subject: string | undefined;
}

class UsageError extends Error {}

function parseCommandLine(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      options: { ttl: { type: 'string' }, sub: { type: 'string' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function parse(argv: string[]): Args {
  const parsed = parseCommandLine(argv);
  const { ttl, sub } = parsed.values;
  if (ttl !== undefined && !/^[1-9]\d{0,8}$/.test(ttl)) throw new UsageError('--ttl must be a positive whole number');
  if (sub !== undefined && sub.trim() === '') throw new UsageError('--sub must not be empty');
  const scopes = parsed.positionals.join(' ').trim();
  return {
    scopes: scopes === '' ? DEFAULT_SCOPES : scopes,
    ttlSeconds: ttl === undefined ? undefined : Number(ttl),
    subject: sub,
  };
}

async function main(): Promise<number> {
  let args: Args;
  try {
    args = parse(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`token: ${err.message}\n${USAGE}\n`);
    return 2;
  }
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`token: ${err.message}\n`);
    return 2;
  }
  if (config.auth.mode !== 'local') {
    process.stderr.write(
      'token: PFI_AUTH_MODE is jwks: tokens come from the configured issuer, not from this script ' +
        '(unset PFI_AUTH_MODE or set it to local)\n',
    );
    return 2;
  }
  if (formatScopes(parseScopes(args.scopes)) === '') {
    process.stderr.write(`token: warning: "${args.scopes}" grants no system/ access; the FHIR API will answer 403\n`);
  }
  const keys = await loadOrCreateLocalKeys(config.auth.keyDir);
  const token = await signLocalToken(keys, { scopes: args.scopes, subject: args.subject, ttlSeconds: args.ttlSeconds });
  process.stdout.write(`${token}\n`);
  return 0;
}

process.exitCode = await main();
