// Dispatch decisions on a real gateway (in this process, loopback, port 0) with providers that
// speak the wire protocol by hand over real WebSockets, each with a real secp256k1 key: the
// request mapped into the offer, a decline moved to another provider, a paused provider waited
// for and then 503, a non-streamed job moved when its provider dies mid-answer, a receipt signed
// by the wrong key stored as failed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { Wallet, type HDNodeWallet } from 'ethers';
import OpenAI from 'openai';
import { startGateway, type RunningGateway } from '../../gateway/index';
import { createKey } from '../../gateway/keys';
import { PriceList } from '../../gateway/prices';
import { canonicalJson, type FrameOf, type GatewayFrame } from '../../shared/market-protocol';
import {
  RECEIPT_TYPES,
  chargeFor,
  receiptDomain,
  receiptValue,
  type Receipt,
} from '../../shared/receipt';
import { RawProvider } from '../helpers/gateway-ws';
import { tempDir } from '../helpers/gateway';

const SHA = 'd'.repeat(64);
let gw: RunningGateway;
let cleanup: () => Promise<void>;
let client: OpenAI;
const open: RawProvider[] = [];

beforeAll(async () => {
  const d = await tempDir();
  cleanup = d.cleanup;
  gw = await startGateway({
    dataDir: d.dir,
    waitForProviderMs: 600,
    defaultMetrics: false,
    // Ceilings just above the providers' floors: a job's worst case (what admission holds
    // against a key's credit and budget) is then of the order of what it costs.
    prices: new PriceList({ default: { llm: { per: 'mtok', input: '0', output: '2000' } } }),
  });
  client = new OpenAI({
    baseURL: `${gw.url}/v1`,
    apiKey: createKey(gw.store, { credit: 10n ** 18n }).key,
    maxRetries: 0,
  });
});
afterAll(async () => {
  for (const p of open) p.close();
  await gw?.close();
  await cleanup?.();
});

const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

/** A provider serving model "hand" that answers every offer as `behave` says. */
async function provider(
  floorOut: string,
  behave: 'serve' | 'decline' | 'wrong-key' | 'die-mid',
  wallet: HDNodeWallet = Wallet.createRandom(),
): Promise<{ p: RawProvider; offers: FrameOf<GatewayFrame, 'offer'>[]; wallet: HDNodeWallet }> {
  const p = new RawProvider(gw.url);
  open.push(p);
  expect(await p.login(wallet)).toMatchObject({ type: 'login_ok' });
  const hello = { origin: gw.origin, chainId: 31337 };
  p.send({
    type: 'capabilities',
    models: [
      {
        sha256: SHA,
        name: 'hand',
        kind: 'llm',
        floor: { per: 'mtok', input: '0', output: floorOut },
      },
    ],
    parallelism: 1,
    gpus: [],
  });
  const offers: FrameOf<GatewayFrame, 'offer'>[] = [];
  const signer = behave === 'wrong-key' ? Wallet.createRandom() : wallet;
  p.ws.on('message', async (data) => {
    const f = JSON.parse(data.toString()) as GatewayFrame;
    if (f.type !== 'offer') return;
    offers.push(f);
    if (behave === 'decline')
      return p.send({
        type: 'decline',
        jobId: f.jobId,
        reason: 'TOO_HOT',
        message: 'GPU at 90 °C',
      });
    p.send({ type: 'accept', jobId: f.jobId });
    p.send({ type: 'chunk', jobId: f.jobId, seq: 0, text: 'Hi there', tokens: 2 });
    if (behave === 'die-mid') return p.ws.terminate();
    const usage = { tokensIn: 5, tokensOut: 2 };
    const r: Receipt = {
      jobId: f.jobId,
      modelSha256: SHA,
      inputSha256: sha(canonicalJson(f.input)),
      outputSha256: sha('Hi there'),
      ...usage,
      price: chargeFor(f.price, usage).toString(),
      gateway: hello.origin,
    };
    const signature = await signer.signTypedData(
      receiptDomain(hello.chainId),
      RECEIPT_TYPES as never,
      receiptValue(r),
    );
    p.send({
      type: 'done',
      jobId: f.jobId,
      finishReason: 'stop',
      usage,
      timings: { ttftMs: 1, durationMs: 2 },
      outputSha256: r.outputSha256,
      receipt: { ...r, signature },
    });
  });
  await expect.poll(() => gw.registry.served().has('hand')).toBe(true);
  return { p, offers, wallet };
}

describe('dispatch', () => {
  it('the OpenAI request arrives mapped in the offer (inline input); a decline moves it to another provider', async () => {
    const cheap = await provider('1000', 'decline');
    const dear = await provider('2000', 'serve');
    const r = await client.chat.completions.create({
      model: 'hand',
      messages: [
        { role: 'developer', content: 'Be brief.' },
        { role: 'user', content: [{ type: 'text', text: 'Hello' }] },
      ],
      max_tokens: 7,
      temperature: 0,
      seed: 42,
      stop: 'END',
      provider: { sort: 'price' },
    } as OpenAI.ChatCompletionCreateParamsNonStreaming);
    expect(r.choices[0]!.message.content).toBe('Hi there');
    expect(r.usage).toEqual({ prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 });
    expect(cheap.offers).toHaveLength(1);
    const offer = dear.offers[0]!;
    expect(offer).toMatchObject({
      modelSha256: SHA,
      kind: 'chat',
      maxTokens: 7,
      price: { per: 'mtok', input: '0', output: '2000' },
      input: {
        kind: 'chat',
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'Hello' },
        ],
        sampling: { max_tokens: 7, temperature: 0, seed: 42, stop: ['END'] },
      },
    });
    const job = gw.store.getJob(r.id.replace(/^chatcmpl-/, ''))!;
    expect(job).toMatchObject({
      outcome: 'done',
      attempts: 2,
      provider: dear.wallet.address,
      charge: 1n,
    });
    await expect.poll(() => gw.store.getReceipt(job.id)?.verified, { timeout: 10_000 }).toBe(true);
    expect(gw.store.getProvider(dear.wallet.address)).toMatchObject({ jobsDone: 1, jobsFailed: 0 });
    cheap.p.close();
    dear.p.close();
    await Promise.all([cheap.p.closed, dear.p.closed]);
  });

  it('a paused provider gets no offer: the request waits its bound, then 503 with retry-after-ms; resumed, it serves', async () => {
    const only = await provider('1000', 'serve');
    only.p.send({ type: 'pause', reason: 'Outside the schedule' });
    await expect
      .poll(() => gw.registry.get(only.wallet.address)?.paused)
      .toBe('Outside the schedule');
    const t0 = Date.now();
    const res = await fetch(`${gw.url}/v1/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${client.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'hand', prompt: 'x', max_tokens: 2 }),
    });
    expect(res.status).toBe(503);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(550);
    expect(res.headers.get('retry-after-ms')).toBeTruthy();
    expect(((await res.json()) as { error: { message: string } }).error.message).toBe(
      'No provider ran this hand request in 600 ms. Serving it now: 1 provider (1 busy or paused). Retry later (retry-after-ms says when).',
    );
    expect(only.offers).toHaveLength(0);
    only.p.send({ type: 'resume' });
    const ok = await client.completions.create({ model: 'hand', prompt: 'x', max_tokens: 2 });
    expect(ok.choices[0]!.text).toBe('Hi there');
    only.p.close();
    await only.p.closed;
  });

  it('a non-streamed job whose provider dies after its first token is answered by another', async () => {
    const dying = await provider('1000', 'die-mid');
    const fine = await provider('2000', 'serve');
    const r = await client.completions.create({
      model: 'hand',
      prompt: 'x',
      max_tokens: 2,
      provider: { sort: 'price' },
    } as OpenAI.CompletionCreateParamsNonStreaming);
    expect(r.choices[0]!.text).toBe('Hi there');
    expect(dying.offers).toHaveLength(1);
    expect(gw.store.getJob(r.id.replace(/^cmpl-/, ''))).toMatchObject({
      attempts: 2,
      provider: fine.wallet.address,
    });
    fine.p.close();
    await fine.p.closed;
  });

  it('per-key tokens-per-minute limit and daily budget: 429 once used up (the budget with x-should-retry: false)', async () => {
    const serving = await provider('1000', 'serve');
    const call = (key: string) =>
      fetch(`${gw.url}/v1/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'hand', prompt: 'x', max_tokens: 2 }),
      });
    // Each job uses 7 tokens (5 in, 2 out) and costs 1 (its worst case too: 2 tokens at 2000
    // per million, rounded up).
    const tpm = createKey(gw.store, { credit: 1000n, limits: { tpm: 10 } }).key;
    expect((await call(tpm)).status).toBe(200);
    const second = await call(tpm);
    expect(second.status).toBe(200);
    expect(second.headers.get('x-ratelimit-limit-tokens')).toBe('10');
    const third = await call(tpm);
    expect(third.status).toBe(429);
    expect(third.headers.get('x-ratelimit-remaining-tokens')).toBe('0');
    expect(Number(third.headers.get('retry-after-ms'))).toBeGreaterThan(0);
    const budget = createKey(gw.store, { credit: 1000n, limits: { budgetPerDay: 1n } }).key;
    expect((await call(budget)).status).toBe(200);
    const over = await call(budget);
    expect(over.status).toBe(429);
    expect(over.headers.get('x-should-retry')).toBe('false');
    expect(((await over.json()) as { error: { message: string } }).error.message).toMatch(
      /daily budget/,
    );
    serving.p.close();
    await serving.p.closed;
  });

  it('503 no_provider says why over every provider serving the model, not the last one only, and what the requester can do', async () => {
    const declining = await provider('1000', 'decline');
    const dear = await provider('1900', 'serve');
    const pricey = await provider('5000', 'serve');
    const ask = async (
      prefs: Record<string, unknown>,
    ): Promise<{ status: number; retryAfterMs: string | null; message: string; code: string }> => {
      const res = await fetch(`${gw.url}/v1/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${client.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'hand', prompt: 'x', max_tokens: 2, provider: prefs }),
      });
      const { error } = (await res.json()) as { error: { message: string; code: string } };
      return {
        status: res.status,
        retryAfterMs: res.headers.get('retry-after-ms'),
        message: error.message,
        code: error.code,
      };
    };
    try {
      // The cheap one declines; the dear one is above the request's own max_price, the pricey one
      // above the gateway's price.
      const capped = await ask({ max_price: { completion: '1500' } });
      expect(capped).toMatchObject({ status: 503, code: 'no_provider' });
      expect(Number(capped.retryAfterMs)).toBeGreaterThan(0);
      expect(capped.message).toBe(
        "No provider ran this hand request in 600 ms: 1 tried it and could not run it (the last one: declined: TOO_HOT). Also serving it: 2 providers (1 asking more than this gateway's price for it, 1 asking more than this request's provider.max_price). Retry later (retry-after-ms says when), or raise provider.max_price.",
      );
      expect(declining.offers).toHaveLength(1);
      expect(dear.offers).toHaveLength(0);
      expect(pricey.offers).toHaveLength(0);
    } finally {
      for (const x of [declining, dear, pricey]) x.p.close();
      await Promise.all([declining.p.closed, dear.p.closed, pricey.p.closed]);
    }
  });

  it('a receipt signed by another key is stored as failed verification and the provider is skipped for 30 s', async () => {
    const liar = await provider('1000', 'wrong-key');
    const r = await client.completions.create({ model: 'hand', prompt: 'x', max_tokens: 2 });
    const jobId = r.id.replace(/^cmpl-/, '');
    await expect.poll(() => gw.store.getReceipt(jobId)?.verified, { timeout: 10_000 }).toBe(false);
    await expect(
      client.completions.create({ model: 'hand', prompt: 'x', max_tokens: 2 }),
    ).rejects.toMatchObject({ status: 503 });
    expect(liar.offers).toHaveLength(1);
  });
});
