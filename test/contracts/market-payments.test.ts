// Payments wired into the market, end to end on anvil: the real gateway (`idlerig gateway --rpc
// --hub --token`, operator key from the environment) pays a real headless provider (the bundled
// `idlerig --headless --chain-rpc --hub`, its own process) for jobs the official `openai` package
// asks for. The provider's claimable equals the sum of the job prices in its job database; a
// claim moves exactly that to its payout address; a SIGKILL right after a voucher is written
// loses nothing; tampered vouchers (amount, chain, contract, signer) from a second gateway (the
// protocol stub, so the test can forge what a real gateway never sends) are rejected and logged
// while the job stays recorded; and when the payer requests an unlock, the node's watchtower
// claims inside the timelock by itself (anvil's clock moved forward).
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { Wallet, type HDNodeWallet } from 'ethers';
import { signVoucher } from '../../contracts/client';
import { hubDomain, voucherToWire, type SignedVoucherWire } from '../../shared/payments';
import type { Earnings } from '../../shared/api/wallet';
import { bundles } from '../helpers/engine-bundle';
import { FIXTURES, MODELS } from '../helpers/engine';
import { createKey, startGatewayProc, waitFor, type GatewayProc } from '../helpers/gateway';
import { tempDir } from '../helpers/tmp';
import { StubGateway, type StubConnection } from '../unit/market-client-stub';
import { devWallet, startChain, UNLOCK_DELAY, type Deployed } from './chain';

/** Per million output tokens, in the token's smallest unit: above the node's electricity floor. */
const PRICE_OUT = 10n ** 21n;
const DEPOSIT = 10n ** 22n;

interface ProviderProc {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<unknown>;
  base: string;
  token: string;
}

let d: Deployed;
let operator: HDNodeWallet;
let tmp: { dir: string; cleanup(): Promise<void> };
let gw: GatewayProc;
let stub: StubGateway;
let prov: ProviderProc;
let providerAddress = '';
let client: OpenAI;
let cli: string;

async function startProvider(): Promise<ProviderProc> {
  const child = spawn(
    process.execPath,
    [
      cli,
      '--headless',
      '--port',
      '0',
      '--quiet',
      '--data-dir',
      join(tmp.dir, 'node'),
      '--gateway',
      gw.url,
      '--gateway',
      stub.url,
      '--chain-rpc',
      d.anvil.rpcUrl,
      '--hub',
      d.hubAddress,
    ],
    {
      env: { ...process.env, IDLERIG_KEY_PASSPHRASE: 'test', IDLERIG_CLAIM_POLL_MS: '200' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  child.stdout!.on('data', (c) => (out += c));
  child.stderr!.on('data', (c) => (err += c));
  const exited = new Promise((r) => child.once('exit', r));
  const m = await waitFor(
    'the Dashboard line',
    () => {
      if (child.exitCode !== null) throw new Error(`the provider exited: ${err}`);
      return /^Dashboard: (http:\/\/[^\s]+\/\?token=([A-Za-z0-9_-]+))$/m.exec(out);
    },
    30_000,
  );
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    base: new URL(m[1]!).origin,
    token: m[2]!,
  };
}

async function api<T = unknown>(method: string, params: object = {}): Promise<T> {
  const res = await fetch(`${prov.base}/api/rpc/${method}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${prov.token}`, 'content-type': 'application/json' },
    body: JSON.stringify(params),
  });
  const body = (await res.json()) as { result?: T; error?: { message: string } };
  if (!res.ok || body.error) throw new Error(`${method}: ${body.error?.message ?? res.status}`);
  return body.result as T;
}

interface Row {
  id: string;
  gateway: string | null;
  status: string;
  earned: string | null;
  voucherId: string | null;
}
const rows = async (): Promise<Row[]> =>
  (await api<{ rows: Row[] }>('jobs.list', { limit: 1000 })).rows;
const paidRows = async (): Promise<Row[]> =>
  (await rows()).filter((r) => r.gateway === gw.url && r.status === 'done');
const sumEarned = (rs: Row[]): bigint => rs.reduce((s, r) => s + BigInt(r.earned ?? '0'), 0n);
const channelOf = async (payer: string): Promise<Earnings['channels'][number] | undefined> =>
  (await api<Earnings>('wallet.earnings')).channels.find(
    (c) => c.payer.toLowerCase() === payer.toLowerCase(),
  );

async function complete(maxTokens = 12): Promise<void> {
  const r = await client.completions.create({
    model: 'stories260K.gguf',
    prompt: 'Once upon a time',
    max_tokens: maxTokens,
    temperature: 0,
  });
  expect(r.usage!.completion_tokens).toBe(maxTokens);
}

/** The stub gateway offers an 8-token completion at PRICE_OUT, the input inline. */
function stubOffer(conn: StubConnection, jobId: string): void {
  conn.send({
    type: 'offer',
    jobId,
    modelSha256: MODELS.stories.sha256,
    kind: 'completion',
    price: { per: 'mtok', input: '0', output: PRICE_OUT.toString() },
    maxTokens: 8,
    deadline: Date.now() + 60_000,
    input: {
      kind: 'completion',
      prompt: 'Once upon a time',
      sampling: { max_tokens: 8, temperature: 0 },
    },
  });
}

/** Waits until the provider holds a voucher covering every paid job, each linked to one. */
async function settled(): Promise<{ sum: bigint; channel: Earnings['channels'][number] }> {
  for (const deadline = Date.now() + 15_000; ;) {
    const rs = await paidRows();
    const ch = await channelOf(operator.address);
    const sum = sumEarned(rs);
    if (ch && BigInt(ch.earned) === sum && rs.every((r) => r.voucherId))
      return { sum, channel: ch };
    if (Date.now() > deadline) {
      const unlinked = rs.filter((r) => !r.voucherId).length;
      throw new Error(
        `vouchers never caught up: jobs ${sum}, vouchers ${ch?.earned}, unlinked ${unlinked}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  const b = await bundles();
  cli = b.cli;
  tmp = await tempDir('idlerig-market-pay-');
  d = await startChain();
  operator = devWallet(d.anvil, 1);
  await d.token(d.owner).mint(operator.address, DEPOSIT * 100n);
  const prices = join(tmp.dir, 'prices.json');
  await writeFile(
    prices,
    JSON.stringify({
      default: { llm: { per: 'mtok', input: '0', output: PRICE_OUT.toString() } },
    }),
  );
  gw = await startGatewayProc(
    join(tmp.dir, 'gw'),
    [
      '--price-file',
      prices,
      '--rpc',
      d.anvil.rpcUrl,
      '--hub',
      d.hubAddress,
      '--token',
      d.tokenAddress,
      '--deposit',
      DEPOSIT.toString(),
    ],
    { IDLERIG_OPERATOR_KEY: operator.privateKey },
  );
  stub = new StubGateway();
  await stub.start();
  prov = await startProvider();
  for (const deadline = Date.now() + 20_000; !providerAddress;) {
    providerAddress = (await api<{ address: string | null }>('market.identity')).address ?? '';
    if (Date.now() > deadline) throw new Error('the node key never opened');
    if (!providerAddress) await new Promise((r) => setTimeout(r, 100));
  }
  // The node key pays the gas of its claims.
  await (
    await devWallet(d.anvil, 2).sendTransaction({ to: providerAddress, value: 10n ** 18n })
  ).wait();
  await api('models.import', { path: join(FIXTURES, MODELS.stories.file) });
  const key = await createKey(gw.dataDir, ['--credit', (10n ** 24n).toString()]);
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: key, maxRetries: 0 });
  for (const deadline = Date.now() + 20_000; ;) {
    const ids = (await client.models.list()).data.map((m) => m.id);
    if (ids.includes('stories260K.gguf')) break;
    if (Date.now() > deadline) throw new Error(`the gateway never listed the model: ${ids}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}, 120_000);

afterAll(async () => {
  if (prov && prov.child.exitCode === null && prov.child.signalCode === null) {
    prov.child.kill('SIGTERM');
    await prov.exited;
  }
  await gw?.stop();
  await stub?.stop();
  await d?.anvil.stop();
  await tmp?.cleanup();
});

describe('payments in the market (anvil, real gateway, real headless provider, openai)', () => {
  it('the gateway opened a channel to the provider, and after N jobs the claimable equals the sum of the job prices in the job database', async () => {
    const ch = await d.hub(operator).channel(operator.address, providerAddress, d.tokenAddress);
    expect(ch.deposited).toBe(DEPOSIT);
    for (let i = 0; i < 4; i++) await complete(8 + i * 4);
    const { sum, channel } = await settled();
    const rs = await paidRows();
    expect(rs).toHaveLength(4);
    expect(sum).toBeGreaterThan(0n);
    expect(channel).toMatchObject({
      gateway: gw.url,
      claimable: sum.toString(),
      claimed: '0',
      locked: DEPOSIT.toString(),
      token: { address: d.tokenAddress, symbol: 'IDD', decimals: 6 },
    });
  }, 60_000);

  it('a claim (the threshold reached) moves exactly that to the payout address', async () => {
    const { sum } = await settled();
    const payout = Wallet.createRandom().address;
    await api('settings.update', { wallet: { payoutAddress: payout, claimThreshold: '1' } });
    await expect.poll(() => d.token(d.owner).balanceOf(payout), { timeout: 15_000 }).toBe(sum);
    const ch = await channelOf(operator.address);
    expect(ch).toMatchObject({ claimable: '0', claimed: sum.toString(), earned: sum.toString() });
    const e = await api<Earnings>('wallet.earnings');
    expect(e.lastClaim).toMatchObject({ reason: 'threshold', amount: sum.toString() });
    await api('settings.update', { wallet: { claimThreshold: null } });
  }, 60_000);

  it('SIGKILL right after a voucher is written, then restart: nothing lost, earnings never decrease', async () => {
    const before = BigInt((await channelOf(operator.address))!.earned);
    const file = join(tmp.dir, 'node', 'vouchers.json');
    const cumulativeOnDisk = async (): Promise<bigint> => {
      try {
        const j = JSON.parse(await readFile(file, 'utf8')) as {
          channels: { payer: string; cumulative: string }[];
        };
        const e = j.channels.find((c) => c.payer.toLowerCase() === operator.address.toLowerCase());
        return e ? BigInt(e.cumulative) : 0n;
      } catch {
        return 0n; // mid-rename: read again
      }
    };
    const job = complete(16);
    // Killed the moment the new voucher is on disk: before (or as) its acknowledgement leaves.
    for (const deadline = Date.now() + 20_000; (await cumulativeOnDisk()) <= before;) {
      if (Date.now() > deadline) throw new Error('no new voucher was written');
      await new Promise((r) => setTimeout(r, 2));
    }
    prov.child.kill('SIGKILL');
    await prov.exited;
    await job;
    const onDisk = await cumulativeOnDisk();
    expect(onDisk).toBeGreaterThan(before);

    prov = await startProvider();
    // The gateway sends its latest voucher again at login; the node holds it, linked to the job.
    const { sum, channel } = await settled();
    expect(BigInt(channel.earned)).toBeGreaterThanOrEqual(onDisk);
    expect(sum).toBe(BigInt(channel.earned));
    const ledger = JSON.parse(await readFile(join(gw.dataDir, 'payer-ledger.json'), 'utf8')) as {
      channels: { provider: string; signed: string }[];
    };
    const signed = ledger.channels.find(
      (c) => c.provider.toLowerCase() === providerAddress.toLowerCase(),
    )!.signed;
    expect(BigInt(signed)).toBe(BigInt(channel.earned));
    // And it still serves and is paid.
    await complete(8);
    const after = await settled();
    expect(after.sum).toBeGreaterThan(sum);
  }, 90_000);

  it('tampered vouchers (amount, chain, contract, signer) are rejected and logged; the job stays recorded', async () => {
    const payer = devWallet(d.anvil, 3);
    await d.token(d.owner).mint(payer.address, DEPOSIT);
    await d.hub(payer).deposit(providerAddress, d.tokenAddress, DEPOSIT);
    const conn = await stub.until(
      () => stub.connections.findLast((c) => c.address && c.ws.readyState === c.ws.OPEN),
      20_000,
    );
    const chainId = Number(d.anvil.chainId);
    conn.send({
      type: 'payer',
      payer: {
        address: payer.address,
        chainId,
        hub: d.hubAddress,
        token: { address: d.tokenAddress, symbol: 'IDD', decimals: 6 },
      },
    });
    await stub.until(() => stub.framesOf('payer_ack', conn).find((f) => f.ok), 10_000);
    const jobId = `stub-job-${Date.now()}`;
    stubOffer(conn, jobId);
    await stub.until(() => stub.framesOf('done', conn).find((f) => f.jobId === jobId), 20_000);
    const amount = (PRICE_OUT * 8n) / 1_000_000n;
    const base = {
      payer: payer.address,
      provider: providerAddress,
      token: d.tokenAddress,
      epoch: 0,
      cumulative: amount,
    };
    const signed = (signer: HDNodeWallet, domainChain: number, hub: string) =>
      signVoucher(signer, hubDomain(domainChain, hub), base);
    const other = devWallet(d.anvil, 4);
    const good = voucherToWire(await signed(payer, chainId, d.hubAddress), chainId, d.hubAddress);
    const tampered: [string, SignedVoucherWire][] = [
      ['signature', { ...good, cumulative: (amount * 10n).toString() }],
      ['chain', voucherToWire(await signed(payer, 1, d.hubAddress), 1, d.hubAddress)],
      [
        'contract',
        voucherToWire(await signed(payer, chainId, other.address), chainId, other.address),
      ],
      [
        'signature',
        voucherToWire(await signed(other, chainId, d.hubAddress), chainId, d.hubAddress),
      ],
    ];
    for (const [reason, voucher] of tampered) {
      const n = stub.framesOf('voucher_rejected', conn).length;
      conn.send({ type: 'voucher', voucher, jobIds: [jobId] });
      const r = await stub.until(() => stub.framesOf('voucher_rejected', conn)[n], 10_000);
      expect(r.reason).toBe(reason);
    }
    expect(stub.framesOf('voucher_ack', conn)).toHaveLength(0);
    const logs = await api<{ entries: { level: string; msg: string }[] }>('logs.tail', {
      limit: 500,
    });
    const rejected = logs.entries.filter((e) => /Voucher rejected/.test(e.msg));
    expect(rejected.length).toBeGreaterThanOrEqual(4);
    const job = (await rows()).find((r) => r.id === jobId);
    expect(job).toMatchObject({ status: 'done', earned: amount.toString(), voucherId: null });
    expect(await channelOf(payer.address)).toBeUndefined();
    // The genuine voucher is taken and linked to the job.
    conn.send({ type: 'voucher', voucher: good, jobIds: [jobId] });
    const ack = await stub.until(() => stub.framesOf('voucher_ack', conn)[0], 10_000);
    expect(ack.cumulative).toBe(amount.toString());
    await expect
      .poll(async () => (await rows()).find((r) => r.id === jobId)?.voucherId, { timeout: 5000 })
      .toMatch(/^0x[0-9a-f]{64}$/);
  }, 60_000);

  it('offers past the credit limit, or from a payer that asked to leave, are declined with the reason', async () => {
    const payer = devWallet(d.anvil, 3); // the stub's payer, holding an unclaimed voucher
    const conn = stub.connections.findLast((c) => c.address && c.ws.readyState === c.ws.OPEN)!;
    const offer = (jobId: string) => stubOffer(conn, jobId);
    const declined = (jobId: string) =>
      stub.until(() => stub.framesOf('decline', conn).find((f) => f.jobId === jobId), 10_000);
    await api('settings.update', { wallet: { creditLimit: '1' } });
    offer('over-limit');
    expect((await declined('over-limit')).reason).toBe('CREDIT_LIMIT');
    await api('settings.update', { wallet: { creditLimit: null } });

    await d.hub(payer).requestUnlock(providerAddress, d.tokenAddress);
    // The node sees the unlock on its own chain (its poll reads the channel every 200 ms here).
    await expect
      .poll(async () => (await channelOf(payer.address))?.unlockAt ?? null, { timeout: 10_000 })
      .not.toBeNull();
    offer('leaving');
    expect((await declined('leaving')).reason).toBe('PAYER_LEAVING');
    const rows = await api<{ rows: Row[] }>('jobs.list', { limit: 1000 });
    expect(rows.rows.find((r) => r.id === 'leaving')?.status).toBe('declined');
    // Leave no pending unlock to the next test: while one is pending the watchtower claims
    // everything owed at each round (one claimBatch), which would take the next test's channel
    // before that test's own unlock. The unlock makes it claim this channel; then the payer stays.
    await expect
      .poll(async () => (await channelOf(payer.address))?.claimable, { timeout: 15_000 })
      .toBe('0');
    await d.hub(payer).cancelUnlock(providerAddress, d.tokenAddress);
    await expect
      .poll(async () => (await channelOf(payer.address))?.unlockAt ?? null, { timeout: 10_000 })
      .toBeNull();
  }, 30_000);

  it('the payer requests an unlock: the provider claims inside the timelock by itself', async () => {
    await complete(12);
    const { channel } = await settled();
    const owed = BigInt(channel.claimable);
    expect(owed).toBeGreaterThan(0n);
    const hub = d.hub(operator);
    await hub.requestUnlock(providerAddress, d.tokenAddress);
    const { unlockAt } = await hub.channel(operator.address, providerAddress, d.tokenAddress);
    // Most of the timelock passes before the watchtower's next look.
    await d.anvil.increaseTime(UNLOCK_DELAY - 120);
    await expect
      .poll(
        async () => (await hub.channel(operator.address, providerAddress, d.tokenAddress)).claimed,
        { timeout: 15_000 },
      )
      .toBe(BigInt(channel.claimed) + owed);
    const block = await d.anvil.provider.getBlock('latest');
    expect(block!.timestamp).toBeLessThan(unlockAt);
    const e = await api<Earnings>('wallet.earnings');
    // One claimBatch: this channel's owed amount and whatever else was unclaimed (the stub's).
    expect(e.lastClaim?.reason).toBe('unlock');
    expect(BigInt(e.lastClaim!.amount)).toBeGreaterThanOrEqual(owed);
    const now = e.channels.find((c) => c.payer.toLowerCase() === operator.address.toLowerCase());
    expect(now).toMatchObject({ claimable: '0', unlockAt });
  }, 60_000);
});
