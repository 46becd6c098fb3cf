// Which model files the engine loads (only verified ones, only from the models folder), the hash
// cache, the memory budget (LRU eviction) and the thread rule, through the real engine process.
import { copyFile, open, readFile, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VerifiedFile } from '../../shared/engine-protocol';
import { chooseThreads, SMALL_MODEL_BYTES } from '../../electron/engine/threads';
import { FIXTURES, MODELS, startEngine } from '../helpers/engine';
import { errorOf } from '../helpers/errors';

let ctx: Awaited<ReturnType<typeof startEngine>>;
const verified: VerifiedFile[] = [];

beforeAll(async () => {
  ctx = await startEngine({
    models: ['stories', 'tiny', 'mnist'],
    config: { llm: { backend: 'cpu' } },
    supervisor: { backoff: { initialMs: 20 } },
  });
  ctx.engine.on('verified', (f) => verified.push(f));
}, 60_000);
afterAll(() => ctx?.close());

const job = (model: { file: string; sha256: string }) =>
  ctx.engine.complete({ model, prompt: 'Once upon a time', max_tokens: 4, temperature: 0 });

describe('only verified files from the models folder', () => {
  it('a model file changed by one byte is refused with MODEL_UNVERIFIED', async () => {
    const bytes = await readFile(join(FIXTURES, MODELS.stories.file));
    const mid = bytes.length >> 1;
    bytes[mid] = bytes[mid]! ^ 0x01;
    await writeFile(join(ctx.modelsDir, 'changed.gguf'), bytes);
    const err = await errorOf(job({ file: 'changed.gguf', sha256: MODELS.stories.sha256 }));
    expect(err.code).toBe('MODEL_UNVERIFIED');
    expect(err.details).toMatchObject({ file: 'changed.gguf', expected: MODELS.stories.sha256 });
    expect((err.details as { actual: string }).actual).not.toBe(MODELS.stories.sha256);
    // Same for ONNX.
    const onnx = await readFile(join(FIXTURES, MODELS.mnist.file));
    onnx[100] = onnx[100]! ^ 0x01;
    await writeFile(join(ctx.modelsDir, 'changed.onnx'), onnx);
    const e2 = await errorOf(
      ctx.engine.infer(
        { file: 'changed.onnx', sha256: MODELS.mnist.sha256 },
        {
          inputs: [
            {
              name: 'Input3',
              shape: [1, 1, 28, 28],
              datatype: 'FP32',
              data: new Float32Array(784),
            },
          ],
        },
      ),
    );
    expect(e2.code).toBe('MODEL_UNVERIFIED');
  });

  it('a loaded model whose file changes is checked again and refused; restored, it runs again', async () => {
    await copyFile(join(FIXTURES, MODELS.tiny.file), join(ctx.modelsDir, 'tiny-copy.gguf'));
    const ref = { file: 'tiny-copy.gguf', sha256: MODELS.tiny.sha256 };
    expect((await job(ref)).usage.completion_tokens).toBe(4);
    const hashes = verified.filter((v) => v.path.endsWith('tiny-copy.gguf')).length;
    await job(ref);
    // Cached by size and mtime: no second hash.
    expect(verified.filter((v) => v.path.endsWith('tiny-copy.gguf')).length).toBe(hashes);

    const path = join(ctx.modelsDir, 'tiny-copy.gguf');
    const fh = await open(path, 'r+');
    const original = Buffer.alloc(1);
    await fh.read(original, 0, 1, 5000);
    await fh.write(Buffer.from([original[0]! ^ 0xff]), 0, 1, 5000);
    await fh.close();
    await utimes(path, new Date(), new Date(Date.now() + 2000));
    expect((await errorOf(job(ref))).code).toBe('MODEL_UNVERIFIED');

    const fh2 = await open(path, 'r+');
    await fh2.write(original, 0, 1, 5000);
    await fh2.close();
    await utimes(path, new Date(), new Date(Date.now() + 4000));
    expect((await job(ref)).usage.completion_tokens).toBe(4);
  });

  it('a path outside the models folder is refused (.., absolute, symlink out); a missing file is NOT_FOUND', async () => {
    await copyFile(join(FIXTURES, MODELS.stories.file), join(ctx.root, 'outside.gguf'));
    const sha256 = MODELS.stories.sha256;
    expect((await errorOf(job({ file: '../outside.gguf', sha256 }))).code).toBe('UNSAFE_PATH');
    expect((await errorOf(job({ file: join(ctx.root, 'outside.gguf'), sha256 }))).code).toBe(
      'UNSAFE_PATH',
    );
    expect((await errorOf(job({ file: 'sub/../../outside.gguf', sha256 }))).code).toBe(
      'UNSAFE_PATH',
    );
    await symlink(join(ctx.root, 'outside.gguf'), join(ctx.modelsDir, 'link.gguf'));
    expect((await errorOf(job({ file: 'link.gguf', sha256 }))).code).toBe('UNSAFE_PATH');
    expect((await errorOf(job({ file: 'nope.gguf', sha256 }))).code).toBe('NOT_FOUND');
    // A symlink that stays inside is fine.
    await symlink(join(ctx.modelsDir, MODELS.stories.file), join(ctx.modelsDir, 'inside.gguf'));
    expect((await job({ file: 'inside.gguf', sha256 })).usage.completion_tokens).toBe(4);
  });

  it('hashes survive an engine restart (the supervisor hands them to the new process)', async () => {
    await job(MODELS.stories);
    const before = verified.length;
    process.kill(ctx.engine.pid!, 'SIGKILL');
    while (ctx.engine.status().state === 'ready') await new Promise((r) => setTimeout(r, 5));
    await job(MODELS.stories);
    expect(verified.length).toBe(before);
  });
});

describe('memory budget', () => {
  it('unloads the least recently used idle model when the budget would be exceeded, never one that runs', async () => {
    await ctx.engine.reconfigure({ modelsDir: ctx.modelsDir, llm: { backend: 'cpu' } });
    await job(MODELS.stories);
    await job(MODELS.tiny);
    const loaded = await ctx.engine.loadedModels();
    const mem = Object.fromEntries(loaded.map((m) => [m.file, m.memoryBytes]));
    expect(mem[MODELS.stories.file]).toBeGreaterThan(0);
    expect(mem[MODELS.tiny.file]).toBeGreaterThan(0);
    // Room for the larger of the two, not for both.
    const budget = Math.round(Math.max(mem[MODELS.stories.file]!, mem[MODELS.tiny.file]!) * 1.3);
    await ctx.engine.reconfigure({
      modelsDir: ctx.modelsDir,
      llm: { backend: 'cpu', memoryBudgetBytes: budget },
    });
    await job(MODELS.stories);
    await job(MODELS.tiny);
    expect((await ctx.engine.loadedModels()).map((m) => m.file)).toEqual([MODELS.tiny.file]);
    expect(
      ctx.log.lines.some((l) => l.msg === 'model unloaded' && l.data?.why === 'memory budget'),
    ).toBe(true);

    // While tiny decodes, stories cannot take its place.
    const controller = new AbortController();
    let started = false;
    const long = ctx.engine.complete(
      { model: MODELS.tiny, prompt: 'x', max_tokens: 4000, temperature: 0 },
      { signal: controller.signal, onEvent: (e) => void (started ||= e.type === 'llm.started') },
    );
    while (!started) await new Promise((r) => setTimeout(r, 5));
    expect((await errorOf(job(MODELS.stories))).code).toBe('LIMIT_EXCEEDED');
    controller.abort();
    expect((await long).finish_reason).toBe('cancelled');
    await job(MODELS.stories);
    expect((await ctx.engine.loadedModels()).map((m) => m.file)).toEqual([MODELS.stories.file]);
    await ctx.engine.reconfigure({ modelsDir: ctx.modelsDir, llm: { backend: 'cpu' } });
  });
});

describe('threads', () => {
  it('the rule: small models 1 thread; otherwise cores - 1 (1..16); an override wins', () => {
    const big = SMALL_MODEL_BYTES * 4;
    expect(chooseThreads({ cores: 2, modelBytes: 1_000_000 })).toMatchObject({ threads: 1 });
    expect(chooseThreads({ cores: 32, modelBytes: 1_000_000 })).toMatchObject({ threads: 1 });
    expect(chooseThreads({ cores: 1, modelBytes: big })).toMatchObject({ threads: 1 });
    expect(chooseThreads({ cores: 2, modelBytes: big })).toMatchObject({ threads: 1 });
    expect(chooseThreads({ cores: 4, modelBytes: big })).toMatchObject({ threads: 3 });
    expect(chooseThreads({ cores: 8, modelBytes: big })).toMatchObject({ threads: 7 });
    expect(chooseThreads({ cores: 64, modelBytes: big })).toMatchObject({ threads: 16 });
    expect(chooseThreads({ cores: 2, modelBytes: 1_000, override: 2 })).toEqual({
      threads: 2,
      rule: 'override',
    });
  });

  it('the engine reports the threads it used, and honours an override', async () => {
    const auto = await job(MODELS.stories);
    expect(auto.threads).toBe(1);
    await ctx.engine.reconfigure({ modelsDir: ctx.modelsDir, llm: { backend: 'cpu', threads: 2 } });
    const two = await ctx.engine.complete({
      model: MODELS.stories,
      prompt: 'Once upon a time',
      max_tokens: 8,
      temperature: 0,
    });
    expect(two.threads).toBe(2);
    expect(two.text.startsWith(', there was a little girl')).toBe(true);
    const [m] = await ctx.engine.loadedModels();
    expect(m?.llm).toMatchObject({ threads: 2, threadsRule: 'override' });

    // New settings while a job runs: it ends on the model it started with; the next job
    // gets a model loaded with the new settings.
    const controller = new AbortController();
    let chunks = 0;
    const running = ctx.engine.complete(
      { model: MODELS.stories, prompt: 'Once upon a time', max_tokens: 4000, temperature: 0.8 },
      { signal: controller.signal, onEvent: (e) => void (e.type === 'llm.chunk' && chunks++) },
    );
    while (chunks < 2) await new Promise((r) => setTimeout(r, 5));
    await ctx.engine.reconfigure({ modelsDir: ctx.modelsDir, llm: { backend: 'cpu' } });
    const next = await job(MODELS.stories);
    expect(next.threads).toBe(1);
    controller.abort();
    const old = await running;
    expect(old).toMatchObject({ finish_reason: 'cancelled', threads: 2 });
  });

  it('new settings while the model is still loading: the job that waited ends on it, the next one gets the new settings', async () => {
    // A load takes a few ms here; the change lands at a different point of it each round.
    for (let delayMs = 0; delayMs <= 12; delayMs++) {
      await ctx.engine.reconfigure({
        modelsDir: ctx.modelsDir,
        llm: { backend: 'cpu', threads: 2 },
      });
      // Nothing loaded now (the change retired it): this job starts a load with threads 2.
      const waiting = job(MODELS.stories);
      await new Promise((r) => setTimeout(r, delayMs));
      const changed = ctx.engine.reconfigure({ modelsDir: ctx.modelsDir, llm: { backend: 'cpu' } });
      // It ends on the settings its load began with: 2, or 1 when the change got in first.
      expect([1, 2]).toContain((await waiting).threads);
      await changed;
      expect((await job(MODELS.stories)).threads, `change after ${delayMs} ms`).toBe(1);
      expect((await ctx.engine.loadedModels()).map((m) => m.llm?.threads)).toEqual([1]);
    }
  });
});
