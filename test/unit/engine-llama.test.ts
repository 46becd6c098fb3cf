// LLM jobs through the real engine process (bundled electron/engine, node-llama-cpp on CPU) with
// the real fixtures: outputs, streaming, batching, sampling options, cancel and limits.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EngineEvent, LlmCompleteParams } from '../../shared/engine-protocol';
import { IdlerigError } from '../../shared/errors';
import { MODELS, startEngine } from '../helpers/engine';

let ctx: Awaited<ReturnType<typeof startEngine>>;

beforeAll(async () => {
  ctx = await startEngine({ config: { llm: { backend: 'cpu', parallelism: 4 } } });
}, 120_000);
afterAll(() => ctx?.close());

function collect(): { events: EngineEvent[]; onEvent: (e: EngineEvent) => void } {
  const events: EngineEvent[] = [];
  return { events, onEvent: (e) => events.push(e) };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(IdlerigError);
    return (err as IdlerigError).code;
  }
  throw new Error('expected the job to fail');
}

describe('text and chat completions', () => {
  it('stories260K, temperature 0: "Once upon a time" continues with ", there was a little girl named Lily."', async () => {
    const { events, onEvent } = collect();
    const r = await ctx.engine.complete(
      { model: MODELS.stories, prompt: 'Once upon a time', max_tokens: 32, temperature: 0 },
      { onEvent },
    );
    expect(r.text.startsWith(', there was a little girl named Lily.')).toBe(true);
    expect(r.finish_reason).toBe('length');
    expect(r.usage.completion_tokens).toBe(32);
    expect(r.usage.prompt_tokens).toBeGreaterThan(1);
    expect(r.usage.total_tokens).toBe(r.usage.prompt_tokens + 32);
    // The stream is the text, in order, with every token counted once.
    const chunks = events.filter((e) => e.type === 'llm.chunk');
    expect(chunks.map((c) => c.text).join('')).toBe(r.text);
    expect(chunks.reduce((n, c) => n + c.tokens, 0)).toBe(32);
    expect(events[0]).toMatchObject({ type: 'llm.started', prompt_tokens: r.usage.prompt_tokens });
    // What ran it is reported: CPU, and the small-model rule's single thread.
    expect(r.backend).toBe('cpu');
    expect(r.threads).toBe(1);
    expect(r.gpu_layers).toBe(0);
    expect(r.timings.ttft_ms).toBeGreaterThan(0);
    expect(r.timings.decode_tokens_per_s).toBeGreaterThan(0);
  });

  it('llama-2-tiny-random chat (system + user) streams tokens and ends at max_tokens with finish_reason "length"', async () => {
    const { events, onEvent } = collect();
    const r = await ctx.engine.chat(
      {
        model: MODELS.tiny,
        messages: [
          { role: 'system', content: 'You are a terse assistant.' },
          { role: 'user', content: 'Name three colours.' },
        ],
        max_tokens: 96,
        temperature: 0,
      },
      { onEvent },
    );
    expect(r.finish_reason).toBe('length');
    expect(r.usage.completion_tokens).toBe(96);
    expect(r.usage.prompt_tokens).toBeGreaterThan(10); // both messages, through the template
    expect(r.chat_wrapper).toEqual(expect.any(String));
    const chunks = events.filter((e) => e.type === 'llm.chunk');
    expect(chunks.length).toBeGreaterThanOrEqual(2); // streamed, not one final blob
    expect(chunks.reduce((n, c) => n + c.tokens, 0)).toBe(96);
    expect(chunks.at(-1)).toMatchObject({ completion_tokens: 96 });
    expect(chunks.map((c) => c.text).join('')).toBe(r.text);
  });

  const fourPrompts = ['Once upon a time', 'The little dog', 'Tom and Sue went', 'One day, a bird'];
  const greedy = (prompt: string): LlmCompleteParams => ({
    model: MODELS.stories,
    prompt,
    max_tokens: 48,
    temperature: 0,
    seed: 42,
  });

  // llama.cpp is not batch-invariant: when the four requests reach the engine a few ms apart (a
  // loaded CI machine), a prompt can be evaluated in the same batch as another sequence's decode
  // step, and a floating-point near-tie can flip one greedy token (seen here about once in 35
  // staggered runs, never with simultaneous arrival). The assertion stays exact; a run that hits
  // such a tie is tried again. Only this equality is retried: that the jobs ran at the same time
  // is the next test's, asserted once.
  it(
    'four concurrent completions on one model each equal the same request run alone',
    { retry: 2 },
    async () => {
      const alone = [];
      for (const p of fourPrompts) alone.push(await ctx.engine.complete(greedy(p)));
      const together = await Promise.all(fourPrompts.map((p) => ctx.engine.complete(greedy(p))));
      expect(together.map((r) => r.text)).toEqual(alone.map((r) => r.text));
      expect(together.map((r) => r.usage)).toEqual(alone.map((r) => r.usage));
    },
  );

  it('four concurrent completions run at the same time (4 sequences of one context), not one after another', async () => {
    const started: number[] = [];
    const finished: number[] = [];
    const together = await Promise.all(
      fourPrompts.map((p, i) =>
        ctx.engine
          .complete(greedy(p), {
            onEvent: (e) => {
              if (e.type === 'llm.started') started[i] = performance.now();
            },
          })
          .then((r) => {
            finished[i] = performance.now();
            return r;
          }),
      ),
    );
    for (const r of together) expect(['length', 'stop']).toContain(r.finish_reason);
    // Every job got its sequence before any of them ended: none waited for another.
    expect(started).toHaveLength(4);
    expect(Math.max(...started)).toBeLessThan(Math.min(...finished));
  });

  it('the same seed gives the same sample; sampling options are applied', async () => {
    const base = {
      model: MODELS.stories,
      prompt: 'Once upon a time',
      max_tokens: 40,
      temperature: 1,
      top_k: 40,
      top_p: 0.95,
      min_p: 0.05,
      repeat_penalty: 1.2,
      frequency_penalty: 0.2,
      presence_penalty: 0.2,
    };
    const a = await ctx.engine.complete({ ...base, seed: 7 });
    const b = await ctx.engine.complete({ ...base, seed: 7 });
    expect(b.text).toBe(a.text);
    const others = await Promise.all(
      [1, 2, 3].map((seed) => ctx.engine.complete({ ...base, seed })),
    );
    expect(others.some((o) => o.text !== a.text)).toBe(true);
  });

  it('stop strings end the completion with finish_reason "stop", the stop string left out', async () => {
    // The stop string's token (" Lily") is held back whole, its leading space with it.
    const r = await ctx.engine.complete({
      model: MODELS.stories,
      prompt: 'Once upon a time',
      max_tokens: 64,
      temperature: 0,
      stop: ['Lily'],
    });
    expect(r.finish_reason).toBe('stop');
    expect(r.text.trimEnd()).toBe(', there was a little girl named');
  });

  it('JSON-schema and GBNF constrained output', async () => {
    const json = await ctx.engine.complete({
      model: MODELS.stories,
      prompt: 'Once upon a time',
      max_tokens: 64,
      temperature: 0,
      response_format: {
        type: 'json_schema',
        json_schema: {
          schema: {
            type: 'object',
            properties: { mood: { enum: ['happy', 'sad'] }, age: { type: 'integer' } },
            required: ['mood', 'age'],
          },
        },
      },
    });
    const parsed = JSON.parse(json.text) as { mood: string; age: number };
    expect(['happy', 'sad']).toContain(parsed.mood);
    expect(Number.isInteger(parsed.age)).toBe(true);
    expect(json.finish_reason).toBe('stop');

    const gbnf = await ctx.engine.chat({
      model: MODELS.stories,
      messages: [{ role: 'user', content: 'Who is the girl?' }],
      max_tokens: 16,
      temperature: 0,
      grammar: 'root ::= ("Lily" | "Sue") "."',
    });
    expect(['Lily.', 'Sue.']).toContain(gbnf.text);

    expect(
      await codeOf(
        ctx.engine.complete({
          model: MODELS.stories,
          prompt: 'x',
          grammar: 'root ::= ( "unclosed',
        }),
      ),
    ).toBe('INVALID_INPUT');
  });

  it('cancel stops the generation within 50 ms and returns what was generated', async () => {
    for (let i = 0; i < 3; i++) {
      const controller = new AbortController();
      let chunks = 0;
      const job = ctx.engine.complete(
        {
          model: MODELS.stories,
          prompt: 'Once upon a time',
          max_tokens: 4000,
          temperature: 0.8,
          seed: i,
        },
        {
          signal: controller.signal,
          onEvent: (e) => {
            if (e.type === 'llm.chunk') chunks++;
          },
        },
      );
      while (chunks < 3) await new Promise((r) => setTimeout(r, 5));
      const t = performance.now();
      controller.abort();
      const r = await job;
      const ms = performance.now() - t;
      expect(r.finish_reason).toBe('cancelled');
      expect(r.usage.completion_tokens).toBeGreaterThan(0);
      expect(r.usage.completion_tokens).toBeLessThan(4000);
      expect(ms).toBeLessThan(50);
    }
  });
});

describe('engine info', () => {
  it('describes the native libraries it loaded: llama.cpp backend and ONNX Runtime providers', async () => {
    const info = await ctx.engine.request('info', {});
    expect(info.pid).toBe(ctx.engine.pid);
    expect(info.llm).toMatchObject({
      backend: 'cpu',
      gpuDevices: [],
      supportsGpuOffloading: false,
    });
    expect(info.llm!.cpuMathCores).toBeGreaterThan(0);
    expect(info.onnx!.availableProviders).toContain('cpu');
    expect(ctx.engine.status().backend).toBe('cpu');
  });
});

describe('limits: typed errors, and the engine stays healthy', () => {
  it('max_tokens, prompt tokens and request bytes over their limits', async () => {
    const pid = ctx.engine.pid;
    await ctx.engine.reconfigure({
      modelsDir: ctx.modelsDir,
      llm: { backend: 'cpu', parallelism: 4 },
      limits: { maxCompletionTokens: 100, maxPromptTokens: 20, maxRequestBytes: 4096 },
    });
    const over = await codeOf(
      ctx.engine.complete({ model: MODELS.stories, prompt: 'Hi', max_tokens: 101 }),
    );
    expect(over).toBe('LIMIT_EXCEEDED');
    const long = await codeOf(
      ctx.engine.complete({
        model: MODELS.stories,
        prompt: 'Once upon a time there was a girl who liked to run and jump and play all day long',
        max_tokens: 5,
      }),
    );
    expect(long).toBe('LIMIT_EXCEEDED');
    const big = await codeOf(
      ctx.engine.chat({
        model: MODELS.stories,
        messages: [{ role: 'user', content: 'x'.repeat(5000) }],
        max_tokens: 5,
      }),
    );
    expect(big).toBe('LIMIT_EXCEEDED');
    const ok = await ctx.engine.complete({
      model: MODELS.stories,
      prompt: 'Once upon a time',
      max_tokens: 8,
      temperature: 0,
    });
    expect(ok.text.startsWith(', there was')).toBe(true);
    expect(ctx.engine.pid).toBe(pid);
  });

  it('a job past its wall-clock limit fails with TIMEOUT', async () => {
    const pid = ctx.engine.pid;
    await ctx.engine.reconfigure({
      modelsDir: ctx.modelsDir,
      llm: { backend: 'cpu', parallelism: 1 },
      limits: { jobTimeoutMs: 300 },
    });
    const t = performance.now();
    const err = await codeOf(
      ctx.engine.complete({
        model: MODELS.stories,
        prompt: 'Once upon a time',
        max_tokens: 4000,
        temperature: 0.9,
        seed: 1,
      }),
    );
    expect(err).toBe('TIMEOUT');
    expect(performance.now() - t).toBeLessThan(1500);
    expect(ctx.engine.pid).toBe(pid);
  });

  it('too many waiting jobs: QUEUE_FULL, and the engine goes on', async () => {
    const pid = ctx.engine.pid;
    await ctx.engine.reconfigure({
      modelsDir: ctx.modelsDir,
      llm: { backend: 'cpu', parallelism: 1 },
      limits: { maxQueuedJobs: 1 },
    });
    const long = {
      model: MODELS.stories,
      prompt: 'Once upon a time',
      max_tokens: 4000,
      temperature: 0.9,
    };
    // One decodes (parallelism 1), one waits (maxQueuedJobs 1), the third is refused.
    const c1 = new AbortController();
    const c2 = new AbortController();
    let started = false;
    const first = ctx.engine.complete(
      { ...long, seed: 2 },
      { signal: c1.signal, onEvent: (e) => void (started ||= e.type === 'llm.started') },
    );
    while (!started) await new Promise((r) => setTimeout(r, 5));
    const second = codeOf(ctx.engine.complete({ ...long, seed: 3 }, { signal: c2.signal }));
    while ((await ctx.engine.request('ping', {})).queuedJobs < 1)
      await new Promise((r) => setTimeout(r, 5));
    expect(await codeOf(ctx.engine.complete({ ...long, seed: 4 }))).toBe('QUEUE_FULL');
    c2.abort();
    expect(await second).toBe('CANCELLED'); // cancelled while it waited
    c1.abort();
    expect((await first).finish_reason).toBe('cancelled');

    await ctx.engine.reconfigure({ modelsDir: ctx.modelsDir, llm: { backend: 'cpu' } });
    const ok = await ctx.engine.complete({
      model: MODELS.stories,
      prompt: 'Once upon a time',
      max_tokens: 8,
      temperature: 0,
    });
    expect(ok.finish_reason).toBe('length');
    expect(ctx.engine.pid).toBe(pid);
    expect(ctx.engine.status()).toMatchObject({ state: 'ready', crashesLastHour: 0 });
  });

  it('more jobs than sequences queue and all complete', async () => {
    await ctx.engine.reconfigure({
      modelsDir: ctx.modelsDir,
      llm: { backend: 'cpu', parallelism: 2 },
    });
    const results = await Promise.all(
      [0, 1, 2, 3, 4].map((i) =>
        ctx.engine.complete({
          model: MODELS.tiny,
          prompt: `Job ${i}`,
          max_tokens: 200,
          temperature: 0,
        }),
      ),
    );
    for (const r of results) expect(r.usage.completion_tokens).toBe(200);
    expect(results.filter((r) => r.timings.queue_ms > 1).length).toBeGreaterThanOrEqual(2);
    const [loaded] = (await ctx.engine.loadedModels()).filter((m) => m.file === MODELS.tiny.file);
    expect(loaded?.llm).toMatchObject({ parallelism: 2, threads: 1, backend: 'cpu' });
  });
});
