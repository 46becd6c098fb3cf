// The models part of the node's API, through the real router: catalog, download with progress
// events (validated against the shared event schema), installed list, verify again, delete refused
// while in use, import of a local file.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiEventSchema, type ApiEvent } from '../../shared/api';
import { ProviderNode } from '../../electron/provider/node';
import { Router } from '../../electron/provider/api/router';
import { nodeHandlers } from '../../electron/provider/api/handlers';
import {
  FIXTURE,
  FIXTURES,
  fixture,
  startRangeServer,
  waitUntil,
  writeTestCatalog,
  type RangeServer,
} from './models-helpers';

let server: RangeServer;
let dir: string;
let node: ProviderNode;
let router: Router;
const events: ApiEvent[] = [];

beforeEach(async () => {
  server = await startRangeServer();
  dir = await mkdtemp(join(tmpdir(), 'idlerig-msvc-'));
  const catalog = join(dir, 'catalog.json');
  writeTestCatalog(catalog, server, [
    { id: 'fx-stories', route: '/stories.gguf', fixture: FIXTURE.stories },
    { id: 'fx-mnist', route: '/mnist.onnx', fixture: FIXTURE.mnist },
  ]);
  server.routes.set('/stories.gguf', {
    body: fixture(FIXTURE.stories.file),
    throttle: 2 * 1024 * 1024,
  });
  server.routes.set('/mnist.onnx', { body: fixture(FIXTURE.mnist.file) });
  node = new ProviderNode({
    dataDir: join(dir, 'data'),
    mode: 'headless',
    models: { catalog, download: { freeSpace: async () => 1e12 } },
  });
  await node.start();
  events.length = 0;
  node.on('event', (e) => events.push(e));
  router = new Router(nodeHandlers(node), node.logger.scope('api'));
});

afterEach(async () => {
  await node.stop();
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

const call = <T>(method: string, params: unknown = {}): Promise<T> =>
  router.call(method as never, params, { transport: 'internal' }) as Promise<T>;

describe('models API', () => {
  it('lists the catalog, downloads with progress events, installs, verifies and deletes', async () => {
    const catalog = await call<{
      models: Array<{ id: string; variants: Array<{ installed: boolean }> }>;
    }>('models.catalog');
    expect(catalog.models.map((m) => m.id)).toEqual(['fx-stories', 'fx-mnist']);
    expect(catalog.models[0]!.variants[0]!.installed).toBe(false);

    const started = await call<{ id: string; state: string }>('models.download', {
      modelId: 'fx-stories',
    });
    expect(started.id).toBe('fx-stories');
    await waitUntil(() => events.some((e) => e.type === 'models.installed'), 15_000);
    // Every event the node pushed fits the shared schema (what the page validates).
    for (const e of events)
      expect(ApiEventSchema.safeParse(e).success, JSON.stringify(e)).toBe(true);
    const dl = events
      .filter((e) => e.type === 'model.download')
      .map((e) => (e.type === 'model.download' ? e.download : null)!);
    expect(dl.map((d) => d.state)).toEqual(
      expect.arrayContaining(['queued', 'downloading', 'verifying', 'done']),
    );
    expect(dl.at(-1)).toMatchObject({
      state: 'done',
      bytes: FIXTURE.stories.bytes,
      totalBytes: FIXTURE.stories.bytes,
    });

    const installed = await call<{
      models: Array<{ id: string; sha256: string; inUse: boolean }>;
      totalBytes: number;
    }>('models.installed');
    expect(installed.models).toMatchObject([
      { id: 'fx-stories', sha256: FIXTURE.stories.sha256, inUse: false },
    ]);
    expect(installed.totalBytes).toBe(FIXTURE.stories.bytes);

    const verified = await call<{ ok: boolean; sha256: string }>('models.verify', {
      id: 'fx-stories',
    });
    expect(verified).toMatchObject({ ok: true, sha256: FIXTURE.stories.sha256 });

    // Delete is refused while a job holds the model (the engine's hook), allowed after.
    const release = node.models.acquire('fx-stories');
    await expect(call('models.delete', { id: 'fx-stories' })).rejects.toMatchObject({
      code: 'CONFLICT',
    });
    expect(
      (await call<{ models: Array<{ inUse: boolean }> }>('models.installed')).models[0]!.inUse,
    ).toBe(true);
    release();
    const deleted = await call<{ freedBytes: number }>('models.delete', { id: 'fx-stories' });
    expect(deleted.freedBytes).toBe(FIXTURE.stories.bytes);
    expect(existsSync(join(dir, 'data', 'models', FIXTURE.stories.file))).toBe(false);
    expect((await call<{ models: unknown[] }>('models.installed')).models).toEqual([]);
  });

  it('verify again finds a file changed on disk', async () => {
    await call('models.download', { modelId: 'fx-mnist' });
    await waitUntil(() => node.models.get('fx-mnist') !== undefined);
    const path = join(dir, 'data', 'models', FIXTURE.mnist.file);
    const bytes = await readFile(path);
    bytes[100] = bytes[100]! ^ 0xff;
    await writeFile(path, bytes);
    const v = await call<{ ok: boolean; sha256: string; expected: string }>('models.verify', {
      id: 'fx-mnist',
    });
    expect(v.ok).toBe(false);
    expect(v.expected).toBe(FIXTURE.mnist.sha256);
    expect(v.sha256).not.toBe(FIXTURE.mnist.sha256);
  });

  it('imports a local file: hashed, copied in, recorded; refuses a .gguf that is not GGUF', async () => {
    const m = await call<{ id: string; sha256: string; source: string; file: string }>(
      'models.import',
      {
        path: join(FIXTURES, FIXTURE.tiny.file),
        name: 'Tiny',
      },
    );
    expect(m).toMatchObject({
      id: 'llama-2-tiny-random',
      sha256: FIXTURE.tiny.sha256,
      source: 'import',
      file: FIXTURE.tiny.file,
    });
    expect(existsSync(join(dir, 'data', 'models', FIXTURE.tiny.file))).toBe(true);
    // The same file again is refused with the installed model's id: no second copy.
    await expect(
      call('models.import', { path: join(FIXTURES, FIXTURE.tiny.file) }),
    ).rejects.toMatchObject({
      code: 'CONFLICT',
      message: expect.stringContaining('installed already as llama-2-tiny-random') as unknown,
    });
    // Another file of the same name gets a new name and id, never overwrites.
    const other = join(dir, FIXTURE.tiny.file);
    await copyFile(join(FIXTURES, FIXTURE.stories.file), other);
    const again = await call<{ id: string; file: string }>('models.import', { path: other });
    expect(again).toMatchObject({
      id: 'llama-2-tiny-random-2',
      file: 'llama-2-tiny-random-2.gguf',
    });

    const fake = join(dir, 'fake.gguf');
    await copyFile(join(FIXTURES, FIXTURE.mnist.file), fake);
    await expect(call('models.import', { path: fake })).rejects.toMatchObject({
      code: 'INVALID_PARAMS',
    });
    await expect(call('models.import', { path: join(dir, 'missing.gguf') })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
  });

  it('pulls by URL (pinned hash optional), pauses, resumes, cancels, and sets limits', async () => {
    server.routes.set('/x/slow.gguf', {
      body: fixture(FIXTURE.stories.file),
      throttle: 256 * 1024,
    });
    const v = await call<{ id: string; file: string; sha256: string | null }>('models.download', {
      url: `${server.url}/x/slow.gguf`,
      sha256: FIXTURE.stories.sha256,
    });
    expect(v).toMatchObject({ id: 'slow', file: 'slow.gguf', sha256: FIXTURE.stories.sha256 });
    await waitUntil(() => (node.modelService.downloads.get('slow')?.bytes ?? 0) > 64 * 1024);
    expect((await call<{ state: string }>('models.pause', { id: 'slow' })).state).toBe('paused');
    expect(['queued', 'downloading']).toContain(
      (await call<{ state: string }>('models.resume', { id: 'slow' })).state,
    );
    await waitUntil(() => node.modelService.downloads.get('slow')?.state === 'downloading');
    expect((await call<{ state: string }>('models.cancel', { id: 'slow' })).state).toBe(
      'cancelled',
    );
    expect(existsSync(join(dir, 'data', 'models', 'slow.gguf.partial'))).toBe(false);
    expect((await call<{ downloads: unknown[] }>('models.downloads')).downloads).toEqual([]);

    const limits = await call<{ maxBytesPerSecond: number | null; concurrency: number }>(
      'models.setLimits',
      {
        maxBytesPerSecond: 1024 * 1024,
        concurrency: 3,
      },
    );
    expect(limits).toEqual({ maxBytesPerSecond: 1024 * 1024, concurrency: 3 });
    await expect(
      call('models.download', { url: 'http://example.com/m.gguf' }),
    ).rejects.toMatchObject({ code: 'INSECURE_URL' });
    await expect(
      call('models.download', { url: `${server.url}/x/readme.txt` }),
    ).rejects.toMatchObject({ code: 'INVALID_PARAMS' });
    await expect(call('models.download', { modelId: 'nope' })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
  });
});
