// Running one requester job on the market. A provider is matched and offered the job (the input
// inline when small); a decline, a failure or a lost connection BEFORE the first token moves the
// job to another provider (bounded), and so does one during a non-streamed job (nothing has
// reached the requester); AFTER the first streamed token, the job fails and the caller ends the
// stream with an error event. No provider: wait for one up to a bound, then 503. The requester
// leaving cancels the provider's job at once and the charge is what the provider generated until
// then. Every job ends in the ledger; `onCharge` is where a job's charge is final (the payments hook).
import {
  canonicalJson,
  type FrameOf,
  type JobInputBody,
  type Price,
  type ProviderFrame,
  type WireTensor,
} from '../shared/market-protocol';
import { chargeFor, type SignedReceipt } from '../shared/receipt';
import type { CancelSignal } from './client-gone';
import { sha256Hex } from './hash';
import { newJobId } from './ids';
import type { Lease } from './keys';
import { pickProvider, type ProviderPreferences } from './matching';
import type { GatewayMetrics } from './metrics';
import type { PriceList } from './prices';
import { receiptMismatch, type ReceiptVerifier } from './receipts';
import type { ProviderRegistry, ServedModel } from './providers/registry';
import type { JobSink, ProviderSession } from './providers/session';
import type { GatewayStore, JobOutcome } from './storage/types';

export interface DispatchOptions {
  origin: string;
  registry: ProviderRegistry;
  prices: PriceList;
  store: GatewayStore;
  metrics: GatewayMetrics;
  verifier: ReceiptVerifier;
  /** How long a job waits for a provider with room before 503. */
  waitForProviderMs: number;
  /** Providers tried after the first fails before its first token. */
  maxRetries: number;
  /** An offer unanswered this long counts as a failure of that provider. */
  offerTimeoutMs: number;
  /** Wall-clock limit of a job from its offer. */
  jobTimeoutMs: number;
  /** After a cancel, how long the provider's final usage is awaited. */
  cancelGraceMs: number;
  /** Inputs at most this long (JSON) travel inline in the offer. */
  inlineInputBytes: number;
  onCharge?: (c: FinalCharge) => void;
  /** A running job's completion tokens so far (the payments hook's vouchers during streams). */
  onProgress?: (jobId: string, provider: string | null, price: Price, tokensOut: number) => void;
}

/** A job's charge once it is final: what the requester's key paid and the provider earned. */
export interface FinalCharge {
  jobId: string;
  keyId: string;
  provider: string | null;
  amount: bigint;
  price: Price | null;
  receipt: SignedReceipt | null;
}

export interface JobRequest {
  /** The job id (chosen by the caller so streamed chunks can carry it); a new UUID by default. */
  jobId?: string;
  api: 'chat' | 'completion' | 'tensor';
  model: ServedModel;
  body: JobInputBody;
  maxTokens: number;
  prefs: ProviderPreferences;
  lease: Lease;
  /** Aborted when the requester disconnects. */
  signal: CancelSignal;
  /** Streaming requests: the text as it comes. */
  onText?: (text: string, tokens: number) => void;
}

export interface JobResult {
  jobId: string;
  text: string;
  outputs: WireTensor[] | null;
  finishReason: 'stop' | 'length' | 'cancelled';
  tokensIn: number;
  tokensOut: number;
  ttftMs: number | null;
  charge: bigint;
  provider: string;
}

export class DispatchError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    readonly code: string,
    message: string,
    /** Tokens had reached the requester: a stream must end with an error event. */
    readonly afterFirstToken = false,
  ) {
    super(message);
  }
}

type AttemptEnd =
  | { kind: 'ok'; result: JobResult; receipt: SignedReceipt; price: Price }
  | { kind: 'next'; failure: boolean; why: string }
  | { kind: 'failed'; error: DispatchError; tokensIn: number; tokensOut: number; price: Price }
  | {
      kind: 'cancelled';
      tokensIn: number;
      tokensOut: number;
      price: Price;
      receipt: SignedReceipt | null;
    };

// The ledger's timestamps as ISO text: the second's prefix is made once per second (thousands
// of jobs end in one; toISOString is ~1 µs), the milliseconds appended.
let isoSecond = -1;
let isoPrefix = '';
function isoAt(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== isoSecond) {
    isoSecond = second;
    isoPrefix = new Date(second * 1000).toISOString().slice(0, 20);
  }
  const m = ms - second * 1000;
  return `${isoPrefix}${m < 10 ? '00' : m < 100 ? '0' : ''}${m}Z`;
}

export class Dispatcher {
  constructor(private readonly o: DispatchOptions) {}

  async run(req: JobRequest): Promise<JobResult> {
    const o = this.o;
    const jobId = req.jobId ?? newJobId();
    const started = Date.now();
    const t0 = performance.now();
    const input = canonicalJson(req.body);
    const inputSha256 = sha256Hex(input);
    const ceiling = o.prices.priceOf(req.model.sha256, req.model.name, req.model.kind);
    const exclude = new Set<ProviderSession>();
    const waitUntil = t0 + o.waitForProviderMs;
    let attempts = 0;
    let failures = 0;
    let last: ProviderSession | null = null;
    let lastWhy = '';
    const end = (
      outcome: JobOutcome,
      errorCode: string | null,
      tokensIn: number,
      tokensOut: number,
      price: Price | null,
      receipt: SignedReceipt | null,
      ttftMs: number | null,
    ): bigint => {
      const charge = price ? chargeFor(price, { tokensIn, tokensOut }) : 0n;
      const provider = last?.address ?? null;
      o.store.recordJob(
        {
          id: jobId,
          keyId: req.lease.keyId,
          api: req.api,
          modelSha256: req.model.sha256,
          modelName: req.model.name,
          provider,
          outcome,
          errorCode,
          attempts,
          tokensIn,
          tokensOut,
          charge,
          ttftMs,
          durationMs: performance.now() - t0,
          startedAt: isoAt(started),
          endedAt: isoAt(Date.now()),
        },
        receipt && provider ? { jobId, provider, receipt, verified: null } : null,
      );
      if (receipt && provider) o.verifier.push(jobId, provider, receipt);
      req.lease.settle(tokensIn + tokensOut, charge);
      o.metrics.jobEnded(req.api, outcome, (performance.now() - t0) / 1000, tokensIn, tokensOut);
      o.onCharge?.({ jobId, keyId: req.lease.keyId, provider, amount: charge, price, receipt });
      return charge;
    };

    for (;;) {
      if (req.signal.aborted) {
        end('cancelled', 'CLIENT_GONE', 0, 0, null, null, null);
        throw new DispatchError(
          499,
          'invalid_request_error',
          'client_closed',
          'The client went away',
        );
      }
      const match = pickProvider(o.registry, req.model.sha256, ceiling, req.prefs, exclude);
      if (!match) {
        const left = waitUntil - performance.now();
        if (left <= 0 || (attempts > 0 && req.prefs.allowFallbacks === false)) {
          end('error', 'NO_PROVIDER', 0, 0, null, null, null);
          throw new DispatchError(
            503,
            'server_error',
            'no_provider',
            attempts > 0
              ? `No provider could run ${req.model.name} (${lastWhy}); tried ${attempts}. Retry later.`
              : `No provider has room for ${req.model.name} at a price within this gateway's; waited ${o.waitForProviderMs} ms. Retry later.`,
          );
        }
        await o.registry.waitForChange(left, req.signal);
        continue;
      }
      attempts++;
      last = match.session;
      const r = await this.attempt(req, jobId, inputSha256, input, match.session, match.price, t0);
      match.session.forget(jobId);
      o.registry.wake();
      switch (r.kind) {
        case 'ok': {
          const st = r.result;
          const tps =
            st.ttftMs !== null && st.tokensOut > 1
              ? (st.tokensOut - 1) / Math.max(1e-3, (performance.now() - t0 - st.ttftMs) / 1000)
              : null;
          o.registry.noteSuccess(st.provider, st.ttftMs, tps);
          if (st.ttftMs !== null) o.metrics.ttft.observe(st.ttftMs / 1000);
          st.charge = end('done', null, st.tokensIn, st.tokensOut, r.price, r.receipt, st.ttftMs);
          return st;
        }
        case 'cancelled':
          end('cancelled', 'CLIENT_GONE', r.tokensIn, r.tokensOut, r.price, r.receipt, null);
          throw new DispatchError(
            499,
            'invalid_request_error',
            'client_closed',
            'The client went away',
          );
        case 'failed':
          if (match.session.address) o.registry.noteFailure(match.session.address);
          end('error', r.error.code, r.tokensIn, r.tokensOut, r.price, null, null);
          throw r.error;
        case 'next':
          exclude.add(match.session);
          lastWhy = r.why;
          if (r.failure) {
            failures++;
            if (match.session.address) o.registry.noteFailure(match.session.address);
          }
          if (failures > o.maxRetries || req.prefs.allowFallbacks === false) {
            end('error', 'PROVIDER_FAILED', 0, 0, null, null, null);
            throw new DispatchError(
              502,
              'server_error',
              'provider_failed',
              `The provider failed before answering (${r.why}); ${attempts} tried.`,
            );
          }
          if (r.failure) o.metrics.retries.inc();
      }
    }
  }

  private attempt(
    req: JobRequest,
    jobId: string,
    inputSha256: string,
    input: string,
    session: ProviderSession,
    price: Price,
    t0: number,
  ): Promise<AttemptEnd> {
    const o = this.o;
    const inline = input.length <= o.inlineInputBytes;
    return new Promise<AttemptEnd>((resolve) => {
      let settled = false;
      let accepted = false;
      let cancelled = false;
      let ttftMs: number | null = null;
      let tokensOut = 0;
      const parts: string[] = [];
      const finish = (e: AttemptEnd): void => {
        if (settled) return;
        settled = true;
        clearTimeout(offerTimer);
        clearTimeout(deadlineTimer);
        if (graceTimer) clearTimeout(graceTimer);
        req.signal.removeEventListener('abort', onAbort);
        resolve(e);
      };
      let graceTimer: NodeJS.Timeout | null = null;
      const cancel = (reason: 'CLIENT_GONE' | 'DEADLINE'): void => {
        if (cancelled) return;
        cancelled = true;
        session.send({ type: 'cancel', jobId, reason });
      };
      const onAbort = (): void => {
        cancel('CLIENT_GONE');
        // Wait for the provider's final count; without one, what reached the gateway.
        graceTimer = setTimeout(
          () => finish({ kind: 'cancelled', tokensIn: 0, tokensOut, price, receipt: null }),
          o.cancelGraceMs,
        );
      };
      req.signal.addEventListener('abort', onAbort, { once: true });
      const offerTimer = setTimeout(() => {
        if (accepted) return;
        cancel('DEADLINE');
        finish({ kind: 'next', failure: true, why: 'the offer went unanswered' });
      }, o.offerTimeoutMs);
      const deadlineTimer = setTimeout(() => {
        cancel('DEADLINE');
        const err = new DispatchError(
          504,
          'server_error',
          'timeout',
          `The job ran past ${o.jobTimeoutMs} ms`,
          ttftMs !== null,
        );
        finish({ kind: 'failed', error: err, tokensIn: 0, tokensOut, price });
      }, o.jobTimeoutMs);
      const lostOrFailed = (
        why: string,
        code: string,
        tokensSent: boolean,
        usage?: { tokensIn: number; tokensOut: number },
      ): void => {
        if (cancelled && req.signal.aborted) {
          return finish({
            kind: 'cancelled',
            tokensIn: usage?.tokensIn ?? 0,
            tokensOut: usage?.tokensOut ?? tokensOut,
            price,
            receipt: null,
          });
        }
        // Nothing reached the requester yet (no token, or a whole response not yet sent): another
        // provider can still answer. The failed provider's partial work has no receipt and is
        // not charged.
        if ((ttftMs === null && !tokensSent) || !req.onText) {
          return finish({ kind: 'next', failure: true, why });
        }
        finish({
          kind: 'failed',
          error: new DispatchError(
            502,
            'server_error',
            code,
            `The provider failed during the response: ${why}`,
            ttftMs !== null,
          ),
          tokensIn: usage?.tokensIn ?? 0,
          tokensOut: usage?.tokensOut ?? tokensOut,
          price,
        });
      };
      const sink: JobSink = {
        accepted: () => {
          accepted = true;
          if (!inline) session.send({ type: 'input', jobId, body: req.body });
        },
        declined: (reason) => finish({ kind: 'next', failure: false, why: `declined: ${reason}` }),
        chunk: (text, tokens) => {
          // Every chunk counts for the output hash and the usage, even after a cancel.
          tokensOut += tokens;
          parts.push(text);
          if (settled || cancelled) return;
          o.onProgress?.(jobId, session.address, price, tokensOut);
          if (ttftMs === null) ttftMs = performance.now() - t0;
          req.onText?.(text, tokens);
        },
        done: (f: FrameOf<ProviderFrame, 'done'>) => {
          const text = parts.join('');
          const outputs = f.outputs ?? null;
          const outputSha256 = sha256Hex(outputs ? canonicalJson(outputs) : text);
          const tokensIn = f.usage.tokensIn;
          const out = f.usage.tokensOut;
          const mismatch = receiptMismatch(f.receipt, {
            jobId,
            modelSha256: req.model.sha256,
            inputSha256,
            outputSha256,
            tokensIn,
            tokensOut: out,
            price: chargeFor(price, { tokensIn, tokensOut: out }),
            gateway: o.origin,
          });
          if (mismatch) {
            // The work may be fine, but an unverifiable receipt is not paid for: stored as bad.
            f.receipt = { ...f.receipt, signature: `0x${'00'.repeat(65)}` };
          }
          if (cancelled && req.signal.aborted) {
            return finish({
              kind: 'cancelled',
              tokensIn,
              tokensOut: out,
              price,
              receipt: f.receipt,
            });
          }
          finish({
            kind: 'ok',
            price,
            receipt: f.receipt,
            result: {
              jobId,
              text,
              outputs,
              finishReason: f.finishReason,
              tokensIn,
              tokensOut: out,
              ttftMs: ttftMs ?? (text === '' ? null : performance.now() - t0),
              charge: 0n,
              provider: session.address as string,
            },
          });
        },
        failed: (f) => {
          if (f.code === 'INVALID_INPUT' || f.code === 'LIMIT_EXCEEDED') {
            // The request's fault: another provider would refuse it too.
            return finish({
              kind: 'failed',
              error: new DispatchError(
                400,
                'invalid_request_error',
                f.code.toLowerCase(),
                f.message,
                ttftMs !== null,
              ),
              tokensIn: f.usage?.tokensIn ?? 0,
              tokensOut: f.usage?.tokensOut ?? tokensOut,
              price,
            });
          }
          lostOrFailed(`${f.code}: ${f.message}`, f.code.toLowerCase(), f.tokensSent, f.usage);
        },
        lost: (why) => lostOrFailed(`provider lost: ${why}`, 'provider_lost', false),
      };
      session.offer(
        {
          jobId,
          modelSha256: req.model.sha256,
          kind: req.api,
          price,
          maxTokens: req.maxTokens,
          deadline: Date.now() + o.jobTimeoutMs,
          ...(inline ? { input: req.body } : {}),
        },
        sink,
      );
    });
  }
}
