// The supervisor: crashes of the real engine process mid-stream (SIGKILL), restarts with a
// growing delay, graceful and forced stops, hung engines, start failures, log forwarding.
// The lifecycle cases that need an engine misbehaving on purpose use a small fake engine script
// that speaks the same protocol.
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IdlerigError } from '../../shared/errors';
import {
  EngineSupervisor,
  forkSpawner,
  type EngineSpawner,
} from '../../electron/provider/engine/supervisor';
import { MODELS, memoryLogger, startEngine } from '../helpers/engine';
import { errorOf } from '../helpers/errors';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('crashes of the real engine', () => {
  let ctx: Awaited<ReturnType<typeof startEngine>>;
  beforeAll(async () => {
    ctx = await startEngine({
      models: ['stories'],
      config: { llm: { backend: 'cpu' } },
      supervisor: { backoff: { initialMs: 25, factor: 2, maxMs: 200, stableMs: 60_000 } },
    });
  }, 60_000);
  afterAll(() => ctx?.close());

  it('SIGKILL mid-stream: ENGINE_CRASHED within 1 s, the app stays up, the engine restarts, the next job succeeds (20 times)', async () => {
    const delays: number[] = [];
    for (let round = 0; round < 20; round++) {
      let chunks = 0;
      const job = ctx.engine.complete(
        {
          model: MODELS.stories,
          prompt: 'Once upon a time',
          max_tokens: 4000,
          temperature: 0.8,
          seed: round,
        },
        { onEvent: (e) => void (e.type === 'llm.chunk' && chunks++) },
      );
      const failed = errorOf(job);
      while (chunks < 2) await sleep(2);
      const pid = ctx.engine.pid!;
      const killedAt = performance.now();
      process.kill(pid, 'SIGKILL');
      const err = await failed;
      const ms = performance.now() - killedAt;
      expect(err.code).toBe('ENGINE_CRASHED');
      expect(ms).toBeLessThan(1000);
      const st = ctx.engine.status();
      expect(st.state).toBe('crashed');
      delays.push(Date.parse(st.nextRestartAt!) - Date.parse(st.lastCrash!.at));

      const next = await ctx.engine.complete({
        model: MODELS.stories,
        prompt: 'Once upon a time',
        max_tokens: 10,
        temperature: 0,
      });
      expect(next.text.startsWith(', there was a little girl')).toBe(true);
      expect(ctx.engine.pid).not.toBe(pid);
      expect(ctx.engine.status().state).toBe('ready');
    }
    // The delay grew (25, 50, 100, 200 ms) and stayed at its maximum.
    expect(delays.slice(0, 5)).toEqual([25, 50, 100, 200, 200]);
    expect(ctx.engine.status()).toMatchObject({ crashesLastHour: 20, restarts: 20 });
    expect(ctx.engine.status().summary).toBe('Ready (crashed 20 times in the last hour)');
    expect(ctx.log.lines.some((l) => l.level === 'error' && l.msg.includes('crashed'))).toBe(true);
  }, 120_000);

  it('stops gracefully: jobs in flight end, the process exits by itself, no crash is counted', async () => {
    const crashes = ctx.engine.status().crashesLastHour;
    await ctx.engine.complete({ model: MODELS.stories, prompt: 'Hi', max_tokens: 2 });
    const pid = ctx.engine.pid!;
    const t = performance.now();
    await ctx.engine.stop();
    expect(performance.now() - t).toBeLessThan(2000);
    expect(ctx.engine.status()).toMatchObject({
      state: 'stopped',
      pid: null,
      crashesLastHour: crashes,
    });
    expect(() => process.kill(pid, 0)).toThrow();
    // And starts again on demand.
    const r = await ctx.engine.complete({
      model: MODELS.stories,
      prompt: 'Once upon a time',
      max_tokens: 4,
      temperature: 0,
    });
    expect(r.usage.completion_tokens).toBe(4);
  });

  it('forwards the engine logs to the node logger', () => {
    expect(ctx.log.lines.some((l) => l.msg === 'model loaded' && l.data?.threads === 1)).toBe(true);
    expect(ctx.log.lines.some((l) => l.msg === 'engine ready')).toBe(true);
  });
});

// A fake engine: speaks the protocol, misbehaves as FAKE_MODE says.
const FAKE = `
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const mode = process.env.FAKE_MODE ?? '';
const send = (m) => process.connected && process.send(m);
process.stderr.write('fake engine: hello from stderr\\n');
process.on('message', (m) => {
  if (m.kind !== 'request') return;
  const reply = (result) => send({ kind: 'result', id: m.id, result });
  switch (m.method) {
    case 'configure':
      if (mode === 'hang-configure-once' && !require('node:fs').existsSync(process.env.FAKE_MARK)) {
        require('node:fs').writeFileSync(process.env.FAKE_MARK, '');
        return;
      }
      if (mode === 'print-env') send({ kind: 'log', level: 'info', msg: 'fake env', data: { ...process.env } });
      if (mode === 'refuse-config') return send({ kind: 'error', id: m.id, error: { code: 'INVALID_PARAMS', message: 'no' } });
      send({ kind: 'log', level: 'info', msg: 'fake configured', data: { modelsDir: m.params.modelsDir } });
      return reply({ pid: process.pid });
    case 'ping':
      if (mode === 'hang-ping') return;
      return reply({ pid: process.pid, uptimeMs: 1, rssBytes: 1, activeJobs: 0, queuedJobs: 0 });
    case 'shutdown':
      if (mode === 'ignore-shutdown') return;
      reply({});
      return setTimeout(() => process.exit(0), 5);
    case 'models.list':
      return reply({ models: [] });
    case 'llm.complete':
      if (m.params.prompt === 'crash') return process.exit(3);
      if (m.params.prompt === 'bad-result') return reply({ text: 42 });
      if (m.params.prompt === 'wait') return;
      return reply({ text: 'ok', finish_reason: 'stop', usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
        timings: { queue_ms: 0, load_ms: 0, ttft_ms: 1, decode_tokens_per_s: null, total_ms: 1 },
        backend: 'fake', threads: 1, gpu_layers: 0, chat_wrapper: null });
  }
});
if (mode !== 'never-ready') send({ kind: 'ready', protocol: 1, pid: process.pid });
`;

describe('engine lifecycle (fake engine)', () => {
  let dir: string;
  let entry: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'idlerig-fake-engine-'));
    entry = join(dir, 'fake-engine.mjs');
    await writeFile(entry, FAKE);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const complete = (engine: EngineSupervisor, prompt: string) =>
    engine.complete({ model: MODELS.stories, prompt });

  function make(
    mode: string,
    extra: Partial<ConstructorParameters<typeof EngineSupervisor>[0]> = {},
  ) {
    const log = memoryLogger();
    const engine = new EngineSupervisor({
      entry,
      log,
      config: { modelsDir: dir },
      env: { FAKE_MODE: mode },
      backoff: { initialMs: 20, factor: 2, maxMs: 1000, stableMs: 300 },
      ...extra,
    });
    return { engine, log };
  }

  it('starts on demand through an injected spawner, reports its state, forwards stderr and logs', async () => {
    const spawned: string[] = [];
    const spawner: EngineSpawner = (e, o) => {
      spawned.push(e);
      return forkSpawner(e, o);
    };
    const { engine, log } = make('', { spawner });
    const states: string[] = [];
    engine.on('status', (s) => states.push(s.state));
    expect(engine.status()).toMatchObject({
      state: 'stopped',
      summary: 'Stopped; starts with the first job',
    });
    expect((await complete(engine, 'hi')).text).toBe('ok');
    expect(spawned).toEqual([entry]);
    expect(states.slice(0, 2)).toEqual(['starting', 'ready']);
    const said = (): boolean =>
      log.lines.some((l) => l.msg === 'engine stderr: fake engine: hello from stderr');
    for (let i = 0; i < 300 && !said(); i++) await sleep(10);
    expect(log.lines).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        msg: 'engine stderr: fake engine: hello from stderr',
      }),
    );
    expect(log.lines).toContainEqual({
      level: 'info',
      msg: 'fake configured',
      data: { modelsDir: dir },
    });
    await engine.close();
    expect(engine.status().state).toBe('stopped');
    expect(await errorOf(complete(engine, 'hi'))).toMatchObject({ code: 'UNAVAILABLE' });
  });

  it('restarts with a growing delay, reset after a stable period', async () => {
    const { engine } = make('');
    const delay = (): number => {
      const s = engine.status();
      return Date.parse(s.nextRestartAt!) - Date.parse(s.lastCrash!.at);
    };
    expect((await errorOf(complete(engine, 'crash'))).code).toBe('ENGINE_CRASHED');
    expect(engine.status().state).toBe('crashed');
    expect(engine.status().summary).toMatch(
      /^Crashed 1 time in the last hour; restarting in \d s$/,
    );
    expect(delay()).toBe(20);
    await complete(engine, 'hi');
    expect((await errorOf(complete(engine, 'crash'))).code).toBe('ENGINE_CRASHED');
    expect(delay()).toBe(40);
    await complete(engine, 'hi');
    expect((await errorOf(complete(engine, 'crash'))).code).toBe('ENGINE_CRASHED');
    expect(delay()).toBe(80);
    await complete(engine, 'hi');
    await sleep(350); // stable for longer than stableMs
    expect((await errorOf(complete(engine, 'crash'))).code).toBe('ENGINE_CRASHED');
    expect(delay()).toBe(20);
    await complete(engine, 'hi');
    expect(engine.status()).toMatchObject({ state: 'ready', crashesLastHour: 4, restarts: 4 });
    await engine.close();
  });

  it('fails every request in flight at once when the engine dies', async () => {
    const { engine } = make('');
    const waiting = [errorOf(complete(engine, 'wait')), errorOf(complete(engine, 'wait'))];
    for (let i = 0; i < 500 && engine.status().inFlight < 2; i++) await sleep(10);
    expect(engine.status().inFlight).toBe(2);
    const t = performance.now();
    process.kill(engine.pid!, 'SIGKILL');
    const errors = await Promise.all(waiting);
    expect(performance.now() - t).toBeLessThan(1000);
    for (const e of errors) expect(e.code).toBe('ENGINE_CRASHED');
    expect(errors[0]!.message).toContain('SIGKILL');
    await engine.close();
  });

  it('an engine that stops answering pings is killed and restarted', async () => {
    const { engine, log } = make('hang-ping', { pingIntervalMs: 50, pingTimeoutMs: 150 });
    await complete(engine, 'hi');
    const pid = engine.pid;
    const pending = errorOf(complete(engine, 'wait'));
    const err = await pending;
    expect(err.code).toBe('ENGINE_CRASHED');
    expect(err.message).toContain('no answer to a ping');
    expect(log.lines.some((l) => l.msg.includes('stopped answering pings'))).toBe(true);
    await complete(engine, 'hi');
    expect(engine.pid).not.toBe(pid);
    await engine.close();
  });

  it('stop is graceful, then forced after the grace period', async () => {
    const { engine, log } = make('ignore-shutdown', { stopGraceMs: 200 });
    await complete(engine, 'hi');
    const pending = errorOf(complete(engine, 'wait'));
    const pid = engine.pid!;
    const t = performance.now();
    await engine.stop();
    const ms = performance.now() - t;
    expect(ms).toBeGreaterThanOrEqual(190);
    expect(ms).toBeLessThan(1500);
    expect((await pending).code).toBe('CANCELLED');
    expect(() => process.kill(pid, 0)).toThrow();
    expect(engine.status()).toMatchObject({ state: 'stopped', crashesLastHour: 0 });
    expect(log.lines.some((l) => l.msg.includes('did not stop in time'))).toBe(true);
  });

  it('an engine that cannot start fails the waiting request with ENGINE_CRASHED and is retried', async () => {
    const log = memoryLogger();
    const engine = new EngineSupervisor({
      entry: join(dir, 'missing.mjs'),
      log,
      config: { modelsDir: dir },
      backoff: { initialMs: 50, factor: 2, maxMs: 1000, stableMs: 1000 },
    });
    const err = await errorOf(complete(engine, 'hi'));
    expect(err.code).toBe('ENGINE_CRASHED');
    expect(engine.status().state).toBe('crashed');
    await engine.close();

    const slow = make('never-ready', { startTimeoutMs: 200 });
    expect((await errorOf(complete(slow.engine, 'hi'))).message).toContain('did not start in time');
    await slow.engine.close();
  });

  it('a result that breaks the protocol is an INTERNAL error, not a crash', async () => {
    const { engine } = make('');
    expect((await errorOf(complete(engine, 'bad-result'))).code).toBe('INTERNAL');
    expect((await complete(engine, 'hi')).text).toBe('ok');
    expect(engine.status().crashesLastHour).toBe(0);
    await engine.close();
  });
  it('a configure left unanswered times out: TIMEOUT for the waiting job, the process is killed and restarted, the next job runs', async () => {
    const mark = join(dir, `configure-once-${Date.now()}`);
    const { engine, log } = make('hang-configure-once', {
      configureTimeoutMs: 200,
      env: { FAKE_MODE: 'hang-configure-once', FAKE_MARK: mark },
    });
    const err = await errorOf(complete(engine, 'hi'));
    expect(err.code).toBe('TIMEOUT');
    expect(err.message).toContain('configuration within 200 ms');
    expect(log.lines).toContainEqual(
      expect.objectContaining({
        level: 'error',
        msg: 'the engine did not answer configure in time; killing it',
      }),
    );
    // Killed: a crash like any other, restarted after the first delay (20 ms), configured this time.
    for (
      let i = 0;
      i < 300 && engine.status().state !== 'crashed' && engine.status().restarts === 0;
      i++
    )
      await sleep(5);
    expect((await complete(engine, 'hi')).text).toBe('ok');
    expect(engine.status()).toMatchObject({
      state: 'ready',
      restarts: 1,
      lastCrash: expect.objectContaining({ reason: 'no answer to configure in 200 ms' }),
    });
    await engine.close();
  });

  it("the engine process gets a short environment: the libraries' variables, not the node's secrets", async () => {
    process.env.IDLERIG_TEST_SECRET = 'do-not-pass';
    process.env.CUDA_VISIBLE_DEVICES ??= '0';
    process.env.GGML_TEST_SETTING = 'kept';
    try {
      const { engine, log } = make('print-env');
      await complete(engine, 'hi');
      const env = log.lines.find((l) => l.msg === 'fake env')?.data ?? {};
      expect(env.IDLERIG_TEST_SECRET).toBeUndefined();
      expect(env.PATH).toBe(process.env.PATH);
      expect(env.CUDA_VISIBLE_DEVICES).toBe(process.env.CUDA_VISIBLE_DEVICES);
      expect(env.GGML_TEST_SETTING).toBe('kept');
      expect(env.FAKE_MODE).toBe('print-env');
      expect(env.IDLERIG_ENGINE).toBe('1');
      expect(env.NODE_OPTIONS).toBeUndefined();
      await engine.close();
    } finally {
      delete process.env.IDLERIG_TEST_SECRET;
      delete process.env.GGML_TEST_SETTING;
    }
  });

  it('the parent-side ONNX queue is bounded: QUEUE_FULL past it, accepted again once a batch left', async () => {
    const { engine } = make('', { config: { modelsDir: dir, limits: { maxQueuedJobs: 1 } } });
    await engine.start();
    const request = {
      inputs: [{ name: 'x', shape: [1], datatype: 'FP32' as const, data: new Float32Array(1) }],
    };
    const calls = Array.from({ length: 300 }, () =>
      engine.infer(MODELS.mnist, request).then(
        () => 'ok',
        (e: IdlerigError) => e.code,
      ),
    );
    // 256 wait (one batch's worth at maxQueuedJobs 1); the rest are refused at once.
    const refused = await Promise.all(calls.slice(256));
    expect(refused).toEqual(new Array(44).fill('QUEUE_FULL'));
    // The fake engine never answers: the 256 left as one batch, so the queue has room again.
    await sleep(20);
    const later = engine.infer(MODELS.mnist, request).then(
      () => 'ok',
      (e: IdlerigError) => e.code,
    );
    await sleep(20);
    await engine.close();
    expect(await later).not.toBe('QUEUE_FULL');
    expect(new Set(await Promise.all(calls.slice(0, 256)))).toEqual(new Set(['CANCELLED']));
  });
});
