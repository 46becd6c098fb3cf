// A key never spends beyond its credit (`keys create --credit 1000000`, one chat with
// max_tokens 20 at the default prices left it at remaining -477779000000). At admission a
// request whose worst case (max_tokens at the model's output price, plus its prompt's UTF-8
// bytes at the input price) is over the key's credit left, less what its running requests
// hold, is refused with 429 insufficient_quota (x-should-retry: false), as OpenRouter does; the
// same against a daily budget; at settlement a charge is capped at the credit left. A real
// gateway process at its default prices with a provider on the real engine (paced, so a
// stream is still running while the next request comes), the keys CLI; and the key service on
// a real SQLite store for the settlement cap.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { join } from 'node:path';
import { KeyService, createKey as newKey, isRefusal, type Lease } from '../../gateway/keys';
import { SqliteStore } from '../../gateway/storage/sqlite';
import {
  createKey,
  gatewayCli,
  startGatewayProc,
  startProvider,
  tempDir,
  type GatewayProc,
  type ProviderProc,
} from '../helpers/gateway';

let gw: GatewayProc;
let provider: ProviderProc;
let dir: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  const d = await tempDir();
  dir = d.dir;
  cleanup = d.cleanup;
  // Default prices (gateway/prices.ts): 1e17 per million input tokens, 2e17 per million output.
  gw = await startGatewayProc(join(dir, 'gw'));
  provider = await startProvider(gw.url, { GW_PACE_MS: '100', GW_FLUSH_TOKENS: '8' });
}, 180_000);

afterAll(async () => {
  await provider?.stop();
  await gw?.stop();
  await cleanup?.();
});

async function keyRow(id: string): Promise<{ spent: string; remaining: string }> {
  const l = await gatewayCli(['keys', 'list', '--data-dir', gw.dataDir, '--json']);
  return (JSON.parse(l.stdout) as { id: string; spent: string; remaining: string }[]).find(
    (k) => k.id === id,
  )!;
}

const offers = (): number => provider.events().filter((e) => e.event === 'accepted').length;

function refusedForCredit(e: unknown): void {
  expect(e).toBeInstanceOf(OpenAI.RateLimitError);
  const err = e as InstanceType<typeof OpenAI.APIError>;
  expect(err).toMatchObject({
    status: 429,
    code: 'insufficient_quota',
    type: 'insufficient_quota',
  });
  expect(err.headers?.get('x-should-retry')).toBe('false');
}

describe('worst-case admission against credit and budget', () => {
  it('the repro: credit 1000000, a chat with max_tokens 20 is refused and the key stays at 1000000', async () => {
    const k = await createKey(gw.dataDir, ['--credit', '1000000']);
    const c = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: k, maxRetries: 0 });
    const before = offers();
    const e = await c.chat.completions
      .create({
        model: 'stories260K',
        messages: [{ role: 'user', content: 'Once upon a time' }],
        max_tokens: 20,
      })
      .then(
        () => null,
        (x: unknown) => x,
      );
    refusedForCredit(e);
    expect((e as Error).message).toMatch(
      /could cost up to \d+.*Lower max_tokens or add credit with `idlerig gateway keys credit`/,
    );
    expect(offers()).toBe(before);
    // The gateway writes spend in batches (20 ms); give it time before reading.
    await new Promise((r) => setTimeout(r, 300));
    expect(await keyRow(k.split('_')[1]!)).toMatchObject({ spent: '0', remaining: '1000000' });
  });

  it('a running request holds its worst case: the next one that would not fit is refused until it ends', async () => {
    // 1e14: 500 output tokens at 2e11 each. A: 16 prompt bytes + 300 tokens ≈ 6.16e13 held.
    const k = await createKey(gw.dataDir, ['--credit', '100000000000000']);
    const c = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: k, maxRetries: 0 });
    const req = (max_tokens: number) =>
      c.completions.create({ model: 'stories260K', prompt: 'Once upon a time', max_tokens });
    // Alone over the credit: 600 tokens ≈ 1.2e14.
    refusedForCredit(
      await req(600).then(
        () => null,
        (x: unknown) => x,
      ),
    );
    const a = await c.completions.create({
      model: 'stories260K',
      prompt: 'Once upon a time',
      max_tokens: 300,
      stream: true,
    });
    const it = a[Symbol.asyncIterator]();
    await it.next();
    // B: ≈ 5.16e13, within the credit but not beside A's hold.
    const e = await req(250).then(
      () => null,
      (x: unknown) => x,
    );
    refusedForCredit(e);
    expect((e as Error).message).toMatch(/held for its 1 running requests/);
    a.controller.abort();
    await expect
      .poll(
        () =>
          req(250).then(
            (r) => r.usage!.completion_tokens,
            () => 0,
          ),
        {
          timeout: 20_000,
          interval: 200,
        },
      )
      .toBe(250);
    const row = await keyRow(k.split('_')[1]!);
    expect(BigInt(row.remaining)).toBeGreaterThan(0n);
  }, 60_000);

  it('a daily budget is checked against the worst case too', async () => {
    // Budget 1e13: max_tokens 20 (≈ 5.6e12) fits, max_tokens 50 (≈ 1.16e13) does not.
    const k = await createKey(gw.dataDir, [
      '--credit',
      '10000000000000000',
      '--budget',
      '10000000000000',
    ]);
    const c = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: k, maxRetries: 0 });
    const req = (max_tokens: number) =>
      c.completions.create({ model: 'stories260K', prompt: 'Once upon a time', max_tokens });
    const e = await req(50).then(
      () => null,
      (x: unknown) => x,
    );
    refusedForCredit(e);
    expect((e as Error).message).toMatch(/daily budget of 10000000000000/);
    expect((await req(20)).usage!.completion_tokens).toBe(20);
  }, 30_000);
});

describe('the key service on a real store', () => {
  it('a charge over the credit left is capped (and recorded capped); holds are released by release', async () => {
    const store = new SqliteStore(join(dir, 'keys.sqlite'));
    try {
      const keys = new KeyService(store);
      const { key, record } = newKey(store, { credit: 100n });
      const state = keys.authenticate(`Bearer ${key}`);
      if (isRefusal(state)) throw new Error(state.message);
      const a = keys.admit(state, 60n) as Lease;
      expect(isRefusal(a)).toBe(false);
      // 60 held: 50 more does not fit in 100.
      expect(isRefusal(keys.admit(state, 50n))).toBe(true);
      a.release();
      const b = keys.admit(state, 50n) as Lease;
      expect(isRefusal(b)).toBe(false);
      // The provider reported far more than the worst case: the key pays what it has.
      expect(b.settle(10, 500n)).toBe(100n);
      b.release();
      expect(store.listKeys().find((r) => r.id === record.id)).toMatchObject({
        credit: 100n,
        spent: 100n,
      });
      expect(isRefusal(keys.admit(state, 0n))).toBe(true);

      const { key: k2, record: r2 } = newKey(store, {
        credit: 1000n,
        limits: { budgetPerDay: 50n },
      });
      const s2 = keys.authenticate(`Bearer ${k2}`);
      if (isRefusal(s2)) throw new Error(s2.message);
      expect(isRefusal(keys.admit(s2, 51n))).toBe(true);
      const c = keys.admit(s2, 10n) as Lease;
      expect(c.settle(10, 200n)).toBe(50n);
      c.release();
      expect(store.listKeys().find((r) => r.id === r2.id)?.spent).toBe(50n);
    } finally {
      store.close();
    }
  });
});
