// Jobs through the node's engine service (what the market client calls): runJob on installed
// models with the real engine process and the real fixtures, streamed chunks with backpressure,
// cancel by id, the outcome's usage/timings/input, the running-jobs list of engine.status, and
// the energy ledger told only about jobs the engine took (never a refused one).
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiEvent, EngineStatus } from '../../shared/api';
import { EngineService } from '../../electron/provider/engine/service';
import { ModelRegistry } from '../../electron/provider/models/registry';
import { bundles } from '../helpers/engine-bundle';
import { FIXTURES, MODELS, memoryLogger } from '../helpers/engine';
import { errorOf } from '../helpers/errors';

let dir: string;
let registry: ModelRegistry;
let service: EngineService;
const energy: string[] = [];
const events: ApiEvent[] = [];

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  const { engine: entry } = await bundles();
  dir = await mkdtemp(join(tmpdir(), 'idlerig-engine-jobs-'));
  registry = new ModelRegistry(dir);
  await registry.load();
  for (const [id, m, engine] of [
    ['stories', MODELS.stories, 'llama'],
    ['mnist', MODELS.mnist, 'onnx'],
  ] as const) {
    await copyFile(join(FIXTURES, m.file), join(dir, m.file));
    await registry.upsert({
      id,
      name: id,
      engine,
      file: m.file,
      sha256: m.sha256,
      sizeBytes: 1,
      source: { kind: 'import', originalPath: join(FIXTURES, m.file) },
      installedAt: new Date().toISOString(),
      lastUsedAt: null,
    });
  }
  service = new EngineService({
    modelsDir: dir,
    registry,
    log: memoryLogger(),
    // One sequence and no waiting room: a second job at once is refused with QUEUE_FULL.
    config: { llm: { backend: 'cpu', parallelism: 1 }, limits: { maxQueuedJobs: 0 } },
    supervisor: { entry },
    jobs: {
      started: (id) => energy.push(`started ${id}`),
      ended: (id) => energy.push(`ended ${id}`),
    },
  });
  service.on('event', (e) => events.push(e));
}, 120_000);

afterAll(async () => {
  await service?.stop();
  await rm(dir, { recursive: true, force: true });
});

const long = {
  kind: 'completion' as const,
  prompt: 'Once upon a time',
  sampling: { max_tokens: 4000, temperature: 0.8, seed: 3 },
};

describe('engine jobs (runJob)', () => {
  it('streams chunks that join to the output, with usage, ttft, what ran, and energy around it', async () => {
    energy.length = 0;
    const chunks: string[] = [];
    const r = await service.runJob(
      {
        id: 'job-1',
        modelId: 'stories',
        input: {
          kind: 'completion',
          prompt: 'Once upon a time',
          sampling: { max_tokens: 40, temperature: 0 },
        },
      },
      { onChunk: (c) => void chunks.push(c.text) },
    );
    expect(r.finishReason).toBe('length');
    expect('text' in r.output && r.output.text).toBe(chunks.join(''));
    expect(r.usage).toMatchObject({ completion_tokens: 40 });
    expect(r.timings.ttftMs).toBeGreaterThan(0);
    expect(r.timings.totalMs).toBeGreaterThanOrEqual(r.timings.ttftMs!);
    // Exactly what the engine ran, defaults filled in: a receipt can hash it.
    expect(r.input).toMatchObject({
      method: 'llm.complete',
      params: {
        model: MODELS.stories,
        prompt: 'Once upon a time',
        max_tokens: 40,
        temperature: 0,
        top_p: 1,
        top_k: 0,
        stop: [],
      },
    });
    expect(r.model).toEqual(MODELS.stories);
    expect(energy).toEqual(['started job-1', 'ended job-1']);
    expect(service.status().jobs).toEqual([]);
  }, 60_000);

  it('backpressure: a busy consumer gets the text made meanwhile as one merged chunk, one delivery at a time, and loses nothing', async () => {
    // Asserted as properties, not as chunk counts of two runs: those depend on how fast the
    // machine generates at that moment (a loaded CI machine made the "slow" run's chunks smaller).
    const fast: string[] = [];
    const input = {
      kind: 'completion' as const,
      prompt: 'Once upon a time',
      sampling: { max_tokens: 300, temperature: 0 },
    };
    const a = await service.runJob(
      { id: 'fast', modelId: 'stories', input },
      { onChunk: (c) => void fast.push(c.text) },
    );
    const slow: { text: string; tokens: number; total: number }[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const b = await service.runJob(
      { id: 'slow', modelId: 'stories', input },
      {
        onChunk: async (c) => {
          inFlight++;
          maxInFlight = Math.max(maxInFlight, inFlight);
          slow.push({ text: c.text, tokens: c.tokens, total: c.completionTokens });
          // The first delivery keeps the consumer busy for half a second: the engine goes on
          // generating (>= 66 tokens/s is enough, far below this model's rate even under load).
          await sleep(slow.length === 1 ? 500 : 5);
          inFlight--;
        },
      },
    );
    // Nothing lost, nothing reordered: the same greedy text both ways, and as the outcome says.
    const slowText = slow.map((c) => c.text).join('');
    expect(slowText).toBe(fast.join(''));
    expect('text' in b.output && b.output.text).toBe(slowText);
    expect('text' in a.output && a.output.text).toBe(fast.join(''));
    // One delivery at a time.
    expect(maxInFlight).toBe(1);
    // What was made during the busy half second came as one chunk, bigger than any the engine
    // flushes on its own (flushTokens 32), and the token counts add up.
    expect(slow.length).toBeGreaterThan(1);
    expect(slow[1]!.tokens).toBeGreaterThan(32);
    expect(slow.reduce((n, c) => n + c.tokens, 0)).toBe(slow.at(-1)!.total);
  }, 60_000);

  it('cancel by id ends a running job with its partial text; the running list shows it meanwhile', async () => {
    energy.length = 0;
    let chunks = 0;
    const statuses: EngineStatus[] = [];
    const off = (e: ApiEvent): void => {
      if (e.type === 'engine.status') statuses.push(e.engine);
    };
    service.on('event', off);
    const job = service.runJob(
      { id: 'to-cancel', modelId: 'stories', input: long },
      { onChunk: () => void chunks++ },
    );
    while (chunks < 2) await sleep(5);
    expect(service.status().jobs).toEqual([
      expect.objectContaining({
        id: 'to-cancel',
        source: 'market',
        modelId: 'stories',
        kind: 'completion',
        startedAt: expect.any(String),
      }),
    ]);
    // The Dashboard learns of it through engine.status events (spaced at most 250 ms apart).
    const listed = (): boolean => statuses.some((s) => s.jobs.some((j) => j.id === 'to-cancel'));
    for (let i = 0; i < 100 && !listed(); i++) await sleep(10);
    expect(listed()).toBe(true);
    expect(service.cancelJob('to-cancel')).toBe(true);
    const r = await job;
    // The list's events are spaced (at most one per 250 ms); the last one says it ended.
    for (let i = 0; i < 100 && statuses.at(-1)!.jobs.length > 0; i++) await sleep(10);
    service.off('event', off);
    expect(r.finishReason).toBe('cancelled');
    expect(r.usage!.completion_tokens).toBeGreaterThan(0);
    expect(r.usage!.completion_tokens).toBeLessThan(4000);
    expect(service.cancelJob('to-cancel')).toBe(false);
    expect(energy).toEqual(['started to-cancel', 'ended to-cancel']);
    // ... and of its end.
    expect(statuses.at(-1)!.jobs).toEqual([]);
  }, 60_000);

  it('refused jobs (QUEUE_FULL, over a limit, tensors that do not fit) never reach the energy ledger', async () => {
    energy.length = 0;
    let chunks = 0;
    const running = service.runJob(
      { id: 'holder', modelId: 'stories', input: long },
      { onChunk: () => void chunks++ },
    );
    while (chunks < 1) await sleep(5);
    // The only sequence is busy and no job may wait.
    const full = await errorOf(
      service.runJob({ id: 'refused-queue', modelId: 'stories', input: long }),
    );
    expect(full.code).toBe('QUEUE_FULL');
    service.cancelJob('holder');
    await running;
    const limit = await errorOf(
      service.runJob({
        id: 'refused-limit',
        modelId: 'stories',
        input: { kind: 'completion', prompt: 'x', sampling: { max_tokens: 100_000 } },
      }),
    );
    expect(limit.code).toBe('LIMIT_EXCEEDED');
    const shape = await errorOf(
      service.runJob({
        id: 'refused-shape',
        modelId: 'mnist',
        input: {
          kind: 'tensor',
          request: {
            inputs: [
              { name: 'Input3', shape: [1, 1, 28], datatype: 'FP32', data: new Float32Array(28) },
            ],
          },
        },
      }),
    );
    expect(shape.code).toBe('INVALID_INPUT');
    expect(shape.message).toContain('Input3');
    const wrongKind = await errorOf(
      service.runJob({ id: 'refused-kind', modelId: 'mnist', input: long }),
    );
    expect(wrongKind.code).toBe('INVALID_PARAMS');
    expect(energy).toEqual(['started holder', 'ended holder']);
    expect(service.status().jobs).toEqual([]);
  }, 60_000);

  it('a tensor job runs on the ONNX model and counts as one job', async () => {
    energy.length = 0;
    const r = await service.runJob({
      id: 'tensor-1',
      modelId: 'mnist',
      input: {
        kind: 'tensor',
        request: {
          inputs: [
            {
              name: 'Input3',
              shape: [1, 1, 28, 28],
              datatype: 'FP32',
              data: new Float32Array(784),
            },
          ],
        },
      },
    });
    expect('response' in r.output && r.output.response.outputs[0]!.shape).toEqual([1, 10]);
    expect(r.usage).toBeNull();
    expect(energy).toEqual(['started tensor-1', 'ended tensor-1']);
  }, 60_000);

  it('engine.status tells the CPU threads of the machine (for the threads warning)', () => {
    expect(service.status().cpuCores).toBeGreaterThanOrEqual(1);
    expect(events.some((e) => e.type === 'engine.status')).toBe(true);
  });
});
