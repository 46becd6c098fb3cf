// The real gateway (`idlerig gateway`, its own process) and the real provider node, joined
// through a loopback TCP relay the test can cut: a streamed job loses its provider mid-stream
// (the requester gets the error event, the gateway records the job without a receipt and
// charges what reached it), the node signs in again and reports the job in its away report,
// and the gateway keeps the provider's signed receipt for it, checked like any other. A report
// that does not match the ledger (another job, a lower count) keeps nothing.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { ProviderNode } from '../../electron/provider/node';
import { SqliteStore } from '../../gateway/storage/sqlite';
import { GATEWAY_DB } from '../../gateway/index';
import { reconcileAway } from '../../gateway/away';
import { receiptSigner } from '../../gateway/receipts';
import { marketNodeOptions } from '../helpers/market-node';
import { FIXTURES, MODELS } from '../helpers/engine';
import { createKey, startGatewayProc, waitFor, type GatewayProc } from '../helpers/gateway';

/** A TCP relay to `port` whose connections `cut()` ends at once (a lost network path). */
async function relay(port: number): Promise<{ url: string; cut(): void; close(): Promise<void> }> {
  const open = new Set<Socket>();
  const server: Server = createServer((inbound) => {
    const outbound = connect(port, '127.0.0.1');
    for (const s of [inbound, outbound]) {
      open.add(s);
      s.on('close', () => open.delete(s));
      s.on('error', () => undefined);
    }
    inbound.pipe(outbound).pipe(inbound);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port: own } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${own}`,
    cut: () => {
      for (const s of open) s.destroy();
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

let dir: string;
let gw: GatewayProc;
let link: Awaited<ReturnType<typeof relay>>;
let node: ProviderNode;
let client: OpenAI;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'idlerig-gateway-away-'));
  const prices = join(dir, 'prices.json');
  await writeFile(
    prices,
    JSON.stringify({
      default: { llm: { per: 'mtok', input: '0', output: '10000000000000000000' } },
    }),
  );
  gw = await startGatewayProc(join(dir, 'gw'), ['--price-file', prices]);
  link = await relay(Number(new URL(gw.url).port));
  node = new ProviderNode(
    await marketNodeOptions(join(dir, 'node'), [link.url], {
      initialMs: 200,
      maxMs: 1000,
      jitter: 0.5,
    }),
  );
  await node.start();
  await node.modelService.import({ path: join(FIXTURES, MODELS.stories.file) });
  await waitFor('signed in', () => node.market.status().gateways[0]?.phase === 'ready', 30_000);
  const key = await createKey(join(dir, 'gw'), ['--credit', '1000000000000000000000']);
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: key, maxRetries: 0 });
}, 180_000);

afterAll(async () => {
  await node?.stop();
  await link?.close();
  await gw?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('away reports reach the ledger', () => {
  it("a job whose provider was lost mid-stream gets the provider's receipt after it signs in again", async () => {
    await expect
      .poll(async () => (await client.models.list()).data.map((m) => m.id), { timeout: 15_000 })
      .toContain('stories260K.gguf');
    const stream = await client.completions.create({
      model: 'stories260K.gguf',
      prompt: 'Once upon a time',
      max_tokens: 2000,
      temperature: 0.8,
      stream: true,
    });
    let jobId = '';
    let failed: unknown = null;
    try {
      for await (const c of stream) {
        if (!jobId) {
          jobId = c.id.replace(/^cmpl-/, '');
          link.cut();
        }
      }
    } catch (err) {
      failed = err;
    }
    // The requester learns the stream broke (an error event, never a clean end).
    expect(failed).toBeInstanceOf(Error);
    expect(jobId).not.toBe('');
    const address = node.market.status().identity.address!;
    const db = new SqliteStore(join(gw.dataDir, GATEWAY_DB));
    try {
      await expect.poll(() => db.getJob(jobId)?.outcome, { timeout: 10_000 }).toBe('error');
      const job = db.getJob(jobId)!;
      expect(job.provider).toBe(address);
      // The node signs in again through the same path and reports the job; its receipt is kept
      // and its signature checked.
      await expect.poll(() => db.getReceipt(jobId)?.verified, { timeout: 30_000 }).toBe(true);
      const receipt = db.getReceipt(jobId)!.receipt;
      expect(receipt).toMatchObject({ jobId, modelSha256: MODELS.stories.sha256 });
      // The node signed for the input the gateway sent (the ledger keeps its hash to check).
      expect(job.inputSha256).toMatch(/^[0-9a-f]{64}$/);
      expect(receipt.inputSha256).toBe(job.inputSha256);
      expect(receipt.tokensOut).toBeGreaterThanOrEqual(job.tokensOut);
      expect(receiptSigner(receipt, 31337)).toBe(address);
      // What the job was charged did not change with it, and the node's record says that is
      // what it earned (the gateway's figure, sent back with the acknowledgement).
      expect(db.getJob(jobId)!.charge).toBe(job.charge);
      await expect
        .poll(() => node.jobs.queries.get(jobId).reason, { timeout: 10_000 })
        .toContain('the gateway counted');
      expect(node.jobs.queries.get(jobId).earned).toBe(job.charge.toString());

      // The same report again, or one that claims less than reached the gateway, or another
      // provider's: nothing is kept twice and nothing unmatched is kept.
      const pushed: string[] = [];
      const push = (id: string) => pushed.push(id);
      const entry = { jobId, outcome: 'cancelled' as const, usage: { tokensIn: 0, tokensOut: 1 } };
      expect(reconcileAway(db, push, receipt.gateway, address, [{ ...entry, receipt }])).toEqual({
        kept: 0,
        nothing: 1,
        refused: {},
        settled: [{ jobId, tokensOut: job.tokensOut, charge: job.charge.toString() }],
      });
      expect(
        reconcileAway(db, push, receipt.gateway, `0x${'1'.repeat(40)}`, [{ ...entry, receipt }])
          .refused,
      ).toEqual({ 'another provider': 1 });
      expect(
        reconcileAway(db, push, receipt.gateway, address, [
          { ...entry, jobId: 'no-such-job', receipt: { ...receipt, jobId: 'no-such-job' } },
        ]).refused,
      ).toEqual({ 'unknown job': 1 });
      expect(pushed).toEqual([]);
    } finally {
      db.close();
    }
  }, 90_000);
});
