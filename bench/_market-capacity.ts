// The capacity half of `npm run bench -- market` (bench/market.ts): 1,000 simulated providers
// (stub engines answering at once) behind a gateway process, beside a bare relay and Portkey's
// gateway, in the same run; and the cost of checking one receipt's signature.
import { spawn, type ChildProcess } from 'node:child_process';
import { Agent, request } from 'node:http';
import { createServer } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { Wallet } from 'ethers';
import { receiptSigner } from '../gateway/receipts';
import { RECEIPT_TYPES, receiptDomain, receiptValue, type Receipt } from '../shared/receipt';
import { processCpuMs } from './_machine';
import { pct, r1, r3 } from './_stats';

const env = process.env;
const PROVIDERS = Number(env.BENCH_MARKET_PROVIDERS ?? 1000);
const SECONDS = Number(env.BENCH_MARKET_SECONDS ?? 4);
const CONCURRENCY = Number(env.BENCH_MARKET_CONCURRENCY ?? 64);
const RATE = 1000;
const ROOT = resolve(import.meta.dirname, '..');
const STUBS = join(ROOT, 'bench/_market-stubs.ts');
const PORTKEY = join(ROOT, 'node_modules/@portkey-ai/gateway/build/start-server.js');

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
const cpuMsOf = (pid: number): number => processCpuMs(pid) ?? 0;

export async function capacity() {
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

export async function receiptCost(): Promise<number> {
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
