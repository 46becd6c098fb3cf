// How the gateway fails, with real processes on loopback: providers (the test provider on the
// real engine; some pace their chunks so the test can act between tokens) are SIGKILLed before
// and after their first token, a requester disconnects mid-stream, the gateway restarts.
// Providers are chosen by `provider.sort: "price"`, so each test knows which one gets the job.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { join } from 'node:path';
import { SqliteStore } from '../../gateway/storage/sqlite';
import { GATEWAY_DB } from '../../gateway/index';
import { chargeFor } from '../../shared/receipt';
import {
  createKey,
  startGatewayProc,
  startProvider,
  tempDir,
  waitFor,
  writePriceFile,
  type GatewayProc,
  type ProviderProc,
} from '../helpers/gateway';

const GREEDY_32 =
  ', there was a little girl named Lily. She loved to play outside in the park. One day, she saw';

let gw: GatewayProc;
let dir: string;
let cleanup: () => Promise<void>;
let key: string;
/** Cheapest first: p1 waits 4 s before its first chunk; p2, p3 send a token every 300 ms; last is plain. */
let p1: ProviderProc, p2: ProviderProc, p3: ProviderProc, last: ProviderProc;

const byPrice = { provider: { sort: 'price' } } as Record<string, unknown>;

function ledger(): SqliteStore {
  return new SqliteStore(join(gw.dataDir, GATEWAY_DB));
}

async function jobRow(jobId: string) {
  const db = ledger();
  try {
    return await waitFor('the job in the ledger', () => db.getJob(jobId), 5000);
  } finally {
    db.close();
  }
}

beforeAll(async () => {
  const d = await tempDir();
  dir = d.dir;
  cleanup = d.cleanup;
  gw = await startGatewayProc(dir, ['--price-file', await writePriceFile(dir)]);
  [p1, p2, p3, last] = await Promise.all([
    startProvider(gw.url, { GW_FLOOR_OUTPUT: '1000000', GW_PACE_MS: '4000' }),
    startProvider(gw.url, { GW_FLOOR_OUTPUT: '1000001', GW_PACE_MS: '300', GW_FLUSH_TOKENS: '1' }),
    startProvider(gw.url, { GW_FLOOR_OUTPUT: '1000002', GW_PACE_MS: '300', GW_FLUSH_TOKENS: '1' }),
    startProvider(gw.url, { GW_FLOOR_OUTPUT: '1000003' }),
  ]);
  key = await createKey(dir, ['--credit', '1000000000']);
}, 240_000);

afterAll(async () => {
  for (const p of [p1, p2, p3, last]) await p?.stop();
  await gw?.stop();
  await cleanup?.();
});

describe('provider failures', () => {
  it('SIGKILL before the first token: the request succeeds on another provider', async () => {
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: key, maxRetries: 0 });
    const pending = client.completions.create({
      model: 'stories260K',
      prompt: 'Once upon a time',
      max_tokens: 10,
      temperature: 0,
      ...byPrice,
    } as OpenAI.CompletionCreateParamsNonStreaming);
    await waitFor('p1 to accept', () => p1.events().find((e) => e.event === 'accepted'), 20_000);
    p1.child.kill('SIGKILL');
    const r = await pending;
    expect(GREEDY_32.startsWith(r.choices[0]!.text)).toBe(true);
    expect(r.usage!.completion_tokens).toBe(10);
    const job = await jobRow(r.id.replace(/^cmpl-/, ''));
    expect(job).toMatchObject({ outcome: 'done', attempts: 2, provider: p2.address });
  });

  it('SIGKILL after the first token: the stream ends with an error event, never [DONE]', async () => {
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'stories260K',
        messages: [{ role: 'user', content: 'Once upon a time' }],
        max_tokens: 40,
        temperature: 0,
        stream: true,
        ...byPrice,
      }),
    });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    let text = '';
    while (!/"content":"[^"]/.test(text)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`ended early: ${text}`);
      text += Buffer.from(value).toString();
    }
    p2.child.kill('SIGKILL');
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString();
    }
    const events = text.split('\n\n').filter(Boolean);
    expect(events.at(-1)).toMatch(/^data: \{"error":\{"message":".+","type":"server_error"/);
    expect(text).not.toContain('[DONE]');
    expect(text).not.toContain('"finish_reason":"stop"');
  });

  it('the openai SDK raises an APIError for that stream instead of returning a truncated answer', async () => {
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: key, maxRetries: 0 });
    const stream = await client.chat.completions.create({
      model: 'stories260K',
      messages: [{ role: 'user', content: 'Once upon a time' }],
      max_tokens: 40,
      temperature: 0,
      stream: true,
      ...byPrice,
    } as OpenAI.ChatCompletionCreateParamsStreaming);
    let got = '';
    const read = (async () => {
      for await (const c of stream) {
        got += c.choices[0]?.delta.content ?? '';
        if (got.length > 0 && p3.child.exitCode === null && p3.child.signalCode === null)
          p3.child.kill('SIGKILL');
      }
    })();
    await expect(read).rejects.toBeInstanceOf(OpenAI.APIError);
    expect(got.length).toBeGreaterThan(0);
  });
});

describe('requester disconnect', () => {
  it('a client leaving mid-stream cancels the engine job on the provider within 100 ms; the charge is what it generated', async () => {
    const ac = new AbortController();
    const res = await fetch(`${gw.url}/v1/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'stories260K',
        prompt: 'Once upon a time',
        max_tokens: 480,
        temperature: 0,
        stream: true,
      }),
      signal: ac.signal,
    });
    const jobId = /cmpl-([0-9a-f-]{36})/;
    const reader = res.body!.getReader();
    let text = '';
    while (!jobId.test(text)) text += Buffer.from((await reader.read()).value!).toString();
    const leftAt = Date.now();
    ac.abort();
    const id = jobId.exec(text)![1]!;
    const cancel = await waitFor('the provider to receive the cancel', () =>
      last.events().find((e) => e.event === 'cancel-received' && e.jobId === id),
    );
    expect(Number(cancel.at) - leftAt).toBeLessThan(100);
    const ended = await waitFor('the provider job to end', () =>
      last.events().find((e) => (e.event === 'cancelled' || e.event === 'done') && e.jobId === id),
    );
    // The engine stopped the job: fewer tokens than asked, finish "cancelled".
    expect(ended).toMatchObject({ event: 'cancelled', finish: 'cancelled' });
    expect(Number(ended.tokensOut)).toBeLessThan(480);
    const job = await jobRow(id);
    expect(job.outcome).toBe('cancelled');
    expect(job.tokensOut).toBe(Number(ended.tokensOut));
    expect(job.charge).toBe(
      chargeFor(
        { per: 'mtok', input: '1000000', output: '1000003' },
        { tokensIn: job.tokensIn, tokensOut: job.tokensOut },
      ),
    );
    expect(job.charge).toBeGreaterThan(0n);
  });
});

describe('gateway restart', () => {
  it('the provider reconnects and serves again within 30 s', async () => {
    const port = new URL(gw.url).port;
    await gw.stop();
    const t0 = Date.now();
    gw = await startGatewayProc(dir, ['--port', port, '--price-file', join(dir, 'prices.json')]);
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: key, maxRetries: 0 });
    await expect
      .poll(async () => (await client.models.list()).data.map((m) => m.id), {
        timeout: 30_000,
        interval: 200,
      })
      .toContain('stories260K');
    const r = await client.completions.create({
      model: 'stories260K',
      prompt: 'Once upon a time',
      max_tokens: 32,
      temperature: 0,
    });
    expect(r.choices[0]!.text).toBe(GREEDY_32);
    expect(Date.now() - t0).toBeLessThan(30_000);
  });
});
