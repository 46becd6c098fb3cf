// ONNX jobs through the real engine process (onnxruntime-node on CPU): the MNIST test set with
// mnist-8.onnx, Open Inference Protocol tensors in and out, typed INVALID_INPUT errors.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OipInferResponse } from '../../shared/engine-protocol';
import type { IdlerigError } from '../../shared/errors';
import { FIXTURES, MODELS, startEngine } from '../helpers/engine';
import { errorOf } from '../helpers/errors';

let ctx: Awaited<ReturnType<typeof startEngine>>;

function mnist(): { images: Float32Array[]; labels: Uint8Array } {
  const img = gunzipSync(readFileSync(join(FIXTURES, 't10k-images-idx3-ubyte.gz')));
  const lab = gunzipSync(readFileSync(join(FIXTURES, 't10k-labels-idx1-ubyte.gz')));
  expect(img.readUInt32BE(0)).toBe(0x803);
  expect(lab.readUInt32BE(0)).toBe(0x801);
  const n = img.readUInt32BE(4);
  const images: Float32Array[] = [];
  // Raw 0..255 pixels as float32: how the zoo model was trained.
  for (let i = 0; i < n; i++)
    images.push(Float32Array.from(img.subarray(16 + i * 784, 16 + (i + 1) * 784)));
  return { images, labels: lab.subarray(8, 8 + n) };
}

function argmax(r: OipInferResponse): number {
  const out = r.outputs[0]!;
  const data = Array.from(out.data as ArrayLike<number>);
  return data.indexOf(Math.max(...data));
}

beforeAll(async () => {
  ctx = await startEngine({ models: ['mnist'] });
}, 120_000);
afterAll(() => ctx?.close());

describe('ONNX through the engine process', () => {
  it('mnist-8 over all 10,000 MNIST test images: top-1 accuracy >= 98.5 %', async () => {
    const { images, labels } = mnist();
    expect(images.length).toBe(10_000);
    const responses = await Promise.all(
      images.map((data, i) =>
        ctx.engine.infer(MODELS.mnist, {
          id: String(i),
          inputs: [{ name: 'Input3', shape: [1, 1, 28, 28], datatype: 'FP32', data }],
        }),
      ),
    );
    let correct = 0;
    responses.forEach((r, i) => {
      expect(r.id).toBe(String(i));
      if (argmax(r) === labels[i]) correct++;
    });
    const accuracy = correct / images.length;
    expect(accuracy).toBeGreaterThanOrEqual(0.985);
    expect(responses[0]!.outputs[0]).toMatchObject({
      name: 'Plus214_Output_0',
      datatype: 'FP32',
      shape: [1, 10],
    });
    const [loaded] = await ctx.engine.loadedModels();
    expect(loaded).toMatchObject({
      kind: 'onnx',
      onnx: {
        executionProviders: ['cpu'],
        threads: 1,
        inputs: [{ name: 'Input3', datatype: 'FP32', shape: [1, 1, 28, 28] }],
      },
    });
  }, 120_000);

  it('accepts JSON data, flat or nested, with the same answers', async () => {
    const { images } = mnist();
    for (const i of [0, 1, 2]) {
      const img = Array.from(images[i]!);
      const nested = [[Array.from({ length: 28 }, (_, r) => img.slice(r * 28, r * 28 + 28))]];
      const [typed, flat, deep] = await Promise.all([
        ctx.engine.infer(MODELS.mnist, {
          inputs: [{ name: 'Input3', shape: [1, 1, 28, 28], datatype: 'FP32', data: images[i]! }],
        }),
        ctx.engine.infer(MODELS.mnist, {
          inputs: [{ name: 'Input3', shape: [1, 1, 28, 28], datatype: 'FP32', data: img }],
          outputs: [{ name: 'Plus214_Output_0' }],
        }),
        ctx.engine.infer(MODELS.mnist, {
          inputs: [{ name: 'Input3', shape: [1, 1, 28, 28], datatype: 'FP32', data: nested }],
        }),
      ]);
      expect(Array.from(flat.outputs[0]!.data as Float32Array)).toEqual(
        Array.from(typed.outputs[0]!.data as Float32Array),
      );
      expect(argmax(deep)).toBe(argmax(typed));
    }
  });

  it('a wrong tensor shape gets INVALID_INPUT naming the tensor and the expected shape', async () => {
    const pid = ctx.engine.pid;
    const err = await errorOf(
      ctx.engine.infer(MODELS.mnist, {
        inputs: [
          { name: 'Input3', shape: [1, 1, 28, 27], datatype: 'FP32', data: new Float32Array(756) },
        ],
      }),
    );
    expect(err.code).toBe('INVALID_INPUT');
    expect(err.message).toContain('Input3');
    expect(err.message).toContain('[1, 1, 28, 28]');
    expect(err.details).toMatchObject({
      tensor: 'Input3',
      expectedShape: [1, 1, 28, 28],
      expectedDatatype: 'FP32',
      shape: [1, 1, 28, 27],
    });
    // Other mistakes, same typed error.
    const cases = [
      {
        name: 'Input3',
        shape: [1, 1, 28, 28],
        datatype: 'FP64' as const,
        data: new Float64Array(784),
      },
      {
        name: 'image',
        shape: [1, 1, 28, 28],
        datatype: 'FP32' as const,
        data: new Float32Array(784),
      },
      { name: 'Input3', shape: [1, 1, 28, 28], datatype: 'FP32' as const, data: [1, 2, 3] },
      {
        name: 'Input3',
        shape: [1, 1, 28, 28],
        datatype: 'FP32' as const,
        data: new Array(784).fill('x'),
      },
    ];
    for (const input of cases) {
      const e = await errorOf(ctx.engine.infer(MODELS.mnist, { inputs: [input] }));
      expect(e.code).toBe('INVALID_INPUT');
    }
    const unknownOutput = await errorOf(
      ctx.engine.infer(MODELS.mnist, {
        inputs: [
          { name: 'Input3', shape: [1, 1, 28, 28], datatype: 'FP32', data: new Float32Array(784) },
        ],
        outputs: [{ name: 'logits' }],
      }),
    );
    expect(unknownOutput.code).toBe('INVALID_INPUT');
    // The engine is unharmed.
    const ok = await ctx.engine.infer(MODELS.mnist, {
      inputs: [
        { name: 'Input3', shape: [1, 1, 28, 28], datatype: 'FP32', data: new Float32Array(784) },
      ],
    });
    expect(ok.outputs[0]!.shape).toEqual([1, 10]);
    expect(ctx.engine.pid).toBe(pid);
  });

  it('requests made together travel in one message; a bad one fails alone, a bad packed batch fails whole', async () => {
    const good = () =>
      ctx.engine.infer(MODELS.mnist, {
        inputs: [
          { name: 'Input3', shape: [1, 1, 28, 28], datatype: 'FP32', data: new Float32Array(784) },
        ],
      });
    const bad = ctx.engine.infer(MODELS.mnist, {
      inputs: [
        { name: 'Input3', shape: [1, 1, 28, 27], datatype: 'FP32', data: new Float32Array(756) },
      ],
    });
    const [a, b, c] = await Promise.allSettled([good(), bad, good()]);
    expect(a.status).toBe('fulfilled');
    expect(c.status).toBe('fulfilled');
    expect(b.status === 'rejected' && (b.reason as IdlerigError).code).toBe('INVALID_INPUT');
    // All alike (so packed) and all wrong for the model: each gets the typed error.
    const wrong = () =>
      ctx.engine.infer(MODELS.mnist, {
        inputs: [
          { name: 'Input3', shape: [1, 784], datatype: 'FP32', data: new Float32Array(784) },
        ],
      });
    const all = await Promise.allSettled([wrong(), wrong(), wrong()]);
    for (const r of all) {
      expect(r.status).toBe('rejected');
      expect((r as PromiseRejectedResult).reason).toMatchObject({
        code: 'INVALID_INPUT',
        details: { tensor: 'Input3', expectedShape: [1, 1, 28, 28] },
      });
    }
  });

  it('new ONNX settings reach a model that never idles: the jobs running finish, the next ones run on a session with the new settings', async () => {
    const { images } = mnist();
    const one = (i: number) =>
      ctx.engine.infer(MODELS.mnist, {
        id: String(i),
        inputs: [{ name: 'Input3', shape: [1, 1, 28, 28], datatype: 'FP32', data: images[i]! }],
      });
    await one(0);
    expect((await ctx.engine.loadedModels())[0]?.onnx?.threads).toBe(1);
    // Steady traffic: 3,000 images in flight when the change arrives, so the session is busy.
    const busy = Promise.all(images.slice(0, 3000).map((_, i) => one(i)));
    let finished = false;
    void busy.then(() => (finished = true));
    const running = async () => (await ctx.engine.loadedModels())[0]?.activeJobs ?? 0;
    while (!finished && (await running()) === 0) await new Promise((r) => setTimeout(r, 1));
    expect(finished, 'the change must reach the engine while the model is busy').toBe(false);
    await ctx.engine.reconfigure({ modelsDir: ctx.modelsDir, onnx: { threads: 2 } });
    expect((await busy).every((r) => r.outputs[0]!.shape[1] === 10)).toBe(true);
    await one(1);
    const loaded = await ctx.engine.loadedModels();
    expect(loaded.map((m) => m.onnx?.threads)).toEqual([2]);
    await ctx.engine.reconfigure({ modelsDir: ctx.modelsDir });
  }, 60_000);
});
