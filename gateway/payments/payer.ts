// The gateway as payer: it opens and tops up a channel to each provider it uses, and after every
// job (and every few seconds of a long stream) signs a cumulative voucher for what the provider
// has earned, never beyond what is locked. When the lock runs out the channel is exhausted: the
// last voucher covers the lock, the rest is owed, and `canDispatch` says no until a top-up (which
// signs the owed remainder at once). Requesters are charged off-chain by API key elsewhere.
import { verifyTypedData, type Wallet } from 'ethers';
import { IdlerigError } from '../../shared/errors';
import {
  hubDomain,
  VOUCHER_TYPES,
  voucherToWire,
  voucherValue,
  type HubDomain,
  type SignedVoucher,
  type SignedVoucherWire,
} from '../../shared/payments';
import { signVoucher, type HubClient } from '../../contracts/client';
import type { PayerChannel, PayerLedger } from './ledger';

export interface ChannelPayerOptions {
  /** The operator wallet, connected to the chain's RPC. */
  wallet: Wallet;
  hub: HubClient;
  token: string;
  chainId: bigint;
  ledger: PayerLedger;
}

export interface Payment {
  /** The voucher to send to the provider (null when nothing new could be signed). */
  voucher: SignedVoucherWire | null;
  /** What the provider is owed beyond the lock (0n unless the channel is exhausted). */
  unpaid: bigint;
}

export class ChannelPayer {
  private readonly domain: HubDomain;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: ChannelPayerOptions) {
    this.domain = hubDomain(opts.chainId, opts.hub.address);
  }

  get address(): string {
    return this.opts.wallet.address;
  }

  /** Calls run one at a time: a voucher is recorded before the next is signed. */
  private serial<T>(task: () => Promise<T>): Promise<T> {
    const p = this.tail.then(task, task);
    this.tail = p.catch(() => undefined);
    return p;
  }

  /** The channel as the ledger knows it, brought up to date with the chain. */
  private async refresh(provider: string): Promise<PayerChannel> {
    const { token, hub, ledger, wallet } = this.opts;
    const ch = await hub.channel(wallet.address, provider, token);
    const known = ledger.get(provider, token);
    if (!known || ch.epoch !== known.epoch) {
      // New channel, a new epoch after a withdrawal, or a lost ledger: what the provider has
      // already claimed is the floor (a voucher must go above it to pay anything).
      return {
        provider,
        token,
        epoch: ch.epoch,
        deposited: ch.deposited,
        signed: 0n,
        owed: ch.claimed,
        signature: null,
      };
    }
    return { ...known, deposited: ch.deposited };
  }

  /** What can still be paid before the channel is exhausted (from the ledger, no RPC). */
  headroom(provider: string): bigint {
    const c = this.opts.ledger.get(provider, this.opts.token);
    if (!c) return 0n;
    return c.deposited > c.owed ? c.deposited - c.owed : 0n;
  }

  /** False once a provider's channel cannot cover `price` more (dispatch elsewhere, or top up). */
  canDispatch(provider: string, price = 1n): boolean {
    return this.headroom(provider) >= price;
  }

  /**
   * Opens the channel or tops it up so that at least `minHeadroom` is free, depositing `topUp`
   * (default: minHeadroom plus what is owed beyond the lock). Returns the voucher to send when a
   * top-up lets owed work be signed.
   */
  ensureChannel(provider: string, minHeadroom: bigint, topUp?: bigint): Promise<Payment> {
    return this.serial(async () => {
      let c = await this.refresh(provider);
      const free = c.deposited > c.owed ? c.deposited - c.owed : 0n;
      if (free < minHeadroom) {
        const beyond = c.owed > c.deposited ? c.owed - c.deposited : 0n;
        const amount = topUp ?? minHeadroom - free + beyond;
        await this.opts.hub.connect(this.opts.wallet).deposit(provider, this.opts.token, amount);
        c = await this.refresh(provider);
      }
      return this.signUpTo(c);
    });
  }

  /** Adds `amount` (a finished job, or a stretch of a stream) and signs the new cumulative. */
  pay(provider: string, amount: bigint): Promise<Payment> {
    if (amount < 0n) throw new IdlerigError('INVALID_PARAMS', 'A payment cannot be negative');
    return this.serial(async () => {
      const known = this.opts.ledger.get(provider, this.opts.token);
      const c = known ?? (await this.refresh(provider));
      return this.signUpTo({ ...c, owed: c.owed + amount });
    });
  }

  /** Signs min(owed, deposited) if it is more than signed so far; records before returning. */
  private async signUpTo(c: PayerChannel): Promise<Payment> {
    const target = c.owed < c.deposited ? c.owed : c.deposited;
    let next = c;
    let voucher: SignedVoucher | null = null;
    if (target > c.signed || (c.signature === null && target > 0n)) {
      voucher = await signVoucher(this.opts.wallet, this.domain, {
        payer: this.opts.wallet.address,
        provider: c.provider,
        token: this.opts.token,
        epoch: c.epoch,
        cumulative: target,
      });
      next = { ...c, signed: target, signature: voucher.signature };
    }
    await this.opts.ledger.put(next); // on disk before the voucher leaves
    const unpaid = next.owed > next.deposited ? next.owed - next.deposited : 0n;
    return {
      voucher: voucher && voucherToWire(voucher, this.opts.chainId, this.opts.hub.address),
      unpaid,
    };
  }

  /** The latest voucher signed for a provider (to resend after a reconnect). */
  latest(provider: string): SignedVoucherWire | null {
    const c = this.opts.ledger.get(provider, this.opts.token);
    if (!c?.signature) return null;
    return voucherToWire(
      {
        payer: this.address,
        provider: c.provider,
        token: c.token,
        epoch: c.epoch,
        cumulative: c.signed,
        signature: c.signature,
      },
      this.opts.chainId,
      this.opts.hub.address,
    );
  }

  /**
   * After a lost ledger: adopts a voucher a provider holds if this wallet signed it for the
   * current epoch and it is above what the ledger knows, so no lower voucher is ever signed.
   */
  adopt(v: SignedVoucher): Promise<boolean> {
    return this.serial(async () => {
      const signer = verifyTypedData(
        this.domain,
        { Voucher: VOUCHER_TYPES.Voucher.map((f) => ({ ...f })) },
        voucherValue(v),
        v.signature,
      );
      if (signer.toLowerCase() !== this.address.toLowerCase()) return false;
      if (v.token.toLowerCase() !== this.opts.token.toLowerCase()) return false;
      const c = await this.refresh(v.provider);
      if (v.epoch !== c.epoch || v.cumulative <= c.signed) return false;
      await this.opts.ledger.put({
        ...c,
        signed: v.cumulative,
        owed: c.owed > v.cumulative ? c.owed : v.cumulative,
        signature: v.signature,
      });
      return true;
    });
  }
}
