// The engine in the node's API: engine.status, engine.models, and "Test a model" on installed
// models (streamed as engine.test events), through the router both transports use.
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiEvent } from '../../shared/api';
import { IdlerigError } from '../../shared/errors';
import { ProviderNode } from '../../electron/provider/node';
import { Router } from '../../electron/provider/api/router';
import { nodeHandlers } from '../../electron/provider/api/handlers';
import { ApiHttpServer } from '../../electron/provider/api/http-server';
import { bundles } from '../helpers/engine-bundle';
import { FIXTURES, MODELS } from '../helpers/engine';

let dir: string;
let node: ProviderNode;
let router: Router;
const events: ApiEvent[] = [];

beforeAll(async () => {
  const { engine: entry } = await bundles();
  dir = await mkdtemp(join(tmpdir(), 'idlerig-engine-api-'));
  node = new ProviderNode({
    dataDir: join(dir, 'data'),
    mode: 'headless',
    engine: { config: { llm: { backend: 'cpu' } }, supervisor: { entry } },
  });
  await node.start();
  node.on('event', (e) => events.push(e));
  router = new Router(nodeHandlers(node), node.logger.scope('api'));
  for (const [id, m, engine] of [
    ['stories', MODELS.stories, 'llama'],
    ['mnist', MODELS.mnist, 'onnx'],
  ] as const) {
    await copyFile(join(FIXTURES, m.file), join(node.paths.models, m.file));
    await node.models.upsert({
      id,
      name: id,
      engine,
      file: m.file,
      sha256: m.sha256,
      sizeBytes: 1,
      source: { kind: 'import', originalPath: join(FIXTURES, m.file) },
      installedAt: new Date().toISOString(),
      lastUsedAt: null,
    });
  }
}, 120_000);

afterAll(async () => {
  await node?.stop();
  await rm(dir, { recursive: true, force: true });
});

const call = (method: string, params: unknown) =>
  router.call(method as 'engine.status', params, { transport: 'internal' });

describe('engine API', () => {
  it('engine.status: stopped until the first job, no models loaded', async () => {
    expect(await call('engine.status', {})).toMatchObject({
      state: 'stopped',
      crashesLastHour: 0,
      pid: null,
    });
    expect(await router.call('engine.models', {}, { transport: 'internal' })).toEqual({
      models: [],
    });
  });

  it('a test job is a job of the energy ledger (started and ended around it)', async () => {
    await router.call(
      'engine.test',
      { modelId: 'stories', testId: 'energy-1', mode: 'completion', temperature: 0, maxTokens: 8 },
      { transport: 'internal' },
    );
    const summary = await router.call('energy.summary', {}, { transport: 'internal' });
    expect(summary.activeJobs).toBe(0);
    expect(summary.jobs.map((j) => j.id)).toContain('test-energy-1');
  });

  it('engine.test streams an answer from an installed model', async () => {
    const result = await router.call(
      'engine.test',
      { modelId: 'stories', testId: 't1', mode: 'completion', temperature: 0, maxTokens: 24 },
      { transport: 'internal' },
    );
    expect(result).toMatchObject({
      testId: 't1',
      kind: 'llm',
      finishReason: 'length',
      backend: 'cpu',
      threads: 1,
    });
    expect(result.text.startsWith(', there was a little girl named Lily.')).toBe(true);
    const mine = events.filter((e) => e.type === 'engine.test' && e.testId === 't1');
    expect(mine[0]).toMatchObject({ phase: 'started' });
    expect(mine.at(-1)).toMatchObject({ phase: 'done', text: result.text });
    const chunks = mine.filter((e) => e.type === 'engine.test' && e.phase === 'chunk');
    expect(chunks.map((c) => (c.type === 'engine.test' ? c.text : '')).join('')).toBe(result.text);
    // The engine's state went out as events too.
    const states = events
      .filter((e) => e.type === 'engine.status')
      .map((e) => (e.type === 'engine.status' ? e.engine.state : ''));
    expect(states).toContain('starting');
    expect(states).toContain('ready');
    expect(await router.call('engine.status', {}, { transport: 'internal' })).toMatchObject({
      state: 'ready',
      backend: 'cpu',
      summary: 'Ready',
    });
    const { models } = await router.call('engine.models', {}, { transport: 'internal' });
    expect(models).toEqual([
      expect.objectContaining({
        kind: 'llm',
        file: MODELS.stories.file,
        sha256: MODELS.stories.sha256,
      }),
    ]);
    expect(node.models.isLoaded('stories')).toBe(true);
    expect(node.models.isInUse('stories')).toBe(false);
  });

  it('a chat test can be cancelled; the model is in use while it runs', async () => {
    const job = router.call(
      'engine.test',
      {
        modelId: 'stories',
        testId: 't2',
        prompt: 'Tell me a story',
        maxTokens: 1024,
        temperature: 0.8,
      },
      { transport: 'internal' },
    );
    while (
      !events.some((e) => e.type === 'engine.test' && e.testId === 't2' && e.phase === 'chunk')
    )
      await new Promise((r) => setTimeout(r, 5));
    expect(node.models.isInUse('stories')).toBe(true);
    expect(
      await router.call('engine.testCancel', { testId: 't2' }, { transport: 'internal' }),
    ).toEqual({
      cancelled: true,
    });
    const r = await job;
    expect(r.finishReason).toBe('cancelled');
    expect(node.models.isInUse('stories')).toBe(false);
  });

  it('a test whose HTTP caller goes away (the page closed without saying so) is cancelled by the node', async () => {
    const server = new ApiHttpServer({
      host: '127.0.0.1',
      port: 0,
      staticDir: null,
      diagnosticsDir: node.paths.diagnostics,
      router,
      log: node.logger.scope('http'),
      subscribe: () => () => undefined,
    });
    await server.listen();
    try {
      const caller = new AbortController();
      const request = fetch(`${server.url}/api/rpc/engine.test`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${server.token}` },
        body: JSON.stringify({
          modelId: 'stories',
          testId: 'gone',
          prompt: 'Once upon a time',
          maxTokens: 4000,
          temperature: 0.8,
        }),
        signal: caller.signal,
      }).catch((err: unknown) => err);
      while (
        !events.some((e) => e.type === 'engine.test' && e.testId === 'gone' && e.phase === 'chunk')
      )
        await new Promise((r) => setTimeout(r, 5));
      caller.abort(); // no engine.testCancel: the connection just closes
      expect(await request).toBeInstanceOf(Error);
      await expect
        .poll(async () => (await call('engine.status', {})) as { jobs: unknown[] })
        .toMatchObject({ jobs: [] });
      const done = events.find(
        (e) => e.type === 'engine.test' && e.testId === 'gone' && e.phase === 'done',
      );
      expect(done).toBeDefined();
      // Far fewer than the 4,000 tokens asked for: it stopped when the caller left.
      const row = await router.call('jobs.get', { id: 'test-gone' }, { transport: 'internal' });
      expect(row.status).toBe('cancelled');
      expect(row.tokensOut!).toBeLessThan(4000);
    } finally {
      await server.close();
    }
  });

  it('engine.test on an ONNX model runs one request of zeros and summarises the outputs', async () => {
    const r = await router.call('engine.test', { modelId: 'mnist' }, { transport: 'internal' });
    expect(r).toMatchObject({
      kind: 'onnx',
      backend: 'cpu',
      outputs: [{ name: 'Plus214_Output_0', shape: [1, 10] }],
    });
    expect(r.outputs![0]!.head).toHaveLength(8);
  });

  it('an unknown model id is NOT_FOUND; bad parameters are INVALID_PARAMS', async () => {
    await expect(
      router.call('engine.test', { modelId: 'nope' }, { transport: 'internal' }),
    ).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    await expect(
      router.call('engine.test', { modelId: 'stories', maxTokens: 0 }, { transport: 'internal' }),
    ).rejects.toBeInstanceOf(IdlerigError);
  });

  it('the node stops the engine with itself', async () => {
    const pid = node.engine.supervisor.pid!;
    expect(pid).toBeGreaterThan(0);
    await node.engine.stop();
    expect(() => process.kill(pid, 0)).toThrow();
    expect(node.engine.status().state).toBe('stopped');
  });
});
