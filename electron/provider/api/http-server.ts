// Transport 2: the API over HTTP + WebSocket for the headless node, and the dashboard itself.
// Bound to loopback unless told otherwise; every request needs the token (Bearer header, or the
// HttpOnly cookie the page gets by presenting ?token= once). Host and Origin are checked so a web
// page elsewhere cannot reach the node through DNS rebinding or cross-site requests.
import { createServer, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { timingSafeEqual, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { VERSION } from '../../../shared/version';
import type { ApiEvent, ServerMessage } from '../../../shared/api';
import type { ErrorBody } from '../../../shared/errors';
import { isDiagnosticsFileName } from '../logs/diagnostics';
import { mimeType } from '../util/mime';
import { dashboardCsp } from '../../../shared/csp';
import type { ScopedLogger } from '../logs/logger';
import type { Router } from './router';

export const TOKEN_COOKIE = 'idlerig_token';
const MAX_BODY_BYTES = 1024 * 1024;

export interface HttpServerOptions {
  host: string;
  port: number;
  token?: string;
  /** The built dashboard (dist/renderer); null serves the API only. */
  staticDir: string | null;
  diagnosticsDir: string;
  router: Router;
  log: ScopedLogger;
  /** Subscribe to node events; returns the unsubscribe function. */
  subscribe(listener: (event: ApiEvent) => void): () => void;
}

const ERROR_STATUS: Record<string, number> = {
  INVALID_PARAMS: 400,
  UNKNOWN_METHOD: 404,
  NOT_FOUND: 404,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  CONFLICT: 409,
  UNAVAILABLE: 503,
  PAYLOAD_TOO_LARGE: 413,
  INTERNAL: 500,
  DOWNLOAD_FAILED: 502,
  INSUFFICIENT_SPACE: 507,
  HASH_MISMATCH: 422,
  UNSAFE_PATH: 400,
  INSECURE_URL: 400,
  STALLED: 504,
  ENGINE_CRASHED: 503,
  MODEL_UNVERIFIED: 422,
  INVALID_INPUT: 400,
  LIMIT_EXCEEDED: 413,
  TIMEOUT: 504,
  QUEUE_FULL: 429,
  CANCELLED: 409,
  KEY_LOCKED: 503,
  KEY_UNREADABLE: 500,
};

export class ApiHttpServer {
  readonly token: string;
  private server: Server | null = null;
  private wss: WebSocketServer | null = null;
  private port = 0;
  private readonly clients = new Set<WebSocket>();

  constructor(private readonly opts: HttpServerOptions) {
    this.token = opts.token ?? randomBytes(24).toString('base64url');
  }

  get url(): string {
    const host = this.opts.host.includes(':') ? `[${this.opts.host}]` : this.opts.host;
    return `http://${host}:${this.port}`;
  }

  async listen(): Promise<void> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.opts.log.error('HTTP handler failed', {
          error: err instanceof Error ? err.message : String(err),
        });
        if (!res.headersSent) this.sendError(res, { code: 'INTERNAL', message: 'Internal error' });
        else res.destroy();
      });
    });
    server.headersTimeout = 10_000;
    server.requestTimeout = 30_000;
    server.keepAliveTimeout = 5_000;
    this.wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
    server.on('upgrade', (req, socket, head) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (
        url.pathname !== '/api/events' ||
        !this.hostAllowed(req) ||
        !this.originAllowed(req) ||
        !this.authorized(req)
      ) {
        socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      this.wss!.handleUpgrade(req, socket, head, (ws) => this.onSocket(ws));
    });
    await new Promise<void>((resolvePromise, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.host, () => {
        server.off('error', reject);
        resolvePromise();
      });
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  async close(): Promise<void> {
    for (const ws of this.clients) ws.close(1001, 'node stopping');
    this.wss?.close();
    const server = this.server;
    this.server = null;
    if (!server) return;
    await new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections();
    });
  }

  private onSocket(ws: WebSocket): void {
    this.clients.add(ws);
    const send = (msg: ServerMessage): void => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(msg, bigintReplacer));
    };
    send({ kind: 'hello', version: VERSION, protocol: 1 });
    const unsubscribe = this.opts.subscribe((event) => send({ kind: 'event', event }));
    const ping = setInterval(() => ws.ping(), 30_000);
    ping.unref();
    ws.on('close', () => {
      clearInterval(ping);
      unsubscribe();
      this.clients.delete(ws);
    });
    // The event socket is one-way; anything the page sends is ignored.
    ws.on('message', () => undefined);
    ws.on('error', () => ws.terminate());
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('X-Frame-Options', 'DENY');
    if (!this.hostAllowed(req)) {
      return this.sendError(res, { code: 'FORBIDDEN', message: 'Host not allowed' });
    }
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname;

    if (path === '/api/health' && req.method === 'GET') {
      return this.sendJson(res, 200, { ok: true, version: VERSION });
    }

    // The page presents the token once; it is swapped for an HttpOnly cookie and dropped from the URL.
    const queryToken = url.searchParams.get('token');
    if (queryToken !== null && !path.startsWith('/api/')) {
      if (!this.tokenMatches(queryToken)) return this.sendUnauthorized(res, true);
      url.searchParams.delete('token');
      res.setHeader(
        'Set-Cookie',
        `${TOKEN_COOKIE}=${this.token}; HttpOnly; SameSite=Strict; Path=/`,
      );
      res.setHeader('Location', `${path}${url.search}`);
      res.statusCode = 303;
      res.end();
      return;
    }

    if (!this.authorized(req)) return this.sendUnauthorized(res, !path.startsWith('/api/'));

    if (path.startsWith('/api/')) {
      res.setHeader('Cache-Control', 'no-store');
      if (req.method !== 'GET' && !this.originAllowed(req)) {
        return this.sendError(res, { code: 'FORBIDDEN', message: 'Cross-origin request refused' });
      }
      if (path === '/api/status' && req.method === 'GET') return this.rpc(res, 'status.get', {});
      const rpc = /^\/api\/rpc\/([a-z]+\.[a-zA-Z]+)$/.exec(path);
      if (rpc && req.method === 'POST') {
        const body = await readJsonBody(req);
        if ('error' in body) {
          // The rest of an oversized body is never read: this connection cannot be reused.
          if (body.error.code === 'PAYLOAD_TOO_LARGE') res.setHeader('Connection', 'close');
          return this.sendError(res, body.error);
        }
        return this.rpc(res, rpc[1]!, body.value);
      }
      const diag = /^\/api\/diagnostics\/([^/]+)$/.exec(path);
      if (diag && req.method === 'GET')
        return this.sendDiagnostics(res, decodeURIComponent(diag[1]!));
      return this.sendError(res, {
        code: 'NOT_FOUND',
        message: `No such endpoint: ${req.method} ${path}`,
      });
    }

    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return this.sendError(res, { code: 'NOT_FOUND', message: 'Not found' });
    }
    return this.sendStatic(res, path);
  }

  private async rpc(res: ServerResponse, method: string, params: unknown): Promise<void> {
    const outcome = await this.opts.router.dispatch(method, params, { transport: 'http' });
    if (outcome.ok) return this.sendJson(res, 200, { result: outcome.result });
    return this.sendError(res, outcome.error as ErrorBody);
  }

  private async sendStatic(res: ServerResponse, path: string): Promise<void> {
    const root = this.opts.staticDir;
    if (!root)
      return this.sendError(res, { code: 'NOT_FOUND', message: 'This node serves no dashboard' });
    const rootAbs = resolve(root);
    let file = resolve(join(rootAbs, decodeURIComponent(path)));
    if (file !== rootAbs && !file.startsWith(rootAbs + sep)) {
      return this.sendError(res, { code: 'NOT_FOUND', message: 'Not found' });
    }
    let info = await stat(file).catch(() => null);
    if (!info || info.isDirectory()) {
      // Client-side routes fall back to the app; missing assets are a real 404.
      if (path.startsWith('/assets/'))
        return this.sendError(res, { code: 'NOT_FOUND', message: 'Not found' });
      file = join(rootAbs, 'index.html');
      info = await stat(file).catch(() => null);
      if (!info) {
        return this.sendError(res, {
          code: 'NOT_FOUND',
          message: 'The dashboard is not built: run `npm run build`',
        });
      }
    }
    const type = mimeType(file);
    res.statusCode = 200;
    res.setHeader('Content-Type', type);
    res.setHeader('Content-Length', info.size);
    if (type.startsWith('text/html')) {
      res.setHeader('Cache-Control', 'no-cache');
      res.setHeader('Content-Security-Policy', dashboardCsp());
    } else if (file.includes(`${sep}assets${sep}`)) {
      res.setHeader('Cache-Control', 'private, max-age=31536000, immutable');
    }
    createReadStream(file).pipe(res);
  }

  private async sendDiagnostics(res: ServerResponse, name: string): Promise<void> {
    if (!isDiagnosticsFileName(name))
      return this.sendError(res, { code: 'NOT_FOUND', message: 'No such bundle' });
    const file = join(this.opts.diagnosticsDir, name);
    const info = await stat(file).catch(() => null);
    if (!info) return this.sendError(res, { code: 'NOT_FOUND', message: 'No such bundle' });
    res.statusCode = 200;
    res.setHeader('Content-Type', 'application/gzip');
    res.setHeader('Content-Length', info.size);
    res.setHeader('Content-Disposition', `attachment; filename="${name}"`);
    createReadStream(file).pipe(res);
  }

  private hostAllowed(req: IncomingMessage): boolean {
    const host = req.headers.host;
    if (!host) return false;
    const allowed = new Set([
      `127.0.0.1:${this.port}`,
      `localhost:${this.port}`,
      `[::1]:${this.port}`,
    ]);
    if (!['127.0.0.1', '::1', 'localhost'].includes(this.opts.host)) {
      // Listening elsewhere on purpose (--listen): the user reaches it by that address or a name.
      return true;
    }
    return allowed.has(host.toLowerCase());
  }

  private originAllowed(req: IncomingMessage): boolean {
    const origin = req.headers.origin;
    if (!origin) return true; // not a browser cross-site request (curl, the CLI)
    try {
      return new URL(origin).host === req.headers.host;
    } catch {
      return false;
    }
  }

  private authorized(req: IncomingMessage): boolean {
    const auth = req.headers.authorization;
    if (auth?.startsWith('Bearer ') && this.tokenMatches(auth.slice(7).trim())) return true;
    const cookie = parseCookies(req.headers.cookie)[TOKEN_COOKIE];
    return cookie !== undefined && this.tokenMatches(cookie);
  }

  private tokenMatches(candidate: string): boolean {
    const a = Buffer.from(candidate);
    const b = Buffer.from(this.token);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  private sendUnauthorized(res: ServerResponse, page: boolean): void {
    const error = {
      code: 'UNAUTHORIZED' as const,
      message:
        'A token is required. Open the Dashboard link that `idlerig --headless` printed, or send Authorization: Bearer <token>.',
    };
    if (!page) return this.sendError(res, error);
    res.statusCode = 401;
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.setHeader('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'");
    res.end(
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Idlerig: token required</title></head><body style="font-family:sans-serif;max-width:40em;margin:4em auto"><h1>Token required</h1><p>${error.message}</p></body></html>`,
    );
  }

  private sendError(res: ServerResponse, error: ErrorBody): void {
    this.sendJson(res, ERROR_STATUS[error.code] ?? 500, { error });
  }

  private sendJson(res: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body, bigintReplacer);
    res.statusCode = status;
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.setHeader('Content-Length', Buffer.byteLength(text));
    res.end(text);
  }
}

function bigintReplacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}

function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!header) return out;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}

async function readJsonBody(
  req: IncomingMessage,
): Promise<{ value: unknown } | { error: ErrorBody }> {
  const type = req.headers['content-type'] ?? '';
  if (!type.startsWith('application/json')) {
    req.resume();
    return {
      error: { code: 'INVALID_PARAMS', message: 'Send the parameters as application/json' },
    };
  }
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_BODY_BYTES) {
    return {
      error: { code: 'PAYLOAD_TOO_LARGE', message: `Request body over ${MAX_BODY_BYTES} bytes` },
    };
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) {
      return {
        error: { code: 'PAYLOAD_TOO_LARGE', message: `Request body over ${MAX_BODY_BYTES} bytes` },
      };
    }
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return { value: {} };
  try {
    return { value: JSON.parse(text) };
  } catch {
    return { error: { code: 'INVALID_PARAMS', message: 'The request body is not valid JSON' } };
  }
}
