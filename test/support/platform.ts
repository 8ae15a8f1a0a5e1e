import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SqlExecutor } from '../../lambdas/adapters/sql/executor.js';
import { createPgliteExecutor } from '../../lambdas/adapters/sql/pglite.js';
import { loadOrCreateLocalKeys, signLocalToken } from '../../lambdas/auth/local-keys.js';
import { loadConfig } from '../../lambdas/config.js';
import type { HttpRequest, HttpResponse } from '../../lambdas/fhir/http.js';
import { createFhirPlatform, type FhirPlatform } from '../../lambdas/fhir/platform.js';

export const BASE = 'http://pfi.test/fhir';

export interface TestPlatform {
  platform: FhirPlatform;
  token(scopes?: string, clientId?: string): Promise<string>;
  call(
    method: string,
    path: string,
    opts?: { token?: string | null; body?: unknown; headers?: Record<string, string>; query?: string },
  ): Promise<HttpResponse & { json: () => any }>;
  close(): Promise<void>;
}

/** The FHIR router on an in-memory PGlite database with the local token issuer: HTTP without sockets. */
export async function createTestPlatform(
  env: Record<string, string> = {},
  opts: { db?: SqlExecutor; operations?: Parameters<typeof createFhirPlatform>[1]['operations'] } = {},
): Promise<TestPlatform> {
  const dir = await mkdtemp(join(tmpdir(), 'pfi-router-'));
  const config = loadConfig({ PFI_DATA_DIR: dir, ...env });
  const db = opts.db ?? (await createPgliteExecutor());
  const platform = await createFhirPlatform(config, {
    baseUrl: BASE,
    db,
    operations: opts.operations,
    // An unexpected error is a bug: show it in the test output.
    onError: (err) => console.error('unexpected error in router', err),
  });
  const keys = await loadOrCreateLocalKeys(join(dir, 'keys'));
  const defaultToken = await signLocalToken(keys, { scopes: 'system/*.cruds' });
  let n = 0;
  return {
    platform,
    token: (scopes = 'system/*.cruds', clientId?: string) => signLocalToken(keys, { scopes, clientId }),
    async call(method, path, o = {}) {
      const [p = '', q = o.query ?? ''] = path.split('?', 2);
      const headers: Record<string, string> = { ...(o.headers ?? {}) };
      if (o.token !== null) headers.authorization = `Bearer ${o.token ?? defaultToken}`;
      if (o.body !== undefined && !headers['content-type']) headers['content-type'] = 'application/fhir+json';
      const req: HttpRequest = {
        method,
        path: p,
        query: [...new URLSearchParams(q)],
        headers,
        body: o.body === undefined ? undefined : typeof o.body === 'string' ? o.body : JSON.stringify(o.body),
        requestId: `req-${++n}`,
      };
      const res = await platform.handle(req);
      return { ...res, json: () => (res.body ? JSON.parse(res.body) : undefined) };
    },
    async close() {
      await db.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
