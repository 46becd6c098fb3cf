// The engine's ONNX thread (electron/engine/onnx-thread.ts, onnx-worker.ts): the ONNX engine
// of the engine process run here in the test process, its thread started from the bundled
// engine entry as in the engine process, on the real mnist-8 model. A thread that dies must not
// end the engine: the jobs it had fail with ENGINE_CRASHED, and the next job works. (The test
// ends the thread with Worker.terminate(), which is what the owner sees of a crash or an
// out-of-memory end: an 'exit' with no answer to the calls in flight.)
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ResourceLimits } from 'node:worker_threads';
import { gunzipSync } from 'node:zlib';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { OnnxEngine } from '../../electron/engine/onnx';
import type { JobContext, QueueGate, StopReason } from '../../electron/engine/job';
import { ModelVerifier } from '../../electron/engine/verify';
import {
  EngineConfigSchema,
  type EngineParsedParams,
  type OnnxInferResult,
} from '../../shared/engine-protocol';
import { bundles } from '../helpers/engine-bundle';
import { FIXTURES, MODELS, modelsFolder, type LogLine } from '../helpers/engine';
import { errorOf } from '../helpers/errors';
import { until } from '../helpers/wait';

const PIXELS = 784;
let images: Float32Array;
let entry: string;
const open: { engine: OnnxEngine; cleanup(): Promise<void> }[] = [];

beforeAll(async () => {
  const img = gunzipSync(readFileSync(join(FIXTURES, 't10k-images-idx3-ubyte.gz')));
  images = Float32Array.from(img.subarray(16));
  entry = (await bundles()).engine;
}, 120_000);

afterEach(async () => {
  for (const o of open.splice(0)) {
    await o.engine.dispose();
    await o.cleanup();
  }
});

async function engine(
  threadLimits?: ResourceLimits,
  verifier: (dir: string) => ModelVerifier = (dir) => new ModelVerifier(dir),
): Promise<{ engine: OnnxEngine; logs: LogLine[] }> {
  const folder = await modelsFolder(['mnist']);
  const config = EngineConfigSchema.parse({ modelsDir: folder.dir, onnx: { threads: 1 } });
  const logs: LogLine[] = [];
  const gate: QueueGate = { queued: 0, max: 64 };
  const e = new OnnxEngine(
    config,
    verifier(folder.dir),
    (level, msg, data) => logs.push(data ? { level, msg, data } : { level, msg }),
    gate,
    entry,
    threadLimits,
  );
  open.push({ engine: e, cleanup: folder.cleanup });
  return { engine: e, logs };
}

let ids = 0;
function job(controller = new AbortController()): JobContext {
  return { id: ++ids, receivedAt: performance.now(), signal: controller.signal, emit: () => {} };
}

/** The first `count` MNIST test images as one packed batch (a fresh copy each time). */
function batch(count: number): EngineParsedParams<'onnx.infer'> {
  return {
    model: MODELS.mnist,
    requests: [],
    packed: {
      count,
      inputs: [
        {
          name: 'Input3',
          datatype: 'FP32',
          shape: [1, 1, 28, 28],
          data: images.slice(0, count * PIXELS),
        },
      ],
    },
  };
}

function digits(r: OnnxInferResult): number[] {
  const out = r.packed!.outputs[0]!;
  const data = out.data as Float32Array;
  const n = r.packed!.count;
  return Array.from({ length: n }, (_, i) => {
    const row = Array.from(data.subarray(i * 10, i * 10 + 10));
    return row.indexOf(Math.max(...row));
  });
}

/** `count` images as one packed batch: the 10,000 MNIST test images over and over. */
function tiled(count: number): EngineParsedParams<'onnx.infer'> {
  const data = new Float32Array(count * PIXELS);
  for (let at = 0; at < data.length; at += images.length) {
    data.set(images.subarray(0, Math.min(images.length, data.length - at)), at);
  }
  const b = batch(1);
  b.packed!.count = count;
  b.packed!.inputs[0]!.data = data;
  return b;
}

describe('the engine ONNX thread', () => {
  it('a packed batch answers as before: one packed FP32 output per request', async () => {
    const { engine: e } = await engine();
    const r = await e.infer(batch(100), job());
    expect(r.results).toEqual([]);
    expect(r.executionProviders).toEqual(['cpu']);
    expect(r.packed).toMatchObject({
      count: 100,
      outputs: [{ name: 'Plus214_Output_0', datatype: 'FP32', shape: [1, 10] }],
    });
    expect(r.packed!.outputs[0]!.data).toBeInstanceOf(Float32Array);
    // The MNIST test set starts 7, 2, 1, 0, 4, 1, 4, 9, 5, 9.
    expect(digits(r).slice(0, 10)).toEqual([7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
    const [loaded] = e.list();
    expect(loaded).toMatchObject({ kind: 'onnx', activeJobs: 0, onnx: { threads: 1 } });
  });

  it('runs out of memory: the running and the waiting jobs fail with ENGINE_CRASHED, the next job opens the model again and answers the same', async () => {
    const { engine: e, logs } = await engine({ maxOldGenerationSizeMb: 32 });
    // 10,000 rows of 784 numbers: ~60 MB as JS arrays in the thread's heap.
    const row = Array.from(images.subarray(0, PIXELS));
    const bomb = (): EngineParsedParams<'onnx.infer'> => ({
      model: MODELS.mnist,
      requests: [
        {
          inputs: [
            {
              name: 'Input3',
              datatype: 'FP32',
              shape: [1, 1, 28, 28],
              data: Array.from({ length: 10_000 }, () => [...row]),
            },
          ],
        },
      ],
    });
    const before = await e.infer(batch(200), job());
    // The thread must die while `running` runs: the bomb is sent once `running` is in the thread
    // (its job counted active), and 30,000 images keep it there ~1.2 s, while the bomb (built
    // beforehand) kills the thread within tens of ms of arriving.
    const bombParams = bomb();
    const running = e.infer(tiled(30_000), job());
    await until(() => (e.list()[0]?.activeJobs ?? 0) > 0, 10_000);
    const fatal = e.infer(bombParams, job());
    const waiting = e.infer(batch(10), job());
    const errors = await Promise.all([errorOf(running), errorOf(fatal), errorOf(waiting)]);
    expect(errors.map((x) => x.code)).toEqual(Array(3).fill('ENGINE_CRASHED'));
    expect(errors[0]!.message).toMatch(/ONNX Runtime stopped while the job ran .*memory/);
    expect(e.list()).toEqual([]);
    const crashes = logs.filter((l) => l.level === 'error');
    expect(crashes.map((l) => l.msg)).toEqual([
      'the ONNX Runtime thread of the engine stopped; a new one starts with the next job',
    ]);
    expect(crashes[0]!.data).toMatchObject({ why: expect.stringMatching(/out of memory/) });
    const after = await e.infer(batch(200), job());
    expect(digits(after)).toEqual(digits(before));
    expect(e.list()).toHaveLength(1);
    expect(e.thread.generation).toBe(2);
    // And again: it is not a one-off.
    expect((await errorOf(e.infer(bomb(), job()))).code).toBe('ENGINE_CRASHED');
    expect(digits(await e.infer(batch(200), job()))).toEqual(digits(before));
    expect(e.thread.generation).toBe(3);
  });

  it('a cancel or timeout reaches a running batch: what ran is answered, the rest is CANCELLED / TIMEOUT', async () => {
    const { engine: e } = await engine();
    await e.load(MODELS.mnist);
    for (const kind of ['cancel', 'timeout'] as const) {
      const controller = new AbortController();
      // 30,000 images run ~1.2 s here; stopped after 300 ms, some have run and most have not
      // (a wide margin either way, on a slow machine too, where both sides slow down).
      const p = e.infer(tiled(30_000), job(controller));
      await until(() => (e.list()[0]?.activeJobs ?? 0) > 0, 10_000);
      await new Promise((r) => setTimeout(r, 300));
      controller.abort({ kind, at: performance.now() } satisfies StopReason);
      const r = await p;
      // Not every request ran: one answer per request, the ran ones first.
      expect(r.results).toHaveLength(30_000);
      const ok = r.results.findIndex((x) => !x.ok);
      expect(ok).toBeGreaterThan(0);
      expect(r.results.slice(0, ok).every((x) => x.ok)).toBe(true);
      const failed = r.results.slice(ok);
      expect(failed.every((x) => !x.ok)).toBe(true);
      const codes = new Set(failed.map((x) => (x.ok ? null : x.error.code)));
      expect([...codes]).toEqual([kind === 'cancel' ? 'CANCELLED' : 'TIMEOUT']);
    }
    // A job stopped before its turn runs nothing.
    const controller = new AbortController();
    controller.abort({ kind: 'cancel', at: 0 } satisfies StopReason);
    const r = await e.infer(batch(5), job(controller));
    expect(r.results.map((x) => (x.ok ? 'ok' : x.error.code))).toEqual(Array(5).fill('CANCELLED'));
  });

  it('input errors stay typed across the thread; a bug in the thread answers without ending it', async () => {
    const { engine: e } = await engine();
    const bad = batch(3);
    bad.packed!.inputs[0]!.shape = [1, 1, 28, 27];
    const r = await e.infer(bad, job());
    expect(r.results.map((x) => (x.ok ? 'ok' : x.error.code))).toEqual(
      Array(3).fill('INVALID_INPUT'),
    );
    expect(r.results[0]).toMatchObject({ error: { message: expect.stringMatching(/Input3/) } });
    // A session number the thread never opened: not an IdlerigError, so a plain Error (the
    // server logs it and answers INTERNAL), and the thread keeps serving.
    await expect(
      e.thread.run(
        {
          session: 999,
          params: { requests: [], packed: batch(1).packed },
          modelName: 'x',
          limits: { maxRequestBytes: 1 << 20, jobTimeoutMs: 1000 },
        },
        new AbortController().signal,
      ),
    ).rejects.toThrow(/session 999 is not open/);
    expect(e.thread.generation).toBe(1);
    expect(digits(await e.infer(batch(10), job()))).toEqual([7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
  });

  it("a model's jobs run in the order they came, even when a later one's checks finish first", async () => {
    // The third job's file check (the verifier: realpath and stat, on libuv's pool) is held back
    // 40 ms; the jobs after it must still wait for it, not overtake it.
    class SlowThird extends ModelVerifier {
      calls = 0;
      override async verify(ref: Parameters<ModelVerifier['verify']>[0]) {
        if (++this.calls === 3) await new Promise((r) => setTimeout(r, 40));
        return super.verify(ref);
      }
    }
    const { engine: e } = await engine(undefined, (dir) => new SlowThird(dir));
    await e.infer(batch(1), job()); // loaded: the order below is the queue's, not the load's
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 6 }, (_, i) => e.infer(batch(1), job()).then(() => order.push(i))),
    );
    expect(order).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('unload releases the session in the thread; the next job opens it again', async () => {
    const { engine: e, logs } = await engine();
    await e.load(MODELS.mnist);
    expect(await e.unload(MODELS.mnist.sha256)).toBe(1);
    expect(e.list()).toEqual([]);
    expect(digits(await e.infer(batch(10), job()))).toEqual([7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
    expect(logs.filter((l) => l.msg === 'model loaded')).toHaveLength(2);
    expect(logs.filter((l) => l.level === 'error')).toEqual([]);
  });
});
