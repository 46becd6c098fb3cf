// `npm run bench -- soak [--minutes N]`: a real headless node (bin/idlerig.js --headless, the
// built dist/) with stories260K and mnist-8 imported, driven on loopback for N minutes (default
// 10) by three bounded loops at once:
// - mixed API calls (20,000 per 10 minutes): status, settings get/update, logs.tail,
//   models.installed, gpus, telemetry, energy, policy, jobs queries, engine status/models; about
//   one in six with deliberately bad parameters (or an unknown method, or a body that is not
//   JSON), which must be refused with the expected typed error;
// - test jobs through engine.test (2,000 per 10 minutes): LLM and ONNX, some cancelled midway
//   with engine.testCancel, some refused (bursts of more jobs at once than the engine's queue
//   takes: QUEUE_FULL; invalid input; an unknown model; a testId already running);
// - 50 event WebSocket clients, 10 of which stop reading (their socket paused).
// The node's RSS is read from /proc/PID/status (VmRSS) every second. Counts scale with --minutes.
// Goal (issue 9): RSS under 150 MB and flat after warm-up (the first 20 % of the run): the slope
// of a least-squares line through the samples after warm-up under SLOPE_GOAL MB/min; no crash;
// no warn/error line in the node's logs that the test's own bad input does not explain.
// Prints one JSON document; exits non-zero only when the node crashed.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { machine } from './_machine';
import { classifyNodeLogs, robustSlopePerMinute, slopePerMinute } from './_soak-logs';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const MINUTES = Number(arg('--minutes') ?? process.env.SOAK_MINUTES ?? 10);
if (!(MINUTES > 0 && MINUTES <= 120)) {
  console.error('--minutes must be a number of minutes between 0 and 120');
  process.exit(2);
}
const DURATION_MS = MINUTES * 60_000;
const SCALE = MINUTES / 10;
const API_CALLS = Math.round(20_000 * SCALE);
const TEST_JOBS = Math.round(2_000 * SCALE);
const WS_CLIENTS = 50;
const WS_STALLED = 10;
const WARMUP = 0.2;
const RSS_GOAL_MB = 150;
/** MB/min: 1 MB/min would be 60 MB an hour, a leak a node left running for days cannot afford. */
const SLOPE_GOAL = 1;
const API_CONCURRENCY = 6;
const JOB_CONCURRENCY = 6;
/** More than the engine takes at once (4 running + 64 queued by default). */
const BURST = 90;
const BURSTS = Math.max(1, Math.round(5 * SCALE));

const REPO = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(REPO, 'bin/idlerig.js');
const FIXTURES = join(REPO, 'test/fixtures');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)]!;
const r1 = (x: number): number => Math.round(x * 10) / 10;
const r3 = (x: number): number => Math.round(x * 1000) / 1000;

// ----------------------------------------------------------------------------------- the node

const HEAP = process.env.SOAK_HEAP === '1';
const dataDir = await mkdtemp(join(tmpdir(), 'idlerig-soak-'));
const child = spawn(
  process.execPath,
  [CLI, '--headless', '--port', '0', '--data-dir', dataDir, '--quiet'],
  {
    stdio: ['ignore', 'pipe', 'pipe'],
    // SOAK_HEAP=1 (looking for a leak): SIGUSR2 writes a heap snapshot into the data folder,
    // taken at the end of warm-up and at the end of the run (the data folder is kept).
    ...(HEAP
      ? {
          cwd: dataDir,
          env: { ...process.env, NODE_OPTIONS: '--heapsnapshot-signal=SIGUSR2' },
        }
      : {}),
  },
);
let stdout = '';
let stderr = '';
child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
child.stderr.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-8000)));
let stopping = false;
let exit: { code: number | null; signal: NodeJS.Signals | null; duringRun: boolean } | null = null;
const exited = new Promise<void>((resolve) =>
  child.on('exit', (code, signal) => {
    exit = { code, signal, duringRun: !stopping };
    resolve();
  }),
);
const t0 = Date.now();
while (!/Dashboard: (\S+)/.test(stdout)) {
  if (exit || Date.now() - t0 > 30_000) {
    console.error(`The node did not start.\n${stderr}`);
    process.exit(1);
  }
  await sleep(50);
}
const dashboard = new URL(/Dashboard: (\S+)/.exec(stdout)![1]!);
const TOKEN = dashboard.searchParams.get('token')!;
const BASE = dashboard.origin;
const WS_URL = `ws://${dashboard.host}/api/events`;

interface Answer {
  status: number;
  code: string;
  result?: unknown;
}
/** One API call; `code` is 'ok', the error's code, or NETWORK / HTTP_<status>. */
async function rpc(method: string, params: unknown, rawBody?: string): Promise<Answer> {
  try {
    const res = await fetch(`${BASE}/api/rpc/${method}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: rawBody ?? JSON.stringify(params),
      signal: AbortSignal.timeout(120_000),
    });
    const body = (await res.json().catch(() => null)) as {
      result?: unknown;
      error?: { code?: string };
    } | null;
    if (body && 'result' in body) return { status: res.status, code: 'ok', result: body.result };
    return { status: res.status, code: body?.error?.code ?? `HTTP_${res.status}` };
  } catch (err) {
    return { status: 0, code: `NETWORK:${(err as Error).name}` };
  }
}

async function mustCall<T>(method: string, params: unknown): Promise<T> {
  const a = await rpc(method, params);
  if (a.code !== 'ok') throw new Error(`${method} failed during set-up: ${a.code}`);
  return a.result as T;
}
const llm = await mustCall<{ id: string }>('models.import', {
  path: join(FIXTURES, 'stories260K.gguf'),
});
const onnx = await mustCall<{ id: string }>('models.import', {
  path: join(FIXTURES, 'mnist-8.onnx'),
});
const startupMs = Date.now() - t0;

// ----------------------------------------------------------------------------- RSS sampling

async function rssMB(pid: number): Promise<number | null> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = /VmRSS:\s+(\d+)/.exec(status)?.[1];
    return kb ? Number(kb) / 1024 : null;
  } catch {
    return null;
  }
}
const runStart = Date.now();
const samples: { t: number; mb: number }[] = [];
const engineSamples: number[] = [];
let enginePid: number | null = null;
const sampler = setInterval(() => {
  const t = (Date.now() - runStart) / 60_000;
  void rssMB(child.pid!).then((mb) => mb !== null && samples.push({ t, mb }));
  if (enginePid !== null) void rssMB(enginePid).then((mb) => mb !== null && engineSamples.push(mb));
}, 1000);
if (HEAP) setTimeout(() => child.kill('SIGUSR2'), DURATION_MS * WARMUP).unref();
/** Nothing is sent after this, however far behind the loops are (a node that slows down). */
const hardStop = runStart + DURATION_MS * 1.5;

// ------------------------------------------------------------------------- tallies and pacing

const calls: Record<string, Record<string, number>> = {};
const unexpected: Record<string, number> = {};
function tally(kind: string, bad: boolean, code: string, expected: readonly string[]): void {
  const k = `${kind}${bad ? ' (bad)' : ''}`;
  const row = (calls[k] ??= {});
  row[code] = (row[code] ?? 0) + 1;
  if (!expected.includes(code)) {
    const u = `${k} -> ${code}`;
    unexpected[u] = (unexpected[u] ?? 0) + 1;
  }
}

/** Runs `n` tasks paced evenly over the run, at most `concurrency` at once; returns how many ran. */
async function paced(
  n: number,
  concurrency: number,
  task: (i: number) => Promise<void>,
): Promise<number> {
  let running = 0;
  let started = 0;
  const done = new Set<Promise<void>>();
  for (let i = 0; i < n; i++) {
    const due = runStart + (i * DURATION_MS) / n;
    if (Date.now() < due) await sleep(due - Date.now());
    while (running >= concurrency) await Promise.race(done);
    if (Date.now() > hardStop || exit) break;
    running++;
    started++;
    const p: Promise<void> = task(i)
      .catch(() => undefined)
      .finally(() => {
        running--;
        done.delete(p);
      });
    done.add(p);
  }
  await Promise.all(done);
  return started;
}

// ------------------------------------------------------------------------------ the API loop

const OK = ['ok'] as const;
const INVALID = ['INVALID_PARAMS'] as const;
let jobIds: string[] = [];
let nameN = 0;
type Call = { kind: string; bad: boolean; run: () => Promise<Answer>; expect: readonly string[] };
const good = (kind: string, method: string, params: unknown = {}): Call => ({
  kind,
  bad: false,
  run: () => rpc(method, params),
  expect: OK,
});
const bad = (
  kind: string,
  method: string,
  params: unknown,
  expect: readonly string[] = INVALID,
): Call => ({
  kind,
  bad: true,
  run: () => rpc(method, params),
  expect,
});
/** [weight, call] */
const MIX: [number, () => Call][] = [
  [14, () => good('status', 'status.get')],
  [2, () => ({ kind: 'status GET', bad: false, expect: OK, run: getStatus })],
  [9, () => good('settings.get', 'settings.get')],
  [5, () => good('settings.update', 'settings.update', settingsPatch())],
  [
    2,
    () =>
      bad(
        'settings.update',
        'settings.update',
        pick([{ node: { name: '' } }, { appearance: { theme: 'purple' } }, { nope: 1 }]),
      ),
  ],
  [7, () => good('logs.tail', 'logs.tail', { limit: pick([20, 200, 2000]), minLevel: 'info' })],
  [1, () => bad('logs.tail', 'logs.tail', { limit: pick([0, 5000, 'x']) })],
  [8, () => good('models.installed', 'models.installed')],
  [6, () => good('gpus', 'gpus.list', { refresh: Math.random() < 0.1 })],
  [7, () => good('telemetry', 'telemetry.recent', { seconds: pick([60, 600, 3600]) })],
  [1, () => bad('telemetry', 'telemetry.recent', { seconds: pick([0, 99999, -1]) })],
  [5, () => good('energy', 'energy.summary', { days: pick([0, 7, 30]) })],
  [1, () => bad('energy', 'energy.summary', { days: -1 })],
  [6, () => good('policy', 'policy.get')],
  [6, () => good('jobs.list', 'jobs.list', { limit: 50, test: true })],
  [1, () => bad('jobs.list', 'jobs.list', { limit: 0, sort: 'nonsense' })],
  [4, () => good('jobs.aggregates', 'jobs.aggregates', { bucket: pick(['day', 'hour']) })],
  [
    3,
    () =>
      jobIds.length
        ? good('jobs.get', 'jobs.get', { id: pick(jobIds) })
        : good('jobs.storage', 'jobs.storage'),
  ],
  [1, () => bad('jobs.get', 'jobs.get', { id: 'no-such-job' }, ['NOT_FOUND'])],
  [6, () => good('engine.status', 'engine.status')],
  [2, () => good('engine.models', 'engine.models')],
  [1, () => bad('unknown method', 'nothing.here', {}, ['UNKNOWN_METHOD', 'NOT_FOUND'])],
  [
    1,
    () => ({
      kind: 'body not JSON',
      bad: true,
      expect: ['INVALID_JSON', 'INVALID_PARAMS', 'BAD_REQUEST'],
      run: () => rpc('status.get', null, '{"unterminated'),
    }),
  ],
];
const WEIGHT = MIX.reduce((s, [w]) => s + w, 0);
function settingsPatch(): unknown {
  nameN++;
  return pick([
    { node: { name: `soak node ${nameN % 7}` } },
    { appearance: { theme: pick(['system', 'light', 'dark']) } },
    { ui: { closeToTrayNoticeShown: nameN % 2 === 0 } },
  ]);
}
async function getStatus(): Promise<Answer> {
  try {
    const res = await fetch(`${BASE}/api/status`, {
      headers: { authorization: `Bearer ${TOKEN}` },
      signal: AbortSignal.timeout(60_000),
    });
    await res.arrayBuffer();
    return { status: res.status, code: res.ok ? 'ok' : `HTTP_${res.status}` };
  } catch (err) {
    return { status: 0, code: `NETWORK:${(err as Error).name}` };
  }
}
function nextCall(): Call {
  let x = Math.random() * WEIGHT;
  for (const [w, make] of MIX) if ((x -= w) < 0) return make();
  return MIX[0]![1]();
}
const apiLoop = paced(API_CALLS, API_CONCURRENCY, async () => {
  const c = nextCall();
  const a = await c.run();
  tally(c.kind, c.bad, a.code, c.expect);
  if (c.kind === 'jobs.list' && a.code === 'ok') {
    const rows = (a.result as { rows: { id: string }[] }).rows;
    if (rows.length) jobIds = rows.slice(0, 20).map((r) => r.id);
  }
  if (c.kind === 'engine.status' && a.code === 'ok')
    enginePid = (a.result as { pid: number | null }).pid;
});

// ----------------------------------------------------------------------------- the job loop

const jobs = {
  sent: 0,
  done: 0,
  cancelled: 0,
  refused: {} as Record<string, number>,
  failed: {} as Record<string, number>,
  cancelTooLate: 0,
};
const refuse = (code: string): void => void (jobs.refused[code] = (jobs.refused[code] ?? 0) + 1);
let testN = 0;
const newTestId = (): string => `soak-${++testN}`;
const PROMPTS = ['Once upon a time', 'The little dog', 'Tom and Sue went', 'One day, a bird'];

/** One test job; its outcome counted. `expectRefusal` lists the codes a refusal may have. */
async function testJob(
  params: Record<string, unknown>,
  expectRefusal: readonly string[] = [],
): Promise<void> {
  jobs.sent++;
  // While a burst fills the engine's queue, any LLM job may be refused with QUEUE_FULL.
  const mayBeFull = bursting > 0 && params.modelId === llm.id;
  const a = await rpc('engine.test', params);
  // A job cancelled once running ends with its partial answer and finishReason 'cancelled'.
  if (a.code === 'ok' && (a.result as { finishReason: string }).finishReason === 'cancelled')
    jobs.cancelled++;
  else if (a.code === 'ok') jobs.done++;
  else if (a.code === 'CANCELLED') jobs.cancelled++;
  else if (expectRefusal.includes(a.code) || (mayBeFull && a.code === 'QUEUE_FULL')) refuse(a.code);
  else jobs.failed[a.code] = (jobs.failed[a.code] ?? 0) + 1;
}
async function cancelledJob(modelId: string): Promise<void> {
  const testId = newTestId();
  const job = testJob({
    modelId,
    testId,
    prompt: pick(PROMPTS),
    mode: 'completion',
    maxTokens: 2048,
    temperature: 0.8,
  });
  await sleep(20 + Math.random() * 200);
  const c = await rpc('engine.testCancel', { testId });
  tally('engine.testCancel', false, c.code, OK);
  if (c.code === 'ok' && !(c.result as { cancelled: boolean }).cancelled) jobs.cancelTooLate++;
  await job;
}
/** More jobs at once than the engine queues: the ones past the bound are refused with QUEUE_FULL. */
let bursting = 0;
async function burst(): Promise<void> {
  bursting++;
  await Promise.all(
    Array.from({ length: BURST }, () =>
      testJob(
        {
          modelId: llm.id,
          testId: newTestId(),
          prompt: pick(PROMPTS),
          mode: 'completion',
          maxTokens: 256,
        },
        ['QUEUE_FULL'],
      ),
    ),
  ).finally(() => bursting--);
}
const INVALID_JOBS: (() => Promise<void>)[] = [
  () => testJob({ modelId: llm.id, maxTokens: 0 }, INVALID),
  () => testJob({ modelId: llm.id, temperature: 9 }, INVALID),
  () => testJob({ modelId: llm.id, prompt: '' }, INVALID),
  () => testJob({ modelId: onnx.id, testId: 'not a valid id!' }, INVALID),
  () => testJob({ modelId: 'no-such-model' }, ['NOT_FOUND']),
  async () => {
    // The same testId twice at once: the second is refused (CONFLICT) unless the first is done.
    const testId = newTestId();
    const p = { modelId: llm.id, testId, mode: 'completion', maxTokens: 512 };
    await Promise.all([testJob(p, ['CONFLICT']), sleep(5).then(() => testJob(p, ['CONFLICT']))]);
  },
];
const burstEvery = Math.floor((TEST_JOBS - BURSTS * BURST) / BURSTS);
const jobLoop = paced(TEST_JOBS - BURSTS * BURST, JOB_CONCURRENCY, async (i) => {
  if (i % burstEvery === burstEvery >> 1) await burst();
  const x = Math.random();
  if (x < 0.55)
    return testJob({
      modelId: llm.id,
      prompt: pick(PROMPTS),
      mode: pick(['chat', 'completion']),
      maxTokens: 8 + Math.floor(Math.random() * 56),
    });
  if (x < 0.77) return testJob({ modelId: onnx.id });
  if (x < 0.87) return cancelledJob(llm.id);
  if (x < 0.9) return cancelledJob(onnx.id);
  return pick(INVALID_JOBS)();
});

// --------------------------------------------------------------------- event socket clients

const ws = { connected: 0, messages: 0, stalledConnected: 0, closed: 0, errors: 0 };
const sockets: WebSocket[] = [];
for (let i = 0; i < WS_CLIENTS; i++) {
  const stall = i < WS_STALLED;
  const s = new WebSocket(WS_URL, { headers: { authorization: `Bearer ${TOKEN}` } });
  s.on('open', () => {
    ws.connected++;
    if (stall) {
      ws.stalledConnected++;
      // After the hello, stop reading: the kernel's buffers fill, then the node's send buffer.
      setTimeout(() => s.pause(), 200);
    }
  });
  s.on('message', () => void ws.messages++);
  s.on('close', () => void ws.closed++);
  s.on('error', () => void ws.errors++);
  sockets.push(s);
}

// ------------------------------------------------------------------------------- the results

const apiDone = await apiLoop;
const jobsDone = await jobLoop;
clearInterval(sampler);
if (HEAP) {
  child.kill('SIGUSR2');
  await sleep(15_000);
}
const runMs = Date.now() - runStart;
const status = await rpc('status.get', {});
const engine = await rpc('engine.status', {});
for (const s of sockets) {
  s.resume();
  s.terminate();
}
stopping = true;
const crashed = exit !== null;
child.kill('SIGTERM');
await Promise.race([exited, sleep(10_000)]);
const stop = exit as { code: number | null; signal: NodeJS.Signals | null } | null;

const medianOf = (xs: { mb: number }[]): number =>
  xs.map((x) => x.mb).sort((a, b) => a - b)[xs.length >> 1] ?? NaN;
const warmEnd = (MINUTES * WARMUP * 60_000) / 60_000;
const after = samples.filter((s) => s.t >= warmEnd);
const atWarm = after[0]?.mb ?? null;
const maxAfter = Math.max(...after.map((s) => s.mb));
const maxAll = Math.max(...samples.map((s) => s.mb));
const last = samples.at(-1)?.mb ?? null;
const slope = slopePerMinute(after);
/** The median RSS of each minute, at the minute's middle. */
const perMinute = Array.from({ length: Math.ceil(MINUTES) }, (_, m) => {
  const xs = samples.filter((x) => x.t >= m && x.t < m + 1).map((x) => x.mb);
  return { t: m + 0.5, mb: xs.length ? r1(xs.sort((a, b) => a - b)[xs.length >> 1]!) : null };
});

const nodeLogs = await classifyNodeLogs(join(dataDir, 'logs'));
// Kept after a crash, or with SOAK_KEEP_DATA=1, to be looked at.
const keep = crashed || HEAP || process.env.SOAK_KEEP_DATA === '1';
if (!keep) await rm(dataDir, { recursive: true, force: true });

const sum = (r: Record<string, number>): number => Object.values(r).reduce((a, b) => a + b, 0);
const refusedTotal = sum(jobs.refused);
const flat = slope < SLOPE_GOAL;
const under = maxAfter < RSS_GOAL_MB;
console.log(
  JSON.stringify(
    {
      benchmark: 'soak-headless-node',
      machine: machine(),
      minutes: MINUTES,
      durationSeconds: Math.round(runMs / 1000),
      startupMs,
      planned: {
        apiCalls: API_CALLS,
        testJobs: TEST_JOBS,
        wsClients: WS_CLIENTS,
        wsStalled: WS_STALLED,
      },
      apiCalls: { sent: apiDone, byKindAndOutcome: calls, unexpectedOutcomes: unexpected },
      testJobs: {
        sent: jobs.sent,
        loopTasks: jobsDone,
        done: jobs.done,
        cancelled: jobs.cancelled,
        cancelArrivedAfterTheEnd: jobs.cancelTooLate,
        refused: refusedTotal,
        refusedByCode: jobs.refused,
        failedOtherwise: jobs.failed,
      },
      eventSockets: {
        connected: ws.connected,
        stalled: ws.stalledConnected,
        messagesRead: ws.messages,
        // A paused client cannot see the node cut it off: the node's logs say it (logs.explained).
        errors: ws.errors,
      },
      rssMB: {
        samples: samples.length,
        atWarmupEnd: atWarm === null ? null : r1(atWarm),
        warmupEndsAtMinute: r3(warmEnd),
        maxAfterWarmup: r1(maxAfter),
        maxOverall: r1(maxAll),
        last: last === null ? null : r1(last),
        slopeMBPerMinAfterWarmup: r3(slope),
        // Beside the fit (which one dip pulls about): the median of the last minute minus the
        // median of the minute warm-up ends in.
        riseLastMinuteVsWarmupEnd:
          after.length && samples.length
            ? r1(
                medianOf(samples.filter((x) => x.t >= runMs / 60_000 - 1)) -
                  medianOf(after.filter((x) => x.t < warmEnd + 1)),
              )
            : null,
        medianPerMinute: perMinute.map((p) => p.mb),
        // Theil–Sen over the per-minute medians after warm-up (shown; the goal stays the fit).
        robustSlopeMBPerMinAfterWarmup: r3(
          robustSlopePerMinute(
            perMinute.filter(
              (p): p is { t: number; mb: number } => p.mb !== null && p.t >= warmEnd,
            ),
          ),
        ),
        engineProcessMax: engineSamples.length ? r1(Math.max(...engineSamples)) : null,
      },
      goal: { rssMB: RSS_GOAL_MB, slopeMBPerMin: SLOPE_GOAL, crash: false, unexplainedLogLines: 0 },
      ratioToGoal: { rss: r3(maxAfter / RSS_GOAL_MB), slope: r3(slope / SLOPE_GOAL) },
      pass: under && flat && !crashed && Object.keys(nodeLogs.unexplained).length === 0,
      crashed,
      exitDuringRun: crashed ? exit : null,
      stop: stop ? { code: stop.code, signal: stop.signal } : 'did not exit within 10 s of SIGTERM',
      nodeStatusAtEnd: status.code === 'ok' ? 'answered' : status.code,
      engineAtEnd:
        engine.code === 'ok'
          ? (({ state, restarts, crashesLastHour, lastCrash }) => ({
              state,
              restarts,
              crashesLastHour,
              lastCrash,
            }))(
              engine.result as {
                state: string;
                restarts: number;
                crashesLastHour: number;
                lastCrash: unknown;
              },
            )
          : engine.code,
      logs: nodeLogs,
      ...(keep ? { dataDir } : {}),
      ...(crashed ? { stderrTail: stderr.slice(-4000) } : {}),
    },
    null,
    2,
  ),
);
process.exit(crashed ? 1 : 0);
