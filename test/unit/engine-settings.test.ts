// The engine's settings (settings.json `engine`, version 4) reach the engine: at start, on every
// change, and under a power cap that the driver refused (kept by lower parallelism). Real engine
// process (the bundled entry) and real fixture models; FAKE nvidia-smi for the power cap.
import { until } from '../helpers/wait';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ApiEvent, EngineSettings } from '../../shared/api';
import { defaultEngineSettings } from '../../shared/api';
import { ProviderNode, type ProviderNodeOptions } from '../../electron/provider/node';
import { Router } from '../../electron/provider/api/router';
import { nodeHandlers } from '../../electron/provider/api/handlers';
import { effectiveEngineConfig, gibToBytes } from '../../electron/provider/engine/effective-config';
import { defaultSettings } from '../../electron/provider/settings/migrations';
import { probeBackendEnvironment } from '../../electron/provider/gpu/backends';
import { bundles } from '../helpers/engine-bundle';
import { FIXTURES, MODELS } from '../helpers/engine';
import { tempDir } from '../helpers/tmp';
import { installFakeTools } from './gpu-fake-tools';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const ctx = { transport: 'internal' as const };

/** A node with the real engine and stories260K installed as `stories`. */
async function engineNode(
  opts: Partial<Pick<ProviderNodeOptions, 'power' | 'engine'>> & { settings?: EngineSettings } = {},
): Promise<{ node: ProviderNode; router: Router; events: ApiEvent[] }> {
  const { engine: entry } = await bundles();
  const t = await tempDir('idlerig-engine-settings-');
  cleanups.push(t.cleanup);
  if (opts.settings) {
    await mkdir(t.dir, { recursive: true });
    await writeFile(
      join(t.dir, 'settings.json'),
      JSON.stringify({ ...defaultSettings(), engine: opts.settings }),
    );
  }
  const node = new ProviderNode({
    dataDir: t.dir,
    mode: 'headless',
    ...(opts.power ? { power: opts.power } : {}),
    engine: { ...opts.engine, supervisor: { entry, ...opts.engine?.supervisor } },
  });
  await node.start();
  cleanups.push(() => node.stop());
  const events: ApiEvent[] = [];
  node.on('event', (e) => events.push(e));
  await copyFile(join(FIXTURES, MODELS.stories.file), join(node.paths.models, MODELS.stories.file));
  await node.models.upsert({
    id: 'stories',
    name: 'stories',
    engine: 'llama',
    file: MODELS.stories.file,
    sha256: MODELS.stories.sha256,
    sizeBytes: 1,
    source: { kind: 'import', originalPath: join(FIXTURES, MODELS.stories.file) },
    installedAt: new Date().toISOString(),
    lastUsedAt: null,
  });
  return { node, router: new Router(nodeHandlers(node), node.logger.scope('api')), events };
}

const job = (router: Router, testId: string) =>
  router.call(
    'engine.test',
    { modelId: 'stories', testId, mode: 'completion', temperature: 0, maxTokens: 8 },
    ctx,
  );

const loadedLlm = async (router: Router) => {
  const { models } = await router.call('engine.models', {}, ctx);
  expect(models).toHaveLength(1);
  return models[0]!.llm!;
};

const changeLogs = (node: ProviderNode) =>
  node.logger
    .tail(2000, 'info')
    .filter((e) => e.scope === 'engine' && e.msg === 'engine settings changed');

describe('effective engine configuration (precedence)', () => {
  const settings: EngineSettings = {
    backend: 'vulkan',
    threads: 6,
    parallelism: 8,
    memoryBudgetGiB: 3,
  };

  it('the settings fill what the host leaves out; a field the host gives wins and is named', () => {
    const none = effectiveEngineConfig(undefined, settings, null);
    expect(none.view).toEqual({
      backend: 'vulkan',
      threads: 6,
      parallelism: 8,
      parallelismSetting: 8,
      parallelismCappedBy: null,
      memoryBudgetBytes: gibToBytes(3),
      fixedByHost: [],
    });
    expect(none.config.llm).toEqual({
      backend: 'vulkan',
      threads: 6,
      parallelism: 8,
      memoryBudgetBytes: 3 * 1024 ** 3,
    });

    const host = effectiveEngineConfig(
      { llm: { backend: 'cpu', threads: null, contextSize: 1024 }, limits: { jobTimeoutMs: 5000 } },
      settings,
      null,
    );
    // An explicit null (the engine's rule) is a choice of the host too.
    expect(host.view).toMatchObject({
      backend: 'cpu',
      threads: null,
      fixedByHost: ['backend', 'threads'],
    });
    // What only the host sets travels untouched.
    expect(host.config).toMatchObject({
      llm: { backend: 'cpu', threads: null, contextSize: 1024, parallelism: 8 },
      limits: { jobTimeoutMs: 5000 },
    });
  });

  it('the policy caps parallelism, whoever chose it; a lower choice is not "capped"', () => {
    expect(effectiveEngineConfig(undefined, settings, 2).view).toMatchObject({
      parallelism: 2,
      parallelismSetting: 8,
      parallelismCappedBy: 'power-cap',
    });
    expect(effectiveEngineConfig({ llm: { parallelism: 3 } }, settings, 1).view).toMatchObject({
      parallelism: 1,
      parallelismSetting: 3,
      parallelismCappedBy: 'power-cap',
      fixedByHost: ['parallelism'],
    });
    expect(effectiveEngineConfig(undefined, { ...settings, parallelism: 2 }, 2).view).toMatchObject(
      { parallelism: 2, parallelismCappedBy: null },
    );
    expect(effectiveEngineConfig(undefined, { ...settings, parallelism: 1 }, 4).view).toMatchObject(
      { parallelism: 1, parallelismCappedBy: null },
    );
  });
});

describe('engine settings in a running node (real engine)', () => {
  it('starts with the saved settings and reconfigures the running engine when they change', async () => {
    const { node, router, events } = await engineNode({
      settings: { backend: 'cpu', threads: null, parallelism: 3, memoryBudgetGiB: null },
    });
    expect((await router.call('engine.status', {}, ctx)).config).toEqual({
      backend: 'cpu',
      threads: null,
      parallelism: 3,
      parallelismSetting: 3,
      parallelismCappedBy: null,
      memoryBudgetBytes: null,
      fixedByHost: [],
    });

    // The engine's rule: 1 thread for a small model.
    const first = await job(router, 'before');
    expect(first).toMatchObject({ backend: 'cpu', threads: 1 });
    expect(await loadedLlm(router)).toMatchObject({
      threads: 1,
      parallelism: 3,
      threadsRule: expect.stringMatching(/^small model/),
    });
    const pid = node.engine.supervisor.pid;

    // Change threads (and the memory budget) while the engine runs.
    await router.call('settings.update', { engine: { threads: 2, memoryBudgetGiB: 2 } }, ctx);
    const status = await router.call('engine.status', {}, ctx);
    expect(status.config).toMatchObject({ threads: 2, memoryBudgetBytes: 2 * 1024 ** 3 });
    expect(status.state).toBe('ready');
    // The change went out as an engine.status event, and was logged with what changed.
    expect(events.some((e) => e.type === 'engine.status' && e.engine.config.threads === 2)).toBe(
      true,
    );
    const logged = changeLogs(node);
    expect(logged).toHaveLength(1);
    expect(logged[0]!.data).toMatchObject({
      changed: ['threads', 'memoryBudgetBytes'],
      threads: 2,
      backend: 'cpu',
    });

    // The next job runs with the new thread count, in the same engine process.
    const second = await job(router, 'after');
    expect(second.threads).toBe(2);
    expect(second.text).toBe(first.text);
    expect(await loadedLlm(router)).toMatchObject({ threads: 2, threadsRule: 'override' });
    expect(node.engine.supervisor.pid).toBe(pid);

    // Back to the rule.
    await router.call('settings.update', { engine: { threads: null } }, ctx);
    expect((await job(router, 'rule-again')).threads).toBe(1);
    // A market job asked for in the same turn as a change (its reconfigure still on its way)
    // runs with it; one asked for with none in flight reaches the engine as it is.
    const market = (id: string) =>
      node.engine.runJob({
        id,
        modelId: 'stories',
        input: { kind: 'completion', prompt: 'Once upon a time', sampling: { max_tokens: 4 } },
      });
    node.engine.applySettings({ ...node.settings.get().engine, threads: 2 });
    expect((await market('same-turn')).threads).toBe(2);
    // Back to what the settings say, as the node's next state decision applies them (the
    // settings never changed, so a settings.update of the same value would apply nothing).
    node.engine.applySettings(node.settings.get().engine);
    await job(router, 'settled');
    expect((await market('none-in-flight')).threads).toBe(1);
    // A change that leaves the engine's configuration as it is (another group) reconfigures nothing.
    await router.call('settings.update', { node: { name: 'Quiet' } }, ctx);
    expect(changeLogs(node)).toHaveLength(4);
  }, 120_000);

  it('options given by the host win over the settings, and the status says which', async () => {
    const { router } = await engineNode({
      settings: { ...defaultEngineSettings(), backend: 'vulkan', threads: 3 },
      engine: { config: { llm: { backend: 'cpu', threads: 1 } } },
    });
    expect((await router.call('engine.status', {}, ctx)).config).toMatchObject({
      backend: 'cpu',
      threads: 1,
      parallelism: 4,
      fixedByHost: ['backend', 'threads'],
    });
    await router.call('settings.update', { engine: { threads: 4, parallelism: 2 } }, ctx);
    expect((await router.call('engine.status', {}, ctx)).config).toMatchObject({
      threads: 1,
      parallelism: 2,
    });
    expect((await job(router, 'host')).threads).toBe(1);
  }, 120_000);

  it('a power cap that nvidia-smi -pl refuses lowers the parallelism of the engine (FAKE nvidia-smi)', async () => {
    // The recorded 2× RTX 3090 rig; its user is not root, so `nvidia-smi -pl` is refused.
    const fake = await installFakeTools('rig-2x3090');
    cleanups.push(fake.cleanup);
    const { node, router } = await engineNode({
      settings: { ...defaultEngineSettings(), backend: 'cpu' },
      power: {
        toolEnv: fake.env,
        detect: {
          systeminformation: false,
          backendEnv: await probeBackendEnvironment({
            platform: 'linux',
            arch: 'x64',
            icdDirs: fake.icdDirs,
          }),
        },
        pace: { busyMs: 50, idleMs: 50, idleAfterMs: 100 },
        tickMs: 100,
      },
    });
    await job(router, 'uncapped');
    expect(await loadedLlm(router)).toMatchObject({ parallelism: 4 });
    expect(node.engine.status().config).toMatchObject({
      parallelism: 4,
      parallelismCappedBy: null,
    });

    await router.call('settings.update', { power: { powerCap: { wattsPerGpu: 250 } } }, ctx);
    const capped = await until(() => {
      const c = node.engine.status().config;
      return c.parallelismCappedBy === 'power-cap' ? c : undefined;
    });
    // One job per usable GPU: the policy's maxParallelJobs.
    expect(node.policy()).toMatchObject({
      maxParallelJobs: 2,
      powerCap: { method: 'parallelism' },
    });
    expect(capped).toMatchObject({ parallelism: 2, parallelismSetting: 4 });
    expect((await router.call('engine.status', {}, ctx)).config.parallelismCappedBy).toBe(
      'power-cap',
    );
    const why = changeLogs(node).at(-1)!.data!;
    expect(why).toMatchObject({ changed: ['parallelism', 'parallelismCappedBy'], parallelism: 2 });
    // The policy holds parallelism down from the moment the cap is declared, until the driver
    // has taken it (here it never does).
    expect(why.why).toMatch(
      /^Parallel jobs lowered from 4 to 2 to keep the power cap \(.*The 250 W cap is kept by running one job per GPU at a time\)$/,
    );
    await until(() => node.policy().powerCap.detail.startsWith('Driver power limit not set'));
    expect(node.engine.status().config).toMatchObject({
      parallelism: 2,
      parallelismCappedBy: 'power-cap',
    });
    // The engine took it: the model reloads with two sequences.
    await job(router, 'capped');
    expect(await loadedLlm(router)).toMatchObject({ parallelism: 2 });

    // Asking for fewer than the cap allows is not a cap.
    await router.call('settings.update', { engine: { parallelism: 1 } }, ctx);
    expect(node.engine.status().config).toMatchObject({
      parallelism: 1,
      parallelismSetting: 1,
      parallelismCappedBy: null,
    });
    // No cap: the setting applies in full.
    await router.call(
      'settings.update',
      { engine: { parallelism: 6 }, power: { powerCap: { wattsPerGpu: null } } },
      ctx,
    );
    const free = await until(() => {
      const c = node.engine.status().config;
      return c.parallelism === 6 ? c : undefined;
    });
    expect(free).toMatchObject({ parallelismSetting: 6, parallelismCappedBy: null });
    await job(router, 'uncapped-again');
    expect(await loadedLlm(router)).toMatchObject({ parallelism: 6 });
  }, 120_000);
});
