// The gateway as payer, wired into the market: when a provider logs in its offers are held while
// the channel to it is opened (or topped up) and the payer is announced; the provider answers
// with payer_ack once it has checked the channel on its own chain. After every job whose charge
// is final, and every few seconds of a long stream (so preempted work is paid), the provider
// gets a cumulative voucher naming the jobs it newly pays; never beyond the lock (ChannelPayer).
// A channel that runs low is topped up; an exhausted one holds the provider's offers until the
// top-up lands. Requesters are still charged off-chain by API key (dispatch.ts, keys.ts).
import type { FrameOf, Payer, Price, ProviderFrame } from '../../shared/market-protocol';
import type { SignedVoucherWire } from '../../shared/payments';
import { chargeFor } from '../../shared/receipt';
import type { FinalCharge } from '../dispatch';
import type { ProviderRegistry } from '../providers/registry';
import type { ProviderSession } from '../providers/session';
import type { ChannelPayer } from './payer';

type Log = (level: 'info' | 'warn' | 'error', msg: string, data?: Record<string, unknown>) => void;
type Answer = FrameOf<ProviderFrame, 'payer_ack' | 'voucher_ack' | 'voucher_rejected'>;

export interface PaymentsHookOptions {
  payer: ChannelPayer;
  /** What the payer frame says: this wallet, its chain, hub and token. */
  announce: Payer;
  /** Locked for a provider when its channel opens or runs low. */
  deposit: bigint;
  /** A top-up starts when less than this is left in a provider's channel. */
  lowWater: bigint;
  /** During a stream, at most one voucher per job this often. */
  streamIntervalMs: number;
  /** A failed top-up is tried again after this long. */
  retryMs?: number;
  log?: Log;
  now?: () => number;
}

const HELD_OPENING = 'opening the payment channel';
const HELD_EXHAUSTED = 'the payment channel is exhausted until it is topped up';

export class PaymentsHook {
  private registry: ProviderRegistry | null = null;
  /** Per running job: what its vouchers have covered so far and when the last one left. */
  private readonly streamed = new Map<string, { amount: bigint; at: number }>();
  /** Per provider: vouchers sent and not yet acknowledged, with the jobs they newly pay. */
  private readonly unacked = new Map<string, { cumulative: bigint; jobIds: string[] }[]>();
  private readonly pendingJobs = new Map<string, string[]>();
  private readonly toppingUp = new Set<string>();
  /** Sessions this hook holds (offers stop until the provider acknowledges the payer). */
  private readonly holding = new Set<ProviderSession>();
  private closed = false;

  constructor(private readonly o: PaymentsHookOptions) {}

  get announce(): Payer {
    return this.o.announce;
  }

  attach(registry: ProviderRegistry): void {
    this.registry = registry;
  }

  close(): void {
    this.closed = true;
  }

  private log(level: 'info' | 'warn' | 'error', msg: string, data?: Record<string, unknown>) {
    this.o.log?.(level, msg, data);
  }

  private now(): number {
    return this.o.now?.() ?? Date.now();
  }

  private hold(s: ProviderSession, why: string): void {
    this.holding.add(s);
    s.held = why;
    this.registry?.changed();
  }

  private release(s: ProviderSession): void {
    if (!this.holding.delete(s)) return;
    s.held = null;
    this.registry?.changed();
  }

  /** A provider logged in: hold its offers, open or top up its channel, announce the payer. */
  loggedIn(s: ProviderSession): void {
    this.hold(s, HELD_OPENING);
    void this.openChannel(s);
  }

  private async openChannel(s: ProviderSession): Promise<void> {
    const address = s.address as string;
    try {
      const r = await this.o.payer.ensureChannel(address, this.o.lowWater, this.o.deposit);
      if (!s.online || this.closed) return;
      s.send({ type: 'payer', payer: this.o.announce });
      // The latest voucher again: a provider that stopped before acknowledging it loses nothing.
      const latest = r.voucher ?? this.o.payer.latest(address);
      if (latest) this.sendVoucher(s, latest, true);
    } catch (err) {
      this.log('error', 'the payment channel could not be opened; the provider gets no jobs', {
        provider: address,
        error: (err as Error).message,
      });
      if (!this.closed)
        setTimeout(() => s.online && void this.openChannel(s), this.o.retryMs ?? 10_000).unref();
    }
  }

  /** The provider answered a payer or voucher frame. */
  answered(s: ProviderSession, f: Answer): void {
    const provider = s.address as string;
    switch (f.type) {
      case 'payer_ack':
        if (f.ok) {
          if (this.o.payer.canDispatch(provider)) this.release(s);
        } else {
          this.hold(s, `the provider refused the payer: ${f.message}`);
          this.log('warn', 'a provider refused this gateway as payer', {
            provider,
            message: f.message,
          });
        }
        return;
      case 'voucher_ack': {
        const key = provider.toLowerCase();
        const acked = BigInt(f.cumulative);
        this.unacked.set(
          key,
          (this.unacked.get(key) ?? []).filter((u) => u.cumulative > acked),
        );
        return;
      }
      case 'voucher_rejected':
        this.log('warn', 'a provider rejected a voucher', {
          provider,
          reason: f.reason,
          message: f.message,
          cumulative: f.cumulative,
        });
    }
  }

  /** A running job's tokens so far (dispatch.ts, on every chunk): a voucher every few seconds. */
  progress(jobId: string, provider: string | null, price: Price, tokensOut: number): void {
    if (!provider) return;
    const now = this.now();
    const st = this.streamed.get(jobId);
    if (!st) {
      this.streamed.set(jobId, { amount: 0n, at: now });
      return;
    }
    if (now - st.at < this.o.streamIntervalMs) return;
    const due = chargeFor(price, { tokensIn: 0, tokensOut }) - st.amount;
    st.at = now;
    if (due <= 0n) return;
    st.amount += due;
    void this.pay(provider, jobId, due);
  }

  /** A job's charge is final (dispatch.ts onCharge): the rest of it is paid. */
  charged(c: FinalCharge): void {
    const before = this.streamed.get(c.jobId)?.amount ?? 0n;
    this.streamed.delete(c.jobId);
    if (!c.provider || c.amount <= before) return;
    void this.pay(c.provider, c.jobId, c.amount - before);
  }

  private async pay(provider: string, jobId: string, amount: bigint): Promise<void> {
    const key = provider.toLowerCase();
    const jobs = this.pendingJobs.get(key) ?? [];
    if (!jobs.includes(jobId)) jobs.push(jobId);
    this.pendingJobs.set(key, jobs);
    try {
      const r = await this.o.payer.pay(provider, amount);
      const s = this.registry?.get(provider);
      if (r.voucher && s) this.sendVoucher(s, r.voucher);
      if (r.unpaid > 0n || this.o.payer.headroom(provider) < this.o.lowWater) {
        void this.topUp(provider, r.unpaid > 0n || !this.o.payer.canDispatch(provider));
      }
    } catch (err) {
      this.log('error', 'a voucher could not be signed; it is paid with the next one', {
        provider,
        jobId,
        error: (err as Error).message,
      });
    }
  }

  /** Sends a voucher with the jobs it newly pays (a resend: also those of unanswered ones). */
  private sendVoucher(s: ProviderSession, v: SignedVoucherWire, resend = false): void {
    const key = (s.address as string).toLowerCase();
    const list = this.unacked.get(key) ?? [];
    const earlier = resend ? list.flatMap((u) => u.jobIds) : [];
    const jobIds = [...new Set([...earlier, ...(this.pendingJobs.get(key) ?? [])])].slice(-10_000);
    this.pendingJobs.delete(key);
    list.push({ cumulative: BigInt(v.cumulative), jobIds });
    this.unacked.set(key, list.slice(-100));
    s.send({ type: 'voucher', voucher: v, jobIds });
  }

  private async topUp(provider: string, exhausted: boolean): Promise<void> {
    const key = provider.toLowerCase();
    if (this.toppingUp.has(key) || this.closed) return;
    this.toppingUp.add(key);
    const s = this.registry?.get(provider);
    if (exhausted && s) this.hold(s, HELD_EXHAUSTED);
    try {
      const r = await this.o.payer.ensureChannel(provider, this.o.lowWater, this.o.deposit);
      this.log('info', 'topped up a payment channel', { provider });
      const now = this.registry?.get(provider);
      if (now?.online) {
        if (r.voucher) this.sendVoucher(now, r.voucher);
        // Announced again: the provider reads the new lock before it takes more jobs.
        now.send({ type: 'payer', payer: this.o.announce });
      }
    } catch (err) {
      this.log('error', 'a payment channel could not be topped up; tried again shortly', {
        provider,
        error: (err as Error).message,
      });
      if (!this.closed)
        setTimeout(() => void this.topUp(provider, exhausted), this.o.retryMs ?? 10_000).unref();
    } finally {
      this.toppingUp.delete(key);
    }
  }
}
