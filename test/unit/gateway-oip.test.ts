// The Open Inference Protocol (KServe v2) through a real gateway process to a provider running
// mnist-8 on the real engine (ONNX Runtime): MNIST test digits as JSON tensors and with the
// binary tensor data extension (Inference-Header-Content-Length, as Triton's client sends by
// default) give their labels; health and metadata answer per the spec; errors are {"error"}.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gunzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, MODELS } from '../helpers/engine';
import {
  createKey,
  startGatewayProc,
  startProvider,
  tempDir,
  writePriceFile,
  type GatewayProc,
  type ProviderProc,
} from '../helpers/gateway';

let gw: GatewayProc;
let provider: ProviderProc;
let cleanup: () => Promise<void>;
let auth: Record<string, string>;
const DIGITS = 32;

function digits(): { images: Buffer[]; labels: number[] } {
  const img = gunzipSync(readFileSync(join(FIXTURES, 't10k-images-idx3-ubyte.gz')));
  const lab = gunzipSync(readFileSync(join(FIXTURES, 't10k-labels-idx1-ubyte.gz')));
  const images: Buffer[] = [];
  const labels: number[] = [];
  for (let i = 0; i < DIGITS; i++) {
    // Raw 0..255 pixels as float32 (how the zoo model was trained), little-endian bytes.
    const f = Float32Array.from(img.subarray(16 + i * 784, 16 + (i + 1) * 784));
    images.push(Buffer.from(f.buffer));
    labels.push(lab[8 + i]!);
  }
  return { images, labels };
}

const argmax = (xs: number[]): number => xs.indexOf(Math.max(...xs));

beforeAll(async () => {
  const d = await tempDir();
  cleanup = d.cleanup;
  gw = await startGatewayProc(d.dir, ['--price-file', await writePriceFile(d.dir)]);
  provider = await startProvider(gw.url);
  auth = { authorization: `Bearer ${await createKey(d.dir, ['--credit', '100000'])}` };
}, 180_000);

afterAll(async () => {
  await provider?.stop();
  await gw?.stop();
  await cleanup?.();
});

describe('health and metadata', () => {
  it('server metadata, live and ready; model metadata with its tensors, by name and version; model ready', async () => {
    const get = async (p: string) => {
      const r = await fetch(`${gw.url}${p}`);
      return { status: r.status, body: (await r.json()) as Record<string, unknown> };
    };
    expect(await get('/v2')).toMatchObject({
      status: 200,
      body: { name: 'idlerig-gateway', extensions: ['binary_tensor_data'] },
    });
    expect(await get('/v2/health/live')).toEqual({ status: 200, body: { live: true } });
    expect(await get('/v2/health/ready')).toEqual({ status: 200, body: { ready: true } });
    const meta = await get('/v2/models/mnist-8');
    expect(meta.status).toBe(200);
    expect(meta.body).toMatchObject({
      name: 'mnist-8',
      versions: ['1'],
      platform: 'onnxruntime_onnx',
      sha256: MODELS.mnist.sha256,
      inputs: [{ name: 'Input3', datatype: 'FP32', shape: [1, 1, 28, 28] }],
      outputs: [{ name: 'Plus214_Output_0', datatype: 'FP32', shape: [1, 10] }],
    });
    expect((await get('/v2/models/mnist-8/versions/1')).body).toEqual(meta.body);
    expect(await get('/v2/models/mnist-8/ready')).toEqual({
      status: 200,
      body: { name: 'mnist-8', ready: true },
    });
    expect(await get('/v2/models/mnist-8/versions/7')).toMatchObject({
      status: 404,
      body: { error: expect.any(String) },
    });
    expect(await get('/v2/models/nothing')).toMatchObject({
      status: 404,
      body: { error: expect.stringContaining('nothing') },
    });
  });
});

describe('infer', () => {
  it(`${DIGITS} MNIST test digits as JSON tensors give their labels; the request id is echoed`, async () => {
    const { images, labels } = digits();
    const got = await Promise.all(
      images.map(async (raw, i) => {
        const data = Array.from(new Float32Array(raw.buffer, raw.byteOffset, 784));
        const r = await fetch(`${gw.url}/v2/models/mnist-8/infer`, {
          method: 'POST',
          headers: { ...auth, 'content-type': 'application/json' },
          body: JSON.stringify({
            id: `digit-${i}`,
            inputs: [{ name: 'Input3', shape: [1, 1, 28, 28], datatype: 'FP32', data }],
          }),
        });
        expect(r.status).toBe(200);
        const body = (await r.json()) as {
          id: string;
          model_name: string;
          outputs: { name: string; shape: number[]; data: number[] }[];
        };
        expect(body).toMatchObject({
          id: `digit-${i}`,
          model_name: 'mnist-8',
          outputs: [{ name: 'Plus214_Output_0', datatype: 'FP32', shape: [1, 10] }],
        });
        return argmax(body.outputs[0]!.data);
      }),
    );
    expect(got).toEqual(labels);
  });

  it(`the same digits with the binary tensor extension in and out give the same labels`, async () => {
    const { images, labels } = digits();
    const got: number[] = [];
    for (const [i, raw] of images.entries()) {
      const head = Buffer.from(
        JSON.stringify({
          id: `b${i}`,
          inputs: [
            {
              name: 'Input3',
              shape: [1, 1, 28, 28],
              datatype: 'FP32',
              parameters: { binary_data_size: raw.length },
            },
          ],
          outputs: [{ name: 'Plus214_Output_0', parameters: { binary_data: true } }],
        }),
      );
      const r = await fetch(`${gw.url}/v2/models/mnist-8/versions/1/infer`, {
        method: 'POST',
        headers: {
          ...auth,
          'content-type': 'application/octet-stream',
          'inference-header-content-length': String(head.length),
        },
        body: Buffer.concat([head, raw]),
      });
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toBe('application/octet-stream');
      const n = Number(r.headers.get('inference-header-content-length'));
      const buf = Buffer.from(await r.arrayBuffer());
      const json = JSON.parse(buf.subarray(0, n).toString()) as {
        id: string;
        outputs: { parameters: { binary_data_size: number } }[];
      };
      expect(json.id).toBe(`b${i}`);
      expect(json.outputs[0]!.parameters.binary_data_size).toBe(40);
      const out = buf.subarray(n, n + 40);
      got.push(
        argmax(Array.from(new Float32Array(out.buffer.slice(out.byteOffset, out.byteOffset + 40)))),
      );
    }
    expect(got).toEqual(labels);
  });

  it('bad requests: {"error": ...} with 400; no key: 401', async () => {
    const post = async (body: Buffer | string, headers: Record<string, string> = {}) => {
      const r = await fetch(`${gw.url}/v2/models/mnist-8/infer`, {
        method: 'POST',
        headers: { ...auth, ...headers },
        body,
      });
      return { status: r.status, body: (await r.json()) as { error?: string } };
    };
    expect(await post('{')).toMatchObject({
      status: 400,
      body: { error: expect.stringContaining('JSON') },
    });
    expect(
      await post(
        JSON.stringify({
          inputs: [{ name: 'Input3', shape: [1, 1, 28, 28], datatype: 'FP32', data: [1, 2] }],
        }),
      ),
    ).toMatchObject({
      status: 400,
      body: { error: expect.stringContaining('784') },
    });
    const head = JSON.stringify({
      inputs: [
        {
          name: 'Input3',
          shape: [1, 1, 28, 28],
          datatype: 'FP32',
          parameters: { binary_data_size: 3136 },
        },
      ],
    });
    expect(
      await post(Buffer.concat([Buffer.from(head), Buffer.alloc(100)]), {
        'inference-header-content-length': String(head.length),
      }),
    ).toMatchObject({
      status: 400,
      body: { error: expect.stringContaining('binary_data_size') },
    });
    // The engine refuses a tensor the model cannot take: the provider's typed error, as a 400.
    expect(
      await post(
        JSON.stringify({ inputs: [{ name: 'Wrong', shape: [1], datatype: 'FP32', data: [1] }] }),
      ),
    ).toMatchObject({
      status: 400,
      body: { error: expect.any(String) },
    });
    const r = await fetch(`${gw.url}/v2/models/mnist-8/infer`, { method: 'POST', body: '{}' });
    expect(r.status).toBe(401);
    expect(await r.json()).toEqual({ error: expect.any(String) });
  });
});
