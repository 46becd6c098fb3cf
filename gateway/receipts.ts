// Provider receipts: their fields are checked at once against what the gateway saw (job, model,
// input and output hashes, token counts, price, origin); their EIP-712 signature is recovered
// with ethers off the request path (a bounded share of the event loop) and the result stored. A receipt whose signature is not its provider's marks the provider failed.
import { verifyTypedData } from 'ethers';
import { RECEIPT_TYPES, receiptDomain, receiptValue, type SignedReceipt } from '../shared/receipt';
import type { GatewayStore } from './storage/types';

export interface ExpectedReceipt {
  jobId: string;
  modelSha256: string;
  inputSha256: string;
  outputSha256: string;
  tokensIn: number;
  tokensOut: number;
  price: bigint;
  gateway: string;
}

/** The first field that differs from what the gateway saw, or null. */
export function receiptMismatch(r: SignedReceipt, e: ExpectedReceipt): string | null {
  if (r.jobId !== e.jobId) return 'jobId';
  if (r.modelSha256 !== e.modelSha256) return 'modelSha256';
  if (r.inputSha256 !== e.inputSha256) return 'inputSha256';
  if (r.outputSha256 !== e.outputSha256) return 'outputSha256';
  if (r.tokensIn !== e.tokensIn) return 'tokensIn';
  if (r.tokensOut !== e.tokensOut) return 'tokensOut';
  if (BigInt(r.price) !== e.price) return 'price';
  if (r.gateway !== e.gateway) return 'gateway';
  return null;
}

export function receiptSigner(r: SignedReceipt, chainId: number): string | null {
  try {
    return verifyTypedData(
      receiptDomain(chainId),
      RECEIPT_TYPES as never,
      receiptValue(r),
      r.signature,
    );
  } catch {
    return null;
  }
}

/**
 * Recovering a signature costs milliseconds (7 ms measured on this loaded 2-core machine), far
 * more than relaying a job, so it never runs on the request path: every 10 ms the verifier
 * spends at most `sliceMs` of the event loop on queued receipts. Past `maxQueued` the rest wait
 * in the store (verified NULL) and are read back when the queue empties, and at the next start.
 */
export class ReceiptVerifier {
  private queue: { jobId: string; provider: string; receipt: SignedReceipt }[] = [];
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private spilled = false;
  verifiedCount = 0;
  rejectedCount = 0;

  constructor(
    private readonly store: GatewayStore,
    private readonly chainId: number,
    private readonly onBad: (provider: string, jobId: string) => void,
    private readonly sliceMs = 2,
    private readonly maxQueued = 10_000,
    /** false: receipts are stored unchecked (the capacity benchmark's stubs do not sign). */
    private readonly enabled = true,
  ) {
    this.spilled = enabled;
    this.schedule();
  }

  push(jobId: string, provider: string, receipt: SignedReceipt): void {
    if (!this.enabled) return;
    if (this.queue.length >= this.maxQueued) this.spilled = true;
    else this.queue.push({ jobId, provider, receipt });
    this.schedule();
  }

  get pending(): number {
    return this.queue.length;
  }

  private schedule(): void {
    if (this.timer || this.stopped || !this.enabled) return;
    this.timer = setTimeout(() => this.run(), 10);
    this.timer.unref();
  }

  private run(): void {
    this.timer = null;
    if (this.stopped) return;
    if (this.queue.length === 0 && this.spilled) {
      this.spilled = false;
      const known = new Set<string>();
      for (const r of this.store.unverifiedReceipts(this.maxQueued)) {
        if (!known.has(r.jobId))
          this.queue.push({ jobId: r.jobId, provider: r.provider, receipt: r.receipt });
        known.add(r.jobId);
      }
      if (this.queue.length >= this.maxQueued) this.spilled = true;
    }
    const until = performance.now() + this.sliceMs;
    let i = 0;
    for (; i < this.queue.length && performance.now() < until; i++) {
      const item = this.queue[i]!;
      const ok = receiptSigner(item.receipt, this.chainId) === item.provider;
      this.store.setReceiptVerified(item.jobId, ok);
      if (ok) this.verifiedCount++;
      else {
        this.rejectedCount++;
        this.onBad(item.provider, item.jobId);
      }
    }
    this.queue = i >= this.queue.length ? [] : this.queue.slice(i);
    if (this.queue.length || this.spilled) this.schedule();
  }

  /** Stops; what is still queued stays unverified in the store and is checked at next start. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }
}
