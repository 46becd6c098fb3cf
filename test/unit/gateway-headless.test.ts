// The whole market path with the real provider: `idlerig gateway` and `idlerig --headless
// --gateway URL` (the built CLI, H7's market client, its node key in a keystore under a
// passphrase from the environment), stories260K imported with `idlerig models import`, and the
// official `openai` package as the requester. Skipped (and says so) when dist/ is not built.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SqliteStore } from '../../gateway/storage/sqlite';
import { GATEWAY_DB } from '../../gateway/index';
import { receiptSigner } from '../../gateway/receipts';
import { BUILT, runCli, startCli, waitForDashboard, type RunningCli } from '../helpers/cli';
import { FIXTURES, MODELS } from '../helpers/engine';
import {
  createKey,
  startGatewayProc,
  tempDir,
  waitFor,
  type GatewayProc,
} from '../helpers/gateway';

const LILY = ', there was a little girl named Lily.';
const MODEL = 'stories260K.gguf';

let gw: GatewayProc | null = null;
let node: RunningCli | null = null;
let cleanup: () => Promise<void> = async () => undefined;
let client: OpenAI;
let nodeDir: string;

function ledger(): SqliteStore {
  return new SqliteStore(join(gw!.dataDir, GATEWAY_DB));
}

describe.skipIf(!BUILT)('the real headless provider behind the gateway (built CLI)', () => {
  if (!BUILT)
    console.log('skipped: dist/main/cli.js is missing; run `npm run build` (npm test does)');

  beforeAll(async () => {
    const d = await tempDir('idlerig-gw-headless-');
    cleanup = d.cleanup;
    const prices = join(d.dir, 'prices.json');
    // A ceiling above the node's electricity-cost floor (default tariff, 18-decimal token).
    await writeFile(
      prices,
      JSON.stringify({
        default: { llm: { per: 'mtok', input: '0', output: '10000000000000000000' } },
      }),
    );
    gw = await startGatewayProc(join(d.dir, 'gw'), ['--price-file', prices]);
    nodeDir = join(d.dir, 'node');
    const imported = await runCli([
      'models',
      'import',
      join(FIXTURES, MODELS.stories.file),
      '--data-dir',
      nodeDir,
    ]);
    expect(imported.code, imported.stderr).toBe(0);
    node = startCli(
      ['--headless', '--port', '0', '--data-dir', nodeDir, '--quiet', '--gateway', gw.url],
      {
        IDLERIG_KEY_PASSPHRASE: 'a test passphrase',
      },
    );
    await waitForDashboard(node, 30_000);
    const key = await createKey(gw.dataDir, ['--credit', '1000000000000000000000000']);
    client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: key, maxRetries: 0 });
    // The node signs in and advertises the model it verified.
    const until = Date.now() + 60_000;
    let ids: string[] = [];
    while (!ids.includes(MODEL)) {
      if (Date.now() > until)
        throw new Error(`the gateway never listed ${MODEL}: ${node.stderr()}`);
      await new Promise((r) => setTimeout(r, 250));
      ids = (await client.models.list()).data.map((m) => m.id);
    }
  }, 180_000);

  afterAll(async () => {
    if (node && node.child.exitCode === null) {
      node.child.kill('SIGTERM');
      await node.exited;
    }
    await gw?.stop();
    await cleanup();
  });

  it('a completion gives the greedy text and usage; the ledger has the job with the receipt the node key signed, verified', async () => {
    const r = await client.completions.create({
      model: MODEL,
      prompt: 'Once upon a time',
      max_tokens: 24,
      temperature: 0,
    });
    expect(r.choices[0]!.text.startsWith(LILY)).toBe(true);
    expect(r.usage!.completion_tokens).toBe(24);
    const jobId = r.id.replace(/^cmpl-/, '');
    const address = `0x${(JSON.parse(await readFile(join(nodeDir, 'node-key.json'), 'utf8')) as { address: string }).address}`;
    const db = ledger();
    try {
      await expect.poll(() => db.getReceipt(jobId)?.verified, { timeout: 15_000 }).toBe(true);
      const job = db.getJob(jobId)!;
      expect(job.provider!.toLowerCase()).toBe(address.toLowerCase());
      expect(job).toMatchObject({
        outcome: 'done',
        tokensOut: 24,
        tokensIn: r.usage!.prompt_tokens,
      });
      const receipt = db.getReceipt(jobId)!.receipt;
      expect(receipt).toMatchObject({
        jobId,
        modelSha256: MODELS.stories.sha256,
        tokensOut: 24,
        price: job.charge.toString(),
      });
      expect(receiptSigner(receipt, 31337)).toBe(job.provider);
    } finally {
      db.close();
    }
  });

  it('a streamed completion gives the same text, usage in the last chunk, and [DONE]', async () => {
    const whole = await client.completions.create({
      model: MODEL,
      prompt: 'Once upon a time',
      max_tokens: 48,
      temperature: 0,
    });
    const stream = await client.completions.create({
      model: MODEL,
      prompt: 'Once upon a time',
      max_tokens: 48,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage = null;
    for await (const c of stream) {
      text += c.choices[0]?.text ?? '';
      if (c.usage) usage = c.usage;
    }
    expect(text).toBe(whole.choices[0]!.text);
    expect(usage).toEqual(whole.usage);
  });

  it('a client leaving mid-stream: the job is cancelled on the node and charged what its receipt says it generated', async () => {
    const ac = new AbortController();
    const res = await fetch(`${gw!.url}/v1/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${client.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: MODEL,
        prompt: 'Once upon a time',
        max_tokens: 480,
        temperature: 0,
        stream: true,
      }),
      signal: ac.signal,
    });
    const idRe = /cmpl-([0-9a-f-]{36})/;
    const reader = res.body!.getReader();
    let text = '';
    while (!idRe.test(text)) text += Buffer.from((await reader.read()).value!).toString();
    ac.abort();
    const jobId = idRe.exec(text)![1]!;
    const db = ledger();
    try {
      const job = await waitFor('the job in the ledger', () => db.getJob(jobId), 15_000);
      expect(job.outcome).toBe('cancelled');
      expect(job.tokensOut).toBeLessThan(480);
      const receipt = db.getReceipt(jobId)?.receipt;
      if (receipt) {
        expect(receipt.tokensOut).toBe(job.tokensOut);
        expect(BigInt(receipt.price)).toBe(job.charge);
      }
    } finally {
      db.close();
    }
  });
});
