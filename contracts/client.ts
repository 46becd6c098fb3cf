// The chain side of payments in ethers v6: deploy the hub and the demo token, and every hub call
// (deposit, claim, claimBatch, unlock, withdraw, payout). Used by the tests, the demo network, the
// gateway (payer) and, through its own small reader, the provider. Every write waits for its
// receipt and returns it; a revert surfaces as ethers' error with the hub's custom error decoded
// (revertName below).
import {
  Contract,
  ContractFactory,
  Interface,
  type ContractRunner,
  type Signer,
  type TransactionReceipt,
} from 'ethers';
import {
  hubDomain,
  VOUCHER_TYPES,
  voucherValue,
  type ChannelState,
  type HubDomain,
  type SignedVoucher,
  type Voucher,
} from '../shared/payments';
import { PaymentHub } from './generated/PaymentHub';
import { DemoToken } from './generated/DemoToken';

export { PaymentHub, DemoToken };
export type { ChannelState };

/** What signs vouchers: an ethers Wallet, or the provider's/gateway's key wrapper. */
export interface TypedDataSigner {
  signTypedData(
    domain: HubDomain,
    types: Record<string, { name: string; type: string }[]>,
    value: Record<string, unknown>,
  ): Promise<string>;
}

export async function signVoucher(
  signer: TypedDataSigner,
  domain: HubDomain,
  v: Voucher,
): Promise<SignedVoucher> {
  const types = { Voucher: VOUCHER_TYPES.Voucher.map((f) => ({ ...f })) };
  const signature = await signer.signTypedData(domain, types, voucherValue(v));
  return { ...v, signature };
}

const errorInterface = new Interface(
  [...PaymentHub.abi, ...DemoToken.abi].filter((f) => f.type === 'error'),
);

/** The name of the custom error a hub or token call reverted with (undefined: not one of ours). */
export function revertName(err: unknown): string | undefined {
  const e = err as { revert?: { name?: string } | null; data?: unknown };
  if (e?.revert?.name) return e.revert.name;
  if (typeof e?.data !== 'string' || e.data.length < 10) return undefined;
  try {
    return errorInterface.parseError(e.data)?.name;
  } catch {
    return undefined;
  }
}

async function mined(
  tx: Promise<{ wait(): Promise<TransactionReceipt | null> }>,
): Promise<TransactionReceipt> {
  const receipt = await (await tx).wait();
  if (!receipt) throw new Error('The transaction was dropped');
  return receipt;
}

export async function deployDemoToken(
  deployer: Signer,
  opts: { name?: string; symbol?: string; decimals?: number; owner?: string } = {},
): Promise<string> {
  const factory = new ContractFactory(DemoToken.abi, DemoToken.bytecode, deployer);
  const c = await factory.deploy(
    opts.name ?? 'Idlerig Demo Dollar',
    opts.symbol ?? 'IDD',
    opts.decimals ?? 6,
    opts.owner ?? (await deployer.getAddress()),
  );
  await c.waitForDeployment();
  return c.getAddress();
}

/** Deploys a hub owned by `owner` (default the deployer) and allow-lists `tokens`. */
export async function deployHub(
  deployer: Signer,
  opts: { unlockDelay: number; owner?: string; tokens?: string[] },
): Promise<string> {
  const factory = new ContractFactory(PaymentHub.abi, PaymentHub.bytecode, deployer);
  const c = await factory.deploy(opts.owner ?? (await deployer.getAddress()), opts.unlockDelay);
  await c.waitForDeployment();
  const address = await c.getAddress();
  const hub = new HubClient(address, deployer);
  for (const token of opts.tokens ?? []) await hub.setTokenAllowed(token, true);
  return address;
}

/** Demo token calls (mint needs the token's owner). */
export class TokenClient {
  readonly contract: Contract;
  constructor(
    readonly address: string,
    runner: ContractRunner,
  ) {
    this.contract = new Contract(address, DemoToken.abi, runner);
  }
  async balanceOf(who: string): Promise<bigint> {
    return (await this.contract.getFunction('balanceOf')(who)) as bigint;
  }
  async decimals(): Promise<number> {
    return Number(await this.contract.getFunction('decimals')());
  }
  async symbol(): Promise<string> {
    return (await this.contract.getFunction('symbol')()) as string;
  }
  mint(to: string, amount: bigint): Promise<TransactionReceipt> {
    return mined(this.contract.getFunction('mint')(to, amount));
  }
  transfer(to: string, amount: bigint): Promise<TransactionReceipt> {
    return mined(this.contract.getFunction('transfer')(to, amount));
  }
  approve(spender: string, amount: bigint): Promise<TransactionReceipt> {
    return mined(this.contract.getFunction('approve')(spender, amount));
  }
  async allowance(owner: string, spender: string): Promise<bigint> {
    return (await this.contract.getFunction('allowance')(owner, spender)) as bigint;
  }
}

export class HubClient {
  readonly contract: Contract;
  constructor(
    readonly address: string,
    readonly runner: ContractRunner,
  ) {
    this.contract = new Contract(address, PaymentHub.abi, runner);
  }

  /** A client for the same hub acting as another account. */
  connect(runner: ContractRunner): HubClient {
    return new HubClient(this.address, runner);
  }

  async domain(): Promise<HubDomain> {
    const network = await this.runner.provider?.getNetwork();
    if (!network) throw new Error('The hub client has no provider');
    return hubDomain(network.chainId, this.address);
  }

  async channel(payer: string, provider: string, token: string): Promise<ChannelState> {
    const c = (await this.contract.getFunction('channel')(payer, provider, token)) as {
      deposited: bigint;
      claimed: bigint;
      epoch: bigint;
      unlockAt: bigint;
    };
    return {
      deposited: c.deposited,
      claimed: c.claimed,
      epoch: Number(c.epoch),
      unlockAt: Number(c.unlockAt),
    };
  }

  async unlockDelay(): Promise<number> {
    return Number(await this.contract.getFunction('unlockDelay')());
  }

  async payoutOf(provider: string): Promise<string> {
    return (await this.contract.getFunction('payoutOf')(provider)) as string;
  }

  async tokenAllowed(token: string): Promise<boolean> {
    return (await this.contract.getFunction('tokenAllowed')(token)) as boolean;
  }

  /** What this voucher would pay if claimed now (0: stale, other epoch, or nothing new). */
  async claimable(v: Voucher): Promise<bigint> {
    return (await this.contract.getFunction('claimable')(
      v.payer,
      v.provider,
      v.token,
      v.epoch,
      v.cumulative,
    )) as bigint;
  }

  setTokenAllowed(token: string, allowed: boolean): Promise<TransactionReceipt> {
    return mined(this.contract.getFunction('setTokenAllowed')(token, allowed));
  }

  setPayout(payout: string): Promise<TransactionReceipt> {
    return mined(this.contract.getFunction('setPayout')(payout));
  }

  /** Approves the hub for `amount` if needed, then locks it for `provider`. */
  async deposit(provider: string, token: string, amount: bigint): Promise<TransactionReceipt> {
    const owner = await (this.runner as Signer).getAddress();
    const t = new TokenClient(token, this.runner);
    if ((await t.allowance(owner, this.address)) < amount) await t.approve(this.address, amount);
    return mined(this.contract.getFunction('deposit')(provider, token, amount));
  }

  claim(v: SignedVoucher): Promise<TransactionReceipt> {
    return mined(
      this.contract.getFunction('claim')(
        v.payer,
        v.provider,
        v.token,
        v.epoch,
        v.cumulative,
        v.signature,
      ),
    );
  }

  claimBatch(vs: SignedVoucher[]): Promise<TransactionReceipt> {
    return mined(
      this.contract.getFunction('claimBatch')(
        vs.map((v) => [v.payer, v.provider, v.token, v.epoch, v.cumulative, v.signature]),
      ),
    );
  }

  async requestUnlock(provider: string, token: string): Promise<TransactionReceipt> {
    const fn = this.contract.getFunction('requestUnlock');
    // The estimate runs on a pending block that may share the last block's timestamp: a request
    // repeated within that second then rewrites the same unlockAt (a no-op store, ~2,800 gas
    // cheaper) and the mined transaction, one second later, ran out of gas. Headroom for the store.
    const gas = await fn.estimateGas(provider, token);
    return mined(fn(provider, token, { gasLimit: gas + 10_000n }));
  }

  cancelUnlock(provider: string, token: string): Promise<TransactionReceipt> {
    return mined(this.contract.getFunction('cancelUnlock')(provider, token));
  }

  withdraw(provider: string, token: string): Promise<TransactionReceipt> {
    return mined(this.contract.getFunction('withdraw')(provider, token));
  }
}
