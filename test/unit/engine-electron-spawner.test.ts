// The engine under Electron runs as a utility process. No Electron binary exists here, so the
// utilityProcess API is the FAKE of test/helpers/fake-electron.ts (a structured-clone fork);
// the spawner adapter, the supervisor and the engine process are real.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { MODELS, startEngine } from '../helpers/engine';

vi.mock('electron', async () => (await import('../helpers/fake-electron')).fakeElectronModule);
const { utilityProcessSpawner } = await import('../../electron/main/engine-spawner');

let ctx: Awaited<ReturnType<typeof startEngine>>;
beforeAll(async () => {
  ctx = await startEngine({
    models: ['stories'],
    config: { llm: { backend: 'cpu' } },
    supervisor: { spawner: utilityProcessSpawner, backoff: { initialMs: 25 } },
  });
}, 120_000);
afterAll(() => ctx?.close());

describe('engine through the utility-process spawner (fake utilityProcess)', () => {
  it('runs a completion, and after a SIGKILL fails the job with ENGINE_CRASHED and restarts', async () => {
    const first = await ctx.engine.complete({
      model: MODELS.stories,
      prompt: 'Once upon a time',
      max_tokens: 12,
      temperature: 0,
    });
    expect(first.text.startsWith(', there was a little girl named Lily.')).toBe(true);

    const pid = ctx.engine.status().pid;
    expect(pid).toBeGreaterThan(0);
    const job = ctx.engine.complete(
      { model: MODELS.stories, prompt: 'Once upon a time', max_tokens: 4000, temperature: 0 },
      { onEvent: () => process.kill(pid!, 'SIGKILL') },
    );
    await expect(job).rejects.toMatchObject({ code: 'ENGINE_CRASHED' });
    const again = await ctx.engine.complete({
      model: MODELS.stories,
      prompt: 'Once upon a time',
      max_tokens: 12,
      temperature: 0,
    });
    expect(again.text).toBe(first.text);
    expect(ctx.engine.status().pid).not.toBe(pid);
  });
});
