// One offer of a job to one provider, until it ends: accepted or declined, its chunks, done (the
// receipt checked against what the gateway knows), an error, the provider lost, the offer
// unanswered, the job's deadline, or the requester gone (cancel sent; the provider's final count
// awaited for a grace period). It is the JobSink the provider session feeds, and an object with
// methods rather than a dozen closures per attempt: the gateway makes thousands a second.
import {
  canonicalJson,
  type FrameOf,
  type Price,
  type ProviderFrame,
} from '../shared/market-protocol';
import { chargeFor, type SignedReceipt } from '../shared/receipt';
import type { DispatchOptions, JobRequest, JobResult } from './dispatch';
import { DispatchError, REQUEST_FAULT_CODES } from './dispatch-error';
import { sha256Hex } from './hash';
import { receiptMismatch } from './receipts';
import type { JobSink, ProviderSession } from './providers/session';

export type AttemptEnd =
  | { kind: 'ok'; result: JobResult; receipt: SignedReceipt; price: Price }
  | { kind: 'next'; failure: boolean; why: string }
  | {
      kind: 'failed';
      /** The request's fault (a REQUEST_FAULT_CODES error), not the provider's. */
      requestFault: boolean;
      error: DispatchError;
      tokensIn: number;
      tokensOut: number;
      price: Price;
    }
  | {
      kind: 'cancelled';
      tokensIn: number;
      tokensOut: number;
      price: Price;
      receipt: SignedReceipt | null;
    };

/** Offers the job to `session` and resolves once the attempt is over (never rejects). */
export function runAttempt(
  o: DispatchOptions,
  req: JobRequest,
  jobId: string,
  inputSha256: string,
  input: string,
  session: ProviderSession,
  price: Price,
  t0: number,
): Promise<AttemptEnd> {
  return new Promise<AttemptEnd>((resolve) => {
    new Attempt(o, req, jobId, inputSha256, session, price, t0, resolve).offer(input);
  });
}

// The OpenAI parameters an engine's error message may start with ("max_tokens 5000 is over the
// limit of 4096", "Invalid parameters for llm.complete: temperature: ...").
const NAMED_PARAMS = new Set([
  'max_tokens',
  'temperature',
  'top_p',
  'seed',
  'stop',
  'frequency_penalty',
  'presence_penalty',
  'response_format',
]);

/**
 * The request parameter a provider's request-fault error is about (OpenAI's `param`), or null.
 * The job error frame carries the engine's code and message but not its details (which name the
 * limit: maxCompletionTokens, maxPromptTokens, contextSize), so the message is read.
 */
export function faultParam(api: JobRequest['api'], message: string): string | null {
  if (api === 'tensor') return null;
  const named = /^(?:Invalid parameters for [\w.]+: )?([a-z_]+)\b/.exec(message)?.[1];
  if (named && NAMED_PARAMS.has(named)) return named;
  if (/\bmax_tokens\b/.test(message)) return 'max_tokens';
  if (/\bprompt\b/i.test(message)) return api === 'chat' ? 'messages' : 'prompt';
  if (/response_format|grammar|json schema/i.test(message)) return 'response_format';
  return null;
}

// Timer callbacks with the attempt as their argument: no closure per timer.
function offerUnanswered(a: Attempt): void {
  a.offerTimedOut();
}
function pastDeadline(a: Attempt): void {
  a.deadlinePassed();
}
function graceOver(a: Attempt): void {
  a.graceEnded();
}

class Attempt implements JobSink {
  private settled = false;
  private isAccepted = false;
  private cancelled = false;
  private ttftMs: number | null = null;
  private tokensOut = 0;
  private readonly parts: string[] = [];
  /** The input went with the offer (else it follows the accept). */
  private inline = false;
  private graceTimer: NodeJS.Timeout | null = null;
  private readonly offerTimer: NodeJS.Timeout;
  private readonly deadlineTimer: NodeJS.Timeout;
  /** The requester went away: cancel, then wait for the provider's final count. */
  private readonly onAbort = (): void => {
    this.cancel('CLIENT_GONE');
    this.graceTimer = setTimeout(graceOver, this.o.cancelGraceMs, this);
  };

  constructor(
    private readonly o: DispatchOptions,
    private readonly req: JobRequest,
    private readonly jobId: string,
    private readonly inputSha256: string,
    private readonly session: ProviderSession,
    private readonly price: Price,
    private readonly t0: number,
    private readonly resolve: (e: AttemptEnd) => void,
  ) {
    req.signal.addEventListener('abort', this.onAbort, { once: true });
    this.offerTimer = setTimeout(offerUnanswered, o.offerTimeoutMs, this);
    this.deadlineTimer = setTimeout(pastDeadline, o.jobTimeoutMs, this);
  }

  offer(input: string): void {
    const inline = input.length <= this.o.inlineInputBytes;
    this.inline = inline;
    this.session.offer(
      {
        jobId: this.jobId,
        modelSha256: this.req.model.sha256,
        kind: this.req.api,
        price: this.price,
        maxTokens: this.req.maxTokens,
        deadline: Date.now() + this.o.jobTimeoutMs,
        ...(inline ? { input: this.req.body } : {}),
      },
      this,
    );
  }

  // --- timers

  offerTimedOut(): void {
    if (this.isAccepted) return;
    this.cancel('DEADLINE');
    this.finish({ kind: 'next', failure: true, why: 'the offer went unanswered' });
  }

  deadlinePassed(): void {
    this.cancel('DEADLINE');
    const err = new DispatchError(
      504,
      'server_error',
      'timeout',
      `The job ran past ${this.o.jobTimeoutMs} ms`,
      this.ttftMs !== null,
    );
    this.finish({
      kind: 'failed',
      requestFault: false,
      error: err,
      tokensIn: 0,
      tokensOut: this.tokensOut,
      price: this.price,
    });
  }

  /** No final count came after the cancel: charge what reached the gateway. */
  graceEnded(): void {
    this.finish({
      kind: 'cancelled',
      tokensIn: 0,
      tokensOut: this.tokensOut,
      price: this.price,
      receipt: null,
    });
  }

  // --- the provider's frames (JobSink)

  accepted(): void {
    this.isAccepted = true;
    if (!this.inline) this.session.send({ type: 'input', jobId: this.jobId, body: this.req.body });
  }

  declined(reason: string): void {
    this.finish({ kind: 'next', failure: false, why: `declined: ${reason}` });
  }

  chunk(text: string, tokens: number): void {
    // Every chunk counts for the output hash and the usage, even after a cancel.
    this.tokensOut += tokens;
    this.parts.push(text);
    if (this.settled || this.cancelled) return;
    this.o.onProgress?.(this.jobId, this.session.address, this.price, this.tokensOut);
    if (this.ttftMs === null) this.ttftMs = performance.now() - this.t0;
    this.req.onText?.(text, tokens);
  }

  done(f: FrameOf<ProviderFrame, 'done'>): void {
    const text = this.parts.join('');
    const outputs = f.outputs ?? null;
    const outputSha256 = sha256Hex(outputs ? canonicalJson(outputs) : text);
    const tokensIn = f.usage.tokensIn;
    const out = f.usage.tokensOut;
    const mismatch = receiptMismatch(f.receipt, {
      jobId: this.jobId,
      modelSha256: this.req.model.sha256,
      inputSha256: this.inputSha256,
      outputSha256,
      tokensIn,
      tokensOut: out,
      price: chargeFor(this.price, { tokensIn, tokensOut: out }),
      gateway: this.o.origin,
    });
    if (mismatch) {
      // The work may be fine, but an unverifiable receipt is not paid for: stored as bad.
      f.receipt = { ...f.receipt, signature: `0x${'00'.repeat(65)}` };
    }
    if (this.cancelled && this.req.signal.aborted) {
      return this.finish({
        kind: 'cancelled',
        tokensIn,
        tokensOut: out,
        price: this.price,
        receipt: f.receipt,
      });
    }
    this.finish({
      kind: 'ok',
      price: this.price,
      receipt: f.receipt,
      result: {
        jobId: this.jobId,
        text,
        outputs,
        finishReason: f.finishReason,
        tokensIn,
        tokensOut: out,
        ttftMs: this.ttftMs ?? (text === '' ? null : performance.now() - this.t0),
        charge: 0n,
        provider: this.session.address as string,
      },
    });
  }

  failed(f: FrameOf<ProviderFrame, 'error'>): void {
    if (REQUEST_FAULT_CODES.has(f.code)) {
      // The request's fault: another provider would refuse it too, and it is no failure of
      // this provider (dispatch.ts neither retries it nor counts it against the provider).
      return this.finish({
        kind: 'failed',
        requestFault: true,
        error: new DispatchError(
          f.code === 'PAYLOAD_TOO_LARGE' ? 413 : 400,
          'invalid_request_error',
          f.code.toLowerCase(),
          f.message,
          this.ttftMs !== null,
          faultParam(this.req.api, f.message),
        ),
        tokensIn: f.usage?.tokensIn ?? 0,
        tokensOut: f.usage?.tokensOut ?? this.tokensOut,
        price: this.price,
      });
    }
    this.lostOrFailed(`${f.code}: ${f.message}`, f.code.toLowerCase(), f.tokensSent, f.usage);
  }

  lost(why: string): void {
    this.lostOrFailed(`provider lost: ${why}`, 'provider_lost', false);
  }

  // --- endings

  private lostOrFailed(
    why: string,
    code: string,
    tokensSent: boolean,
    usage?: { tokensIn: number; tokensOut: number },
  ): void {
    if (this.cancelled && this.req.signal.aborted) {
      return this.finish({
        kind: 'cancelled',
        tokensIn: usage?.tokensIn ?? 0,
        tokensOut: usage?.tokensOut ?? this.tokensOut,
        price: this.price,
        receipt: null,
      });
    }
    // Nothing reached the requester yet (no token, or a whole response not yet sent): another
    // provider can still answer. The failed provider's partial work has no receipt and is
    // not charged.
    if ((this.ttftMs === null && !tokensSent) || !this.req.onText) {
      return this.finish({ kind: 'next', failure: true, why });
    }
    this.finish({
      kind: 'failed',
      requestFault: false,
      error: new DispatchError(
        502,
        'server_error',
        code,
        `The provider failed during the response: ${why}`,
        this.ttftMs !== null,
      ),
      tokensIn: usage?.tokensIn ?? 0,
      tokensOut: usage?.tokensOut ?? this.tokensOut,
      price: this.price,
    });
  }

  private cancel(reason: 'CLIENT_GONE' | 'DEADLINE'): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.session.send({ type: 'cancel', jobId: this.jobId, reason });
  }

  private finish(e: AttemptEnd): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.offerTimer);
    clearTimeout(this.deadlineTimer);
    if (this.graceTimer) clearTimeout(this.graceTimer);
    this.req.signal.removeEventListener('abort', this.onAbort);
    this.resolve(e);
  }
}
