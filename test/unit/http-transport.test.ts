import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { EventEmitter } from 'node:events';
import { mkdir, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { gunzipSync } from 'node:zlib';
import WebSocket from 'ws';
import { startHeadless, type HeadlessNode } from '../../electron/provider/headless';
import { ApiHttpServer, tokenCookieName } from '../../electron/provider/api/http-server';
import { Router } from '../../electron/provider/api/router';
import { nodeHandlers } from '../../electron/provider/api/handlers';
import type { ApiEvent } from '../../shared/api';
import { readEndpoint } from '../../electron/provider/datadir-lock';
import { ServerMessageSchema } from '../../shared/api';
import { tempDir } from '../helpers/tmp';
import { json } from '../helpers/http';

let h: HeadlessNode;
let base: string;
let auth: Record<string, string>;
let cleanup: () => Promise<void>;
let staticDir: string;
const SECRET = 'secret-outside-the-dashboard-folder';

beforeAll(async () => {
  const t = await tempDir();
  cleanup = t.cleanup;
  // Two levels down, so that `..%2f..%2fpackage.json` would reach t.dir/package.json.
  staticDir = join(t.dir, 'site', 'www');
  await mkdir(join(staticDir, 'assets'), { recursive: true });
  await writeFile(join(staticDir, 'index.html'), '<!doctype html><title>Idlerig</title>');
  await writeFile(join(staticDir, 'assets', 'app.js'), 'console.log(1)');
  await writeFile(join(t.dir, 'package.json'), JSON.stringify({ name: SECRET }));
  h = await startHeadless({ dataDir: join(t.dir, 'data'), host: '127.0.0.1', port: 0, staticDir });
  base = h.server.url;
  auth = { authorization: `Bearer ${h.server.token}` };
});
afterAll(async () => {
  await h.stop();
  await cleanup();
});

/**
 * A raw request: the path goes on the wire exactly as given (not normalised by `new URL`, which
 * would resolve `..` and could re-encode), and the Host header can be set (fetch forbids it).
 */
function raw(
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, path, headers, agent: false },
      (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('HTTP transport (headless)', () => {
  it('refuses the API without the token: 401 with a JSON error', async () => {
    const res = await fetch(`${base}/api/status`);
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    expect((await json(res)).error.code).toBe('UNAUTHORIZED');
    const wrong = await fetch(`${base}/api/status`, { headers: { authorization: 'Bearer nope' } });
    expect(wrong.status).toBe(401);
  });

  it('answers GET /api/status with the token', async () => {
    const res = await fetch(`${base}/api/status`, { headers: auth });
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body.result.state).toBe('offline');
    expect(body.result.mode).toBe('headless');
  });

  it('refuses the dashboard without the token, and swaps ?token= for an HttpOnly cookie', async () => {
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(401);
    const exchange = await fetch(`${base}/?token=${h.server.token}`, { redirect: 'manual' });
    expect(exchange.status).toBe(303);
    expect(exchange.headers.get('location')).toBe('/');
    const cookie = exchange.headers.get('set-cookie')!;
    // Named after the port: another node (or loopback service) on this host has its own cookie.
    const port = Number(new URL(base).port);
    expect(cookie.split('=')[0]).toBe(tokenCookieName(port));
    expect(tokenCookieName(port)).toBe(`idlerig_token_${port}`);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    const withCookie = await fetch(`${base}/`, { headers: { cookie: cookie.split(';')[0]! } });
    expect(withCookie.status).toBe(200);
    expect(withCookie.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
    expect(await withCookie.text()).toContain('<title>Idlerig</title>');
    const badToken = await fetch(`${base}/?token=guess`, { redirect: 'manual' });
    expect(badToken.status).toBe(401);
    // The right token under another port's cookie name is no login here.
    const otherPort = await fetch(`${base}/api/status`, {
      headers: { cookie: `${tokenCookieName(port + 1)}=${h.server.token}` },
    });
    expect(otherPort.status).toBe(401);
    const unnamed = await fetch(`${base}/api/status`, {
      headers: { cookie: `idlerig_token=${h.server.token}` },
    });
    expect(unnamed.status).toBe(401);
  });

  it('maps typed errors to HTTP statuses', async () => {
    const post = (method: string, body: string, headers: Record<string, string> = {}) =>
      fetch(`${base}/api/rpc/${method}`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json', ...headers },
        body,
      });
    const bad = await post('settings.update', JSON.stringify({ appearance: { theme: 'neon' } }));
    expect(bad.status).toBe(400);
    expect((await json(bad)).error.code).toBe('INVALID_PARAMS');
    const unknown = await post('nope.call', '{}');
    expect(unknown.status).toBe(404);
    expect((await json(unknown)).error.code).toBe('UNKNOWN_METHOD');
    const notJson = await post('status.get', '{oops');
    expect(notJson.status).toBe(400);
    const big = await post('settings.update', JSON.stringify({ pad: 'x'.repeat(2 * 1024 * 1024) }));
    expect(big.status).toBe(413);
    const good = await post('settings.update', JSON.stringify({ node: { name: 'Basement' } }));
    expect(good.status).toBe(200);
    expect((await json(good)).result.node.name).toBe('Basement');
  });

  it('refuses cross-origin writes and foreign Host headers (DNS rebinding)', async () => {
    const res = await fetch(`${base}/api/rpc/node.pause`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json', origin: 'https://evil.example' },
      body: JSON.stringify({ minutes: null }),
    });
    expect(res.status).toBe(403);
    const rebound = await raw('/api/status', {
      ...auth,
      host: `evil.example:${new URL(base).port}`,
    });
    expect(rebound.status).toBe(403);
    const ok = await raw('/api/status', { ...auth, host: `localhost:${new URL(base).port}` });
    expect(ok.status).toBe(200);
  });

  it('streams events over the WebSocket, and only with the token', async () => {
    const denied = new WebSocket(`${base.replace('http', 'ws')}/api/events`);
    const deniedResult = await new Promise<string>((resolve) => {
      denied.on('unexpected-response', (_req, res) => resolve(String(res.statusCode)));
      denied.on('open', () => resolve('open'));
      denied.on('error', () => resolve('error'));
    });
    expect(deniedResult).toBe('401');

    const ws = new WebSocket(`${base.replace('http', 'ws')}/api/events`, { headers: auth });
    const messages: unknown[] = [];
    ws.on('message', (m) => messages.push(ServerMessageSchema.parse(JSON.parse(String(m)))));
    await new Promise((r) => ws.on('open', r));
    await fetch(`${base}/api/rpc/node.pause`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: '{"minutes":null}',
    });
    await expect
      .poll(() =>
        messages.some(
          (m) =>
            (m as { event?: { type: string; status?: { state: string } } }).event?.status?.state ===
            'paused',
        ),
      )
      .toBe(true);
    expect(messages[0]).toMatchObject({ kind: 'hello', protocol: 1 });
    ws.close();
    await fetch(`${base}/api/rpc/node.resume`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: '{}',
    });
  });

  it('exports a diagnostics bundle with redacted settings and serves it for download', async () => {
    const res = await fetch(`${base}/api/rpc/diagnostics.export`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: '{}',
    });
    const { result } = await json(res);
    expect(result.fileName).toMatch(/^idlerig-diagnostics-.*\.json\.gz$/);
    const dl = await fetch(`${base}/api/diagnostics/${result.fileName}`, { headers: auth });
    expect(dl.status).toBe(200);
    const bundle = JSON.parse(gunzipSync(Buffer.from(await dl.arrayBuffer())).toString('utf8'));
    expect(bundle.kind).toBe('idlerig-diagnostics');
    expect(bundle.settings.node.name).toBe('Basement');
    // The current log file (pino-roll numbers its files: idlerig.1.log, ...).
    const logName = Object.keys(bundle.logs).find((n) => /^idlerig(\.\d+)?\.log$/.test(n));
    expect(logName).toBeDefined();
    expect(bundle.logs[logName!]).not.toContain(h.server.token);
    const traversal = await fetch(`${base}/api/diagnostics/..%2Fsettings.json`, { headers: auth });
    expect(traversal.status).toBe(404);
  });

  it('publishes its endpoint for the CLI verbs, readable only by the owner', async () => {
    const ep = await readEndpoint(h.node.paths.endpoint);
    expect(ep).toEqual({ pid: process.pid, url: base, token: h.server.token });
    const { statSync } = await import('node:fs');
    if (process.platform !== 'win32') expect(statSync(h.node.paths.endpoint).mode & 0o077).toBe(0);
  });

  it('serves static assets; raw traversal paths (%2f, %5c, encoded dots) never reach a file outside: 404', async () => {
    const host = { ...auth, host: `127.0.0.1:${new URL(base).port}` };
    const js = await raw('/assets/app.js', host);
    expect(js.status).toBe(200);
    expect(js.headers['content-type']).toMatch(/javascript/);
    expect(js.headers['cross-origin-resource-policy']).toBe('same-origin');
    for (const path of [
      '/..%2f..%2fpackage.json',
      '/..%2F..%2Fpackage.json',
      '/..%5c..%5cpackage.json',
      '/assets/..%2f..%2f..%2fpackage.json',
      '/%2e%2e%2f%2e%2e%2fpackage.json',
      '/assets%2f..%2f..%2f..%2fpackage.json',
      '/..%00/package.json',
    ]) {
      const res = await raw(path, host);
      expect(res.status, path).toBe(404);
      expect(res.body, path).not.toContain(SECRET);
    }
    // Unencoded dots are resolved by the URL parser (RFC 3986) before any file is looked up:
    // what comes back is the app, never the file outside.
    for (const path of ['/../../package.json', '/assets/../../../package.json']) {
      const res = await raw(path, host);
      expect(res.body, path).not.toContain(SECRET);
    }
    const missing = await raw('/assets/missing.js', host);
    expect(missing.status).toBe(404);
  });

  it('answers malformed percent-encoding in a path with 400 in words, not 500', async () => {
    const host = { ...auth, host: `127.0.0.1:${new URL(base).port}` };
    for (const path of ['/assets/%E0%A4%A', '/%ZZ', '/settings%', '/api/diagnostics/%E0%A4%A']) {
      const res = await raw(path, host);
      expect(res.status, path).toBe(400);
      expect(JSON.parse(res.body).error, path).toEqual({
        code: 'INVALID_PARAMS',
        message: 'The request path has malformed percent-encoding',
      });
      expect(res.headers['cross-origin-resource-policy']).toBe('same-origin');
    }
    expect((await fetch(`${base}/api/health`)).status).toBe(200);
  });

  it('a file deleted or cut short while it is being sent ends that answer only; the node keeps serving', async () => {
    // Bigger than the socket buffers, so the answer is still being read from the file.
    const big = Buffer.alloc(48 * 1024 * 1024, 'x');
    const file = join(staticDir, 'assets', 'big.bin');
    const fetchPaused = async (): Promise<{
      received: () => number;
      resume: () => void;
      ended: Promise<string>;
    }> => {
      let received = 0;
      let resume = (): void => undefined;
      const ended = new Promise<string>((resolve) => {
        const req = request(
          { host: '127.0.0.1', port: new URL(base).port, path: '/assets/big.bin', headers: auth },
          (res) => {
            res.pause();
            resume = () => res.resume();
            res.on('data', (c: Buffer) => (received += c.length));
            res.on('end', () => resolve('end'));
            res.on('aborted', () => resolve('aborted'));
            res.on('error', () => resolve('aborted'));
          },
        );
        req.on('error', () => resolve('aborted'));
        req.end();
      });
      await expect.poll(() => resume.name !== '').toBe(true);
      await new Promise((r) => setTimeout(r, 200));
      return { received: () => received, resume: () => resume(), ended };
    };

    // Deleted mid-answer: the open file is sent whole.
    await writeFile(file, big);
    const a = await fetchPaused();
    await rm(file);
    a.resume();
    expect(await a.ended).toBe('end');
    expect(a.received()).toBe(big.length);

    // Cut short mid-answer: the connection is dropped (never a wrong, silently short file).
    await writeFile(file, big);
    const b = await fetchPaused();
    await truncate(file, 1024);
    b.resume();
    expect(await b.ended).toBe('aborted');
    expect(b.received()).toBeLessThan(big.length);
    await rm(file);

    expect((await fetch(`${base}/api/health`)).status).toBe(200);
    const gone = await fetch(`${base}/assets/big.bin`, { headers: auth });
    expect(gone.status).toBe(404);
  });
});

describe('event socket clients (dedicated servers on the same node)', () => {
  const servers: ApiHttpServer[] = [];
  afterAll(async () => {
    for (const s of servers) await s.close();
  });

  async function eventServer(events: { pingIntervalMs?: number; maxBufferedBytes?: number }) {
    const bus = new EventEmitter();
    const server = new ApiHttpServer({
      host: '127.0.0.1',
      port: 0,
      staticDir: null,
      diagnosticsDir: h.node.paths.diagnostics,
      router: new Router(nodeHandlers(h.node), h.node.logger.scope('api')),
      log: h.node.logger.scope('http'),
      subscribe(listener) {
        bus.on('event', listener);
        return () => bus.off('event', listener);
      },
      events,
    });
    await server.listen();
    servers.push(server);
    return { server, emit: (e: ApiEvent) => bus.emit('event', e) };
  }

  /** A WebSocket client by hand over node:net: it does only what the test says (no auto pong). */
  async function rawClient(
    server: ApiHttpServer,
  ): Promise<{ socket: Socket; closed: Promise<void> }> {
    const u = new URL(server.url);
    const socket = connect(Number(u.port), u.hostname);
    await new Promise((r) => socket.once('connect', r));
    socket.write(
      [
        'GET /api/events HTTP/1.1',
        `Host: ${u.host}`,
        'Upgrade: websocket',
        'Connection: Upgrade',
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
        'Sec-WebSocket-Version: 13',
        `Authorization: Bearer ${server.token}`,
        '',
        '',
      ].join('\r\n'),
    );
    const head = await new Promise<string>((resolve) => {
      let text = '';
      const onData = (c: Buffer): void => {
        text += c.toString('latin1');
        if (text.includes('\r\n\r\n')) {
          socket.off('data', onData);
          resolve(text);
        }
      };
      socket.on('data', onData);
    });
    expect(head.startsWith('HTTP/1.1 101')).toBe(true);
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.on('error', () => undefined);
    return { socket, closed };
  }

  it('drops (and counts, and logs) the events of a client that stops reading; a reading client gets every event', async () => {
    const { server, emit } = await eventServer({ maxBufferedBytes: 64 * 1024 });
    const reader = new WebSocket(`${server.url.replace('http', 'ws')}/api/events`, {
      headers: { authorization: `Bearer ${server.token}` },
    });
    let got = 0;
    reader.on('message', (m) => {
      if (JSON.parse(String(m)).kind === 'event') got++;
    });
    await new Promise((r) => reader.once('open', r));
    const stalled = await rawClient(server);
    stalled.socket.pause(); // reads nothing from now on

    const status = h.node.status();
    let sent = 0;
    // In small batches (well under the bound), so that the reading client keeps up; until the
    // stalled client's buffers (the kernel's, then the node's) are full and drops begin.
    const batch = async (): Promise<void> => {
      for (let i = 0; i < 20; i++, sent++) emit({ type: 'status', status });
      await new Promise((r) => setImmediate(r));
    };
    while (server.eventStats().droppedEvents === 0 && sent < 400_000) await batch();
    const droppedBefore = server.eventStats().droppedEvents;
    for (let i = 0; i < 100; i++) await batch();
    const stats = server.eventStats();
    expect(stats.clients).toBe(2);
    // Everything after the first drop was dropped for the stalled client (it never read again).
    expect(stats.droppedEvents - droppedBefore).toBe(2000);
    await expect.poll(() => got, { timeout: 10_000 }).toBe(sent);
    const warned = h.node.logger
      .tail(5000, 'warn')
      .filter((e) => e.msg === 'event socket client is not reading; its events are dropped');
    expect(warned.length).toBeGreaterThanOrEqual(1);
    expect(warned.at(-1)!.data).toMatchObject({ bufferedBytes: expect.any(Number) });
    // The node did not keep the dropped events: the stalled client's buffer stays near the bound.
    expect(process.memoryUsage().rss).toBeLessThan(1024 * 1024 * 1024);
    reader.close();
    stalled.socket.destroy();
  });

  it('terminates a client that does not answer pings; a live client stays', async () => {
    const { server } = await eventServer({ pingIntervalMs: 150 });
    const live = new WebSocket(`${server.url.replace('http', 'ws')}/api/events`, {
      headers: { authorization: `Bearer ${server.token}` },
    });
    let liveClosed = false;
    live.on('close', () => (liveClosed = true));
    await new Promise((r) => live.once('open', r));
    const dead = await rawClient(server);
    dead.socket.on('data', () => undefined); // reads, never answers a ping
    const t0 = Date.now();
    await dead.closed;
    // At most two ping intervals (one to ask, one to find no answer), plus scheduling.
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(server.eventStats()).toMatchObject({ clients: 1, terminated: 1 });
    expect(
      h.node.logger
        .tail(5000, 'warn')
        .some((e) => e.msg === 'event socket client did not answer a ping; disconnected'),
    ).toBe(true);
    await new Promise((r) => setTimeout(r, 500));
    expect(liveClosed).toBe(false);
    live.close();
  });
});
