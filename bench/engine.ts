// `npm run bench -- engine`: the inference engine process against the libraries used directly.
//
// LLM (stories260K and llama-2-tiny-random, 256-token greedy completions): time to first token
// and decode tokens/s through the engine process (supervisor -> IPC -> engine -> node-llama-cpp,
// streamed back in chunks) against node-llama-cpp in this process with the same settings (same
// backend, threads, context size and sequences); aggregate tokens/s with 1, 2 and 4 concurrent
// jobs, both ways. ONNX (mnist-8, the 10,000 MNIST test images): images/s through the engine
// against onnxruntime-node directly with the same session options. Runs alternate between the
// two sides so that other load on the machine hits both alike; medians are reported.
// Like with like: the direct side uses the threads the engine reports for the model, a context
// with the same sequences (taken from a free list the way the engine takes them), node-llama-
// cpp's default batching on both sides, the same prompts and sampling, and streams the text
// (onTextChunk) as the engine does. Each concurrency level
// runs in pairs (direct, engine) whose order alternates, and the ratio is the median of the
// pairs' ratios. CPU time is counted too (this process, plus the engine process from /proc on
// Linux): CPU per token is far less disturbed by other load than wall-clock rates, so it shows
// the engine's own overhead even on a busy machine.
// ONNX: the passes with tensors given as JSON numbers (reported apart, ratio_json_numbers) run
// after the paired rounds, not between them: interleaved, the garbage each left behind (10,000
// arrays of 784 numbers here, their deserialized copies in the engine) was collected during the
// next pair's passes, mostly the engine's, whose CPU per image measured 59-60 µs with them
// interleaved and 51 µs without (same code, same hour, 2-core EPYC).
// Prints one JSON document (goals: aggregate tokens/s with 1, 2 and 4 concurrent jobs >= 0.95 x
// direct on both models, ONNX images/s >= 0.9 x direct).
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { LlamaContext, LlamaContextSequence, LlamaModel, Llama } from 'node-llama-cpp';
import { EngineSupervisor } from '../electron/provider/engine/supervisor';
import { bundles } from '../test/helpers/engine-bundle';
import { FIXTURES, MODELS, memoryLogger, modelsFolder } from '../test/helpers/engine';
import { machine, processCpuMs } from './_machine';
import { median, r1, r3 } from './_stats';

const RUNS = Number(process.env.BENCH_ENGINE_RUNS ?? 9);
const TOKENS = 256;
const PARALLELISM = 4;
const CONTEXT = 4096;
const PROMPTS = ['Once upon a time', 'The little dog', 'Tom and Sue went', 'One day, a bird'];

interface Run {
  ttftMs: number;
  decodeTokS: number;
  totalMs: number;
  tokens: number;
}

/** CPU milliseconds used so far by this process and, on Linux, by process `pid`. */
function cpuMs(pid?: number): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000 + (pid !== undefined ? (processCpuMs(pid) ?? 0) : 0);
}

/**
 * node-llama-cpp in this process, set up as the engine sets up a model: the same threads (the
 * engine's choice, passed in), context size and sequences, taken from a free list like the
 * engine's (llama.ts acquireSequence).
 */
async function direct(llama: Llama, file: string, threads: number) {
  const lib = await import('node-llama-cpp');
  const model: LlamaModel = await llama.loadModel({ modelPath: file, gpuLayers: 'auto' });
  const context: LlamaContext = await model.createContext({
    contextSize: Math.min(CONTEXT, model.trainContextSize),
    sequences: PARALLELISM,
    threads,
  });
  const free: LlamaContextSequence[] = [];
  const take = (): LlamaContextSequence => free.pop() ?? context.getSequence();
  /** `sampled`: temperature 0.8 over the whole vocabulary (no top-k, top-p or min-p), seeded. */
  const one = async (prompt: string, sampled?: { seed: number }): Promise<Run> => {
    const seq = take();
    const completion = new lib.LlamaCompletion({ contextSequence: seq });
    const t0 = performance.now();
    let first = 0;
    let last = 0;
    let tokens = 0;
    await completion.generateCompletionWithMeta(prompt, {
      maxTokens: TOKENS,
      ...(sampled
        ? // What the engine asks for top_k 0 (llama.ts): no top-k sampler at all.
          {
            temperature: 0.8,
            topK: null as unknown as number,
            topP: 1,
            minP: 0,
            seed: sampled.seed,
          }
        : { temperature: 0 }),
      repeatPenalty: false,
      disableContextShift: true,
      contextShiftSize: 0,
      onToken: (t) => {
        last = performance.now();
        if (!first) first = last;
        tokens += t.length;
      },
      // Streamed text, as the engine streams it (detokenized token by token).
      onTextChunk: () => undefined,
    });
    const end = performance.now();
    completion.dispose({ disposeSequence: false });
    free.push(seq);
    return {
      ttftMs: first - t0,
      decodeTokS: ((tokens - 1) / (last - first)) * 1000,
      totalMs: end - t0,
      tokens,
    };
  };
  return {
    threads,
    one,
    async concurrent(n: number): Promise<number> {
      const t0 = performance.now();
      const runs = await Promise.all(PROMPTS.slice(0, n).map((p) => one(p)));
      return (runs.reduce((s, r) => s + r.tokens, 0) / (performance.now() - t0)) * 1000;
    },
    async dispose() {
      await context.dispose();
      await model.dispose();
    },
  };
}

/** The same job through the engine process, timed from here (what a caller sees). */
async function viaEngine(
  engine: EngineSupervisor,
  ref: { file: string; sha256: string },
  prompt: string,
) {
  const t0 = performance.now();
  let first = 0;
  let firstTokens = 0;
  const r = await engine.complete(
    { model: ref, prompt, max_tokens: TOKENS, temperature: 0 },
    {
      onEvent: (e) => {
        if (e.type === 'llm.chunk' && !first) {
          first = performance.now();
          firstTokens = e.tokens;
        }
      },
    },
  );
  const end = performance.now();
  const tokens = r.usage.completion_tokens;
  return {
    run: {
      ttftMs: first - t0,
      // Tokens after the first chunk over the time after it: what the caller receives.
      decodeTokS: ((tokens - firstTokens) / (end - first)) * 1000,
      totalMs: end - t0,
      tokens,
    } satisfies Run,
    engineDecodeTokS: r.timings.decode_tokens_per_s ?? 0,
    threads: r.threads,
    backend: r.backend,
  };
}

function summarize(runs: Run[]) {
  return {
    ttft_ms: r3(median(runs.map((r) => r.ttftMs))),
    decode_tokens_per_s: r1(median(runs.map((r) => r.decodeTokS))),
    total_ms: r1(median(runs.map((r) => r.totalMs))),
    /** The least disturbed run (other work on the machine only ever slows a run down). */
    best_total_ms: r1(Math.min(...runs.map((r) => r.totalMs))),
    best_decode_tokens_per_s: r1(Math.max(...runs.map((r) => r.decodeTokS))),
    tokens: median(runs.map((r) => r.tokens)),
  };
}

async function benchLlm(engine: EngineSupervisor, llama: Llama, key: 'stories' | 'tiny') {
  const ref = MODELS[key];
  // The engine loads the model first and says which threads it chose: the direct side uses them.
  const warm = await viaEngine(engine, ref, PROMPTS[0]!);
  const d = await direct(llama, join(FIXTURES, ref.file), warm.threads);
  await d.one(PROMPTS[0]!); // warm-up
  const directRuns: Run[] = [];
  const engineRuns: Run[] = [];
  const engineInternal: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    directRuns.push(await d.one(PROMPTS[0]!));
    const e = await viaEngine(engine, ref, PROMPTS[0]!);
    engineRuns.push(e.run);
    engineInternal.push(e.engineDecodeTokS);
  }
  // Sampled jobs (temperature 0.8, the whole vocabulary: the protocol's default top_k 0), the
  // market's usual kind: whole-job rate, pairs in alternating order.
  const sampledDirect: number[] = [];
  const sampledEngine: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const sides = i % 2 === 0 ? (['direct', 'engine'] as const) : (['engine', 'direct'] as const);
    for (const side of sides) {
      if (side === 'direct') {
        const r = await d.one(PROMPTS[0]!, { seed: i + 1 });
        sampledDirect.push((r.tokens / r.totalMs) * 1000);
      } else {
        const t0 = performance.now();
        const r = await engine.complete({
          model: ref,
          prompt: PROMPTS[0]!,
          max_tokens: TOKENS,
          temperature: 0.8,
          seed: i + 1,
        });
        sampledEngine.push((r.usage.completion_tokens / (performance.now() - t0)) * 1000);
      }
    }
  }
  const engineConcurrent = async (n: number) => {
    const t0 = performance.now();
    const rs = await Promise.all(
      PROMPTS.slice(0, n).map((p) =>
        engine.complete({ model: ref, prompt: p, max_tokens: TOKENS, temperature: 0 }),
      ),
    );
    return (
      (rs.reduce((s, r) => s + r.usage.completion_tokens, 0) / (performance.now() - t0)) * 1000
    );
  };
  const concurrency: Record<string, unknown> = {};
  for (const n of [1, 2, 4]) {
    const directAgg: number[] = [];
    const engineAgg: number[] = [];
    let directCpu = 0;
    let engineCpu = 0;
    let directTokens = 0;
    let engineTokens = 0;
    const rounds = Math.max(5, RUNS);
    for (let i = 0; i < rounds; i++) {
      // Alternate who goes first, so a slow phase of the machine does not always hit one side.
      const sides = i % 2 === 0 ? (['direct', 'engine'] as const) : (['engine', 'direct'] as const);
      for (const side of sides) {
        const c0 = cpuMs(side === 'engine' ? engine.pid : undefined);
        const t0 = performance.now();
        const rate = side === 'direct' ? await d.concurrent(n) : await engineConcurrent(n);
        const tokens = (rate * (performance.now() - t0)) / 1000;
        const cpu = cpuMs(side === 'engine' ? engine.pid : undefined) - c0;
        if (side === 'direct') {
          directAgg.push(rate);
          directCpu += cpu;
          directTokens += tokens;
        } else {
          engineAgg.push(rate);
          engineCpu += cpu;
          engineTokens += tokens;
        }
      }
    }
    concurrency[String(n)] = {
      direct_tokens_per_s: r1(median(directAgg)),
      engine_tokens_per_s: r1(median(engineAgg)),
      /** Median of the rounds' engine/direct ratios (goal >= 0.95). */
      ratio: r3(median(engineAgg.map((e, i) => e / directAgg[i]!))),
      ratio_of_medians: r3(median(engineAgg) / median(directAgg)),
      ratio_best: r3(Math.max(...engineAgg) / Math.max(...directAgg)),
      cpu_ms_per_1k_tokens: {
        direct: r1((directCpu / directTokens) * 1000),
        engine: r1((engineCpu / engineTokens) * 1000),
        /** Direct CPU per token / engine's (this process and the engine process together). */
        ratio: r3(directCpu / directTokens / (engineCpu / engineTokens)),
      },
      rounds,
    };
  }
  await d.dispose();
  const ds = summarize(directRuns);
  const es = summarize(engineRuns);
  return {
    model: ref.file,
    backend: warm.backend,
    threads: { engine: warm.threads, direct: d.threads },
    completion_tokens: TOKENS,
    direct: ds,
    engine: { ...es, engine_internal_decode_tokens_per_s: r1(median(engineInternal)) },
    ratios: {
      decode_tokens_per_s: r3(es.decode_tokens_per_s / ds.decode_tokens_per_s),
      /** Whole 256-token job, direct time / engine time, median of adjacent pairs. */
      job_throughput: r3(median(directRuns.map((d, i) => d.totalMs / engineRuns[i]!.totalMs))),
      /** The same from the best run of each side. */
      job_throughput_best: r3(ds.best_total_ms / es.best_total_ms),
      ttft_overhead_ms: r3(es.ttft_ms - ds.ttft_ms),
    },
    sampled_temperature_0_8: {
      direct_tokens_per_s: r1(median(sampledDirect)),
      engine_tokens_per_s: r1(median(sampledEngine)),
      ratio: r3(median(sampledEngine.map((e, i) => e / sampledDirect[i]!))),
    },
    aggregate_by_concurrency: concurrency as Record<'1' | '2' | '4', { ratio: number }>,
  };
}

async function benchOnnx(engine: EngineSupervisor) {
  const ort = await import('onnxruntime-node');
  const img = gunzipSync(readFileSync(join(FIXTURES, 't10k-images-idx3-ubyte.gz')));
  const images = Array.from({ length: 10_000 }, (_, i) =>
    Float32Array.from(img.subarray(16 + i * 784, 16 + (i + 1) * 784)),
  );
  // The threads the engine chose for the model (same session options on both sides).
  const loaded = await engine.request('models.load', { kind: 'onnx', model: MODELS.mnist });
  const threads = loaded.onnx?.threads ?? 1;
  const session = await ort.InferenceSession.create(join(FIXTURES, MODELS.mnist.file), {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
  });
  const directPass = async (): Promise<number> => {
    const t0 = performance.now();
    for (const data of images)
      await session.run({ Input3: new ort.Tensor('float32', data, [1, 1, 28, 28]) });
    return (images.length / (performance.now() - t0)) * 1000;
  };
  const enginePass = async (json: boolean): Promise<number> => {
    const t0 = performance.now();
    await Promise.all(
      images.map((data) =>
        engine.infer(MODELS.mnist, {
          inputs: [
            {
              name: 'Input3',
              shape: [1, 1, 28, 28],
              datatype: 'FP32',
              data: json ? Array.from(data) : data,
            },
          ],
        }),
      ),
    );
    return (images.length / (performance.now() - t0)) * 1000;
  };
  await directPass();
  await enginePass(false);
  const d: number[] = [];
  const e: number[] = [];
  const j: number[] = [];
  let directCpu = 0;
  let engineCpu = 0;
  const rounds = Math.max(5, RUNS);
  for (let i = 0; i < rounds; i++) {
    // Alternating order, as for the LLMs.
    const sides = i % 2 === 0 ? (['direct', 'engine'] as const) : (['engine', 'direct'] as const);
    for (const side of sides) {
      const c0 = cpuMs(side === 'engine' ? engine.pid : undefined);
      if (side === 'direct') d.push(await directPass());
      else e.push(await enginePass(false));
      const cpu = cpuMs(side === 'engine' ? engine.pid : undefined) - c0;
      if (side === 'direct') directCpu += cpu;
      else engineCpu += cpu;
    }
  }
  // After the pairs (see the header); each against the direct pass of the same round.
  for (let i = 0; i < rounds; i++) j.push(await enginePass(true));
  await session.release();
  return {
    model: MODELS.mnist.file,
    images: images.length,
    threads,
    direct_images_per_s: Math.round(median(d)),
    engine_images_per_s: Math.round(median(e)),
    engine_json_numbers_images_per_s: Math.round(median(j)),
    /** Median of adjacent (direct, engine) pairs. */
    ratio: r3(median(e.map((x, i) => x / d[i]!))),
    ratio_best: r3(Math.max(...e) / Math.max(...d)),
    ratio_json_numbers: r3(median(j.map((x, i) => x / d[i]!))),
    cpu_ms_per_1k_images: {
      direct: r1((directCpu / (rounds * images.length)) * 1000),
      engine: r1((engineCpu / (rounds * images.length)) * 1000),
      ratio: r3(directCpu / engineCpu),
    },
    rounds,
  };
}

/** Cancel and crash handling, timed from here: what the node sees. */
async function benchSupervision(entry: string, modelsDir: string) {
  const engine = new EngineSupervisor({
    entry,
    log: memoryLogger(),
    config: { modelsDir, llm: { contextSize: CONTEXT, parallelism: PARALLELISM } },
    // The default first delay, kept flat so every round is like a first crash.
    backoff: { initialMs: 500, factor: 1 },
  });
  const long = {
    model: MODELS.stories,
    prompt: 'Once upon a time',
    max_tokens: 4000,
    temperature: 0.8,
  };
  try {
    await engine.complete({ ...long, max_tokens: 4 });
    const cancelMs: number[] = [];
    for (let i = 0; i < 10; i++) {
      const controller = new AbortController();
      let chunks = 0;
      const job = engine.complete(
        { ...long, seed: i },
        {
          signal: controller.signal,
          onEvent: (e) => void (e.type === 'llm.chunk' && chunks++),
        },
      );
      while (chunks < 2) await new Promise((r) => setTimeout(r, 2));
      const t = performance.now();
      controller.abort();
      await job;
      cancelMs.push(performance.now() - t);
    }
    const failMs: number[] = [];
    const backMs: number[] = [];
    for (let i = 0; i < 5; i++) {
      let chunks = 0;
      const job = engine.complete(
        { ...long, seed: i },
        { onEvent: (e) => void (e.type === 'llm.chunk' && chunks++) },
      );
      while (chunks < 2) await new Promise((r) => setTimeout(r, 2));
      const t = performance.now();
      process.kill(engine.pid!, 'SIGKILL');
      await job.catch(() => undefined);
      failMs.push(performance.now() - t);
      await engine.complete({ ...long, max_tokens: 1 });
      backMs.push(performance.now() - t);
    }
    return {
      cancel_to_result_ms: { median: r1(median(cancelMs)), max: r1(Math.max(...cancelMs)) },
      sigkill_to_engine_crashed_ms: { median: r1(median(failMs)), max: r1(Math.max(...failMs)) },
      sigkill_to_next_token_ms: {
        median: Math.round(median(backMs)),
        note: 'includes the 500 ms first restart delay, a new process, loading llama.cpp and the model',
      },
    };
  } finally {
    await engine.close();
  }
}

async function main(): Promise<void> {
  const { engine: entry } = await bundles();
  const folder = await modelsFolder(['stories', 'tiny', 'mnist']);
  const engine = new EngineSupervisor({
    entry,
    log: memoryLogger(),
    config: { modelsDir: folder.dir, llm: { contextSize: CONTEXT, parallelism: PARALLELISM } },
  });
  const lib = await import('node-llama-cpp');
  const llama = await lib.getLlama({
    gpu: 'auto',
    build: 'never',
    skipDownload: true,
    progressLogs: false,
    logLevel: lib.LlamaLogLevel.error,
    maxThreads: 0,
  });
  const loadBefore = os.loadavg().map((x) => r1(x));
  try {
    await engine.start();
    const stories = await benchLlm(engine, llama, 'stories');
    const tiny = await benchLlm(engine, llama, 'tiny');
    const onnx = await benchOnnx(engine);
    const supervision = await benchSupervision(entry, folder.dir);
    const out = {
      benchmark: 'engine',
      machine: {
        ...machine(),
        llamaCpuMathCores: llama.cpuMathCores,
        llamaBackend: llama.gpu || 'cpu',
      },
      settings: {
        runs: RUNS,
        completion_tokens: TOKENS,
        temperature: 0,
        context_size: CONTEXT,
        parallelism: PARALLELISM,
        stream: 'chunks flushed every 30 ms or 32 tokens (first token at once)',
      },
      llm: { stories260K: stories, 'llama-2-tiny-random': tiny },
      onnx,
      supervision,
      goals: {
        llm_aggregate_ratio_min: 0.95,
        onnx_ratio_min: 0.9,
        met: {
          stories260K: (['1', '2', '4'] as const).every(
            (n) => stories.aggregate_by_concurrency[n].ratio >= 0.95,
          ),
          'llama-2-tiny-random': (['1', '2', '4'] as const).every(
            (n) => tiny.aggregate_by_concurrency[n].ratio >= 0.95,
          ),
          onnx: onnx.ratio >= 0.9,
        },
        /** 1, 5 and 15 minute load averages before and after: other work disturbs the figures. */
        load_average: { before: loadBefore, after: os.loadavg().map((x) => r1(x)) },
      },
    };
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  } finally {
    await engine.close();
    await llama.dispose();
    await folder.cleanup();
  }
}

await main();
