import type { Server } from 'node:http';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HttpRequest } from '../../lambdas/fhir/http.js';
import { createLocalServer, listen } from '../../lambdas/fhir/local-server.js';

describe('local HTTP server', () => {
  let server: Server;
  let port: number;
  const seen: HttpRequest[] = [];
  let healthy = true;

  beforeAll(async () => {
    server = createLocalServer({
      maxBodyBytes: 1024,
      health: async () => ({ ok: healthy, details: { database: 'test' } }),
      handle: async (req) => {
        seen.push(req);
        if (req.path === '/boom') throw new Error('boom');
        return { status: 200, headers: { 'content-type': 'application/fhir+json' }, body: '{"ok":true}' };
      },
    });
    port = await listen(server, 0, '127.0.0.1');
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const send = (method: string, path: string, body?: string | string[], headers: Record<string, string> = {}) =>
    new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
        let data = '';
        res.on('data', (c: Buffer) => {
          data += c.toString();
        });
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: data }));
      });
      req.on('error', reject);
      for (const chunk of Array.isArray(body) ? body : body ? [body] : []) req.write(chunk);
      req.end();
    });

  it('translates a request into the router model', async () => {
    const res = await send('POST', '/fhir/Patient/_search?family=l%C3%A9&family=x', 'a=1', {
      'content-type': 'application/x-www-form-urlencoded',
      'X-Custom': 'v',
    });
    expect(res.status).toBe(200);
    const req = seen.at(-1)!;
    expect(req.path).toBe('/Patient/_search');
    expect(req.query).toEqual([
      ['family', 'lé'],
      ['family', 'x'],
    ]);
    expect(req.headers['x-custom']).toBe('v');
    expect(req.body).toBe('a=1');
    expect(req.requestId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('serves /health as 200 or 503', async () => {
    healthy = true;
    expect((await send('GET', '/health')).status).toBe(200);
    healthy = false;
    const down = await send('GET', '/health');
    expect(down.status).toBe(503);
    expect(JSON.parse(down.body)).toMatchObject({ status: 'unavailable' });
    healthy = true;
  });

  it('answers 404 outside /fhir and 500 without details when the handler throws', async () => {
    const nf = await send('GET', '/elsewhere');
    expect(nf.status).toBe(404);
    expect(nf.headers['x-content-type-options']).toBe('nosniff');
    expect((await send('GET', '/fhir/Patient/%ZZ')).status).toBe(400);
    const boom = await send('GET', '/fhir/boom');
    expect(boom.status).toBe(500);
    expect(boom.body).not.toContain('boom');
  });

  it('answers 413 to a body over the limit, declared or streamed', async () => {
    const declared = await send('POST', '/fhir/Patient', 'x'.repeat(2000), { 'content-type': 'application/fhir+json' });
    expect(declared.status).toBe(413);
    const count = seen.length;
    const streamed = await send('POST', '/fhir/Patient', ['x'.repeat(600), 'y'.repeat(600)], {
      'content-type': 'application/fhir+json',
      'transfer-encoding': 'chunked',
    });
    expect(streamed.status).toBe(413);
    expect(seen.length).toBe(count);
  });
});
