// Model downloads against a real loopback HTTP server serving test/fixtures (no mocks): verified
// downloads, resume with Range/If-Range, restarts from zero, stalls, free space, unsafe names and
// redirects, pause/cancel, the bandwidth cap, several at once, and resume after a restart.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DownloadView } from '../../shared/api';
import { IdlerigError } from '../../shared/errors';
import { ModelRegistry } from '../../electron/provider/models/registry';
import { DownloadManager, type DownloadRequest } from '../../electron/provider/models/manager';
import {
  downloadModel,
  RateLimiter,
  retryDelayMs,
  type DownloaderOptions,
} from '../../electron/provider/models/download';
import { ModelsService } from '../../electron/provider/models/service';
import { lookupNotThisMachine } from '../../electron/provider/models/download-http';
import { closeHeaderReader, readGgufHeader } from '../../electron/provider/models/fit';
import {
  checkDownloadUrl,
  checkRedirect,
  isLoopbackHost,
} from '../../electron/provider/models/policy';
import type { ScopedLogger } from '../../electron/provider/logs/logger';
import {
  FIXTURE,
  etagOf,
  fixture,
  startRangeServer,
  waitUntil,
  type RangeServer,
} from './models-helpers';

let server: RangeServer;
let dir: string;
let modelsDir: string;
let registry: ModelRegistry;
const managers: DownloadManager[] = [];

const stories = fixture(FIXTURE.stories.file);
const tiny = fixture(FIXTURE.tiny.file);
const mnist = fixture(FIXTURE.mnist.file);

beforeEach(async () => {
  server = await startRangeServer();
  dir = await mkdtemp(join(tmpdir(), 'idlerig-dl-'));
  modelsDir = join(dir, 'models');
  await import('node:fs/promises').then((fs) => fs.mkdir(modelsDir, { recursive: true }));
  registry = new ModelRegistry(modelsDir);
  await registry.load();
});

afterEach(async () => {
  for (const m of managers.splice(0)) await m.stop();
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

function request(
  route: string,
  fx = FIXTURE.stories,
  over: Partial<DownloadRequest> = {},
): DownloadRequest {
  return {
    id: `test-${route.replace(/\W+/g, '')}`,
    name: fx.file,
    engine: fx.file.endsWith('.onnx') ? 'onnx' : 'llama',
    file: fx.file,
    urls: [`${server.url}${route}`],
    sha256: fx.sha256,
    sizeBytes: fx.bytes,
    catalogId: 'test',
    variantId: null,
    ...over,
  };
}

async function manager(
  over: ConstructorParameters<typeof DownloadManager>[0] extends infer O ? Partial<O> : never = {},
): Promise<{
  m: DownloadManager;
  views: DownloadView[];
}> {
  const m = new DownloadManager({
    modelsDir,
    registry,
    stallTimeoutMs: 2_000,
    maxRetries: 2,
    retryBaseMs: 50,
    retryMaxMs: 200,
    freeSpace: async () => 1e12,
    ...over,
  });
  const views: DownloadView[] = [];
  m.on('download', (v) => views.push(v));
  managers.push(m);
  await m.start();
  return { m, views };
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** A loopback port nothing listens on (a server's, closed): a connection there is refused. */
async function portNothingListensOn(): Promise<number> {
  const closed = await startRangeServer();
  await closed.close();
  return closed.port;
}

describe('model downloads', () => {
  it('downloads a file with progress events, verifies it and records it', async () => {
    server.routes.set('/stories.gguf', { body: stories, throttle: 2 * 1024 * 1024 });
    const { m, views } = await manager();
    const req = request('/stories.gguf');
    await m.enqueue(req);
    const end = await m.waitFor(req.id);

    expect(end.state).toBe('done');
    expect(end.error).toBeNull();
    const file = join(modelsDir, FIXTURE.stories.file);
    expect(sha(await readFile(file))).toBe(FIXTURE.stories.sha256);
    // No partial or sidecar left behind.
    expect((await readdir(modelsDir)).filter((f) => f.includes('.partial'))).toEqual([]);
    // Progress: several increasing byte counts, a speed while downloading, then done.
    const progress = views.filter((v) => v.state === 'downloading').map((v) => v.bytes);
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect([...progress].sort((a, b) => a - b)).toEqual(progress);
    expect(views.some((v) => v.state === 'downloading' && (v.bytesPerSecond ?? 0) > 0)).toBe(true);
    expect(views.map((v) => v.state)).toContain('verifying');
    expect(views.at(-1)!.state).toBe('done');
    expect(views.at(-1)!.bytes).toBe(FIXTURE.stories.bytes);
    // Recorded in the registry with the verified hash.
    const installed = registry.get(req.id)!;
    expect(installed.sha256).toBe(FIXTURE.stories.sha256);
    expect(installed.sizeBytes).toBe(FIXTURE.stories.bytes);
    expect(installed.verifiedAt).toBeTruthy();
    // Exactly one request, for the whole file.
    expect(server.requests).toHaveLength(1);
    expect(server.requests[0]!.range).toBeNull();
    // A second enqueue of an installed model is a conflict.
    await expect(m.enqueue(req)).rejects.toMatchObject({ code: 'CONFLICT' });
  });

  it('pauses and resumes with Range + If-Range: the server is asked only for the rest', async () => {
    server.routes.set('/s.gguf', { body: stories, throttle: 400 * 1024 });
    const { m } = await manager();
    const req = request('/s.gguf');
    await m.enqueue(req);
    await waitUntil(() => (m.get(req.id)?.bytes ?? 0) > 200 * 1024);
    const paused = await m.pause(req.id);
    expect(paused.state).toBe('paused');
    const part = join(modelsDir, `${FIXTURE.stories.file}.partial`);
    const partSize = (await stat(part)).size;
    expect(partSize).toBeGreaterThan(0);
    expect(partSize).toBeLessThan(FIXTURE.stories.bytes);
    const sidecar = JSON.parse(await readFile(`${part}.json`, 'utf8')) as {
      url: string;
      validator: { etag: string };
    };
    expect(sidecar.url).toBe(req.urls[0]);
    expect(sidecar.validator.etag).toBe(etagOf(stories));

    server.routes.get('/s.gguf')!.throttle = undefined;
    await m.resume(req.id);
    const end = await m.waitFor(req.id);
    expect(end.state).toBe('done');
    const second = server.requests[1]!;
    expect(second.range).toBe(`bytes=${partSize}-`);
    expect(second.ifRange).toBe(etagOf(stories));
    expect(second.status).toBe(206);
    expect(second.bytesSent).toBe(FIXTURE.stories.bytes - partSize);
    expect(end.notice).toBeNull();
    expect(sha(await readFile(join(modelsDir, FIXTURE.stories.file)))).toBe(FIXTURE.stories.sha256);
  });

  it('restarts from zero, with a notice, when the server ignores Range', async () => {
    server.routes.set('/r.gguf', { body: stories, throttle: 400 * 1024 });
    const { m, views } = await manager();
    const req = request('/r.gguf');
    await m.enqueue(req);
    await waitUntil(() => (m.get(req.id)?.bytes ?? 0) > 200 * 1024);
    await m.pause(req.id);
    const route = server.routes.get('/r.gguf')!;
    route.throttle = undefined;
    route.ignoreRange = true;
    await m.resume(req.id);
    const end = await m.waitFor(req.id);
    expect(end.state).toBe('done');
    const second = server.requests[1]!;
    expect(second.range).toMatch(/^bytes=\d+-$/);
    expect(second.status).toBe(200);
    expect(second.bytesSent).toBe(FIXTURE.stories.bytes);
    expect(views.some((v) => /ignored the Range request.*from zero/.test(v.notice ?? ''))).toBe(
      true,
    );
    expect(sha(await readFile(join(modelsDir, FIXTURE.stories.file)))).toBe(FIXTURE.stories.sha256);
  });

  it('restarts from zero when the file changed on the server (new ETag: If-Range fails)', async () => {
    server.routes.set('/c.gguf', { body: stories, throttle: 400 * 1024 });
    const { m, views } = await manager();
    const req = request('/c.gguf');
    await m.enqueue(req);
    await waitUntil(() => (m.get(req.id)?.bytes ?? 0) > 200 * 1024);
    await m.pause(req.id);
    const route = server.routes.get('/c.gguf')!;
    route.throttle = undefined;
    route.etag = etagOf(stories, 'v2');
    await m.resume(req.id);
    const end = await m.waitFor(req.id);
    expect(end.state).toBe('done');
    const second = server.requests[1]!;
    expect(second.ifRange).toBe(etagOf(stories)); // the old validator was presented
    expect(second.status).toBe(200); // and refused by the server
    expect(views.some((v) => /changed on the server.*from zero/.test(v.notice ?? ''))).toBe(true);
    expect(sha(await readFile(join(modelsDir, FIXTURE.stories.file)))).toBe(FIXTURE.stories.sha256);
  });

  it('restarts from zero when a broken server answers 206 with a different validator', async () => {
    server.routes.set('/b.gguf', { body: stories, throttle: 400 * 1024 });
    const { m, views } = await manager();
    const req = request('/b.gguf');
    await m.enqueue(req);
    await waitUntil(() => (m.get(req.id)?.bytes ?? 0) > 200 * 1024);
    await m.pause(req.id);
    const route = server.routes.get('/b.gguf')!;
    route.throttle = undefined;
    route.etag = etagOf(stories, 'v2');
    route.ignoreIfRange = true;
    await m.resume(req.id);
    const end = await m.waitFor(req.id);
    expect(end.state).toBe('done');
    expect(server.requests[1]!.status).toBe(206); // refused by the client...
    expect(server.requests[2]!.range).toBeNull(); // ...which started over
    expect(views.some((v) => /changed on the server/.test(v.notice ?? ''))).toBe(true);
    expect(sha(await readFile(join(modelsDir, FIXTURE.stories.file)))).toBe(FIXTURE.stories.sha256);
  });

  it('deletes the file and says why when the sha256 does not match', async () => {
    server.routes.set('/w.gguf', { body: tiny });
    const { m } = await manager();
    // The catalog pins stories260K's hash, the server sends another file of the same size.
    const req = request('/w.gguf', { ...FIXTURE.tiny, sha256: FIXTURE.stories.sha256 });
    await m.enqueue(req);
    const end = await m.waitFor(req.id);
    expect(end.state).toBe('failed');
    expect(end.error!.code).toBe('HASH_MISMATCH');
    expect(end.error!.message).toContain(FIXTURE.tiny.sha256);
    expect(end.error!.message).toContain(FIXTURE.stories.sha256);
    expect(end.error!.message).toMatch(/deleted/);
    expect(await readdir(modelsDir)).toEqual(['downloads.json']);
    expect(registry.get(req.id)).toBeUndefined();
  });

  it('refuses a file of the wrong size before writing it', async () => {
    server.routes.set('/size.gguf', { body: tiny });
    const { m } = await manager();
    const req = request('/size.gguf', { ...FIXTURE.tiny, bytes: FIXTURE.tiny.bytes - 1 });
    await m.enqueue(req);
    const end = await m.waitFor(req.id);
    expect(end.state).toBe('failed');
    expect(end.error).toMatchObject({ code: 'DOWNLOAD_FAILED' });
    expect(end.error!.message).toMatch(/1750560 bytes; 1750559 were expected/);
  });

  it('detects a stall, retries with a growing delay, then gives up as stalled', async () => {
    server.routes.set('/stall.gguf', { body: stories, stallAfter: 64 * 1024, stallOnResume: true });
    const { m, views } = await manager({ stallTimeoutMs: 300, maxRetries: 2, retryBaseMs: 100 });
    const req = request('/stall.gguf');
    const t0 = Date.now();
    await m.enqueue(req);
    const end = await m.waitFor(req.id);
    expect(end.state).toBe('failed');
    expect(end.error!.code).toBe('STALLED');
    expect(end.error!.message).toMatch(/No data for/);
    // 1 + 2 retries, each resume asking for the bytes after the 64 KiB already there.
    expect(server.requests).toHaveLength(3);
    expect(server.requests[1]!.range).toBe(`bytes=${64 * 1024}-`);
    expect(server.requests[2]!.range).toBe(`bytes=${64 * 1024}-`);
    const stalled = views.filter((v) => v.state === 'stalled');
    expect(stalled.map((v) => v.retry?.attempt)).toEqual([1, 2]);
    expect(stalled.every((v) => v.retry!.at !== null && v.retry!.max === 2)).toBe(true);
    // Delays grow: 100 ms then 200 ms, on top of three 300 ms stall windows.
    const at1 = Date.parse(stalled[0]!.retry!.at!) - Date.parse(stalled[0]!.updatedAt);
    const at2 = Date.parse(stalled[1]!.retry!.at!) - Date.parse(stalled[1]!.updatedAt);
    expect(at2).toBeGreaterThan(at1);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    // The partial bytes are kept: resuming later continues from them.
    expect((await stat(join(modelsDir, `${FIXTURE.stories.file}.partial`))).size).toBe(64 * 1024);
  });

  it('refuses a download before any byte when the disk is too full', async () => {
    server.routes.set('/big.gguf', { body: stories });
    const probed: string[] = [];
    const { m } = await manager({
      freeSpace: async (d) => {
        probed.push(d);
        return FIXTURE.stories.bytes; // no room for the 16 MiB margin
      },
    });
    const req = request('/big.gguf');
    await m.enqueue(req);
    const end = await m.waitFor(req.id);
    expect(end.state).toBe('failed');
    expect(end.error!.code).toBe('INSUFFICIENT_SPACE');
    expect(end.error!.message).toMatch(/Not enough free disk space/);
    expect(probed).toEqual([modelsDir]);
    expect(server.requests).toHaveLength(0);
    expect(existsSync(join(modelsDir, `${FIXTURE.stories.file}.partial`))).toBe(false);
  });

  it('refuses file names that leave the models folder, before any request', async () => {
    server.routes.set('/x.gguf', { body: mnist });
    for (const file of [
      '../escape.gguf',
      '/etc/passwd',
      'sub/dir.gguf',
      '..',
      '.hidden.gguf',
      'index.json',
    ]) {
      const err = await downloadModel(
        { file, urls: [`${server.url}/x.gguf`], sha256: null, sizeBytes: null },
        {
          modelsDir,
          stallTimeoutMs: 1000,
          maxRetries: 0,
          retryBaseMs: 10,
          retryMaxMs: 10,
          freeSpace: async () => 1e12,
          signal: new AbortController().signal,
          events: { state: () => undefined, progress: () => undefined, notice: () => undefined },
        },
      ).catch((e: unknown) => e);
      expect(err, file).toBeInstanceOf(IdlerigError);
      expect((err as IdlerigError).code, file).toBe('UNSAFE_PATH');
    }
    expect(server.requests).toHaveLength(0);
    expect(existsSync(join(dir, 'escape.gguf'))).toBe(false);
    const { m } = await manager();
    await expect(
      m.enqueue(request('/x.gguf', FIXTURE.mnist, { file: '../escape.onnx' })),
    ).rejects.toMatchObject({
      code: 'UNSAFE_PATH',
    });
  });

  it('refuses plain http off loopback, and a redirect out of loopback to plain http', async () => {
    const { m } = await manager();
    await expect(
      m.enqueue(request('/n.gguf', FIXTURE.mnist, { urls: ['http://example.com/m.onnx'] })),
    ).rejects.toMatchObject({ code: 'INSECURE_URL' });
    // The loopback server redirects to a plain-http remote host: refused, nothing fetched there.
    server.routes.set('/redir.onnx', { body: mnist, redirect: 'http://198.51.100.7/mnist-8.onnx' });
    const req = request('/redir.onnx', FIXTURE.mnist);
    await m.enqueue(req);
    const end = await m.waitFor(req.id);
    expect(end.state).toBe('failed');
    expect(end.error!.code).toBe('INSECURE_URL');
    expect(end.error!.message).toMatch(/only allowed to this machine/);
    // A loopback redirect to loopback is followed.
    server.routes.set('/hop.onnx', { body: mnist, redirect: `${server.url}/real.onnx` });
    server.routes.set('/real.onnx', { body: mnist });
    const ok = request('/hop.onnx', FIXTURE.mnist, { id: 'hop' });
    await m.enqueue(ok);
    expect((await m.waitFor('hop')).state).toBe('done');
  });

  it('caps the bandwidth', async () => {
    server.routes.set('/cap.gguf', { body: stories });
    const { m } = await manager({ limits: { maxBytesPerSecond: 512 * 1024 } });
    const req = request('/cap.gguf');
    const t0 = performance.now();
    await m.enqueue(req);
    const end = await m.waitFor(req.id);
    const seconds = (performance.now() - t0) / 1000;
    expect(end.state).toBe('done');
    // 1.13 MiB at 512 KiB/s, less the 250 ms burst: at least ~1.9 s.
    expect(seconds).toBeGreaterThan(1.7);
    expect(seconds).toBeLessThan(6);
  });

  it('runs several downloads at once, queues the rest, and cancels one (its partial file deleted)', async () => {
    server.routes.set('/a.gguf', { body: stories, throttle: 300 * 1024 });
    server.routes.set('/b.gguf', { body: tiny, throttle: 300 * 1024 });
    server.routes.set('/c.onnx', { body: mnist });
    const { m, views } = await manager({ limits: { concurrency: 2 } });
    await m.enqueue(request('/a.gguf', FIXTURE.stories, { id: 'a' }));
    await m.enqueue(request('/b.gguf', FIXTURE.tiny, { id: 'b' }));
    await m.enqueue(request('/c.onnx', FIXTURE.mnist, { id: 'c' }));
    await waitUntil(() => m.get('a')!.bytes > 0 && m.get('b')!.bytes > 0);
    expect(m.get('a')!.state).toBe('downloading');
    expect(m.get('b')!.state).toBe('downloading');
    expect(m.get('c')!.state).toBe('queued');
    const cancelled = await m.cancel('b');
    expect(cancelled.state).toBe('cancelled');
    expect(existsSync(join(modelsDir, `${FIXTURE.tiny.file}.partial`))).toBe(false);
    expect(m.get('b')).toBeNull();
    expect((await m.waitFor('c')).state).toBe('done');
    expect((await m.waitFor('a')).state).toBe('done');
    expect(registry.get('b')).toBeUndefined();
    expect(views.filter((v) => v.id === 'c').map((v) => v.state)[0]).toBe('queued');
  });

  it('resumes an interrupted download when the manager starts again (same node, restarted)', async () => {
    server.routes.set('/r2.gguf', { body: stories, throttle: 400 * 1024 });
    const first = await manager();
    const req = request('/r2.gguf');
    await first.m.enqueue(req);
    await waitUntil(() => (first.m.get(req.id)?.bytes ?? 0) > 150 * 1024);
    await first.m.stop();
    managers.splice(managers.indexOf(first.m), 1);
    const persisted = JSON.parse(await readFile(join(modelsDir, 'downloads.json'), 'utf8')) as {
      jobs: Array<{ id: string; state: string }>;
    };
    expect(persisted.jobs).toMatchObject([{ id: req.id, state: 'queued' }]);
    const partSize = (await stat(join(modelsDir, `${FIXTURE.stories.file}.partial`))).size;

    server.routes.get('/r2.gguf')!.throttle = undefined;
    const again = await manager(); // start() resumes by itself
    const end = await again.m.waitFor(req.id);
    expect(end.state).toBe('done');
    expect(server.requests.at(-1)!.range).toBe(`bytes=${partSize}-`);
    expect(sha(await readFile(join(modelsDir, FIXTURE.stories.file)))).toBe(FIXTURE.stories.sha256);
  });

  it('discards a partial file that has no sidecar (nothing to resume against)', async () => {
    server.routes.set('/o.gguf', { body: stories });
    await writeFile(join(modelsDir, `${FIXTURE.stories.file}.partial`), stories.subarray(0, 1000));
    const { m, views } = await manager();
    const req = request('/o.gguf');
    await m.enqueue(req);
    expect((await m.waitFor(req.id)).state).toBe('done');
    expect(server.requests[0]!.range).toBeNull();
    expect(views.some((v) => /record is missing/.test(v.notice ?? ''))).toBe(true);
  });

  it('a half-written sidecar is kept aside as .corrupt-<time>; the download starts over and finishes', async () => {
    server.routes.set('/h.gguf', { body: stories });
    const part = join(modelsDir, `${FIXTURE.stories.file}.partial`);
    await writeFile(part, stories.subarray(0, 1000));
    await writeFile(`${part}.json`, '{"version":1,"url":"http://127.0.0.1:1/h.gg');
    const { m } = await manager();
    const req = request('/h.gguf');
    await m.enqueue(req);
    expect((await m.waitFor(req.id)).state).toBe('done');
    expect(server.requests[0]!.range).toBeNull();
    const kept = (await readdir(modelsDir)).filter((f) => f.includes('.partial.json.corrupt-'));
    expect(kept).toHaveLength(1);
    expect(await readFile(join(modelsDir, kept[0]!), 'utf8')).toBe(
      '{"version":1,"url":"http://127.0.0.1:1/h.gg',
    );
    expect(sha(await readFile(join(modelsDir, FIXTURE.stories.file)))).toBe(FIXTURE.stories.sha256);
  });

  it('hashes big files in a worker thread from the partial file, resumed ones included', async () => {
    // hashInWorkerFromBytes 0: the worker path that downloads of 64 MiB and more take.
    server.routes.set('/wk.gguf', { body: stories, throttle: 400 * 1024 });
    server.routes.set('/wk-bad.gguf', { body: tiny });
    const { m } = await manager({ hashInWorkerFromBytes: 0 });
    const req = request('/wk.gguf');
    await m.enqueue(req);
    await waitUntil(() => (m.get(req.id)?.bytes ?? 0) > 200 * 1024);
    await m.pause(req.id);
    server.routes.get('/wk.gguf')!.throttle = undefined;
    await m.resume(req.id);
    const end = await m.waitFor(req.id);
    expect(end.state).toBe('done');
    expect(server.requests[1]!.status).toBe(206);
    expect(registry.get(req.id)!.sha256).toBe(FIXTURE.stories.sha256);

    const bad = request(
      '/wk-bad.gguf',
      { ...FIXTURE.tiny, sha256: FIXTURE.stories.sha256 },
      { id: 'bad' },
    );
    await m.enqueue(bad);
    const failed = await m.waitFor('bad');
    expect(failed.error).toMatchObject({ code: 'HASH_MISMATCH' });
    expect(failed.error!.message).toContain(FIXTURE.tiny.sha256);
    expect(existsSync(join(modelsDir, `${FIXTURE.tiny.file}.partial`))).toBe(false);
  });

  it('shares one RateLimiter budget', async () => {
    const limiter = new RateLimiter(1024 * 1024);
    const t0 = performance.now();
    for (let i = 0; i < 8; i++) await limiter.take(128 * 1024);
    expect(performance.now() - t0).toBeGreaterThan(600);
  });
});

/** Log lines kept for assertions (the code under test logs through this). */
function memoryLog(): ScopedLogger & { lines: { level: string; msg: string; data?: unknown }[] } {
  const lines: { level: string; msg: string; data?: unknown }[] = [];
  const at =
    (level: string) =>
    (msg: string, data?: unknown): void => {
      lines.push({ level, msg, data });
    };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

function downloaderOptions(over: Partial<DownloaderOptions> = {}): DownloaderOptions {
  return {
    modelsDir,
    stallTimeoutMs: 2_000,
    maxRetries: 1,
    retryBaseMs: 20,
    retryMaxMs: 50,
    freeSpace: async () => 1e12,
    signal: new AbortController().signal,
    events: { state: () => undefined, progress: () => undefined, notice: () => undefined },
    ...over,
  };
}

describe('downloads and imports: hardening', () => {
  it('spreads retry delays with jitter (± 20 %) around a doubling, capped delay', () => {
    const policy = { maxRetries: 5, retryBaseMs: 1000, retryMaxMs: 8000 };
    expect(retryDelayMs(1, policy, () => 0)).toBe(800);
    expect(retryDelayMs(1, policy, () => 1)).toBe(1200);
    expect(retryDelayMs(3, policy, () => 0.5)).toBe(4000);
    expect(retryDelayMs(10, policy, () => 0.5)).toBe(8000); // capped, then jittered
    expect(retryDelayMs(10, policy, () => 1)).toBe(9600);
    // Many nodes that lost the same server do not all come back at the same instant.
    const delays = Array.from({ length: 500 }, () => retryDelayMs(2, policy));
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(1600);
    expect(Math.max(...delays)).toBeLessThanOrEqual(2400);
    expect(new Set(delays).size).toBeGreaterThan(100);
    expect(Math.max(...delays) - Math.min(...delays)).toBeGreaterThan(400);
  });

  it('two concurrent imports of one name get their own partial file, name and id; both are intact', async () => {
    // Two different models that share a file name, imported at the same moment.
    const a = join(dir, 'a');
    const b = join(dir, 'b');
    await import('node:fs/promises').then(async (fs) => {
      await fs.mkdir(a);
      await fs.mkdir(b);
    });
    await writeFile(join(a, 'model.gguf'), stories);
    await writeFile(join(b, 'model.gguf'), tiny);
    const service = new ModelsService({ modelsDir, registry, log: memoryLog() });
    const [x, y] = await Promise.all([
      service.import({ path: join(a, 'model.gguf') }),
      service.import({ path: join(b, 'model.gguf') }),
    ]);
    expect(new Set([x.file, y.file]).size).toBe(2);
    expect(new Set([x.id, y.id]).size).toBe(2);
    expect(x.sha256).toBe(FIXTURE.stories.sha256);
    expect(y.sha256).toBe(FIXTURE.tiny.sha256);
    // What is on disk under each name is what was recorded for it.
    expect(sha(await readFile(join(modelsDir, x.file)))).toBe(FIXTURE.stories.sha256);
    expect(sha(await readFile(join(modelsDir, y.file)))).toBe(FIXTURE.tiny.sha256);
    expect(
      registry
        .list()
        .map((m) => m.id)
        .sort(),
    ).toEqual([x.id, y.id].sort());
    expect((await readdir(modelsDir)).filter((f) => f.includes('.partial'))).toEqual([]);
  });

  it('a cancel during the final verification installs nothing (downloader and manager)', async () => {
    server.routes.set('/v.gguf', { body: stories });
    const controller = new AbortController();
    const states: string[] = [];
    const run = downloadModel(
      {
        file: FIXTURE.stories.file,
        urls: [`${server.url}/v.gguf`],
        sha256: FIXTURE.stories.sha256,
        sizeBytes: FIXTURE.stories.bytes,
      },
      downloaderOptions({
        signal: controller.signal,
        events: {
          state: (st) => {
            states.push(st);
            // Every byte is in: the final sha256 check starts now, and the user cancels.
            if (st === 'verifying') controller.abort();
          },
          progress: () => undefined,
          notice: () => undefined,
        },
      }),
    );
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    expect(states).toEqual(['downloading', 'verifying']);
    expect(existsSync(join(modelsDir, FIXTURE.stories.file))).toBe(false);

    // The same through the manager, as the Models page's Cancel does it.
    const { m } = await manager();
    const req = request('/v.gguf');
    let cancelling: Promise<DownloadView> | null = null;
    m.on('download', (v) => {
      if (v.id === req.id && v.state === 'verifying' && !cancelling) cancelling = m.cancel(req.id);
    });
    await m.enqueue(req);
    await waitUntil(() => cancelling !== null);
    expect((await cancelling!).state).toBe('cancelled');
    expect(registry.get(req.id)).toBeUndefined();
    expect(existsSync(join(modelsDir, FIXTURE.stories.file))).toBe(false);
    expect((await readdir(modelsDir)).filter((f) => f.includes('.partial'))).toEqual([]);
  });

  it('a cancel while the verified model is being recorded installs nothing either', async () => {
    server.routes.set('/r.gguf', { body: stories });
    const { m } = await manager();
    // The models index write is held until the cancel has been asked for.
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let recording = false;
    const upsert = registry.upsert.bind(registry);
    const spy = vi.spyOn(registry, 'upsert').mockImplementation(async (model) => {
      recording = true;
      await held;
      return upsert(model);
    });
    const req = request('/r.gguf');
    await m.enqueue(req);
    await waitUntil(() => recording);
    const cancelling = m.cancel(req.id);
    release();
    expect((await cancelling).state).toBe('cancelled');
    spy.mockRestore();
    expect(registry.get(req.id)).toBeUndefined();
    expect(existsSync(join(modelsDir, FIXTURE.stories.file))).toBe(false);
    expect((await readdir(modelsDir)).filter((f) => f.includes('.partial'))).toEqual([]);
  });

  it('treats [::ffff:7f00:1], 0.0.0.0 and [::] as this machine: plain http allowed, a redirect there from elsewhere refused', async () => {
    for (const host of ['[::ffff:7f00:1]', '[::ffff:127.0.0.1]', '0.0.0.0', '[::]', '127.1.2.3'])
      expect(isLoopbackHost(host), host).toBe(true);
    for (const host of ['[::ffff:808:808]', '8.8.8.8', '[2001:db8::1]', 'example.com'])
      expect(isLoopbackHost(host), host).toBe(false);
    for (const to of [
      'https://[::ffff:7f00:1]:8443/m.gguf',
      'https://0.0.0.0/m.gguf',
      'https://[::]:443/m.gguf',
      'https://[::ffff:127.0.0.1]/m.gguf',
    ]) {
      expect(() => checkRedirect(new URL('https://cdn.example/m.gguf'), to), to).toThrow(
        /Refused a redirect from cdn\.example to this machine/,
      );
    }
    expect(() => checkDownloadUrl('http://[::ffff:808:808]/m.gguf')).toThrow(/only allowed/);
    // And the downloads themselves reach the loopback server by those spellings.
    server.routes.set('/m.onnx', { body: mnist });
    const { m } = await manager();
    for (const [id, host] of [
      ['mapped', `[::ffff:7f00:1]:${server.port}`],
      ['any', `0.0.0.0:${server.port}`],
    ] as const) {
      await m.enqueue(request('/m.onnx', FIXTURE.mnist, { id, urls: [`http://${host}/m.onnx`] }));
      expect((await m.waitFor(id)).state, host).toBe('done');
      await rm(join(modelsDir, FIXTURE.mnist.file));
      await registry.remove(id);
      m.forget(id);
    }
  });

  it('after a redirect from a remote host, a name that resolves to this machine is refused (DNS rebinding)', async () => {
    type Answer = { err: NodeJS.ErrnoException | null; address: unknown };
    const ask = (lookup: ReturnType<typeof lookupNotThisMachine>, host: string, all: boolean) =>
      new Promise<Answer>((resolve) =>
        lookup(host, { all }, (err, address) => resolve({ err, address })),
      );
    // The real resolver: "localhost" is 127.0.0.1 / ::1 everywhere.
    const real = lookupNotThisMachine();
    for (const all of [true, false]) {
      const { err } = await ask(real, 'localhost', all);
      expect(err).toMatchObject({ code: 'INSECURE_URL' });
      expect(err!.message).toMatch(
        /^Refused a redirect to localhost: that name points at this machine \(/,
      );
    }
    // A resolver that answers with a public address (no network here): passed through.
    const publicDns = lookupNotThisMachine(((
      _h: string,
      _o: unknown,
      cb: (...a: unknown[]) => void,
    ) => cb(null, [{ address: '93.184.215.14', family: 4 }])) as never);
    expect(await ask(publicDns, 'cdn.example', true)).toEqual({
      err: null,
      address: [{ address: '93.184.215.14', family: 4 }],
    });
    // One address of several pointing here is enough to refuse.
    const mixed = lookupNotThisMachine(((_h: string, _o: unknown, cb: (...a: unknown[]) => void) =>
      cb(null, [
        { address: '93.184.215.14', family: 4 },
        { address: '::ffff:127.0.0.1', family: 6 },
      ])) as never);
    expect((await ask(mixed, 'rebind.example', true)).err).toMatchObject({ code: 'INSECURE_URL' });
    expect(isLoopbackHost('localhost.')).toBe(true);
  });

  it('the fit estimate header reader follows redirects through the downloader checks', async () => {
    try {
      server.routes.set('/h.gguf', { body: stories, redirect: `${server.url}/real-h.gguf` });
      server.routes.set('/real-h.gguf', { body: stories });
      const header = await readGgufHeader(`${server.url}/h.gguf`, AbortSignal.timeout(20_000));
      expect(header.metadata?.general?.architecture).toBe('llama');
      // The reader asked the server for byte ranges after the redirect.
      expect(server.requests.some((r) => r.path === '/real-h.gguf' && r.range !== null)).toBe(true);
      // A redirect to plain http off this machine is refused before any connection is made.
      server.routes.set('/out.gguf', { body: stories, redirect: 'http://198.51.100.7/x.gguf' });
      const t0 = Date.now();
      await expect(
        readGgufHeader(`${server.url}/out.gguf`, AbortSignal.timeout(20_000)),
      ).rejects.toThrow(/Plain http is only allowed to this machine/);
      expect(Date.now() - t0).toBeLessThan(10_000);
    } finally {
      await closeHeaderReader();
    }
  });

  it('says in words what went wrong: refused, name not found, no such file, server error (not "stalled")', async () => {
    const { m, views } = await manager({ maxRetries: 1, retryBaseMs: 20, retryMaxMs: 40 });
    // Refused: a loopback port nothing listens on.
    const closedPort = await portNothingListensOn();
    await m.enqueue(
      request('/r.onnx', FIXTURE.mnist, {
        id: 'refused',
        urls: [`http://127.0.0.1:${closedPort}/m.onnx`],
      }),
    );
    const refused = await m.waitFor('refused');
    expect(refused.state).toBe('failed');
    expect(refused.error).toEqual({
      code: 'DOWNLOAD_FAILED',
      message: `127.0.0.1:${closedPort} refused the connection (ECONNREFUSED): nothing answers at that address and port; gave up after 1 retry`,
    });
    // While it waited to retry, the reason was in the same words.
    expect(views.find((v) => v.id === 'refused' && v.state === 'stalled')!.notice).toMatch(
      /refused the connection/,
    );

    // Name not found (.invalid never resolves).
    await m.enqueue(
      request('/n.onnx', FIXTURE.mnist, {
        id: 'dns',
        urls: ['https://idlerig-test.invalid/m.onnx'],
      }),
    );
    const dns = await m.waitFor('dns');
    expect(dns.error!.code).toBe('DOWNLOAD_FAILED');
    expect(dns.error!.message).toMatch(
      /^(The server name idlerig-test\.invalid was not found \(ENOTFOUND\)|Could not reach idlerig-test\.invalid: this machine seems to be offline)/,
    );

    // No such file: refused at once, no retries.
    const before = server.requests.length;
    await m.enqueue(request('/missing.onnx', FIXTURE.mnist, { id: 'gone' }));
    const gone = await m.waitFor('gone');
    expect(gone.error!.message).toMatch(
      /^127\.0\.0\.1:\d+ has no such file \(HTTP 404 Not Found\): check the address\. http:\/\/127\.0\.0\.1:\d+\/missing\.onnx$/,
    );
    expect(server.requests.length - before).toBe(1);

    // A server error: retried, then said as such.
    server.routes.set('/busy.onnx', { body: mnist, status: 503 });
    await m.enqueue(request('/busy.onnx', FIXTURE.mnist, { id: 'busy' }));
    const busy = await m.waitFor('busy');
    expect(busy.error!.message).toMatch(
      /^127\.0\.0\.1:\d+ had a server error \(HTTP 503 Service Unavailable\); gave up after 1 retry$/,
    );
    for (const v of [refused, dns, gone, busy]) expect(v.error!.message).not.toMatch(/stall/i);
  });

  it('a URL the user typed: refused or a name not found is said at once, not retried; a catalog url retries', async () => {
    const { m, views } = await manager({ maxRetries: 3, retryBaseMs: 20, retryMaxMs: 40 });
    const closedPort = await portNothingListensOn();
    // A URL pull (no catalog id): nothing listens there, so the user hears it at once.
    await m.enqueue(
      request('/r.onnx', FIXTURE.mnist, {
        id: 'typed',
        catalogId: null,
        urls: [`http://127.0.0.1:${closedPort}/m.onnx`],
      }),
    );
    const typed = await m.waitFor('typed');
    expect(typed.state).toBe('failed');
    expect(typed.error).toEqual({
      code: 'DOWNLOAD_FAILED',
      message: `127.0.0.1:${closedPort} refused the connection (ECONNREFUSED): nothing answers at that address and port`,
    });
    expect(views.filter((v) => v.id === 'typed' && v.state === 'stalled')).toEqual([]);

    // The same refusal for a catalog url is retried (a server restarting refuses for a moment).
    await m.enqueue(
      request('/r.onnx', FIXTURE.mnist, {
        id: 'catalog',
        urls: [`http://127.0.0.1:${closedPort}/m.onnx`],
      }),
    );
    const catalog = await m.waitFor('catalog');
    expect(catalog.error!.message).toMatch(/refused the connection .*; gave up after 3 retries$/);
    expect(views.filter((v) => v.id === 'catalog' && v.state === 'stalled')).toHaveLength(3);

    // A name not found (ENOTFOUND): final for a typed url (a mirror would still be tried),
    // retried for a catalog one; offline (EAI_AGAIN) is retried for both.
    const { withRetries } = await import('../../electron/provider/models/download-retry');
    const { TransientError } = await import('../../electron/provider/models/download-http');
    const tries = async (
      typedUrl: boolean,
      err: InstanceType<typeof TransientError>,
      urls = [new URL('https://a.example/m.gguf')],
    ): Promise<{ calls: string[]; retries: number; error: unknown }> => {
      const calls: string[] = [];
      let retries = 0;
      const error = await withRetries(
        urls,
        async (url) => {
          calls.push(url.host);
          throw err;
        },
        {
          policy: { maxRetries: 2, retryBaseMs: 1, retryMaxMs: 1 },
          signal: new AbortController().signal,
          file: 'm.gguf',
          typedUrl,
          onRetry: () => retries++,
          notice: () => undefined,
        },
      ).catch((e: unknown) => e);
      return { calls, retries, error };
    };
    const notFound = new TransientError(
      'The server name a.example was not found (ENOTFOUND): check the address, or whether this machine is online',
      'name-not-found',
      'ENOTFOUND',
    );
    const typedDns = await tries(true, notFound);
    expect(typedDns.calls).toEqual(['a.example']);
    expect(typedDns.retries).toBe(0);
    expect(typedDns.error).toBeInstanceOf(IdlerigError);
    expect((typedDns.error as IdlerigError).message).toBe(notFound.message);
    expect((typedDns.error as IdlerigError).details).toEqual({
      reason: 'name-not-found',
      errno: 'ENOTFOUND',
    });
    const mirrors = await tries(true, notFound, [
      new URL('https://a.example/m.gguf'),
      new URL('https://b.example/m.gguf'),
    ]);
    expect(mirrors.calls).toEqual(['a.example', 'b.example']);
    const catalogDns = await tries(false, notFound);
    expect(catalogDns.retries).toBe(2);
    expect((catalogDns.error as IdlerigError).message).toMatch(/; gave up after 2 retries$/);
    const offline = await tries(
      true,
      new TransientError(
        'Could not reach a.example: this machine seems to be offline (EAI_AGAIN)',
        'offline',
        'EAI_AGAIN',
      ),
    );
    expect(offline.retries).toBe(2);
  });
});
