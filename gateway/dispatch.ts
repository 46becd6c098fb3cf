// Running one requester job on the market. A provider is matched and offered the job (the input
// inline when small); a decline, a failure or a lost connection BEFORE the first token moves the
// job to another provider (bounded), and so does one during a non-streamed job (nothing has
// reached the requester); AFTER the first streamed token, the job fails and the caller ends the
// stream with an error event. No provider: wait for one up to a bound, then 503. The requester
// leaving cancels the provider's job at once and the charge is what the provider generated until
// then. Every job ends in the ledger; `onCharge` is where a job's charge is final (the payments hook).
import {
  canonicalJson,
  type JobInputBody,
  type Price,
  type WireTensor,
} from '../shared/market-protocol';
import { chargeFor, type SignedReceipt } from '../shared/receipt';
import type { CancelSignal } from './client-gone';
import { sha256Hex } from './hash';
import { runAttempt } from './attempt';
import { DispatchError } from './dispatch-error';
import { newJobId } from './ids';
import type { Lease } from './keys';
import { FAILURE_COOLDOWN_MS, pickProvider, type ProviderPreferences } from './matching';
import type { GatewayMetrics } from './metrics';
import { priceParts, withinParsed, type PriceList } from './prices';
import type { ReceiptVerifier } from './receipts';
import type { ProviderRegistry, ServedModel } from './providers/registry';
import type { ProviderSession } from './providers/session';
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

export { DispatchError };

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

/**
 * Why no provider took a job, in words, over every provider serving the model (not only the last
 * one tried), and what the requester can do: retry later (the 503's retry-after-ms says when),
 * raise provider.max_price when that is what kept the providers out.
 */
function noProviderMessage(
  o: DispatchOptions,
  req: JobRequest,
  ceiling: Price,
  tried: ReadonlySet<ProviderSession>,
  attempts: number,
  lastWhy: string,
): string {
  const name = req.model.name;
  const counts = { tried: 0, busy: 0, gatewayPrice: 0, failed: 0, maxPrice: 0 };
  const ceilingParts = priceParts(ceiling);
  const now = Date.now();
  const serving = o.registry.serving(req.model.sha256).filter((c) => c.session.address);
  for (const c of serving) {
    if (tried.has(c.session)) counts.tried++;
    else if (c.session.free <= 0) counts.busy++;
    else if (!withinParsed(c.floor, ceilingParts)) counts.gatewayPrice++;
    else if (now - c.stats.lastFailureAt < FAILURE_COOLDOWN_MS) counts.failed++;
    // Nothing of the gateway's kept it out: the requester's provider.max_price did.
    else if (req.prefs.maxPrice) counts.maxPrice++;
  }
  const why = [
    counts.busy ? `${counts.busy} busy or paused` : null,
    counts.gatewayPrice
      ? `${counts.gatewayPrice} asking more than this gateway's price for it`
      : null,
    counts.failed
      ? `${counts.failed} failed a job in the last ${FAILURE_COOLDOWN_MS / 1000} s`
      : null,
    counts.maxPrice
      ? `${counts.maxPrice} asking more than this request's provider.max_price`
      : null,
  ].filter(Boolean);
  const others = serving.length - counts.tried;
  // (provider.allow_fallbacks false ends a job at its first provider with a 502, not here.)
  const said = [
    `No provider ran this ${name} request in ${o.waitForProviderMs} ms` +
      (attempts ? `: ${attempts} tried it and could not run it (the last one: ${lastWhy})` : ''),
    others === 0
      ? `No ${attempts ? 'other ' : ''}provider serves it now`
      : `${attempts ? 'Also serving it' : 'Serving it now'}: ${others} ${others === 1 ? 'provider' : 'providers'}${why.length ? ` (${why.join(', ')})` : ''}`,
  ];
  const todo = [
    counts.maxPrice ? 'raise provider.max_price' : null,
    others === 0 && !attempts ? 'choose another model from GET /v1/models' : null,
  ].filter(Boolean);
  said.push(
    `Retry later (retry-after-ms says when)${todo.length ? `, or ${todo.join(', or ')}` : ''}`,
  );
  return `${said.join('. ')}.`;
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
      const cost = price ? chargeFor(price, { tokensIn, tokensOut }) : 0n;
      // What the key is charged, the ledger records and the provider is paid (onCharge): never
      // beyond the key's credit left (admission already bounds a job's cost by it).
      const charge = req.lease.settle(tokensIn + tokensOut, cost);
      const provider = last?.address ?? null;
      o.store.recordJob(
        {
          id: jobId,
          keyId: req.lease.keyId,
          api: req.api,
          modelSha256: req.model.sha256,
          modelName: req.model.name,
          inputSha256,
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
            noProviderMessage(o, req, ceiling, exclude, attempts, lastWhy),
          );
        }
        await o.registry.waitForChange(left, req.signal);
        continue;
      }
      attempts++;
      last = match.session;
      const r = await runAttempt(o, req, jobId, inputSha256, input, match.session, match.price, t0);
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
          // A request's fault (LIMIT_EXCEEDED, INVALID_INPUT...) is no failure of the provider.
          if (!r.requestFault && match.session.address) {
            o.registry.noteFailure(match.session.address);
          }
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
}
