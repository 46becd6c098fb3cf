// The engine's ONNX sessions (electron/engine/onnx-session.ts) on the real mnist-8 model, in this
// process: the session opened through onnxruntime-node's binding (synchronous runs, what the
// engine uses) describes the model and answers exactly as one opened through the public
// InferenceSession API (the fallback), one run at a time and through a packed batch.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { InferenceSession } from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPacked, type PackedModel } from '../../electron/engine/onnx-packed';
import { openSession, type EngineSession } from '../../electron/engine/onnx-session';
import type { Ort } from '../../electron/engine/onnx-tensors';
import type { JobContext } from '../../electron/engine/job';
import { FIXTURES, MODELS } from '../helpers/engine';

const OPTIONS: InferenceSession.SessionOptions = {
  executionProviders: ['cpu'],
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
  logSeverityLevel: 3,
};
const N = 300;

let ort: Ort;
let viaBinding: EngineSession;
let viaPublic: EngineSession;
let images: Float32Array;

beforeAll(async () => {
  ort = await import('onnxruntime-node');
  const path = join(FIXTURES, MODELS.mnist.file);
  viaBinding = await openSession(ort, path, OPTIONS);
  viaPublic = await openSession(ort, path, OPTIONS, 'public');
  const img = gunzipSync(readFileSync(join(FIXTURES, 't10k-images-idx3-ubyte.gz')));
  images = Float32Array.from(img.subarray(16, 16 + N * 784));
});
afterAll(async () => {
  await viaBinding?.release();
  await viaPublic?.release();
});

const feeds = (i: number) => ({
  Input3: new ort.Tensor('float32', images.subarray(i * 784, (i + 1) * 784), [1, 1, 28, 28]),
});

function model(session: EngineSession): PackedModel {
  return {
    session,
    inputs: [{ name: 'Input3', datatype: 'FP32', shape: [1, 1, 28, 28] }],
    outputs: [{ name: 'Plus214_Output_0', datatype: 'FP32', shape: [1, 10] }],
    inputMeta: new Map([['Input3', { type: 'float32' as const, shape: [1, 1, 28, 28] }]]),
    outputNames: new Set(session.outputNames),
    executionProviders: ['cpu'],
  };
}

const job: JobContext = { id: 1, receivedAt: 0, signal: new AbortController().signal, emit() {} };
const limits = { maxRequestBytes: 1 << 24, jobTimeoutMs: 60_000 };

describe('ONNX sessions of the engine', () => {
  it('the binding is used here, with a synchronous run; the public API has none', () => {
    expect(viaBinding.via).toBe('binding');
    expect(viaBinding.runSync).not.toBeNull();
    expect(viaPublic.via).toBe('public');
    expect(viaPublic.runSync).toBeNull();
  });

  it('both describe the model alike', () => {
    expect(viaBinding.inputMetadata).toEqual(viaPublic.inputMetadata);
    expect(viaBinding.outputMetadata).toEqual(viaPublic.outputMetadata);
    expect(viaBinding.outputNames).toEqual(viaPublic.outputNames);
    expect(viaBinding.inputMetadata[0]).toMatchObject({
      name: 'Input3',
      isTensor: true,
      type: 'float32',
      shape: [1, 1, 28, 28],
    });
  });

  it('both answer every image with the same logits, run by run and asked by name', async () => {
    const name = viaPublic.outputNames[0]!;
    for (let i = 0; i < N; i += 7) {
      const a = viaBinding.runSync!(feeds(i), null);
      const b = await viaPublic.run(feeds(i), null);
      const c = await viaBinding.run(feeds(i), [name]);
      expect(a[name]!.dims).toEqual([1, 10]);
      expect(Array.from(a[name]!.data as Float32Array)).toEqual(
        Array.from(b[name]!.data as Float32Array),
      );
      expect(Array.from(c[name]!.data as Float32Array)).toEqual(
        Array.from(b[name]!.data as Float32Array),
      );
    }
  });

  it('run() takes a turn of the event loop either way (requests run one by one let messages and cancels in)', async () => {
    for (const session of [viaBinding, viaPublic]) {
      let done = false;
      const running = session.run(feeds(0), null).then(() => {
        done = true;
      });
      for (let i = 0; i < 5; i++) await Promise.resolve();
      expect(done).toBe(false);
      await running;
      expect(done).toBe(true);
    }
  });

  it('a packed batch gives the same packed answer either way', async () => {
    const batch = {
      count: N,
      inputs: [{ name: 'Input3', datatype: 'FP32' as const, shape: [1, 1, 28, 28], data: images }],
    };
    const a = await runPacked(ort, model(viaBinding), batch, 'mnist', job, limits);
    const b = await runPacked(ort, model(viaPublic), batch, 'mnist', job, limits);
    expect(a.results).toEqual([]);
    expect(a.packed?.count).toBe(N);
    expect(a.packed?.outputs[0]?.shape).toEqual([1, 10]);
    expect(Array.from(a.packed!.outputs[0]!.data as Float32Array)).toEqual(
      Array.from(b.packed!.outputs[0]!.data as Float32Array),
    );
  });

  it('a cancelled batch stops between groups with CANCELLED for the rest', async () => {
    const controller = new AbortController();
    const cancelled: JobContext = { ...job, signal: controller.signal };
    const batch = {
      count: N,
      inputs: [{ name: 'Input3', datatype: 'FP32' as const, shape: [1, 1, 28, 28], data: images }],
    };
    const running = runPacked(ort, model(viaBinding), batch, 'mnist', cancelled, limits);
    controller.abort({ kind: 'cancel', at: performance.now() });
    const r = await running;
    // The first group ran before the cancel was seen; the rest was not run.
    const failed = r.results.filter((x) => !x.ok);
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.length).toBeLessThan(N);
    expect(failed.every((x) => !x.ok && x.error.code === 'CANCELLED')).toBe(true);
  });

  it('ONNX Runtime refusing a run is an error thrown by runSync, not a crash', () => {
    const bad = { Input3: new ort.Tensor('float32', new Float32Array(10), [1, 10]) };
    expect(() => viaBinding.runSync!(bad, null)).toThrow();
  });
});
