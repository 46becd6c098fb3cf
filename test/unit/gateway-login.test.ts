// Provider sessions on a real gateway (in this process, loopback, port 0) over real WebSockets:
// the SIWE login and its refusals, capabilities into /v1/models, liveness by heartbeats.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Wallet } from 'ethers';
import { startGateway, type RunningGateway } from '../../gateway/index';
import { createKey } from '../../gateway/keys';
import { RawProvider } from '../helpers/gateway-ws';
import { tempDir } from '../helpers/gateway';

let gw: RunningGateway;
let cleanup: () => Promise<void>;
let key: string;

beforeAll(async () => {
  const d = await tempDir();
  cleanup = d.cleanup;
  gw = await startGateway({
    dataDir: d.dir,
    heartbeatMs: 200,
    loginTimeoutMs: 1500,
    defaultMetrics: false,
  });
  key = createKey(gw.store, { credit: 1000n }).key;
});
afterAll(async () => {
  await gw?.close();
  await cleanup?.();
});

const capabilities: Parameters<RawProvider['send']>[0] = {
  type: 'capabilities',
  models: [
    {
      sha256: 'a'.repeat(64),
      name: 'demo-llm',
      kind: 'llm',
      floor: { per: 'mtok', input: '1', output: '1' },
    },
  ],
  parallelism: 2,
  gpus: [],
};

async function models(): Promise<{ id: string; sha256: string }[]> {
  const r = await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
  return ((await r.json()) as { data: { id: string; sha256: string }[] }).data;
}

describe('provider login (EIP-4361 signed by the node key)', () => {
  it('a correct login is accepted; its capabilities appear in /v1/models under the model name with the sha256', async () => {
    const wallet = Wallet.createRandom();
    const p = new RawProvider(gw.url);
    const hello = await p.next('hello');
    expect(hello).toMatchObject({ origin: gw.url, chainId: 31337, heartbeatMs: 200 });
    expect(hello.nonce).toMatch(/^[0-9a-f]{32}$/);
    const message = RawProvider.message(hello, wallet.address);
    p.send({
      type: 'login',
      message,
      signature: await wallet.signMessage(message),
      client: { name: 't', version: '1' },
    });
    const ok = await p.next('login_ok');
    expect(ok.address).toBe(wallet.address);
    p.send(capabilities);
    await expect
      .poll(models)
      .toEqual([expect.objectContaining({ id: 'demo-llm', sha256: 'a'.repeat(64) })]);
    p.close();
    await p.closed;
    await expect.poll(models).toEqual([]);
  });

  it('a signature by another key is refused (BAD_SIGNATURE) and the connection closed', async () => {
    const p = new RawProvider(gw.url);
    const r = await p.login(Wallet.createRandom(), {}, Wallet.createRandom());
    expect(r).toMatchObject({ type: 'login_refused', code: 'BAD_SIGNATURE' });
    expect((await p.closed).code).toBe(1008);
  });

  it('a replayed nonce is refused (NONCE_REPLAYED), even on a new connection with its own hello', async () => {
    const wallet = Wallet.createRandom();
    const a = new RawProvider(gw.url);
    const hello = await a.next('hello');
    const message = RawProvider.message(hello, wallet.address);
    const signature = await wallet.signMessage(message);
    a.send({ type: 'login', message, signature, client: { name: 't', version: '1' } });
    await a.next('login_ok');
    a.close();
    const b = new RawProvider(gw.url);
    await b.next('hello');
    b.send({ type: 'login', message, signature, client: { name: 't', version: '1' } });
    expect(await b.next('login_refused')).toMatchObject({ code: 'NONCE_REPLAYED' });
    await b.closed;
  });

  it('an expired message, one without expiry, a wrong origin or chain are refused with their codes', async () => {
    const w = Wallet.createRandom();
    const past = new Date(Date.now() - 1000).toISOString();
    const cases: [Parameters<RawProvider['login']>[1], string][] = [
      [{ expirationTime: past }, 'EXPIRED'],
      [{ expirationTime: undefined }, 'EXPIRED'],
      [{ uri: 'http://127.0.0.1:1', domain: '127.0.0.1:1' }, 'WRONG_DOMAIN'],
      [{ chainId: 1 }, 'WRONG_CHAIN'],
      [{ nonce: 'abcdefabcdefabcd' }, 'WRONG_NONCE'],
    ];
    for (const [over, code] of cases) {
      const p = new RawProvider(gw.url);
      expect(await p.login(w, over), code).toMatchObject({ type: 'login_refused', code });
      await p.closed;
    }
  });

  it('no login within the hello window: refused EXPIRED; frames before login: a fatal protocol error', async () => {
    const slow = new RawProvider(gw.url);
    await slow.next('hello');
    expect(await slow.next('login_refused', 5000)).toMatchObject({ code: 'EXPIRED' });
    await slow.closed;
    const early = new RawProvider(gw.url);
    await early.next('hello');
    early.send({ type: 'accept', jobId: 'x' });
    expect(await early.next('protocol_error')).toMatchObject({ code: 'UNEXPECTED', fatal: true });
    await early.closed;
  });
});

describe('liveness', () => {
  it('a provider that stops sending heartbeats goes offline after 3 missed; one that sends them stays', async () => {
    const quiet = new RawProvider(gw.url);
    const alive = new RawProvider(gw.url);
    expect(await quiet.login(Wallet.createRandom())).toMatchObject({ type: 'login_ok' });
    expect(await alive.login(Wallet.createRandom())).toMatchObject({ type: 'login_ok' });
    const beat = setInterval(
      () =>
        alive.send({ type: 'heartbeat', t: Date.now(), telemetry: { activeJobs: 0, gpus: [] } }),
      100,
    );
    try {
      expect(gw.registry.online).toBe(2);
      const closed = await quiet.closed;
      expect(closed.code).toBe(4001);
      expect(gw.registry.online).toBe(1);
      await alive.next('heartbeat_ack');
      await new Promise((r) => setTimeout(r, 800));
      expect(gw.registry.online).toBe(1);
    } finally {
      clearInterval(beat);
      alive.close();
    }
  });

  it('a second login of the same address replaces the first session', async () => {
    const w = Wallet.createRandom();
    const a = new RawProvider(gw.url);
    expect(await a.login(w)).toMatchObject({ type: 'login_ok' });
    const b = new RawProvider(gw.url);
    expect(await b.login(w)).toMatchObject({ type: 'login_ok' });
    expect((await a.closed).code).toBe(4002);
    expect(gw.registry.get(w.address)).toBeDefined();
    b.close();
  });
});
