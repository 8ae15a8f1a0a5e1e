import { randomUUID } from 'node:crypto';
import { access, link, mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { type CryptoKey, calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK, SignJWT } from 'jose';

/**
 * The local-mode signing key: one ES256 key pair created on first use under `$PFI_DATA_DIR/keys`, so that
 * `npm start` and `npm run token` agree on it without any identity provider.
 */

export const LOCAL_ISSUER = 'urn:pfi:local';
export const LOCAL_AUDIENCE = 'pfi-fhir';
export const LOCAL_ALG = 'ES256';
const DEFAULT_CLIENT_ID = 'pfi-local';
const DEFAULT_TTL_SECONDS = 3600;
const PRIVATE_FILE = 'private.jwk.json';
const PUBLIC_FILE = 'public.jwk.json';

export interface LocalKeys {
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  /** RFC 7638 SHA-256 thumbprint of the public key. */
  kid: string;
  /** The public key as a JWK with `kid`, `alg` and `use`, ready for a JWKS. */
  publicJwk: JWK;
}

export interface LocalTokenOptions {
  /** Space-separated SMART scopes, put verbatim in the `scope` claim. */
  scopes: string;
  /** `sub` claim; defaults to the client id. */
  subject?: string;
  /** `client_id` claim; defaults to `pfi-local`. */
  clientId?: string;
  /** Lifetime in whole seconds; defaults to 3600. */
  ttlSeconds?: number;
}

/** The key file exists but cannot be used; it is never overwritten, so tokens already issued stay checkable. */
export class LocalKeyError extends Error {
  override readonly name = 'LocalKeyError';
}

function publicPart(jwk: JWK): JWK {
  const { kty, crv, x, y } = jwk;
  return { kty, crv, x, y };
}

async function keysFromPrivateJwk(jwk: JWK, file: string): Promise<LocalKeys> {
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || typeof jwk.d !== 'string') {
    throw new LocalKeyError(`${file} is not an EC P-256 private key; delete it to generate a new key pair`);
  }
  const kid = await calculateJwkThumbprint(publicPart(jwk), 'sha256');
  const publicJwk: JWK = { ...publicPart(jwk), kid, alg: LOCAL_ALG, use: 'sig' };
  try {
    const privateKey = await importJWK({ ...jwk, kid, alg: LOCAL_ALG }, LOCAL_ALG);
    const publicKey = await importJWK(publicJwk, LOCAL_ALG);
    if (privateKey instanceof Uint8Array || publicKey instanceof Uint8Array) throw new TypeError('not an EC key');
    return { privateKey, publicKey, kid, publicJwk };
  } catch (cause) {
    throw new LocalKeyError(`${file} holds an unusable key; delete it to generate a new key pair`, { cause });
  }
}

/** Reads the private key file; undefined when it does not exist yet. */
async function readPrivateJwk(file: string): Promise<JWK | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new TypeError('not an object');
    return parsed as JWK;
  } catch (cause) {
    throw new LocalKeyError(`${file} is not valid JSON; delete it to generate a new key pair`, { cause });
  }
}

/** Writes `content` to a fresh temp file next to `file` (fsynced) and returns its path. */
async function writeTemp(file: string, content: string, mode: number): Promise<string> {
  const temp = `${file}.${process.pid}.${randomUUID()}.tmp`;
  const handle = await open(temp, 'wx', mode);
  try {
    await handle.writeFile(content, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  return temp;
}

/**
 * Publishes the private key only if no other process did first. `link` fails with EEXIST instead of replacing
 * the target (as `rename` would), so two racing first starts cannot each believe their own key is the one on disk.
 * Returns false when another process won.
 */
async function publishPrivateJwk(file: string, jwk: JWK): Promise<boolean> {
  const temp = await writeTemp(file, `${JSON.stringify(jwk, null, 2)}\n`, 0o600);
  try {
    await link(temp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await unlink(temp);
  }
}

/** The public file is derived from the published private key, so replacing it (temp + rename) is always safe. */
async function writePublicJwk(file: string, jwk: JWK): Promise<void> {
  const temp = await writeTemp(file, `${JSON.stringify(jwk, null, 2)}\n`, 0o644);
  await rename(temp, file);
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/**
 * Loads the local key pair from `keyDir`, creating it on first use (`private.jwk.json` mode 0600,
 * `public.jwk.json`, directory mode 0700). Safe when several processes start at once: all get the same key.
 *
 * @example
 * const keys = await loadOrCreateLocalKeys(`${config.dataDir}/keys`);
 * const token = await signLocalToken(keys, { scopes: 'system/*.cruds' });
 */
export async function loadOrCreateLocalKeys(keyDir: string): Promise<LocalKeys> {
  await mkdir(keyDir, { recursive: true, mode: 0o700 });
  const privateFile = join(keyDir, PRIVATE_FILE);
  const publicFile = join(keyDir, PUBLIC_FILE);
  const existing = await readPrivateJwk(privateFile);
  if (existing) {
    const keys = await keysFromPrivateJwk(existing, privateFile);
    // A crash between publishing the private key and writing its public half leaves the latter missing.
    if (!(await exists(publicFile))) await writePublicJwk(publicFile, keys.publicJwk);
    return keys;
  }

  const { privateKey } = await generateKeyPair(LOCAL_ALG, { extractable: true });
  const generated = await exportJWK(privateKey);
  const won = await publishPrivateJwk(privateFile, generated);
  // The loser of a race reloads the winner's key rather than keeping its own.
  const jwk = won ? generated : await readPrivateJwk(privateFile);
  if (!jwk) throw new LocalKeyError(`${privateFile} disappeared while being created`);
  const keys = await keysFromPrivateJwk(jwk, privateFile);
  await writePublicJwk(publicFile, keys.publicJwk);
  return keys;
}

/**
 * Signs an access token for the local FHIR API (issuer `urn:pfi:local`, audience `pfi-fhir`, ES256).
 *
 * @example
 * const token = await signLocalToken(keys, { scopes: 'system/Patient.rs', ttlSeconds: 600 });
 */
export async function signLocalToken(keys: LocalKeys, options: LocalTokenOptions): Promise<string> {
  const ttl = options.ttlSeconds ?? DEFAULT_TTL_SECONDS;
  if (!Number.isSafeInteger(ttl) || ttl <= 0) throw new RangeError('ttlSeconds must be a positive whole number');
  const clientId = options.clientId ?? DEFAULT_CLIENT_ID;
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ scope: options.scopes, client_id: clientId })
    .setProtectedHeader({ alg: LOCAL_ALG, kid: keys.kid, typ: 'JWT' })
    .setIssuer(LOCAL_ISSUER)
    .setAudience(LOCAL_AUDIENCE)
    .setSubject(options.subject ?? clientId)
    .setIssuedAt(now)
    .setExpirationTime(now + ttl)
    .setJti(randomUUID())
    .sign(keys.privateKey);
}
