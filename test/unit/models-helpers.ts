// A real loopback HTTP server for the model download tests: serves files with Range and If-Range
// support (like a CDN), and can misbehave on purpose (ignore Range, change its ETag, stall,
// throttle, redirect). It records every request so tests can assert what was asked.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';

export const FIXTURES = join(import.meta.dirname, '..', 'fixtures');

export interface FixtureInfo {
  file: string;
  bytes: number;
  sha256: string;
}

/** The fixture files with their sizes and sha256 from test/fixtures/README.md. */
export const FIXTURE: Record<'stories' | 'tiny' | 'mnist', FixtureInfo> = {
  stories: {
    file: 'stories260K.gguf',
    bytes: 1_185_376,
    sha256: '270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d',
  },
  tiny: {
    file: 'llama-2-tiny-random.gguf',
    bytes: 1_750_560,
    sha256: '81f226c62d28ed4a1a9b9fa080fcd9f0cc40e0f9d5680036583ff98fbcd035cb',
  },
  mnist: {
    file: 'mnist-8.onnx',
    bytes: 26_454,
    sha256: '2f06e72de813a8635c9bc0397ac447a601bdbfa7df4bebc278723b958831c9bf',
  },
};

export interface Route {
  body: Buffer;
  etag?: string | null;
  lastModified?: string | null;
  /** Answer every request with 200 and the whole body. */
  ignoreRange?: boolean;
  /** Answer a Range request with 206 even when If-Range does not match (a broken server). */
  ignoreIfRange?: boolean;
  /** Bytes per second (sent in 16 KiB slices). */
  throttle?: number;
  /** Send this many bytes of a 200 body, then nothing (the connection stays open). */
  stallAfter?: number;
  /** On requests with a Range header: send the headers, then nothing. */
  stallOnResume?: boolean;
  redirect?: string;
  status?: number;
}

export interface SeenRequest {
  path: string;
  method: string;
  range: string | null;
  ifRange: string | null;
  status: number;
  bytesSent: number;
}

export interface RangeServer {
  url: string;
  port: number;
  routes: Map<string, Route>;
  requests: SeenRequest[];
  close(): Promise<void>;
}

export function fixture(name: string): Buffer {
  return readFileSync(join(FIXTURES, name));
}

export function etagOf(buf: Buffer, salt = ''): string {
  return `"${createHash('sha256').update(buf).update(salt).digest('hex').slice(0, 16)}"`;
}

export async function startRangeServer(): Promise<RangeServer> {
  const routes = new Map<string, Route>();
  const requests: SeenRequest[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    void handle(req, res).catch(() => res.destroy());
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const seen: SeenRequest = {
      path,
      method: req.method ?? 'GET',
      range: req.headers.range ?? null,
      ifRange: (req.headers['if-range'] as string | undefined) ?? null,
      status: 0,
      bytesSent: 0,
    };
    requests.push(seen);
    const route = routes.get(path);
    if (!route) {
      seen.status = 404;
      res.writeHead(404).end('not found');
      return;
    }
    if (route.redirect) {
      seen.status = 302;
      res.writeHead(302, { location: route.redirect }).end();
      return;
    }
    if (route.status) {
      seen.status = route.status;
      res.writeHead(route.status).end();
      return;
    }
    const body = route.body;
    const etag = route.etag === undefined ? etagOf(body) : route.etag;
    const lastModified = route.lastModified ?? null;
    const headers: Record<string, string | number> = {
      'content-type': 'application/octet-stream',
      'accept-ranges': 'bytes',
    };
    if (etag) headers.etag = etag;
    if (lastModified) headers['last-modified'] = lastModified;

    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (range && !route.ignoreRange) {
      const ifRange = req.headers['if-range'] as string | undefined;
      const validatorOk =
        !ifRange || route.ignoreIfRange || ifRange === etag || ifRange === lastModified;
      if (validatorOk) {
        const start = Number(range[1]);
        const end = Math.min(range[2] ? Number(range[2]) : body.length - 1, body.length - 1);
        if (start >= body.length) {
          seen.status = 416;
          res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
          return;
        }
        headers['content-range'] = `bytes ${start}-${end}/${body.length}`;
        headers['content-length'] = end - start + 1;
        seen.status = 206;
        res.writeHead(206, headers);
        if (route.stallOnResume) {
          res.flushHeaders(); // headers, then silence
          return;
        }
        await send(res, body.subarray(start, end + 1), route, seen);
        return;
      }
    }
    headers['content-length'] = body.length;
    seen.status = 200;
    if (req.method === 'HEAD') {
      res.writeHead(200, headers).end();
      return;
    }
    res.writeHead(200, headers);
    if (route.stallAfter !== undefined) {
      const part = body.subarray(0, route.stallAfter);
      res.write(part);
      seen.bytesSent += part.length;
      return; // and then nothing
    }
    await send(res, body, route, seen);
  }

  async function send(
    res: ServerResponse,
    data: Buffer,
    route: Route,
    seen: SeenRequest,
  ): Promise<void> {
    if (!route.throttle) {
      seen.bytesSent += data.length;
      res.end(data);
      return;
    }
    const slice = 16 * 1024;
    const delay = (slice / route.throttle) * 1000;
    for (let i = 0; i < data.length; i += slice) {
      if (res.destroyed) return;
      const part = data.subarray(i, i + slice);
      res.write(part);
      seen.bytesSent += part.length;
      await new Promise((r) => setTimeout(r, delay));
    }
    res.end();
  }

  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    routes,
    requests,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** Writes a catalog whose entries point at the loopback server. */
export function writeTestCatalog(
  path: string,
  server: RangeServer,
  entries: Array<{
    id: string;
    route: string;
    fixture: FixtureInfo;
    engine?: 'llama' | 'onnx';
    file?: string;
    sha256?: string;
    sizeBytes?: number;
  }>,
): void {
  const catalog = {
    version: 1,
    updatedAt: new Date().toISOString(),
    models: entries.map((e) => ({
      id: e.id,
      name: `Test ${e.id}`,
      family: 'test',
      engine: e.engine ?? (e.fixture.file.endsWith('.onnx') ? 'onnx' : 'llama'),
      publisher: 'test fixtures',
      licence: { name: 'MIT', url: null },
      description: 'A test fixture served on loopback.',
      contextLength: 2048,
      variants: [
        {
          id: e.id,
          quantization: 'F32',
          file: e.file ?? e.fixture.file,
          urls: [`${server.url}${e.route}`],
          sizeBytes: e.sizeBytes ?? e.fixture.bytes,
          sha256: e.sha256 ?? e.fixture.sha256,
        },
      ],
    })),
  };
  writeFileSync(path, JSON.stringify(catalog, null, 2));
}

export async function waitUntil(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  stepMs = 20,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
