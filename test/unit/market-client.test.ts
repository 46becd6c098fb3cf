// The provider's market client in a real provider node (real engine process, real stories260K,
// real node key) against a gateway speaking the wire protocol over a real WebSocket on loopback
// (test/unit/market-client-stub.ts): SIWE login, capabilities, heartbeats, offers accepted or
// declined with the policy's reason, a job streamed in chunks with a signed receipt, cancel,
// reconnect with backoff, jobs that ended while away, bad frames, and the node's state.
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { verifyTypedData } from 'ethers';
import { ProviderNode } from '../../electron/provider/node';
import { Router } from '../../electron/provider/api/router';
import { nodeHandlers } from '../../electron/provider/api/handlers';
import { GatewayConnection, backoffDelay } from '../../electron/provider/market/connection';
import { sha256 } from '../../electron/provider/market/jobs';
import { Chunker, HIGH_WATER_BYTES } from '../../electron/provider/market/chunker';
import { CHUNK_FLUSH_MS, CHUNK_FLUSH_TOKENS } from '../../shared/market-protocol';
import { RECEIPT_TYPES, chargeFor, receiptDomain, receiptValue } from '../../shared/receipt';
import type { Price } from '../../shared/market-protocol';
import { marketNodeOptions } from '../helpers/market-node';
import { FIXTURES, MODELS, memoryLogger } from '../helpers/engine';
import { StubGateway } from './market-client-stub';

let dir: string;
let node: ProviderNode;
let router: Router;
let gw: StubGateway;
const PRICE: Price = { per: 'mtok', input: '0', output: (10n ** 19n).toString() };

beforeAll(async () => {
  gw = new StubGateway();
  await gw.start();
  dir = await mkdtemp(join(tmpdir(), 'idlerig-market-'));
  node = new ProviderNode(await marketNodeOptions(join(dir, 'data'), [gw.url]));
  await copyFile(join(FIXTURES, MODELS.stories.file), join(dir, MODELS.stories.file));
  await node.start();
  router = new Router(nodeHandlers(node), node.logger.scope('api'));
  await copyFile(join(FIXTURES, MODELS.stories.file), join(node.paths.models, MODELS.stories.file));
  await node.models.upsert({
    id: 'stories260k-import',
    name: 'stories260K.gguf',
    engine: 'llama',
    file: MODELS.stories.file,
    sha256: MODELS.stories.sha256,
    sizeBytes: 1,
    source: { kind: 'import', originalPath: join(FIXTURES, MODELS.stories.file) },
    installedAt: new Date().toISOString(),
    lastUsedAt: null,
    verifiedAt: new Date().toISOString(),
  });
  node.market.refreshCapabilities();
}, 120_000);

afterAll(async () => {
  await node?.stop();
  await gw?.stop();
  await rm(dir, { recursive: true, force: true });
});

const call = <T>(method: string, params: unknown = {}): Promise<T> =>
  router.call(method as 'market.status', params, { transport: 'internal' }) as Promise<T>;

function offer(jobId: string, extra: Record<string, unknown> = {}) {
  return {
    type: 'offer' as const,
    jobId,
    modelSha256: MODELS.stories.sha256,
    kind: 'completion' as const,
    price: PRICE,
    maxTokens: 24,
    deadline: Date.now() + 30_000,
    ...extra,
  };
}
const input = (maxTokens = 24) => ({
  kind: 'completion' as const,
  prompt: 'Once upon a time',
  sampling: { max_tokens: maxTokens, temperature: 0 },
});

describe('market client: sign-in, capabilities, heartbeats', () => {
  it('signs in with EIP-4361 bound to the gateway (origin, chain, nonce) using the node key', async () => {
    const conn = await gw.until(() => gw.connections.find((c) => c.address));
    const identity = await call<{ address: string }>('market.identity');
    expect(conn.address).toBe(identity.address);
    const login = gw.framesOf('login', conn)[0]!;
    expect(login.message).toContain(`Nonce: ${conn.nonce}`);
    expect(login.message).toContain(`Chain ID: ${gw.chainId}`);
    expect(login.message).toContain(`URI: ${gw.origin}`);
    expect(login.message).toMatch(/Expiration Time: /);
  });

  it('advertises the verified model by sha256 with its name, a price floor, parallelism', async () => {
    // The capabilities sent after the model was installed (an earlier frame may have none).
    const caps = await gw.until(() =>
      gw.framesOf('capabilities').findLast((c) => c.models.length > 0),
    );
    expect(caps.models).toEqual([
      expect.objectContaining({
        sha256: MODELS.stories.sha256,
        name: 'stories260K.gguf',
        kind: 'llm',
        floor: expect.objectContaining({ per: 'mtok', input: '0' }),
      }),
    ]);
    const floor = caps.models[0]!.floor as { output: string };
    expect(BigInt(floor.output)).toBeGreaterThan(0n);
    expect(caps.parallelism).toBe(node.engine.status().config.parallelism);
  });

  it('heartbeats with telemetry; "What this app shares" shows exactly the frames last sent', async () => {
    await gw.until(() => gw.framesOf('heartbeat').length >= 2);
    const status = await call<{
      shared: { capabilities: { frame: unknown }; heartbeat: { frame: { t: number } } };
      gateways: { phase: string; latencyMs: number | null }[];
    }>('market.status');
    const caps = gw.framesOf('capabilities').at(-1);
    expect(status.shared.capabilities.frame).toEqual(caps);
    const sentT = status.shared.heartbeat.frame.t;
    const beat = await gw.until(() => gw.framesOf('heartbeat').find((h) => h.t === sentT));
    expect(status.shared.heartbeat.frame).toEqual(beat);
    expect(beat.telemetry).toMatchObject({ activeJobs: 0 });
    await gw.until(() => node.market.status().gateways[0]?.latencyMs !== null);
    expect(node.status()).toMatchObject({
      state: 'earning',
      reason: 'Connected, waiting for jobs',
    });
  });
});

describe('market client: capabilities follow changes', () => {
  it('a change of parallelism is advertised again at once', async () => {
    const before = gw.framesOf('capabilities').length;
    await node.settings.update({ engine: { parallelism: 2 } });
    const caps = await gw.until(() =>
      gw
        .framesOf('capabilities')
        .slice(before)
        .find((c) => c.parallelism === 2),
    );
    expect(caps.models.map((m) => m.sha256)).toEqual([MODELS.stories.sha256]);
    await node.settings.update({ engine: { parallelism: 4 } });
    await gw.until(() => gw.framesOf('capabilities').at(-1)?.parallelism === 4);
  });
});

describe('market client: offers', () => {
  it('declines below the floor, for an unknown model, and while paused, with the reason code', async () => {
    const recorded = vi.spyOn(node.jobs.store, 'end');
    gw.last.send(offer('cheap', { price: { per: 'mtok', input: '0', output: '1' } }));
    gw.last.send(offer('unknown', { modelSha256: 'ab'.repeat(32) }));
    const cheap = await gw.until(() => gw.framesOf('decline').find((d) => d.jobId === 'cheap'));
    expect(cheap.reason).toBe('PRICE_BELOW_FLOOR');
    const unknown = await gw.until(() => gw.framesOf('decline').find((d) => d.jobId === 'unknown'));
    expect(unknown.reason).toBe('MODEL_NOT_AVAILABLE');

    await node.pause(null);
    const pause = await gw.until(() => gw.framesOf('pause').at(-1));
    expect(pause.reason).toBe('Paused by you');
    gw.last.send(offer('while-paused'));
    const paused = await gw.until(() =>
      gw.framesOf('decline').find((d) => d.jobId === 'while-paused'),
    );
    expect(paused.reason).toBe('PAUSED_BY_USER');
    await node.resume();
    await gw.until(() => gw.framesOf('resume').length > 0);
    // Every declined offer is a row of the job record.
    expect(recorded.mock.calls.map((c) => [c[0], c[1].status])).toEqual(
      expect.arrayContaining([
        ['cheap', 'declined'],
        ['unknown', 'declined'],
        ['while-paused', 'declined'],
      ]),
    );
    recorded.mockRestore();
  });

  it('runs an accepted job on the engine: chunks, done with usage and a receipt signed by the node key', async () => {
    const started = vi.spyOn(node.jobs.store, 'start');
    gw.last.send(offer('job-1', { maxTokens: 48 }));
    await gw.until(() => gw.framesOf('accept').find((a) => a.jobId === 'job-1'));
    gw.last.send({ type: 'input', jobId: 'job-1', body: input(48) });
    const done = await gw.until(() => gw.framesOf('done').find((d) => d.jobId === 'job-1'), 60_000);
    const chunks = gw.framesOf('chunk').filter((c) => c.jobId === 'job-1');
    const text = chunks.map((c) => c.text).join('');
    expect(text.startsWith(', there was a little girl named Lily.')).toBe(true);
    expect(chunks.map((c) => c.seq)).toEqual(chunks.map((_, i) => i));
    // Batched: fewer frames than tokens; the first chunk went out with the first token.
    const tokens = chunks.reduce((s, c) => s + c.tokens, 0);
    expect(tokens).toBe(done.usage.tokensOut);
    expect(done.usage.tokensOut).toBe(48);
    expect(chunks.length).toBeLessThan(tokens);
    expect(done.finishReason).toBe('length');
    expect(done.outputSha256).toBe(sha256(text));
    expect(done.timings.ttftMs).not.toBeNull();

    const r = done.receipt;
    expect(r).toMatchObject({
      jobId: 'job-1',
      modelSha256: MODELS.stories.sha256,
      outputSha256: done.outputSha256,
      tokensOut: 48,
      gateway: gw.origin,
      price: chargeFor(PRICE, done.usage).toString(),
    });
    const { signature, ...unsigned } = r;
    const signer = verifyTypedData(
      receiptDomain(gw.chainId),
      { Receipt: [...RECEIPT_TYPES.Receipt] },
      receiptValue(unsigned),
      signature,
    );
    expect(signer).toBe(gw.last.address);
    expect(started.mock.calls.some((c) => c[0].id === 'job-1')).toBe(true);
    started.mockRestore();
  }, 90_000);

  it('an offer with its input inline starts on the engine at once: accept still comes before the first chunk, the job record holds its start before its end', async () => {
    const order: string[] = [];
    const start = node.jobs.store.start.bind(node.jobs.store);
    const end = node.jobs.store.end.bind(node.jobs.store);
    const s1 = vi.spyOn(node.jobs.store, 'start').mockImplementation((j) => {
      order.push(`start ${j.id}`);
      return start(j);
    });
    const s2 = vi.spyOn(node.jobs.store, 'end').mockImplementation((id, e, init) => {
      order.push(`end ${id}`);
      return end(id, e, init);
    });
    gw.last.send(offer('job-inline', { maxTokens: 16, input: input(16) }));
    await gw.until(() => gw.framesOf('done').find((d) => d.jobId === 'job-inline'), 60_000);
    const mine = gw.last.frames
      .filter((f) => 'jobId' in f && f.jobId === 'job-inline')
      .map((f) => f.type);
    expect(mine[0]).toBe('accept');
    expect(mine.slice(1, -1).every((t) => t === 'chunk')).toBe(true);
    expect(mine.at(-1)).toBe('done');
    expect(order.filter((o) => o.endsWith('job-inline'))).toEqual([
      'start job-inline',
      'end job-inline',
    ]);
    s1.mockRestore();
    s2.mockRestore();
  }, 90_000);

  it('a cancel from the gateway stops the engine job; done says cancelled with the usage so far', async () => {
    gw.last.send(offer('job-cancel', { maxTokens: 400, input: input(400) }));
    await gw.until(() => gw.framesOf('chunk').find((c) => c.jobId === 'job-cancel'), 60_000);
    gw.last.send({ type: 'cancel', jobId: 'job-cancel', reason: 'CLIENT_GONE' });
    const done = await gw.until(
      () => gw.framesOf('done').find((d) => d.jobId === 'job-cancel'),
      30_000,
    );
    expect(done.finishReason).toBe('cancelled');
    expect(done.usage.tokensOut).toBeLessThan(400);
    const sent = gw
      .framesOf('chunk')
      .filter((c) => c.jobId === 'job-cancel')
      .reduce((s, c) => s + c.tokens, 0);
    expect(done.usage.tokensOut).toBeGreaterThanOrEqual(sent);
    expect(done.receipt.price).toBe(chargeFor(PRICE, done.usage).toString());
    expect(node.market.activeJobs).toBe(0);
  }, 90_000);

  it('a malformed or unknown frame gets a protocol error and the session goes on', async () => {
    const conn = gw.last;
    conn.sendRaw('not json');
    conn.sendRaw(JSON.stringify({ v: 1, type: 'teleport' }));
    conn.sendRaw(JSON.stringify({ v: 2, type: 'offer' }));
    await gw.until(() => gw.framesOf('protocol_error', conn).length >= 3);
    expect(gw.framesOf('protocol_error', conn).map((e) => e.code)).toEqual([
      'MALFORMED',
      'UNKNOWN_TYPE',
      'BAD_VERSION',
    ]);
    const beats = gw.framesOf('heartbeat', conn).length;
    await gw.until(() => gw.framesOf('heartbeat', conn).length > beats);
    expect(gw.last).toBe(conn);
  });
});

describe('market client: the gateway pauses, refuses', () => {
  it('a pause from the gateway shows as the reason; resume brings "Connected, waiting for jobs" back', async () => {
    gw.last.send({ type: 'pause', reason: 'maintenance until 10:00' });
    await gw.until(() => node.status().reasonCode === 'GATEWAY_PAUSED');
    expect(node.status().reason).toBe(
      'Paused: the gateway paused its offers (maintenance until 10:00)',
    );
    gw.last.send({ type: 'resume' });
    await gw.until(() => node.status().reason === 'Connected, waiting for jobs');
  });

  it("a refused sign-in is the reason the node is offline, in the gateway's words", async () => {
    gw.refuseWith = 'BANNED';
    const before = gw.connections.length;
    gw.last.ws.terminate();
    await gw.until(() => gw.connections.slice(before).some((c) => c.refusal === 'BANNED'), 15_000);
    await gw.until(() => node.status().reasonCode === 'MARKET_PROBLEM', 15_000);
    expect(node.status().reason).toBe('Offline: The gateway refused the sign-in (BANNED): BANNED');
    gw.refuseWith = null;
    await gw.until(() => node.status().reason === 'Connected, waiting for jobs', 15_000);
  }, 40_000);
});

describe('market client: connection loss', () => {
  it('a job cut off by a lost connection is cancelled and reported after the reconnect', async () => {
    const before = gw.connections.length;
    gw.last.send(offer('job-away', { maxTokens: 400, input: input(400) }));
    await gw.until(() => gw.framesOf('chunk').find((c) => c.jobId === 'job-away'), 60_000);
    gw.last.ws.terminate();
    const conn = await gw.until(
      () => (gw.connections.length > before && gw.last.address ? gw.last : null),
      15_000,
    );
    const report = await gw.until(() => gw.framesOf('away_report', conn)[0], 15_000);
    const job = report.jobs.find((j) => j.jobId === 'job-away');
    expect(job).toMatchObject({ outcome: 'cancelled' });
    expect(job!.receipt?.jobId).toBe('job-away');
    expect(job!.usage.tokensOut).toBeGreaterThan(0);
    // The node's record counts what left for the gateway (the gateway pays what reached it),
    // not the receipt's claim of everything the engine made.
    const row = node.jobs.queries.get('job-away');
    const received = gw
      .framesOf('chunk', gw.connections[before - 1])
      .filter((c) => c.jobId === 'job-away')
      .reduce((n, c) => n + c.tokens, 0);
    expect(row.status).toBe('cancelled');
    expect(row.reason).toMatch(/^The connection to the gateway was lost before the job ended/);
    const earned = BigInt(row.earned!);
    const perToken = chargeFor(PRICE, { tokensIn: 0, tokensOut: 1 });
    expect(earned % perToken).toBe(0n);
    expect(earned / perToken).toBeGreaterThanOrEqual(BigInt(received));
    expect(earned / perToken).toBeLessThanOrEqual(BigInt(job!.usage.tokensOut));
    // A fresh nonce, a fresh login, the capabilities again.
    expect(conn.nonce).not.toBe(gw.connections[before - 1]!.nonce);
    await gw.until(() => gw.framesOf('capabilities', conn).length > 0);
    conn.send({ type: 'away_ack', jobIds: ['job-away'] });
    await gw.until(() => node.market.status().gateways[0]?.phase === 'ready');
  }, 90_000);

  it('gateway down: "Offline: gateway unreachable (retrying in N s)"; back up: signed in again', async () => {
    const port = gw.port;
    await gw.stop();
    await gw.until(
      () => /^Offline: gateway unreachable \(retrying in \d+ s\)$/.test(node.status().reason),
      15_000,
    );
    expect(node.status().state).toBe('offline');
    const again = new StubGateway();
    await again.start(port);
    gw = again;
    await gw.until(() => gw.connections.find((c) => c.address), 15_000);
    await gw.until(() => node.status().reason === 'Connected, waiting for jobs', 15_000);
  }, 60_000);
});

describe('market client: settings', () => {
  it('a gateway added in Settings is dialled; removed, it is left; plain ws to a remote host is refused', async () => {
    const second = new StubGateway();
    await second.start();
    try {
      await call('market.addGateway', { url: second.url });
      await second.until(() => second.connections.find((c) => c.address), 15_000);
      expect(node.settings.get().network.gateways).toEqual([{ url: second.url }]);
      await call('market.removeGateway', { url: second.url });
      await second.until(
        () => second.connections.every((c) => c.ws.readyState === c.ws.CLOSED),
        5000,
      );
      await expect(
        call('market.addGateway', { url: 'ws://gateway.example.com' }),
      ).rejects.toMatchObject({
        code: 'INVALID_PARAMS',
      });
    } finally {
      await second.stop();
    }
  }, 30_000);
});

describe('token chunks', () => {
  it('the first token goes at once, then batches; a full socket queue coalesces text instead of piling frames', async () => {
    const sent: { text: string; tokens: number }[] = [];
    let queued = 0;
    const c = new Chunker(
      (text, tokens) => {
        sent.push({ text, tokens });
        return true;
      },
      () => queued,
    );
    c.push('a', 1);
    expect(sent).toEqual([{ text: 'a', tokens: 1 }]);
    for (let i = 0; i < CHUNK_FLUSH_TOKENS - 1; i++) c.push('b', 1);
    expect(sent).toHaveLength(1);
    c.push('c', 1);
    expect(sent).toHaveLength(2);
    expect(sent[1]!.tokens).toBe(CHUNK_FLUSH_TOKENS);
    // The socket is backed up: nothing is sent, the text waits and grows into one chunk.
    queued = HIGH_WATER_BYTES + 1;
    for (let i = 0; i < 200; i++) c.push('d', 1);
    await new Promise((r) => setTimeout(r, CHUNK_FLUSH_MS * 3));
    expect(sent).toHaveLength(2);
    queued = 0;
    await new Promise((r) => setTimeout(r, CHUNK_FLUSH_MS * 3));
    expect(sent).toHaveLength(3);
    expect(sent[2]).toEqual({ text: 'd'.repeat(200), tokens: 200 });
    c.push('e', 1);
    await c.close();
    expect(c.sentText).toBe(`a${'b'.repeat(CHUNK_FLUSH_TOKENS - 1)}c${'d'.repeat(200)}e`);
    expect(c.sentTokens).toBe(1 + CHUNK_FLUSH_TOKENS + 200 + 1);
  });
});

describe('gateway connection: backoff', () => {
  it('delays grow exponentially to the cap, with the jitter inside its share', () => {
    const opts = { initialMs: 1000, maxMs: 60_000, jitter: 0.5 };
    expect([0, 1, 2, 3, 10].map((a) => backoffDelay(a, opts, () => 1))).toEqual([
      1000, 2000, 4000, 8000, 60_000,
    ]);
    expect([0, 1, 2].map((a) => backoffDelay(a, opts, () => 0))).toEqual([500, 1000, 2000]);
  });

  it('redials a refusing gateway with growing delays (measured on a real socket)', async () => {
    const times: number[] = [];
    const server: Server = createServer((s) => {
      times.push(performance.now());
      s.destroy();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as AddressInfo).port;
    const conn = new GatewayConnection({
      url: `http://127.0.0.1:${port}`,
      log: memoryLogger(),
      backoff: { initialMs: 60, maxMs: 480, jitter: 0.5 },
      random: () => 0.5,
    });
    conn.start();
    try {
      const deadline = Date.now() + 15_000;
      while (times.length < 6 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      const gaps = times.slice(1).map((t, i) => t - times[i]!);
      // 0.75 × 60·2^n: 45, 90, 180, 360, 360 ms at least (a busy machine only adds).
      const expected = [45, 90, 180, 360, 360];
      gaps.forEach((g, i) => expect(g).toBeGreaterThanOrEqual(expected[i]! - 5));
      expect(conn.state.phase === 'waiting' || conn.state.phase === 'connecting').toBe(true);
    } finally {
      conn.stop();
      server.close();
    }
  }, 30_000);

  it('plain ws:// or http:// to a non-loopback host is refused before any dial', () => {
    for (const url of ['ws://gateway.example.com', 'http://10.0.0.5:8080']) {
      const c = new GatewayConnection({ url, log: memoryLogger() });
      expect(c.state).toMatchObject({ phase: 'invalid' });
      c.start();
      expect(c.state.phase).toBe('invalid');
    }
    expect(
      new GatewayConnection({ url: 'https://gw.example.com', log: memoryLogger() }).wsUrl,
    ).toBe('wss://gw.example.com/market/v1');
  });
});
