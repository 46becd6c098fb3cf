// The gateway's payments hook (gateway/payments/dispatch-hook.ts) on anvil with the real channel
// payer: a provider's offers are held until its channel is open and it acknowledged the payer; a
// long stream gets a voucher every few seconds (a test clock) and the final charge the rest; an
// exhausted channel holds the provider's offers until the top-up lands (the operator out of
// tokens first, then funded). The provider session is a stand-in object that records the frames
// sent to it (the real session and socket are exercised in market-payments.test.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { verifyTypedData, type HDNodeWallet } from 'ethers';
import { hubDomain, VOUCHER_TYPES, voucherFromWire, voucherValue } from '../../shared/payments';
import type { Price } from '../../shared/market-protocol';
import { PayerLedger } from '../../gateway/payments/ledger';
import { ChannelPayer } from '../../gateway/payments/payer';
import { PaymentsHook } from '../../gateway/payments/dispatch-hook';
import { ProviderRegistry } from '../../gateway/providers/registry';
import type { ProviderSession } from '../../gateway/providers/session';
import { waitFor } from '../helpers/gateway';
import { tempDir } from '../helpers/tmp';
import { devWallet, startChain, type Deployed } from './chain';

let d: Deployed;
let tmp: { dir: string; cleanup: () => Promise<void> };
beforeAll(async () => {
  d = await startChain();
  tmp = await tempDir('idlerig-hook-');
});
afterAll(async () => {
  await d?.anvil.stop();
  await tmp?.cleanup();
});

interface Sent {
  type: string;
  voucher?: unknown;
  jobIds?: string[];
}

function standIn(address: string): ProviderSession & { sent: Sent[] } {
  const sent: Sent[] = [];
  return {
    id: `stand-in-${address}`,
    address,
    online: true,
    held: null,
    models: [],
    sent,
    send: (f: Sent) => sent.push(f),
    close: () => undefined,
  } as unknown as ProviderSession & { sent: Sent[] };
}

async function setup(operator: HDNodeWallet, deposit: bigint, name: string) {
  const chainId = d.anvil.chainId;
  const ledger = await PayerLedger.open(join(tmp.dir, `${name}.json`));
  const payer = new ChannelPayer({
    wallet: operator as never,
    hub: d.hub(operator),
    token: d.tokenAddress,
    chainId,
    ledger,
  });
  let clock = 0;
  const hook = new PaymentsHook({
    payer,
    announce: {
      address: operator.address,
      chainId: Number(chainId),
      hub: d.hubAddress,
      token: { address: d.tokenAddress, symbol: 'IDD', decimals: 6 },
    },
    deposit,
    lowWater: deposit / 10n,
    streamIntervalMs: 3000,
    retryMs: 50,
    now: () => clock,
  });
  const registry = new ProviderRegistry();
  hook.attach(registry);
  return { hook, registry, tick: (ms: number) => (clock += ms) };
}

const vouchersOf = (s: { sent: Sent[] }) =>
  s.sent
    .filter((f) => f.type === 'voucher')
    .map((f) => ({ ...voucherFromWire(f.voucher), jobIds: f.jobIds }));

function signerOf(v: ReturnType<typeof voucherFromWire>): string {
  return verifyTypedData(
    hubDomain(v.chainId, v.hub),
    { Voucher: VOUCHER_TYPES.Voucher.map((f) => ({ ...f })) },
    voucherValue(v.voucher),
    v.voucher.signature,
  );
}

const ONE_PER_TOKEN: Price = { per: 'mtok', input: '0', output: '1000000' };

describe('the gateway payments hook', () => {
  it('holds a provider until its channel is open and the payer acknowledged; vouchers every few seconds of a stream, the rest at the end', async () => {
    const operator = devWallet(d.anvil, 5);
    await d.token(d.owner).mint(operator.address, 10_000n);
    const { hook, registry, tick } = await setup(operator, 1000n, 'stream');
    const s = standIn(devWallet(d.anvil, 6).address);
    registry.add(s);
    hook.loggedIn(s);
    expect(s.held).toMatch(/opening the payment channel/);
    await waitFor('the payer frame', () => s.sent.find((f) => f.type === 'payer'), 20_000);
    const ch = await d.hub(operator).channel(operator.address, s.address!, d.tokenAddress);
    expect(ch.deposited).toBe(1000n);
    expect(s.held).not.toBeNull(); // until the provider answers
    hook.answered(s, { v: 1, type: 'payer_ack', ok: true, message: 'ok' });
    expect(s.held).toBeNull();

    hook.progress('job-1', s.address, ONE_PER_TOKEN, 10); // the stream starts
    tick(1000);
    hook.progress('job-1', s.address, ONE_PER_TOKEN, 50); // too soon
    tick(2500);
    hook.progress('job-1', s.address, ONE_PER_TOKEN, 120);
    await waitFor('a voucher mid-stream', () => vouchersOf(s).length === 1, 10_000);
    tick(3500);
    hook.progress('job-1', s.address, ONE_PER_TOKEN, 300);
    await waitFor('a second one', () => vouchersOf(s).length === 2, 10_000);
    hook.charged({
      jobId: 'job-1',
      keyId: 'k',
      provider: s.address,
      amount: 320n,
      price: ONE_PER_TOKEN,
      receipt: null,
    });
    await waitFor('the final voucher', () => vouchersOf(s).length === 3, 10_000);
    const vs = vouchersOf(s);
    expect(vs.map((v) => v.voucher.cumulative)).toEqual([120n, 300n, 320n]);
    expect(vs.every((v) => v.jobIds?.includes('job-1'))).toBe(true);
    expect(vs.every((v) => signerOf(v) === operator.address)).toBe(true);
    // Acknowledged: a resend after a reconnect names no job twice.
    hook.answered(s, { v: 1, type: 'voucher_ack', epoch: 0, cumulative: '320' });
    hook.close();
  }, 60_000);

  it('an exhausted channel holds the provider until the top-up lands', async () => {
    const operator = devWallet(d.anvil, 7);
    await d.token(d.owner).mint(operator.address, 1000n); // one deposit, no top-up yet
    const { hook, registry } = await setup(operator, 1000n, 'exhaust');
    const s = standIn(devWallet(d.anvil, 8).address);
    registry.add(s);
    hook.loggedIn(s);
    await waitFor('the payer frame', () => s.sent.find((f) => f.type === 'payer'), 20_000);
    hook.answered(s, { v: 1, type: 'payer_ack', ok: true, message: 'ok' });
    hook.charged({
      jobId: 'big',
      keyId: 'k',
      provider: s.address,
      amount: 1100n,
      price: ONE_PER_TOKEN,
      receipt: null,
    });
    await waitFor('the capped voucher', () => vouchersOf(s).length === 1, 10_000);
    expect(vouchersOf(s)[0]!.voucher.cumulative).toBe(1000n); // never beyond the lock
    await waitFor('the hold', () => s.held, 10_000);
    expect(s.held).toMatch(/exhausted/);
    // The top-up keeps failing (no tokens) and the provider stays held.
    await new Promise((r) => setTimeout(r, 300));
    expect(s.held).toMatch(/exhausted/);
    await d.token(d.owner).mint(operator.address, 10_000n);
    await waitFor(
      'the owed remainder signed after the top-up',
      () => vouchersOf(s).length === 2,
      20_000,
    );
    expect(vouchersOf(s)[1]!.voucher.cumulative).toBe(1100n);
    await waitFor(
      'the payer announced again',
      () => s.sent.filter((f) => f.type === 'payer').length >= 2,
    );
    hook.answered(s, { v: 1, type: 'payer_ack', ok: true, message: 'ok' });
    expect(s.held).toBeNull();
    hook.close();
  }, 60_000);
});
