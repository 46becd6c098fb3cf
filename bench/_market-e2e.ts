// The end-to-end half of `npm run bench -- market` (bench/market.ts): stories260K 256-token
// greedy streams through the openai client, a gateway process and a provider process to an
// engine process, beside the engine alone, node-llama-cpp in this process and the SDK's floor.
import { spawn } from 'node:child_process';
import { createServer as createHttpServer } from 'node:http';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join, resolve } from 'node:path';
import OpenAI from 'openai';
import type { Llama } from 'node-llama-cpp';
import { FIXTURES, MODELS, startEngine } from '../test/helpers/engine';
import {
  createKey,
  startGatewayProc,
  startProvider,
  writePriceFile,
} from '../test/helpers/gateway';
import { median, r1, r3 } from './_stats';

const env = process.env;
const RUNS = Number(env.BENCH_MARKET_RUNS ?? 7);
const WARMUP = Math.max(1, Number(env.BENCH_MARKET_WARMUP ?? 10));
const TOKENS = 256;
const ROOT = resolve(import.meta.dirname, '..');

interface Run {
  ttftMs: number;
  decodeTokS: number;
  tokens: number;
}

// ---------------------------------------------------------------------------------------------
// End to end

async function directSide(threads: number) {
  const lib = await import('node-llama-cpp');
  const llama: Llama = await lib.getLlama({
    gpu: 'auto',
    build: 'never',
    skipDownload: true,
    progressLogs: false,
  });
  const model = await llama.loadModel({
    modelPath: join(FIXTURES, MODELS.stories.file),
    gpuLayers: 'auto',
  });
  const context = await model.createContext({
    contextSize: Math.min(4096, model.trainContextSize),
    sequences: 1,
    threads,
  });
  const seq = context.getSequence();
  return {
    async one(): Promise<Run> {
      const completion = new lib.LlamaCompletion({ contextSequence: seq });
      const t0 = performance.now();
      let first = 0;
      let last = 0;
      let tokens = 0;
      await completion.generateCompletionWithMeta('Once upon a time', {
        maxTokens: TOKENS,
        temperature: 0,
        repeatPenalty: false,
        onToken: (t) => {
          last = performance.now();
          if (!first) first = last;
          tokens += t.length;
        },
      });
      completion.dispose({ disposeSequence: false });
      seq.clearHistory();
      return { ttftMs: first - t0, decodeTokS: ((tokens - 1) / (last - first)) * 1000, tokens };
    },
    async dispose() {
      await context.dispose();
      await model.dispose();
      await llama.dispose();
    },
  };
}

/**
 * The openai SDK's own time to its first chunk: a local server that answers every request at
 * once with one chunk and keeps the stream open a few ms before it ends, as a real stream does
 * (a stream that ends in the same packet as its first chunk reaches the SDK's iterator sooner).
 * It is a side of the same rotation as the others, so it is measured as cold as they are.
 */
async function sdkFloorSide() {
  const chunk = JSON.stringify({
    id: 'cmpl-floor',
    object: 'text_completion',
    created: 0,
    model: 'floor',
    choices: [{ text: 'Once', index: 0, logprobs: null, finish_reason: null }],
  });
  const server = createHttpServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`data: ${chunk}\n\n`);
      setTimeout(() => res.end('data: [DONE]\n\n'), 5);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as { port: number };
  const client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: 'k', maxRetries: 0 });
  return {
    async one(): Promise<Run> {
      const t0 = performance.now();
      let first = 0;
      const stream = await client.completions.create({
        model: 'floor',
        prompt: 'Once upon a time',
        max_tokens: TOKENS,
        stream: true,
        stream_options: { include_usage: true },
      });
      for await (const c of stream) if (!first && c.choices[0]?.text) first = performance.now();
      return { ttftMs: first - t0, decodeTokS: NaN, tokens: 0 };
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** The real provider node, in its own process, behind `gatewayUrl`. */
async function startNodeProvider(gatewayUrl: string, dataDir: string, threads: number) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'bench/_market-node.ts'), gatewayUrl, dataDir, String(threads)],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...env, IDLERIG_LOG_LEVEL: 'warn' } },
  );
  let out = '';
  let err = '';
  child.stderr!.on('data', (c) => (err += c));
  await new Promise<void>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`node provider not ready: ${err}`)), 180_000);
    child.stdout!.on('data', (c) => {
      out += c;
      if (/^READY /m.test(out)) {
        clearTimeout(timer);
        ok();
      }
    });
    child.once('exit', (code) => fail(new Error(`node provider exited ${code}: ${err}`)));
  });
  return {
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

export async function endToEnd() {
  const dir = await mkdtemp(join(os.tmpdir(), 'idlerig-bench-market-'));
  const gw = await startGatewayProc(dir, ['--price-file', await writePriceFile(dir)]);
  const provider = await startProvider(gw.url);
  const key = await createKey(dir, ['--credit', String(10n ** 24n)]);
  const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: key, maxRetries: 0 });
  const alone = await startEngine({ models: ['stories'] });
  // The real node's floor follows its electricity price (an 18-decimal token): a higher ceiling.
  const nodeDir = join(dir, 'node-side');
  await mkdir(nodeDir);
  const nodePrices = join(nodeDir, 'prices.json');
  await writeFile(
    nodePrices,
    JSON.stringify({ default: { llm: { per: 'mtok', input: '0', output: String(10n ** 19n) } } }),
  );
  const gw2 = await startGatewayProc(join(nodeDir, 'gw'), ['--price-file', nodePrices]);
  const threads0 = (
    await alone.engine.complete({
      model: MODELS.stories,
      prompt: 'Once',
      max_tokens: 2,
      temperature: 0,
    })
  ).threads;
  const node = await startNodeProvider(gw2.url, join(nodeDir, 'data'), threads0);
  const key2 = await createKey(join(nodeDir, 'gw'), ['--credit', String(10n ** 24n)]);
  const client2 = new OpenAI({ baseURL: `${gw2.url}/v1`, apiKey: key2, maxRetries: 0 });
  const nodeModel = (await client2.models.list()).data.find(
    (m) => (m as unknown as { sha256?: string }).sha256 === MODELS.stories.sha256,
  )?.id;
  if (!nodeModel) throw new Error('the node does not serve stories260K through its gateway');
  try {
    const viaGateway = async (c = client, model = 'stories260K'): Promise<Run> => {
      const t0 = performance.now();
      let first = 0;
      const stream = await c.completions.create({
        model,
        prompt: 'Once upon a time',
        max_tokens: TOKENS,
        temperature: 0,
        stream: true,
        stream_options: { include_usage: true },
      });
      let tokens = 0;
      let textSoFar = '';
      for await (const c of stream) {
        const t = c.choices[0]?.text ?? '';
        if (t && !first) {
          first = performance.now();
          textSoFar = t;
        }
        if (c.usage) tokens = c.usage.completion_tokens;
      }
      const end = performance.now();
      // The first chunk's token count is not in the OpenAI chunk: the engine sends the first
      // token alone (shared/engine-protocol.ts stream), so it is one.
      const firstTokens = textSoFar ? 1 : 0;
      return {
        ttftMs: first - t0,
        decodeTokS: ((tokens - firstTokens) / (end - first)) * 1000,
        tokens,
      };
    };
    const viaEngine = async (): Promise<Run & { threads: number }> => {
      const t0 = performance.now();
      let first = 0;
      let firstTokens = 0;
      const r = await alone.engine.complete(
        { model: MODELS.stories, prompt: 'Once upon a time', max_tokens: TOKENS, temperature: 0 },
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
        ttftMs: first - t0,
        decodeTokS: ((tokens - firstTokens) / (end - first)) * 1000,
        tokens,
        threads: r.threads,
      };
    };
    // Each side serves WARMUP runs first: a gateway and a node serve job after job, and their
    // first few run in V8's interpreter before the JIT compiles the path (BENCH_MARKET_WARMUP=1
    // measures the cold case).
    const warm = await viaEngine();
    for (let i = 1; i < WARMUP; i++) await viaEngine();
    for (let i = 0; i < WARMUP; i++) {
      await viaGateway();
      await viaGateway(client2, nodeModel);
    }
    const direct = await directSide(warm.threads);
    for (let i = 0; i < WARMUP; i++) await direct.one();
    const sdk = await sdkFloorSide();
    for (let i = 0; i < Math.max(3, WARMUP); i++) await sdk.one();
    const runs = {
      direct: [] as Run[],
      engine: [] as Run[],
      gateway: [] as Run[],
      node: [] as Run[],
      sdk: [] as Run[],
    };
    const order = ['direct', 'engine', 'gateway', 'node', 'sdk'] as const;
    for (let i = 0; i < RUNS; i++) {
      for (let k = 0; k < order.length; k++) {
        const side = order[(i + k) % order.length]!;
        runs[side].push(
          side === 'direct'
            ? await direct.one()
            : side === 'engine'
              ? await viaEngine()
              : side === 'gateway'
                ? await viaGateway()
                : side === 'node'
                  ? await viaGateway(client2, nodeModel)
                  : await sdk.one(),
        );
      }
    }
    await direct.dispose();
    await sdk.close();
    const floor = r3(median(runs.sdk.map((r) => r.ttftMs)));
    const sum = (rs: Run[]) => ({
      ttft_ms: r3(median(rs.map((r) => r.ttftMs))),
      decode_tokens_per_s: r1(median(rs.map((r) => r.decodeTokS))),
      best_decode_tokens_per_s: r1(Math.max(...rs.map((r) => r.decodeTokS))),
      tokens: median(rs.map((r) => r.tokens)),
    });
    const d = sum(runs.direct);
    const e = sum(runs.engine);
    const g = sum(runs.gateway);
    const n = sum(runs.node);
    return {
      model: MODELS.stories.file,
      completion_tokens: TOKENS,
      runs: RUNS,
      warmup_runs: WARMUP,
      threads: warm.threads,
      node_llama_cpp_direct: d,
      engine_alone: e,
      /** openai -> gateway -> the real provider node -> its engine process. */
      openai_gateway_node_engine: n,
      /** openai -> gateway -> the lean test provider -> an engine process. */
      openai_gateway_test_provider_engine: g,
      sdk_floor_ms: floor,
      ratios: {
        gateway_vs_direct_decode: r3(n.decode_tokens_per_s / d.decode_tokens_per_s),
        gateway_vs_engine_decode: r3(n.decode_tokens_per_s / e.decode_tokens_per_s),
        gateway_vs_direct_decode_median_of_rounds: r3(
          median(runs.node.map((x, i) => x.decodeTokS / runs.direct[i]!.decodeTokS)),
        ),
        gateway_ttft_added_vs_direct_ms: r3(n.ttft_ms - d.ttft_ms),
        gateway_ttft_added_vs_engine_ms: r3(n.ttft_ms - e.ttft_ms),
        /** Of that, what is not the SDK's own (its floor against a server that answers at once). */
        gateway_ttft_added_vs_direct_less_sdk_floor_ms: r3(n.ttft_ms - d.ttft_ms - floor),
        /** What the gateway and the provider add: less the SDK's floor and the engine process's. */
        gateway_ttft_added_vs_engine_less_sdk_floor_ms: r3(n.ttft_ms - e.ttft_ms - floor),
        test_provider_vs_direct_decode: r3(g.decode_tokens_per_s / d.decode_tokens_per_s),
        test_provider_ttft_added_vs_direct_ms: r3(g.ttft_ms - d.ttft_ms),
      },
    };
  } finally {
    await alone.close();
    await node.stop();
    await gw2.stop();
    await provider.stop();
    await gw.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
