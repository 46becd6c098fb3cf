// The gateway as requesters meet it, all real processes on loopback: `idlerig gateway` (port 0),
// a provider on the real engine with stories260K (the test provider of
// test/helpers/gateway-provider.ts: the wire protocol, a real node key, real receipts), and the
// official `openai` npm package as the client. Keys made with `idlerig gateway keys` while the
// gateway runs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { join } from 'node:path';
import { SqliteStore } from '../../gateway/storage/sqlite';
import { GATEWAY_DB } from '../../gateway/index';
import { receiptSigner } from '../../gateway/receipts';
import { chargeFor } from '../../shared/receipt';
import {
  createKey,
  gatewayCli,
  startGatewayProc,
  startProvider,
  tempDir,
  writePriceFile,
  type GatewayProc,
  type ProviderProc,
} from '../helpers/gateway';
import { MODELS, startEngine } from '../helpers/engine';

const LILY = ', there was a little girl named Lily.';
/** The test provider's floor for stories260K: what a job is offered and charged. */
const FLOOR = { per: 'mtok', input: '1000000', output: '3000000' } as const;

let gw: GatewayProc;
let provider: ProviderProc;
let cleanup: () => Promise<void>;
let key: string;
let client: OpenAI;
let engineChat: string;

function ledger(): SqliteStore {
  return new SqliteStore(join(gw.dataDir, GATEWAY_DB));
}

beforeAll(async () => {
  const d = await tempDir();
  cleanup = d.cleanup;
  gw = await startGatewayProc(d.dir, ['--price-file', await writePriceFile(d.dir)]);
  // The engine alone, for the chat's greedy text (the chat template is the model's).
  const [p, eng] = await Promise.all([startProvider(gw.url), startEngine({ models: ['stories'] })]);
  provider = p;
  try {
    engineChat = (
      await eng.engine.chat({
        model: MODELS.stories,
        messages: [{ role: 'user', content: 'Once upon a time' }],
        max_tokens: 24,
        temperature: 0,
      })
    ).text;
  } finally {
    await eng.close();
  }
  key = await createKey(d.dir, ['--credit', '100000000']);
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: key, maxRetries: 0 });
}, 180_000);

afterAll(async () => {
  await provider?.stop();
  await gw?.stop();
  await cleanup?.();
});

describe('OpenAI API through the gateway to a provider on the real engine', () => {
  it('GET /v1/models lists the provider model by its name with its sha256', async () => {
    const list = await client.models.list();
    expect(
      list.data.map((m) => [m.id, (m as unknown as { sha256: string }).sha256]),
    ).toContainEqual(['stories260K', MODELS.stories.sha256]);
  });

  it('GET /v1/models/{id}: models.retrieve gives the model as listed; an unknown id is 404 model_not_found', async () => {
    const listed = (await client.models.list()).data.find((m) => m.id === 'stories260K');
    const one = await client.models.retrieve('stories260K');
    expect(one).toEqual(listed);
    expect(one).toMatchObject({
      id: 'stories260K',
      object: 'model',
      owned_by: 'idlerig',
      sha256: MODELS.stories.sha256,
    });
    const err = await client.models.retrieve('no-such/model').then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect(err).toMatchObject({
      status: 404,
      code: 'model_not_found',
      type: 'invalid_request_error',
    });
  });

  it('a completion gives the greedy text, usage, and a ledger row with the provider-signed receipt, verified', async () => {
    const r = await client.completions.create({
      model: 'stories260K',
      prompt: 'Once upon a time',
      max_tokens: 32,
      temperature: 0,
    });
    expect(r.object).toBe('text_completion');
    expect(r.choices[0]!.text.startsWith(LILY)).toBe(true);
    expect(r.choices[0]!.finish_reason).toBe('length');
    expect(r.usage!.completion_tokens).toBe(32);
    expect(r.usage!.prompt_tokens).toBeGreaterThan(1);
    expect(r.usage!.total_tokens).toBe(r.usage!.prompt_tokens + 32);
    const jobId = r.id.replace(/^cmpl-/, '');
    const db = ledger();
    try {
      // The gateway writes finished jobs in batches every 20 ms (gateway/storage/sqlite.ts).
      await expect.poll(() => db.getJob(jobId), { timeout: 5000 }).not.toBeNull();
      const job = db.getJob(jobId)!;
      expect(job).toMatchObject({
        outcome: 'done',
        tokensOut: 32,
        tokensIn: r.usage!.prompt_tokens,
        provider: provider.address,
      });
      expect(job.charge).toBe(chargeFor(FLOOR, { tokensIn: job.tokensIn, tokensOut: 32 }));
      await expect.poll(() => db.getReceipt(jobId)?.verified, { timeout: 10_000 }).toBe(true);
      const receipt = db.getReceipt(jobId)!.receipt;
      expect(receipt).toMatchObject({
        jobId,
        modelSha256: MODELS.stories.sha256,
        tokensOut: 32,
        price: job.charge.toString(),
        gateway: gw.url,
      });
      expect(receiptSigner(receipt, 31337)).toBe(provider.address);
    } finally {
      db.close();
    }
  });

  it('a streamed completion gives the same text in chunks and usage in a final chunk with no choices', async () => {
    const whole = await client.completions.create({
      model: 'stories260K',
      prompt: 'Once upon a time',
      max_tokens: 40,
      temperature: 0,
    });
    const stream = await client.completions.create({
      model: 'stories260K',
      prompt: 'Once upon a time',
      max_tokens: 40,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    const chunks = [];
    for await (const c of stream) {
      chunks.push(c);
      text += c.choices[0]?.text ?? '';
    }
    expect(text).toBe(whole.choices[0]!.text);
    expect(text.startsWith(LILY)).toBe(true);
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toEqual(whole.usage);
    expect(chunks.at(-2)!.choices[0]!.finish_reason).toBe('length');
  });

  it('chat, whole and streamed, gives the engine greedy chat text; usage right', async () => {
    const msgs = [{ role: 'user' as const, content: 'Once upon a time' }];
    const whole = await client.chat.completions.create({
      model: 'stories260K',
      messages: msgs,
      max_tokens: 24,
      temperature: 0,
    });
    expect(whole.object).toBe('chat.completion');
    expect(whole.choices[0]!.message).toMatchObject({ role: 'assistant', content: engineChat });
    expect(whole.usage!.completion_tokens).toBe(24);
    const stream = await client.chat.completions.create({
      model: 'stories260K',
      messages: msgs,
      max_tokens: 24,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let role = '';
    let usage = null;
    for await (const c of stream) {
      expect(c.object).toBe('chat.completion.chunk');
      role ||= c.choices[0]?.delta.role ?? '';
      text += c.choices[0]?.delta.content ?? '';
      if (c.usage) usage = c.usage;
    }
    expect(role).toBe('assistant');
    expect(text).toBe(engineChat);
    expect(usage).toEqual(whole.usage);
  });

  it('every response carries x-request-id; /metrics counts the jobs and tokens', async () => {
    const r = await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
    expect(r.headers.get('x-request-id')).toMatch(/^req_/);
    const echoed = await fetch(`${gw.url}/v1/models`, {
      headers: { authorization: `Bearer ${key}`, 'x-request-id': 'mine-1' },
    });
    expect(echoed.headers.get('x-request-id')).toBe('mine-1');
    const m = await (await fetch(`${gw.url}/metrics`)).text();
    expect(m).toMatch(/idlerig_gateway_jobs_total\{api="completion",outcome="done"\} [1-9]/);
    expect(m).toMatch(/idlerig_gateway_providers_online 1/);
    expect(m).toMatch(/idlerig_gateway_tokens_total\{direction="completion"\} [1-9]/);
    expect(m).toMatch(/idlerig_gateway_time_to_first_token_seconds_count [1-9]/);
    // The process's own (prom-client's defaults), the event-loop lag sampled every 100 ms.
    expect(m).toMatch(/nodejs_eventloop_lag_p99_seconds \d/);
    expect(m).toMatch(/process_cpu_seconds_total \d/);
  });
});

describe('errors in OpenAI shape', () => {
  it('a bad key: 401 {"error":{message,type,param,code}}; the SDK raises AuthenticationError', async () => {
    const r = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: 'Bearer irk_000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
        'content-type': 'application/json',
      },
      body: '{}',
    });
    expect(r.status).toBe(401);
    expect(r.headers.get('x-request-id')).toBeTruthy();
    const body = (await r.json()) as { error: Record<string, unknown> };
    expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
    expect(body.error).toMatchObject({
      type: 'invalid_request_error',
      code: 'invalid_api_key',
      param: null,
    });
    const bad = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-nope', maxRetries: 0 });
    await expect(bad.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
  });

  it('an unknown model is 404 model_not_found; a bad parameter is 400 naming it', async () => {
    await expect(
      client.completions.create({ model: 'no-such', prompt: 'x' }),
    ).rejects.toMatchObject({ status: 404, code: 'model_not_found' });
    await expect(
      client.completions.create({ model: 'stories260K', prompt: 'x', temperature: 7 }),
    ).rejects.toMatchObject({ status: 400, param: 'temperature' });
    await expect(
      client.chat.completions.create({ model: 'stories260K', messages: [], max_tokens: 2 }),
    ).rejects.toMatchObject({ status: 400 });
  });

  it('a bad parameter is said in words with param set (one formatter for every field)', async () => {
    const post = async (path: string, extra: Record<string, unknown>) => {
      const r = await fetch(`${gw.url}/v1/${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          model: 'stories260K',
          ...(path === 'completions'
            ? { prompt: 'x' }
            : { messages: [{ role: 'user', content: 'x' }] }),
          ...extra,
        }),
      });
      expect(r.status).toBe(400);
      const { error } = (await r.json()) as { error: { message: string; param: string | null } };
      return [error.param, error.message];
    };
    expect(await post('completions', { temperature: 5 })).toEqual([
      'temperature',
      'temperature must be between 0 and 2',
    ]);
    expect(await post('chat/completions', { max_tokens: 0 })).toEqual([
      'max_tokens',
      'max_tokens must be at least 1',
    ]);
    expect(await post('completions', { max_tokens: 1.5 })).toEqual([
      'max_tokens',
      'max_tokens must be an integer',
    ]);
    expect(await post('completions', { top_p: 0 })).toEqual([
      'top_p',
      'top_p must be greater than 0 and at most 1',
    ]);
    expect(await post('chat/completions', { stop: ['a', 'b', 'c', 'd', 'e'] })).toEqual([
      'stop',
      'stop must have at most 4 items',
    ]);
    expect(await post('chat/completions', { messages: [{ role: 'robot', content: 'x' }] })).toEqual(
      [
        'messages[0].role',
        'messages[0].role must be one of "system", "developer", "user", "assistant"',
      ],
    );
    expect(await post('completions', { prompt: undefined })).toEqual([
      'prompt',
      'prompt is required',
    ]);
    // A schema's own message is kept.
    expect(await post('completions', { n: 2 })).toEqual(['n', 'only n=1 is supported']);
  });

  it('tools, functions and logprobs are refused in words with param set, never ignored (the SDK raises BadRequestError)', async () => {
    const messages = [{ role: 'user' as const, content: 'Once upon a time' }];
    const tool = {
      type: 'function' as const,
      function: { name: 'weather', parameters: { type: 'object', properties: {} } },
    };
    const refused = async (
      extra: Record<string, unknown>,
      param: string,
      message: string,
    ): Promise<void> => {
      const err = await client.chat.completions
        .create({ model: 'stories260K', messages, max_tokens: 2, ...extra } as never)
        .then(
          () => null,
          (e: unknown) => e,
        );
      expect(err, JSON.stringify(extra)).toBeInstanceOf(OpenAI.BadRequestError);
      expect(err).toMatchObject({
        status: 400,
        type: 'invalid_request_error',
        param,
        error: { message, param, type: 'invalid_request_error' },
      });
    };
    await refused(
      { tools: [tool] },
      'tools',
      'tools (function calling) are not supported by this gateway',
    );
    await refused(
      { tool_choice: 'auto' },
      'tool_choice',
      'tool_choice is not supported by this gateway: it has no tools',
    );
    await refused(
      { functions: [tool.function] },
      'functions',
      'functions (function calling) are not supported by this gateway',
    );
    await refused(
      { function_call: { name: 'weather' } },
      'function_call',
      'function_call is not supported by this gateway: it has no functions',
    );
    await refused(
      {
        messages: [
          ...messages,
          {
            role: 'assistant',
            content: null,
            tool_calls: [
              { id: 'c1', type: 'function', function: { name: 'weather', arguments: '{}' } },
            ],
          },
        ],
      },
      'messages[1].tool_calls',
      'tool calls are not supported by this gateway: it has no tools',
    );
    await refused({ logprobs: true }, 'logprobs', 'logprobs are not supported by this gateway');
    // What generic clients send with every request and which asks for nothing is accepted.
    const none = await client.chat.completions.create({
      model: 'stories260K',
      messages: [...messages, { role: 'assistant', content: 'Once', tool_calls: [] }],
      max_tokens: 2,
      tools: [],
      tool_choice: 'none',
      parallel_tool_calls: false,
      logprobs: false,
    } as never);
    expect(none.choices[0]!.message.content).toBeTruthy();
    await expect(
      client.completions.create({ model: 'stories260K', prompt: 'x', logprobs: 2 }),
    ).rejects.toMatchObject({
      status: 400,
      param: 'logprobs',
      error: { message: 'logprobs are not supported by this gateway' },
    });
    // response_format: an unknown type is refused in words; text, json_object and json_schema
    // are honoured (the test provider's model can follow a grammar).
    await refused(
      { response_format: { type: 'xml' } },
      'response_format.type',
      'response_format.type must be one of "text", "json_object", "json_schema"',
    );
    const answer = async (
      response_format: OpenAI.ChatCompletionCreateParams['response_format'],
      max_tokens = 24,
    ): Promise<string | null> =>
      (
        await client.chat.completions.create({
          model: 'stories260K',
          messages,
          max_tokens,
          temperature: 0,
          response_format,
        })
      ).choices[0]!.message.content;
    expect(await answer({ type: 'text' })).toBe(engineChat);
    expect(await answer({ type: 'json_object' })).toMatch(/^\s*\{/);
    const schema = await answer(
      {
        type: 'json_schema',
        json_schema: {
          name: 'answer',
          schema: { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] },
        },
      },
      48,
    );
    expect(schema).toMatch(/^\s*\{\s*"ok"\s*:\s*(true|false)/);
  });

  it('requests-per-minute limit: 429 with x-ratelimit-* and retry-after-ms', async () => {
    const k = await createKey(gw.dataDir, ['--credit', '1000000', '--rpm', '2']);
    const call = () =>
      fetch(`${gw.url}/v1/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${k}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          model: 'stories260K',
          prompt: 'Once',
          max_tokens: 2,
          temperature: 0,
        }),
      });
    const a = await call();
    expect(a.status).toBe(200);
    expect(a.headers.get('x-ratelimit-limit-requests')).toBe('2');
    expect(a.headers.get('x-ratelimit-remaining-requests')).toBe('1');
    expect((await call()).status).toBe(200);
    const c = await call();
    expect(c.status).toBe(429);
    expect(c.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    expect(c.headers.get('x-ratelimit-reset-requests')).toMatch(/^\d+(ms|s|m\d+s)$/);
    expect(Number(c.headers.get('retry-after-ms'))).toBeGreaterThan(0);
    expect(((await c.json()) as { error: { code: string } }).error.code).toBe(
      'rate_limit_exceeded',
    );
  });

  it('parallel limit: a second request while one streams is 429; after it ends the key works again', async () => {
    const k = await createKey(gw.dataDir, ['--credit', '100000000', '--parallel', '1']);
    const c = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: k, maxRetries: 0 });
    const stream = await c.completions.create({
      model: 'stories260K',
      prompt: 'Once upon a time',
      max_tokens: 400,
      temperature: 0,
      stream: true,
    });
    const it = stream[Symbol.asyncIterator]();
    await it.next();
    const second = await fetch(`${gw.url}/v1/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${k}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'stories260K', prompt: 'x', max_tokens: 1 }),
    });
    expect(second.status).toBe(429);
    expect(second.headers.get('retry-after-ms')).toBeTruthy();
    expect(((await second.json()) as { error: { code: string } }).error.code).toBe(
      'parallel_limit_exceeded',
    );
    while (!(await it.next()).done);
    await expect(
      c.completions.create({ model: 'stories260K', prompt: 'x', max_tokens: 1 }),
    ).resolves.toBeTruthy();
  });

  it('no credit: 429 insufficient_quota with x-should-retry: false; credit added by the CLI while it runs lets it through', async () => {
    const k = await createKey(gw.dataDir);
    const call = () =>
      fetch(`${gw.url}/v1/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${k}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'stories260K', prompt: 'Once', max_tokens: 2 }),
      });
    const r = await call();
    expect(r.status).toBe(429);
    expect(r.headers.get('x-should-retry')).toBe('false');
    expect(((await r.json()) as { error: { type: string } }).error.type).toBe('insufficient_quota');
    const id = k.split('_')[1]!;
    const credited = await gatewayCli([
      'keys',
      'credit',
      id,
      '500000',
      '--data-dir',
      gw.dataDir,
      '--json',
    ]);
    expect(JSON.parse(credited.stdout)).toEqual({ id, credit: '500000' });
    await expect.poll(async () => (await call()).status, { timeout: 5000 }).toBe(200);
  });
});

describe('idlerig gateway keys', () => {
  it('list shows credit and spend without the secret; revoke takes effect on the running gateway', async () => {
    const k = await createKey(gw.dataDir, ['--credit', '1000000', '--name', 'ci']);
    const id = k.split('_')[1]!;
    const c = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: k, maxRetries: 0 });
    const r = await c.completions.create({
      model: 'stories260K',
      prompt: 'Once upon a time',
      max_tokens: 8,
      temperature: 0,
    });
    const charge = chargeFor(FLOOR, { tokensIn: r.usage!.prompt_tokens, tokensOut: 8 });
    await expect
      .poll(async () => {
        const l = await gatewayCli(['keys', 'list', '--data-dir', gw.dataDir, '--json']);
        return (JSON.parse(l.stdout) as { id: string; spent: string }[]).find((x) => x.id === id)
          ?.spent;
      })
      .toBe(charge.toString());
    const list = await gatewayCli(['keys', 'list', '--data-dir', gw.dataDir]);
    expect(list.stdout).toContain(id);
    expect(list.stdout).not.toContain(k);
    const rv = await gatewayCli(['keys', 'revoke', id, '--data-dir', gw.dataDir]);
    expect(rv).toMatchObject({ code: 0, stdout: `Key ${id} revoked.\n` });
    await expect
      .poll(
        async () =>
          c.models.list().then(
            () => 200,
            (e: { status: number }) => e.status,
          ),
        { timeout: 5000 },
      )
      .toBe(401);
  });

  it('bad input is one line on stderr with no stack trace', async () => {
    for (const args of [
      ['keys', 'credit', 'nope', '12', '--data-dir', gw.dataDir],
      ['keys', 'create', '--credit', '-5', '--data-dir', gw.dataDir],
      ['keys', 'frob', '--data-dir', gw.dataDir],
      ['--price-file', join(gw.dataDir, 'missing.json'), '--port', '0', '--data-dir', gw.dataDir],
    ]) {
      const r = await gatewayCli(args);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr.trimEnd().split('\n').at(-1)).toMatch(/^idlerig: /);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });
});
