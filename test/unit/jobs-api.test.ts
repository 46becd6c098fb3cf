// The job record through the node's API (the router both transports use), on a real engine and
// real models: a test job run like the Models page runs one becomes a row marked as a test,
// with its tokens and timings, counted apart from earnings; a cancelled one is 'cancelled'; the
// market client's recorder writes paid rows; retention removes old rows; bad input is refused.
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EngineTestResult } from '../../shared/api';
import { ProviderNode } from '../../electron/provider/node';
import { Router } from '../../electron/provider/api/router';
import { nodeHandlers } from '../../electron/provider/api/handlers';
import { bundles } from '../helpers/engine-bundle';
import { FIXTURES, MODELS } from '../helpers/engine';

let dir: string;
let node: ProviderNode;
let router: Router;
const ctx = { transport: 'internal' as const };

beforeAll(async () => {
  const { engine: entry } = await bundles();
  dir = await mkdtemp(join(tmpdir(), 'idlerig-jobs-api-'));
  node = new ProviderNode({
    dataDir: join(dir, 'data'),
    mode: 'headless',
    power: { detect: false },
    engine: { config: { llm: { backend: 'cpu' } }, supervisor: { entry } },
  });
  await node.start();
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

describe('test jobs are rows of the job record', () => {
  it('an LLM test and an ONNX test: marked as tests, with tokens, timings and energy', async () => {
    const r = (await router.call(
      'engine.test',
      { modelId: 'stories', testId: 'jobs-1', mode: 'completion', temperature: 0, maxTokens: 12 },
      ctx,
    )) as EngineTestResult;
    await router.call('engine.test', { modelId: 'mnist', testId: 'jobs-2' }, ctx);
    const llm = await router.call('jobs.get', { id: 'test-jobs-1' }, ctx);
    expect(llm).toMatchObject({
      test: true,
      status: 'done',
      modelId: 'stories',
      modelSha256: MODELS.stories.sha256,
      kind: 'completion',
      gateway: null,
      tokensIn: r.usage!.prompt_tokens,
      tokensOut: r.usage!.completion_tokens,
      ttftMs: r.ttftMs,
      durationMs: r.totalMs,
      earned: null,
      currency: 'EUR',
      receipt: null,
    });
    expect(llm.energyWh).not.toBeNull(); // measured by the ledger (0 Wh without a GPU sensor)
    expect(llm.tokensPerSecond).toBeGreaterThan(0);
    expect(await router.call('jobs.get', { id: 'test-jobs-2' }, ctx)).toMatchObject({
      kind: 'tensor',
      status: 'done',
      test: true,
    });
    const list = await router.call('jobs.list', { model: 'stories' }, ctx);
    expect(list.total).toBe(1);
    const agg = await router.call('jobs.aggregates', { days: 1 }, ctx);
    const today = agg.buckets.filter((b) => b.period === agg.to);
    expect(today.reduce((s, b) => s + b.testJobs, 0)).toBe(2);
    expect(today.reduce((s, b) => s + b.jobs, 0)).toBe(0);
    expect(today.flatMap((b) => b.earnings)).toEqual([]);
    expect((await router.call('status.get', {}, ctx)).earningsToday).toBeNull();
  }, 120_000);

  it('a cancelled test is recorded as cancelled', async () => {
    const running = router.call(
      'engine.test',
      {
        modelId: 'stories',
        testId: 'jobs-3',
        mode: 'chat',
        maxTokens: 1024,
        prompt: 'Tell a long story',
      },
      ctx,
    );
    await new Promise((r) => setTimeout(r, 300));
    await router.call('engine.testCancel', { testId: 'jobs-3' }, ctx);
    await running.catch(() => undefined);
    const job = await router.call('jobs.get', { id: 'test-jobs-3' }, ctx);
    expect(job.status).toBe('cancelled');
  }, 60_000);
});

describe('paid jobs, retention and bad input', () => {
  it('the recorder’s paid jobs count as earnings (status and aggregates), old rows go with retention', async () => {
    const rec = node.jobs.recorder;
    const token = { symbol: 'IDLE', decimals: 18, address: '0x' + 'a'.repeat(40) };
    rec.start({
      id: 'paid-1',
      gateway: 'ws://gw',
      model: { id: 'stories', sha256: MODELS.stories.sha256 },
      kind: 'chat',
      token,
    });
    rec.end('paid-1', {
      status: 'done',
      tokensOut: 10,
      earned: 25n * 10n ** 15n,
      receipt: { sig: '0xabc', amount: 25n * 10n ** 15n },
    });
    expect((await router.call('status.get', {}, ctx)).earningsToday).toEqual({
      amount: '25000000000000000',
      symbol: 'IDLE',
      decimals: 18,
    });
    expect((await router.call('jobs.get', { id: 'paid-1' }, ctx)).receipt).toEqual({
      sig: '0xabc',
      amount: '25000000000000000',
    });
    // A declined offer that never started: end() with the start fields.
    rec.end(
      'declined-1',
      { status: 'declined', reason: 'PRICE_BELOW_FLOOR' },
      { gateway: 'ws://gw', model: { id: 'stories', sha256: null }, kind: 'chat' },
    );
    expect((await router.call('jobs.list', { status: ['declined'] }, ctx)).rows[0]).toMatchObject({
      id: 'declined-1',
      reason: 'PRICE_BELOW_FLOOR',
    });

    const old = Date.now() - 100 * 86_400_000;
    rec.start({
      id: 'old-1',
      startedAt: old,
      gateway: 'ws://gw',
      model: { id: 'stories', sha256: null },
      kind: 'chat',
    });
    rec.end('old-1', { status: 'done', endedAt: old + 1000 });
    const before = await router.call('jobs.storage', {}, ctx);
    expect(before.bytes).toBeGreaterThan(0);
    await router.call('settings.update', { jobs: { retentionDays: 30 } }, ctx);
    expect(node.settings.get().jobs.retentionDays).toBe(30);
    // Applied as soon as the setting changed.
    await expect(router.call('jobs.get', { id: 'old-1' }, ctx)).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    const after = await router.call('jobs.storage', {}, ctx);
    expect(after).toMatchObject({ rows: before.rows - 1, retentionDays: 30 });
  });

  it('refuses bad parameters with INVALID_PARAMS and bad amounts from the recorder', async () => {
    await expect(router.call('jobs.list', { limit: 0 }, ctx)).rejects.toMatchObject({
      code: 'INVALID_PARAMS',
    });
    await expect(router.call('jobs.list', { since: 'soon' }, ctx)).rejects.toMatchObject({
      code: 'INVALID_PARAMS',
    });
    await expect(
      router.call('jobs.list', { status: ['finished'] } as never, ctx),
    ).rejects.toMatchObject({ code: 'INVALID_PARAMS' });
    await expect(
      router.call('settings.update', { jobs: { retentionDays: 0 } }, ctx),
    ).rejects.toMatchObject({ code: 'INVALID_PARAMS' });
    expect(() => node.jobs.recorder.end('x', { status: 'done', earned: -1n })).toThrow(
      /non-negative/,
    );
    expect(() => node.jobs.recorder.end('never-started', { status: 'done' })).toThrow(/No job/);
  });
});
