// `npm run bench -- market`: the market path's speed and the gateway's capacity.
//
// End to end: stories260K 256-token greedy streams, openai client -> gateway process -> provider
// process -> engine process, against the engine alone (supervisor in this process) and against
// node-llama-cpp in this process with the engine's threads. Two providers, each behind its own
// gateway: the REAL provider node (bench/_market-node.ts: ProviderNode with its market client,
// job record and energy ledger; the goals are judged on it) and the lean test provider
// (test/helpers/gateway-provider.ts: the wire protocol and the engine, nothing else). Runs
// alternate between the four and a fifth side, the openai SDK's own time to first chunk against
// a local server that answers at once (sdk_floor_ms: part of every gateway figure and of none of
// the others); medians. Decode tokens/s is what the caller receives after its first chunk.
//
// Capacity: 1,000 simulated providers (stub engines answering at once) logged in to a gateway
// process, beside (a) a bare relay (node:http in, ws out to the same stubs: no auth, matching or
// ledger) and (b) Portkey's open-source gateway proxying to an OpenAI-shaped stub, all in the same
// run: jobs/s closed-loop, latency at a fixed 1,000 jobs/s (process.hrtime), and the gateway's
// memory per connected provider (its resident set before and after the providers log in).
// The capacity gateway does not check receipt signatures: the stubs do not sign (a signature
// costs ~5 ms of CPU here); the gateway recovers them off the request path (gateway/receipts.ts)
// and that cost is measured on its own (receipt_verify_ms).
//
// The load average before and after is printed with the figures, `foreign_cpu_cores` the CPU
// that processes outside this benchmark used meanwhile, and `disturbed` says whether that was
// more than a quarter of a core (other work shared the cores with the gateway, the stubs and the
// load, so rates are low and latencies high).
import { spawn, type ChildProcess } from 'node:child_process';
import { Agent, createServer as createHttpServer, request } from 'node:http';
import { createServer } from 'node:net';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import OpenAI from 'openai';
import { Wallet } from 'ethers';
import type { Llama } from 'node-llama-cpp';
import { FIXTURES, MODELS, startEngine } from '../test/helpers/engine';
import {
  createKey,
  startGatewayProc,
  startProvider,
  writePriceFile,
} from '../test/helpers/gateway';
import { receiptSigner } from '../gateway/receipts';
import { RECEIPT_TYPES, receiptDomain, receiptValue, type Receipt } from '../shared/receipt';
import { foreignCpu, machine } from './_machine';

const env = process.env;
const RUNS = Number(env.BENCH_MARKET_RUNS ?? 7);
const TOKENS = 256;
const PROVIDERS = Number(env.BENCH_MARKET_PROVIDERS ?? 1000);
const SECONDS = Number(env.BENCH_MARKET_SECONDS ?? 4);
const CONCURRENCY = Number(env.BENCH_MARKET_CONCURRENCY ?? 64);
const RATE = 1000;
const ROOT = resolve(import.meta.dirname, '..');
const STUBS = join(ROOT, 'bench/_market-stubs.ts');
const PORTKEY = join(ROOT, 'node_modules/@portkey-ai/gateway/build/start-server.js');

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};
const r1 = (x: number): number => Math.round(x * 10) / 10;
const r3 = (x: number): number => Math.round(x * 1000) / 1000;
const load = (): number[] => os.loadavg().map(r1);

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

async function endToEnd() {
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
    const warm = await viaEngine();
    await viaGateway();
    await viaGateway(client2, nodeModel);
    const direct = await directSide(warm.threads);
    await direct.one();
    const sdk = await sdkFloorSide();
    for (let i = 0; i < 3; i++) await sdk.one();
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

// ---------------------------------------------------------------------------------------------
// Capacity

interface Child {
  child: ChildProcess;
  info: Record<string, unknown>;
  stop(): Promise<void>;
}

function startChild(args: string[], timeoutMs = 300_000): Promise<Child> {
  const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', STUBS, ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (c) => (err += c));
  return new Promise((resolveP, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${args[0]} not ready: ${err.slice(-500)}`)),
      timeoutMs,
    );
    child.stdout!.on('data', (c) => {
      out += c;
      const m = /^READY (.*)$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolveP({
          child,
          info: JSON.parse(m[1]!) as Record<string, unknown>,
          stop: async () => {
            if (child.exitCode === null) child.kill('SIGTERM');
            await new Promise((r) => (child.exitCode === null ? child.once('exit', r) : r(null)));
          },
        });
      }
    });
    child.once('exit', (code) =>
      reject(new Error(`${args[0]} exited ${code}: ${err.slice(-500)}`)),
    );
  });
}

function freePort(): Promise<number> {
  return new Promise((r) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => r(port));
    });
  });
}

interface Target {
  name: string;
  url: string;
  headers: Record<string, string>;
}

const BODY = JSON.stringify({
  model: 'stub',
  messages: [{ role: 'user', content: 'hi' }],
  max_tokens: 1,
});

function post(agent: Agent, t: Target): Promise<{ ok: boolean; ns: bigint }> {
  const u = new URL(`${t.url}/v1/chat/completions`);
  return new Promise((done) => {
    const t0 = process.hrtime.bigint();
    const req = request(
      {
        agent,
        host: u.hostname,
        port: u.port,
        path: u.pathname,
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(BODY),
          ...t.headers,
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => done({ ok: res.statusCode === 200, ns: process.hrtime.bigint() - t0 }));
      },
    );
    req.on('error', () => done({ ok: false, ns: process.hrtime.bigint() - t0 }));
    req.end(BODY);
  });
}

async function closedLoop(
  t: Target,
): Promise<{ jobs_per_s: number; jobs: number; errors: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  for (let i = 0; i < 200; i++) await post(agent, t); // warm-up
  let ok = 0;
  let errors = 0;
  const until = performance.now() + SECONDS * 1000;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < until) {
        const r = await post(agent, t);
        if (r.ok) ok++;
        else errors++;
      }
    }),
  );
  agent.destroy();
  return { jobs_per_s: Math.round((ok / (performance.now() - t0)) * 1000), jobs: ok, errors };
}

async function fixedRate(
  t: Target,
  rate: number,
): Promise<{ p50_ms: number; p99_ms: number; achieved_per_s: number; errors: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  for (let i = 0; i < 200; i++) await post(agent, t);
  const lat: number[] = [];
  let errors = 0;
  const n = rate * SECONDS;
  const pending: Promise<void>[] = [];
  const start = process.hrtime.bigint();
  // Every millisecond, the requests that are due (a timer, not a busy loop: spinning until each
  // one's due time took a whole core of the two, and the gateway, the stubs and the ledger
  // thread then queued for the other one, so p99 measured the scheduler more than the gateway).
  // Each latency is timed from its own send, so sending two in one tick changes no figure.
  let i = 0;
  await new Promise<void>((done) => {
    const tick = (): void => {
      const now = process.hrtime.bigint();
      while (i < n && start + BigInt(Math.round((i * 1e9) / rate)) <= now) {
        i++;
        pending.push(
          post(agent, t).then((r) => {
            if (r.ok) lat.push(Number(r.ns) / 1e6);
            else errors++;
          }),
        );
      }
      if (i < n) setTimeout(tick, 1);
      else done();
    };
    tick();
  });
  await Promise.all(pending);
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  agent.destroy();
  return {
    p50_ms: r3(pct(lat, 50)),
    p99_ms: r3(pct(lat, 99)),
    achieved_per_s: Math.round(lat.length / secs),
    errors,
  };
}

/** A child's memory after a full garbage collection (bench/_market-stubs.ts answers "mem"). */
function memOf(c: Child): Promise<NodeJS.MemoryUsage> {
  return new Promise((r) => {
    c.child.once('message', (m) => r(m as NodeJS.MemoryUsage));
    c.child.send('mem');
  });
}

/** CPU milliseconds a process used so far (Linux /proc; clock ticks of 10 ms). */
function cpuMsOf(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}

async function capacity() {
  const dir = await mkdtemp(join(os.tmpdir(), 'idlerig-bench-cap-'));
  const children: Child[] = [];
  let portkey: ChildProcess | null = null;
  try {
    // The Idlerig gateway and its providers.
    const gw = await startChild(['gateway', dir]);
    children.push(gw);
    const gwUrl = String(gw.info.url);
    await new Promise((r) => setTimeout(r, 1000));
    const mem0 = await memOf(gw);
    const t0 = performance.now();
    children.push(await startChild(['stubs', gwUrl, 'gateway', String(PROVIDERS)]));
    const loginS = (performance.now() - t0) / 1000;
    await new Promise((r) => setTimeout(r, 1000));
    const mem1 = await memOf(gw);
    const idlerig: Target = {
      name: 'idlerig',
      url: gwUrl,
      headers: { authorization: `Bearer ${String(gw.info.key)}` },
    };
    // The bare relay and its own 1,000 stubs.
    const relay = await startChild(['relay']);
    children.push(relay);
    const relayUrl = String(relay.info.url);
    const relayMem0 = await memOf(relay);
    children.push(await startChild(['stubs', relayUrl, 'relay', String(PROVIDERS)]));
    await new Promise((r) => setTimeout(r, 500));
    const relayMem1 = await memOf(relay);
    const bare: Target = { name: 'relay', url: relayUrl, headers: {} };
    // Portkey, proxying to an OpenAI-shaped stub.
    const up = await startChild(['upstream']);
    children.push(up);
    const pkPort = await freePort();
    const pkProc = spawn(process.execPath, [PORTKEY, `--port=${pkPort}`, '--headless'], {
      cwd: ROOT,
      stdio: 'ignore',
    });
    portkey = pkProc;
    const pk: Target = {
      name: 'portkey',
      url: `http://127.0.0.1:${pkPort}`,
      headers: {
        'x-portkey-provider': 'openai',
        'x-portkey-custom-host': `${String(up.info.url)}/v1`,
        authorization: 'Bearer sk-stub',
      },
    };
    for (let i = 0; i < 100; i++) {
      const ok = await post(new Agent(), pk).then((r) => r.ok);
      if (ok) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const direct: Target = { name: 'upstream', url: String(up.info.url), headers: {} };
    const throughput: Record<string, { jobs_per_s: number; rounds: number[]; errors: number }> = {};
    const latency: Record<string, Awaited<ReturnType<typeof fixedRate>>> = {};
    const low: Record<string, Awaited<ReturnType<typeof fixedRate>>> = {};
    const pids: Record<string, number> = {
      idlerig: gw.child.pid!,
      relay: relay.child.pid!,
      portkey: pkProc.pid!,
    };
    const cpu: Record<string, { ms: number; jobs: number }> = {
      idlerig: { ms: 0, jobs: 0 },
      relay: { ms: 0, jobs: 0 },
      portkey: { ms: 0, jobs: 0 },
    };
    // Alternating order over two rounds: the machine's other load hits all alike.
    const targets = [idlerig, bare, pk];
    const tput: Record<string, number[]> = { idlerig: [], relay: [], portkey: [] };
    const errs: Record<string, number> = { idlerig: 0, relay: 0, portkey: 0 };
    for (let round = 0; round < 2; round++) {
      for (let k = 0; k < targets.length; k++) {
        const t = targets[(round + k) % targets.length]!;
        const c0 = cpuMsOf(pids[t.name]!);
        const r = await closedLoop(t);
        cpu[t.name]!.ms += cpuMsOf(pids[t.name]!) - c0;
        cpu[t.name]!.jobs += r.jobs;
        tput[t.name]!.push(r.jobs_per_s);
        errs[t.name]! += r.errors;
      }
    }
    for (const t of targets)
      throughput[t.name] = {
        jobs_per_s: Math.max(...tput[t.name]!),
        rounds: tput[t.name]!,
        errors: errs[t.name]!,
      };
    for (const t of [direct, bare, idlerig, pk]) low[t.name] = await fixedRate(t, 100);
    for (const t of [direct, bare, idlerig, pk]) latency[t.name] = await fixedRate(t, RATE);
    const idl = Math.max(...tput.idlerig!);
    const rel = Math.max(...tput.relay!);
    return {
      providers: PROVIDERS,
      closed_loop: {
        concurrency: CONCURRENCY,
        seconds: SECONDS,
        idlerig: throughput.idlerig!,
        relay: throughput.relay!,
        portkey: throughput.portkey!,
      },
      /** CPU of the gateway process alone per 1,000 jobs (less disturbed than rates). */
      cpu_ms_per_1k_jobs: Object.fromEntries(
        Object.entries(cpu).map(([k, v]) => [k, r1((v.ms / Math.max(1, v.jobs)) * 1000)]),
      ),
      at_100_jobs_per_s: low,
      idlerig_added_latency_vs_relay_at_100_ms: {
        p50: r3(low.idlerig!.p50_ms - low.relay!.p50_ms),
        p99: r3(low.idlerig!.p99_ms - low.relay!.p99_ms),
      },
      at_1000_jobs_per_s: latency,
      idlerig_added_latency_vs_relay_ms: {
        p50: r3(latency.idlerig!.p50_ms - latency.relay!.p50_ms),
        p99: r3(latency.idlerig!.p99_ms - latency.relay!.p99_ms),
      },
      idlerig_added_latency_vs_upstream_direct_ms: {
        p50: r3(latency.idlerig!.p50_ms - latency.upstream!.p50_ms),
        p99: r3(latency.idlerig!.p99_ms - latency.upstream!.p99_ms),
      },
      ratio_vs_relay: r3(idl / rel),
      ratio_vs_portkey: r3(idl / Math.max(...tput.portkey!)),
      memory: {
        /** After a full GC: resident set, and heap + buffers, before and with the providers. */
        gateway_rss_before_mb: r1(mem0.rss / 2 ** 20),
        gateway_rss_with_providers_mb: r1(mem1.rss / 2 ** 20),
        gateway_kb_per_provider: r1((mem1.rss - mem0.rss) / PROVIDERS / 1024),
        gateway_heap_kb_per_provider: r1(
          (mem1.heapUsed + mem1.external - mem0.heapUsed - mem0.external) / PROVIDERS / 1024,
        ),
        relay_kb_per_connection: r1((relayMem1.rss - relayMem0.rss) / PROVIDERS / 1024),
        relay_heap_kb_per_connection: r1(
          (relayMem1.heapUsed + relayMem1.external - relayMem0.heapUsed - relayMem0.external) /
            PROVIDERS /
            1024,
        ),
      },
      provider_logins_s: r1(loginS),
    };
  } finally {
    portkey?.kill('SIGTERM');
    for (const c of children.reverse()) await c.stop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

async function receiptCost(): Promise<number> {
  const w = Wallet.createRandom();
  const r: Receipt = {
    jobId: 'j',
    modelSha256: 'a'.repeat(64),
    inputSha256: 'b'.repeat(64),
    outputSha256: 'c'.repeat(64),
    tokensIn: 7,
    tokensOut: 256,
    price: '775',
    gateway: 'http://127.0.0.1:1',
  };
  const signed = {
    ...r,
    signature: await w.signTypedData(receiptDomain(31337), RECEIPT_TYPES as never, receiptValue(r)),
  };
  const t0 = performance.now();
  for (let i = 0; i < 50; i++) receiptSigner(signed, 31337);
  return r3((performance.now() - t0) / 50);
}

const loadBefore = load();
const meter = foreignCpu();
const only = env.BENCH_MARKET_ONLY;
const e2e = only === 'capacity' ? null : await endToEnd();
const cap = only === 'e2e' ? null : await capacity();
const verify = await receiptCost();
const loadAfter = load();
const foreign = meter.stop();
const result = {
  benchmark: 'market',
  machine: machine(),
  load_average: { before: loadBefore, after: loadAfter },
  // CPU other processes used during the run, in cores: disturbed past a quarter of a core. (The
  // load average also counts this benchmark's own processes; it is the rule only off Linux.)
  foreign_cpu_cores: foreign?.cores ?? null,
  disturbed: foreign
    ? foreign.cores > 0.25
    : Math.max(loadBefore[0]!, loadAfter[0]!) > os.cpus().length / 2,
  end_to_end: e2e,
  capacity: cap,
  receipt_verify_ms: verify,
  goals: {
    decode_vs_direct_ge_0_9: e2e ? e2e.ratios.gateway_vs_direct_decode >= 0.9 : null,
    ttft_added_le_3ms: e2e ? e2e.ratios.gateway_ttft_added_vs_direct_ms <= 3 : null,
    jobs_per_s_ge_5000: cap ? (cap.closed_loop.idlerig?.jobs_per_s ?? 0) >= 5000 : null,
    ge_half_of_relay: cap ? cap.ratio_vs_relay >= 0.5 : null,
    added_p50_lt_0_5ms: cap ? cap.idlerig_added_latency_vs_relay_ms.p50 < 0.5 : null,
    added_p99_lt_2ms: cap ? cap.idlerig_added_latency_vs_relay_ms.p99 < 2 : null,
    memory_per_provider_lt_50kb: cap ? cap.memory.gateway_kb_per_provider < 50 : null,
  },
};
console.log(JSON.stringify(result, null, 2));
process.exit(0);
