// The provider node's market client against the real gateway (`idlerig gateway`, its own
// process on loopback) with the official `openai` package as the requester: the node signs in
// with its node key, advertises stories260K, and serves completions and streamed chats through
// the real engine; the gateway's ledger holds each job with the receipt the node key signed.
// Then the gateway restarts and the node signs in again and serves.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { ProviderNode } from '../../electron/provider/node';
import { SqliteStore } from '../../gateway/storage/sqlite';
import { GATEWAY_DB } from '../../gateway/index';
import { receiptSigner } from '../../gateway/receipts';
import { marketNodeOptions } from '../helpers/market-node';
import { FIXTURES, MODELS } from '../helpers/engine';
import { createKey, startGatewayProc, waitFor, type GatewayProc } from '../helpers/gateway';

const LILY = ', there was a little girl named Lily.';
let dir: string;
let gw: GatewayProc;
let node: ProviderNode;
let client: OpenAI;
let gwArgs: string[];
let apiKey: string;

async function ready(): Promise<void> {
  await waitFor(
    'the node signed in',
    () => node.market.status().gateways[0]?.phase === 'ready',
    30_000,
  );
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'idlerig-market-gw-'));
  const prices = join(dir, 'prices.json');
  // A ceiling above the node's electricity floor (default tariff, 18-decimal token).
  await writeFile(
    prices,
    JSON.stringify({
      default: { llm: { per: 'mtok', input: '0', output: '10000000000000000000' } },
    }),
  );
  gwArgs = ['--price-file', prices];
  gw = await startGatewayProc(join(dir, 'gw'), gwArgs);
  node = new ProviderNode(
    await marketNodeOptions(join(dir, 'node'), [gw.url], {
      initialMs: 200,
      maxMs: 2000,
      jitter: 0.5,
    }),
  );
  await node.start();
  // Imported as a user would: copied into the models folder and verified (sha256).
  await node.modelService.import({ path: join(FIXTURES, MODELS.stories.file) });
  await node.modelService.import({ path: join(FIXTURES, MODELS.mnist.file) });
  await ready();
  apiKey = await createKey(join(dir, 'gw'), ['--credit', '1000000000000000000000']);
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey, maxRetries: 0 });
}, 180_000);

afterAll(async () => {
  await node?.stop();
  await gw?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('market client ↔ the real gateway', () => {
  it('the gateway lists the model the node advertised', async () => {
    await expect
      .poll(async () => (await client.models.list()).data.map((m) => m.id), { timeout: 15_000 })
      .toContain('stories260K.gguf');
  });

  it('a completion runs on the node: greedy text, usage, the job in the ledger with the receipt the node key signed', async () => {
    const r = await client.completions.create({
      model: 'stories260K.gguf',
      prompt: 'Once upon a time',
      max_tokens: 24,
      temperature: 0,
    });
    expect(r.choices[0]!.text.startsWith(LILY)).toBe(true);
    expect(r.usage!.completion_tokens).toBe(24);
    const jobId = r.id.replace(/^cmpl-/, '');
    const address = node.market.status().identity.address;
    const db = new SqliteStore(join(gw.dataDir, GATEWAY_DB));
    try {
      await expect.poll(() => db.getReceipt(jobId)?.verified, { timeout: 10_000 }).toBe(true);
      const receipt = db.getReceipt(jobId)!.receipt;
      expect(receipt).toMatchObject({ jobId, modelSha256: MODELS.stories.sha256, tokensOut: 24 });
      expect(receiptSigner(receipt, 31337)).toBe(address);
      expect(db.getJob(jobId)).toMatchObject({ outcome: 'done', provider: address });
    } finally {
      db.close();
    }
    expect(node.market.status().gateways[0]!.jobsServed).toBeGreaterThanOrEqual(1);
  }, 60_000);

  it('a streamed chat arrives in chunks and ends cleanly', async () => {
    const stream = await client.chat.completions.create({
      model: 'stories260K.gguf',
      messages: [{ role: 'user', content: 'Once upon a time' }],
      max_tokens: 40,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage: { completion_tokens: number } | null = null;
    let deltas = 0;
    for await (const chunk of stream) {
      const d = chunk.choices[0]?.delta?.content;
      if (d) {
        text += d;
        deltas++;
      }
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text.length).toBeGreaterThan(0);
    expect(deltas).toBeGreaterThanOrEqual(1);
    expect(usage?.completion_tokens).toBe(40);
  }, 60_000);

  it('MNIST test digits as Open Inference tensors run on the node and give their labels; metadata has the tensors', async () => {
    const img = gunzipSync(readFileSync(join(FIXTURES, 't10k-images-idx3-ubyte.gz')));
    const lab = gunzipSync(readFileSync(join(FIXTURES, 't10k-labels-idx1-ubyte.gz')));
    const name = 'mnist-8.onnx';
    await expect
      .poll(
        async () => {
          const r = await fetch(`${gw.url}/v2/models/${name}`);
          return r.ok ? ((await r.json()) as { inputs: { name: string }[] }).inputs : [];
        },
        { timeout: 20_000 },
      )
      .toEqual([expect.objectContaining({ name: 'Input3', datatype: 'FP32' })]);
    const got: number[] = [];
    const want: number[] = [];
    for (let i = 0; i < 8; i++) {
      const data = Array.from(Float32Array.from(img.subarray(16 + i * 784, 16 + (i + 1) * 784)));
      const r = await fetch(`${gw.url}/v2/models/${name}/infer`, {
        method: 'POST',
        headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          id: `d${i}`,
          inputs: [{ name: 'Input3', shape: [1, 1, 28, 28], datatype: 'FP32', data }],
        }),
      });
      expect(r.status).toBe(200);
      const body = (await r.json()) as { id: string; outputs: { data: number[] }[] };
      expect(body.id).toBe(`d${i}`);
      const out = body.outputs[0]!.data;
      got.push(out.indexOf(Math.max(...out)));
      want.push(lab[8 + i]!);
    }
    expect(got).toEqual(want);
  }, 60_000);

  it('after the gateway restarts the node signs in again and serves', async () => {
    const port = new URL(gw.url).port;
    await gw.stop();
    await waitFor('offline', () => node.status().state === 'offline', 15_000);
    expect(node.status().reason).toMatch(/^Offline: gateway unreachable/);
    gw = await startGatewayProc(join(dir, 'gw'), [...gwArgs, '--port', port]);
    await ready();
    const r = await client.completions.create({
      model: 'stories260K.gguf',
      prompt: 'Once upon a time',
      max_tokens: 8,
      temperature: 0,
    });
    expect(r.choices[0]!.text.length).toBeGreaterThan(0);
  }, 90_000);
});
