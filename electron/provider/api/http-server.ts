// Transport 2: the API over HTTP + WebSocket for the headless node, and the dashboard itself.
// Bound to loopback unless told otherwise; every request needs the token (Bearer header, or the
// HttpOnly cookie the page gets by presenting ?token= once, named after the port so that two
// nodes on one host, or other loopback services, never share it). Host and Origin are checked so
// a web page elsewhere cannot reach the node through DNS rebinding or cross-site requests.
// The static files are in static-files.ts, the event socket's clients in event-sockets.ts.
import { createServer, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import { join } from 'node:path';
import { timingSafeEqual, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { VERSION } from '../../../shared/version';
import type { ApiEvent } from '../../../shared/api';
import type { ErrorBody } from '../../../shared/errors';
import { isDiagnosticsFileName } from '../logs/diagnostics';
import type { ScopedLogger } from '../logs/logger';
import type { Router } from './router';
import { EventSockets, type EventSocketStats } from './event-sockets';
import {
  decodePath,
  MALFORMED_PATH,
  parseCookies,
  readJsonBody,
  sendError,
  sendJson,
} from './http-util';
import { sendDashboardFile, sendFile } from './static-files';

/** The auth cookie of the node on `port` (cookies are per host, not per port). */
export function tokenCookieName(port: number): string {
  return `idlerig_token_${port}`;
}

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
  /** GET /api/jobs/export.csv: the job record as CSV, streamed (absent: 404). */
  jobsCsv?(query: URLSearchParams, res: ServerResponse): Promise<void>;
  /** Event socket liveness and buffering (defaults: ping every 30 s, 1 MiB per client). */
  events?: { pingIntervalMs?: number; maxBufferedBytes?: number };
}

export class ApiHttpServer {
  readonly token: string;
  private server: Server | null = null;
  private wss: WebSocketServer | null = null;
  private port = 0;
  private sockets: EventSockets | null = null;

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
        if (!res.headersSent) sendError(res, { code: 'INTERNAL', message: 'Internal error' });
        else res.destroy();
      });
    });
    server.headersTimeout = 10_000;
    server.requestTimeout = 30_000;
    server.keepAliveTimeout = 5_000;
    this.wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
    server.on('upgrade', (req, socket, head) => {
      const url = parseUrl(req.url);
      if (
        url?.pathname !== '/api/events' ||
        !this.hostAllowed(req) ||
        !this.originAllowed(req) ||
        !this.authorized(req)
      ) {
        socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      this.wss!.handleUpgrade(req, socket, head, (ws) =>
        this.sockets!.add(ws, `${req.socket.remoteAddress}:${req.socket.remotePort}`),
      );
    });
    this.sockets = new EventSockets({
      log: this.opts.log,
      subscribe: (listener) => this.opts.subscribe(listener),
      ...this.opts.events,
    });
    try {
      await new Promise<void>((resolvePromise, reject) => {
        server.once('error', reject);
        server.listen(this.opts.port, this.opts.host, () => {
          server.off('error', reject);
          resolvePromise();
        });
      });
    } catch (err) {
      this.sockets.close();
      this.sockets = null;
      throw err;
    }
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** Event socket clients now, events dropped for clients that did not read, clients cut off. */
  eventStats(): EventSocketStats {
    return this.sockets?.stats() ?? { clients: 0, droppedEvents: 0, terminated: 0 };
  }

  async close(): Promise<void> {
    const stats = this.eventStats();
    if (stats.droppedEvents > 0 || stats.terminated > 0)
      this.opts.log.info('event socket totals', { ...stats });
    this.sockets?.close();
    this.wss?.close();
    const server = this.server;
    this.server = null;
    if (!server) return;
    await new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
    if (!this.hostAllowed(req)) {
      return sendError(res, { code: 'FORBIDDEN', message: 'Host not allowed' });
    }
    const url = parseUrl(req.url);
    if (!url) return sendError(res, MALFORMED_PATH);
    // Still percent-encoded: each part decodes what it uses (malformed encoding: 400).
    const path = url.pathname;

    if (path === '/api/health' && req.method === 'GET') {
      return sendJson(res, 200, { ok: true, version: VERSION });
    }

    // The page presents the token once; it is swapped for an HttpOnly cookie and dropped from the URL.
    const queryToken = url.searchParams.get('token');
    if (queryToken !== null && !path.startsWith('/api/')) {
      if (!this.tokenMatches(queryToken)) return this.sendUnauthorized(res, true);
      url.searchParams.delete('token');
      res.setHeader(
        'Set-Cookie',
        `${tokenCookieName(this.port)}=${this.token}; HttpOnly; SameSite=Strict; Path=/`,
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
        return sendError(res, { code: 'FORBIDDEN', message: 'Cross-origin request refused' });
      }
      if (path === '/api/status' && req.method === 'GET') return this.rpc(res, 'status.get', {});
      const rpc = /^\/api\/rpc\/([a-z]+\.[a-zA-Z]+)$/.exec(path);
      if (rpc && req.method === 'POST') {
        const body = await readJsonBody(req);
        if ('error' in body) {
          // The rest of an oversized body is never read: this connection cannot be reused.
          if (body.error.code === 'PAYLOAD_TOO_LARGE') res.setHeader('Connection', 'close');
          return sendError(res, body.error);
        }
        return this.rpc(res, rpc[1]!, body.value);
      }
      if (path === '/api/jobs/export.csv' && req.method === 'GET' && this.opts.jobsCsv)
        return this.opts.jobsCsv(url.searchParams, res);
      const diag = /^\/api\/diagnostics\/([^/]+)$/.exec(path);
      if (diag && req.method === 'GET') {
        const name = decodePath(diag[1]!);
        if (name === null) return sendError(res, MALFORMED_PATH);
        return this.sendDiagnostics(req, res, name);
      }
      return sendError(res, {
        code: 'NOT_FOUND',
        message: `No such endpoint: ${req.method} ${path}`,
      });
    }

    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return sendError(res, { code: 'NOT_FOUND', message: 'Not found' });
    }
    return sendDashboardFile(req, res, this.opts.staticDir, path, this.opts.log);
  }

  private async rpc(res: ServerResponse, method: string, params: unknown): Promise<void> {
    const gone = new AbortController();
    const onClose = (): void => {
      if (!res.writableFinished) gone.abort();
    };
    res.once('close', onClose);
    const outcome = await this.opts.router
      .dispatch(method, params, { transport: 'http', signal: gone.signal })
      .finally(() => res.off('close', onClose));
    if (outcome.ok) return sendJson(res, 200, { result: outcome.result });
    return sendError(res, outcome.error as ErrorBody);
  }

  private async sendDiagnostics(
    req: IncomingMessage,
    res: ServerResponse,
    name: string,
  ): Promise<void> {
    if (!isDiagnosticsFileName(name))
      return sendError(res, { code: 'NOT_FOUND', message: 'No such bundle' });
    return sendFile(
      req,
      res,
      join(this.opts.diagnosticsDir, name),
      {
        'Content-Type': 'application/gzip',
        'Content-Disposition': `attachment; filename="${name}"`,
      },
      this.opts.log,
    );
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
    const cookie = parseCookies(req.headers.cookie)[tokenCookieName(this.port)];
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
    if (!page) return sendError(res, error);
    res.statusCode = 401;
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.setHeader('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'");
    res.end(
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Idlerig: token required</title></head><body style="font-family:sans-serif;max-width:40em;margin:4em auto"><h1>Token required</h1><p>${escapeHtml(error.message)}</p></body></html>`,
    );
  }
}

/** Text for an HTML page: `<token>` in a message is shown, not parsed as a tag. */
function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

/** The request target as a URL (its path still percent-encoded); null when unparsable. */
function parseUrl(raw: string | undefined): URL | null {
  try {
    return new URL(raw ?? '/', 'http://x');
  } catch {
    return null;
  }
}
