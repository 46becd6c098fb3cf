// Provider receipts: their fields are checked at once against what the gateway saw (job, model,
// input and output hashes, token counts, price, origin); their EIP-712 signature is recovered
// with ethers behind the hot path, a few milliseconds of work per event-loop turn, and the
// result stored. A receipt whose signature is not its provider's marks the provider failed.
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

export class ReceiptVerifier {
  private queue: { jobId: string; provider: string; receipt: SignedReceipt }[] = [];
  private scheduled = false;
  private stopped = false;
  verifiedCount = 0;
  rejectedCount = 0;

  constructor(
    private readonly store: GatewayStore,
    private readonly chainId: number,
    private readonly onBad: (provider: string, jobId: string) => void,
    private readonly sliceMs = 2,
  ) {
    for (const r of store.unverifiedReceipts(100_000)) this.push(r.jobId, r.provider, r.receipt);
  }

  push(jobId: string, provider: string, receipt: SignedReceipt): void {
    this.queue.push({ jobId, provider, receipt });
    if (!this.scheduled && !this.stopped) {
      this.scheduled = true;
      setImmediate(() => this.run());
    }
  }

  get pending(): number {
    return this.queue.length;
  }

  private run(): void {
    this.scheduled = false;
    if (this.stopped) return;
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
    if (this.queue.length) {
      this.scheduled = true;
      setImmediate(() => this.run());
    }
  }

  /** Stops; what is still queued stays unverified in the store and is checked at next start. */
  stop(): void {
    this.stopped = true;
  }
}
