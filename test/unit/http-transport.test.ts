import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'node:http';
import { gunzipSync } from 'node:zlib';
import WebSocket from 'ws';
import { startHeadless, type HeadlessNode } from '../../electron/provider/headless';
import { readEndpoint } from '../../electron/provider/datadir-lock';
import { ServerMessageSchema } from '../../shared/api';
import { tempDir } from '../helpers/tmp';
import { json } from '../helpers/http';

let h: HeadlessNode;
let base: string;
let auth: Record<string, string>;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  const t = await tempDir();
  cleanup = t.cleanup;
  const staticDir = join(t.dir, 'www');
  await mkdir(join(staticDir, 'assets'), { recursive: true });
  await writeFile(join(staticDir, 'index.html'), '<!doctype html><title>Idlerig</title>');
  await writeFile(join(staticDir, 'assets', 'app.js'), 'console.log(1)');
  h = await startHeadless({ dataDir: join(t.dir, 'data'), host: '127.0.0.1', port: 0, staticDir });
  base = h.server.url;
  auth = { authorization: `Bearer ${h.server.token}` };
});
afterAll(async () => {
  await h.stop();
  await cleanup();
});

/** A raw request, so the Host header can be set (fetch forbids it). */
function raw(
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: string }> {
  const url = new URL(path, base);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, path: url.pathname, headers },
      (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
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
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    const withCookie = await fetch(`${base}/`, { headers: { cookie: cookie.split(';')[0]! } });
    expect(withCookie.status).toBe(200);
    expect(withCookie.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
    expect(await withCookie.text()).toContain('<title>Idlerig</title>');
    const badToken = await fetch(`${base}/?token=guess`, { redirect: 'manual' });
    expect(badToken.status).toBe(401);
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
    expect(Object.keys(bundle.logs)).toContain('idlerig.log');
    expect(bundle.logs['idlerig.log']).not.toContain(h.server.token);
    const traversal = await fetch(`${base}/api/diagnostics/..%2Fsettings.json`, { headers: auth });
    expect(traversal.status).toBe(404);
  });

  it('publishes its endpoint for the CLI verbs, readable only by the owner', async () => {
    const ep = await readEndpoint(h.node.paths.endpoint);
    expect(ep).toEqual({ pid: process.pid, url: base, token: h.server.token });
    const { statSync } = await import('node:fs');
    if (process.platform !== 'win32') expect(statSync(h.node.paths.endpoint).mode & 0o077).toBe(0);
  });

  it('serves static assets but not files outside the dashboard folder', async () => {
    const js = await fetch(`${base}/assets/app.js`, { headers: auth });
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toMatch(/javascript/);
    const escape = await raw('/../data/settings.json', {
      ...auth,
      host: `127.0.0.1:${new URL(base).port}`,
    });
    expect(escape.body).not.toContain('"version"');
    const missing = await fetch(`${base}/assets/missing.js`, { headers: auth });
    expect(missing.status).toBe(404);
  });
});
