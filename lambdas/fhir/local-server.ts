import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { outcome } from './errors.js';
import { FHIR_JSON, type HttpRequest, type HttpResponse } from './http.js';

export interface LocalServerOptions {
  handle: (req: HttpRequest) => Promise<HttpResponse>;
  health: () => Promise<{ ok: boolean; details?: Record<string, unknown> }>;
  maxBodyBytes: number;
  /** Other GET routes outside `/fhir` (local operations such as `/audit/verify`), given the request headers. */
  routes?: Readonly<Record<string, (headers: Record<string, string | undefined>) => Promise<HttpResponse>>>;
}

const SECURITY = { 'x-content-type-options': 'nosniff' };

function send(res: ServerResponse, r: HttpResponse): void {
  res.writeHead(r.status, r.headers);
  res.end(r.rawBody ?? r.body);
}

/** Reads the body up to `max` bytes; resolves undefined when over the limit (the caller answers 413). */
function readBody(req: IncomingMessage, max: number): Promise<string | undefined | null> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > max) {
      req.resume();
      resolve(null);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        // Keep draining (discarding) so the client can read the 413 instead of a broken pipe.
        chunks.length = 0;
        resolve(null);
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(size === 0 ? undefined : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function decodePath(raw: string): string | undefined {
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}

/** Translates node:http into the router's request model: `/fhir/*` to the router, `/health` open. */
export function createLocalServer(opts: LocalServerOptions): Server {
  return createServer(async (req, res) => {
    try {
      const target = req.url ?? '/';
      const q = target.indexOf('?');
      const pathname = q === -1 ? target : target.slice(0, q);
      if (pathname === '/health') {
        const h = await opts.health();
        send(res, {
          status: h.ok ? 200 : 503,
          headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...SECURITY },
          body: JSON.stringify({ status: h.ok ? 'ok' : 'unavailable', ...h.details }),
        });
        return;
      }
      const extra = opts.routes?.[pathname];
      if (extra && req.method === 'GET') {
        const headers: Record<string, string | undefined> = {};
        for (const [k, v] of Object.entries(req.headers)) headers[k] = Array.isArray(v) ? v.join(', ') : v;
        send(res, await extra(headers));
        return;
      }
      if (pathname !== '/fhir' && !pathname.startsWith('/fhir/')) {
        send(res, {
          status: 404,
          headers: { 'content-type': FHIR_JSON, ...SECURITY },
          body: JSON.stringify(outcome('error', 'not-found', 'Not found: the FHIR API is under /fhir')),
        });
        return;
      }
      const path = decodePath(pathname.slice('/fhir'.length));
      if (path === undefined) {
        send(res, {
          status: 400,
          headers: { 'content-type': FHIR_JSON, ...SECURITY },
          body: JSON.stringify(outcome('error', 'invalid', 'The URL path is not valid percent-encoding')),
        });
        return;
      }
      // No body announced (a GET, a DELETE): nothing to wait for.
      const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
      const body = hasBody ? await readBody(req, opts.maxBodyBytes) : undefined;
      if (body === null) {
        send(res, {
          status: 413,
          headers: { 'content-type': FHIR_JSON, ...SECURITY },
          body: JSON.stringify(outcome('error', 'too-long', `The body exceeds the ${opts.maxBodyBytes} bytes limit`)),
        });
        return;
      }
      const headers: Record<string, string | undefined> = {};
      for (const [k, v] of Object.entries(req.headers)) headers[k] = Array.isArray(v) ? v.join(', ') : v;
      const response = await opts.handle({
        method: req.method ?? 'GET',
        path,
        query: q === -1 ? [] : [...new URLSearchParams(target.slice(q + 1))],
        headers,
        body,
        sourceIp: req.socket.remoteAddress,
        requestId: randomUUID(),
      });
      send(res, response);
    } catch {
      if (!res.headersSent) {
        send(res, {
          status: 500,
          headers: { 'content-type': FHIR_JSON, ...SECURITY },
          body: JSON.stringify(outcome('error', 'exception', 'Internal error')),
        });
      } else res.destroy();
    }
  });
}

/** Listens and resolves the bound port (port 0 = a random free port). */
export function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
