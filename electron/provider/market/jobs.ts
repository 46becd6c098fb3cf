// The jobs of one gateway: offer → the earning policy and the price floor → accept or decline
// with the reason code; the input run on the engine; tokens streamed back in chunks (the first
// at once, then every CHUNK_FLUSH_MS or CHUNK_FLUSH_TOKENS; while the socket's queue is full the
// text coalesces instead of piling up frames); cancel → the engine job stops; done with usage,
// timings, the output's sha256 and the EIP-712 receipt signed by the node key; every job written
// through the JobRecorder. A job whose connection dropped is cancelled (its result could not be
// delivered) and reported after the next login (away.ts).
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { IdlerigError, type ErrorCode } from '../../../shared/errors';
import {
  canonicalJson,
  type FrameOf,
  type GatewayFrame,
  type JobInputBody,
  type Price,
  type WireTensor,
} from '../../../shared/market-protocol';
import { chargeFor, type Receipt, type SignedReceipt } from '../../../shared/receipt';
import type { JobRecorder } from '../jobs/types';
import type { EnergyJobReporter } from '../energy/ledger';
import type { ScopedLogger } from '../logs/logger';
import type { InstalledModel } from '../models/registry';
import type { MarketEngine } from './engine-adapter';
import type { OutFrame } from './connection';
import { AwayLog, type AwaySettled } from './away';
import { Chunker } from './chunker';

type Offer = FrameOf<GatewayFrame, 'offer'>;

/** The live link to the gateway (absent while disconnected). */
export interface JobLink {
  send(frame: OutFrame): boolean;
  drained(bytes: number): Promise<void>;
  readonly bufferedAmount: number;
  /** From the gateway's hello: the receipt's gateway field and its chain. */
  origin: string;
  chainId: number;
}

export interface OfferVerdict {
  accept: boolean;
  reasonCode: string;
  reason: string;
}

export interface JobRunnerOptions {
  gatewayUrl: string;
  engine: MarketEngine;
  recorder: JobRecorder | null;
  energy: EnergyJobReporter | null;
  log: ScopedLogger;
  /** The earning policy and the price floor on one offer (market/index.ts). */
  evaluate(offer: Offer, model: InstalledModel): OfferVerdict;
  parallelism(): number;
  /** What the job earned, in the electricity currency (for the job's net). */
  revenueOf(earned: bigint): number;
  token(): { symbol: string; decimals: number; address: string | null };
  signReceipt(receipt: Receipt, chainId: number): Promise<SignedReceipt>;
  /** A job's measured speed, to refine the advertised floor. */
  measured?(sha256: string, tokensPerS: number | null, tensorS: number | null): void;
  now?: () => number;
}

/** A job running now, as the dashboard shows it. */
export interface RunningJob {
  jobId: string;
  gateway: string;
  model: string;
  kind: Offer['kind'];
  startedAt: number;
  tokensOut: number;
  tokensPerS: number | null;
}

interface Job {
  offer: Offer;
  model: InstalledModel;
  phase: 'accepted' | 'running';
  controller: AbortController;
  startedAt: number;
  inputAt: number | null;
  firstTokenAt: number | null;
  tokensOut: number;
  seq: number;
  tokensSent: boolean;
  deadlineTimer: NodeJS.Timeout | null;
  /** Records the start and sends accept, when that is still to come (see onOffer). */
  announce: (() => void) | null;
}

type RunnerEvents = { changed: [] };

export class JobRunner extends EventEmitter<RunnerEvents> {
  private link: JobLink | null = null;
  private readonly jobs = new Map<string, Job>();
  readonly away: AwayLog;
  readonly stats = { offered: 0, accepted: 0, declined: 0, served: 0, failed: 0, cancelled: 0 };
  private readonly now: () => number;

  constructor(private readonly opts: JobRunnerOptions) {
    super();
    this.now = opts.now ?? Date.now;
    this.away = new AwayLog(opts.gatewayUrl, opts.recorder?.away ?? null, opts.log);
  }

  attach(link: JobLink): void {
    this.link = link;
  }

  /** The connection dropped: nothing can reach the requester any more, so running jobs stop. */
  detach(): void {
    this.link = null;
    for (const job of this.jobs.values()) job.controller.abort();
  }

  get activeJobs(): number {
    return this.jobs.size;
  }

  running(): RunningJob[] {
    const now = this.now();
    return [...this.jobs.values()].map((j) => {
      const secs = j.firstTokenAt !== null ? (now - j.firstTokenAt) / 1000 : 0;
      return {
        jobId: j.offer.jobId,
        gateway: this.opts.gatewayUrl,
        model: j.model.name,
        kind: j.offer.kind,
        startedAt: j.startedAt,
        tokensOut: j.tokensOut,
        tokensPerS:
          secs > 0.05 && j.tokensOut > 1 ? Math.round(((j.tokensOut - 1) / secs) * 10) / 10 : null,
      };
    });
  }

  onFrame(frame: GatewayFrame): void {
    switch (frame.type) {
      case 'offer':
        return this.onOffer(frame);
      case 'input':
        return this.onInput(frame.jobId, frame.body);
      case 'cancel': {
        const job = this.jobs.get(frame.jobId);
        if (!job) return;
        this.opts.log.info('job cancelled by the gateway', {
          job: frame.jobId,
          reason: frame.reason,
        });
        if (job.phase === 'accepted') this.endUnrun(job, 'cancelled', frame.reason);
        else job.controller.abort();
        return;
      }
      default:
        return;
    }
  }

  /** Stops every job (node stopping). */
  stopAll(): void {
    for (const job of this.jobs.values()) {
      if (job.phase === 'accepted') this.endUnrun(job, 'cancelled', 'SHUTDOWN');
      else job.controller.abort();
    }
  }

  private send(frame: OutFrame): boolean {
    return this.link?.send(frame) ?? false;
  }

  private decline(
    offer: Offer,
    reasonCode: string,
    reason: string,
    model: InstalledModel | null,
  ): void {
    this.stats.declined++;
    this.send({
      type: 'decline',
      jobId: offer.jobId,
      reason: reasonCode,
      message: reason.slice(0, 1024),
    });
    this.opts.recorder?.end(
      offer.jobId,
      { status: 'declined', reason: `${reasonCode}: ${reason}`, tokensOut: 0, earned: 0n },
      {
        gateway: this.opts.gatewayUrl,
        model: { id: model?.id ?? offer.modelSha256.slice(0, 12), sha256: offer.modelSha256 },
        kind: offer.kind,
        price: jobPrice(offer.price),
        token: this.opts.token(),
      },
    );
    this.opts.log.info('offer declined', { job: offer.jobId, reasonCode, reason });
  }

  private onOffer(offer: Offer): void {
    this.stats.offered++;
    if (this.jobs.has(offer.jobId)) {
      this.send({
        type: 'decline',
        jobId: offer.jobId,
        reason: 'DUPLICATE_JOB',
        message: 'This job id is already running here',
      });
      return;
    }
    const model = this.opts.engine.findModel(offer.modelSha256);
    if (!model)
      return this.decline(
        offer,
        'MODEL_NOT_AVAILABLE',
        'This model is not installed and verified on this node',
        null,
      );
    if ((offer.kind === 'tensor') !== (model.engine === 'onnx'))
      return this.decline(offer, 'WRONG_KIND', `This model does not run ${offer.kind} jobs`, model);
    if (this.jobs.size >= this.opts.parallelism())
      return this.decline(
        offer,
        'BUSY',
        `Already running ${this.jobs.size} jobs, the most this node runs at once`,
        model,
      );
    const verdict = this.opts.evaluate(offer, model);
    if (!verdict.accept) return this.decline(offer, verdict.reasonCode, verdict.reason, model);

    const job: Job = {
      offer,
      model,
      phase: 'accepted',
      controller: new AbortController(),
      startedAt: this.now(),
      inputAt: null,
      firstTokenAt: null,
      tokensOut: 0,
      seq: 0,
      tokensSent: false,
      deadlineTimer: null,
      announce: null,
    };
    this.jobs.set(offer.jobId, job);
    this.stats.accepted++;
    const untilDeadline = Math.max(0, offer.deadline - this.now());
    job.deadlineTimer = setTimeout(() => {
      if (job.phase === 'accepted') this.endUnrun(job, 'cancelled', 'DEADLINE');
      else job.controller.abort();
    }, untilDeadline + 1000);
    job.deadlineTimer.unref();
    const announce = (): void => {
      job.announce = null;
      this.opts.recorder?.start({
        id: offer.jobId,
        startedAt: job.startedAt,
        gateway: this.opts.gatewayUrl,
        model: { id: model.id, sha256: model.sha256 },
        kind: offer.kind,
        price: jobPrice(offer.price),
        token: this.opts.token(),
      });
      this.send({ type: 'accept', jobId: offer.jobId });
      this.emit('changed');
    };
    if (offer.input !== undefined && offer.input.kind === offer.kind) {
      // An inline input of the right kind goes to the engine first; the job record's commit (an
      // fsync) and the accept frame follow in this turn of the event loop, after the engine's
      // request has left, so they overlap its prompt processing instead of delaying the first
      // token. Anything the job sends first (a chunk, done, an error) announces it before.
      job.announce = announce;
      this.onInput(offer.jobId, offer.input);
      setImmediate(() => job.announce?.());
    } else {
      announce();
      if (offer.input) this.onInput(offer.jobId, offer.input);
    }
  }

  private onInput(jobId: string, body: JobInputBody): void {
    const job = this.jobs.get(jobId);
    if (!job || job.phase !== 'accepted') {
      this.send({
        type: 'protocol_error',
        code: 'UNEXPECTED',
        message: `No accepted job ${jobId} waits for input`,
        fatal: false,
      });
      return;
    }
    if (body.kind !== job.offer.kind) {
      this.fail(
        job,
        new IdlerigError(
          'INVALID_INPUT',
          `The offer was a ${job.offer.kind} job, the input is ${body.kind}`,
        ),
        body,
      );
      return;
    }
    job.phase = 'running';
    job.inputAt = this.now();
    this.opts.energy?.jobStarted(jobId);
    void this.run(job, body);
  }

  private async run(job: Job, body: JobInputBody): Promise<void> {
    let inputSha256: string;
    try {
      if (body.kind === 'tensor') {
        inputSha256 = sha256(canonicalJson(body));
        const r = await this.opts.engine.runTensor(job.model, body, {
          jobId: job.offer.jobId,
          signal: job.controller.signal,
        });
        this.opts.measured?.(job.model.sha256, null, r.ms / 1000);
        await this.finish(job, {
          finishReason: 'stop',
          usage: { tokensIn: 0, tokensOut: 0 },
          outputSha256: sha256(canonicalJson(r.outputs)),
          inputSha256,
          outputs: r.outputs,
        });
        return;
      }
      const chunker = new Chunker(
        (text, tokens) => this.sendChunk(job, text, tokens),
        () => this.link?.bufferedAmount ?? 0,
      );
      const running = this.opts.engine.runLlm(job.model, body, {
        jobId: job.offer.jobId,
        signal: job.controller.signal,
        onChunk: (text, tokens) => {
          if (job.firstTokenAt === null && tokens > 0) job.firstTokenAt = this.now();
          job.tokensOut += tokens;
          chunker.push(text, tokens);
        },
      });
      // Hashed while the engine works on the prompt.
      inputSha256 = sha256(canonicalJson(body));
      const r = await running;
      await chunker.close();
      if (r.decodeTokensPerS) this.opts.measured?.(job.model.sha256, r.decodeTokensPerS, null);
      // The text sent is what was hashed: on a cancel the engine's text is what it had made.
      const text = chunker.sentText;
      await this.finish(job, {
        finishReason: job.controller.signal.aborted ? 'cancelled' : r.finishReason,
        usage: { tokensIn: r.tokensIn, tokensOut: Math.max(r.tokensOut, chunker.sentTokens) },
        outputSha256: sha256(text),
        inputSha256,
        sentTokens: chunker.sentTokens,
      });
    } catch (err) {
      this.fail(job, err, body);
    }
  }

  private sendChunk(job: Job, text: string, tokens: number): boolean {
    job.announce?.();
    const ok = this.send({ type: 'chunk', jobId: job.offer.jobId, seq: job.seq, text, tokens });
    if (ok) {
      job.seq++;
      job.tokensSent = true;
    }
    return ok;
  }

  private async finish(
    job: Job,
    r: {
      finishReason: 'stop' | 'length' | 'cancelled';
      usage: { tokensIn: number; tokensOut: number };
      outputSha256: string;
      inputSha256: string;
      outputs?: WireTensor[];
      /** Tokens of the chunks that left for the gateway (LLM jobs). */
      sentTokens?: number;
    },
  ): Promise<void> {
    job.announce?.();
    const { offer } = job;
    const earned = chargeFor(offer.price, r.usage);
    const link = this.link;
    const receipt = await this.opts.signReceipt(
      {
        jobId: offer.jobId,
        modelSha256: offer.modelSha256,
        inputSha256: r.inputSha256,
        outputSha256: r.outputSha256,
        tokensIn: r.usage.tokensIn,
        tokensOut: r.usage.tokensOut,
        price: earned.toString(),
        gateway: link?.origin ?? this.lastOrigin,
      },
      link?.chainId ?? this.lastChainId,
    );
    const now = this.now();
    const ttftMs =
      job.firstTokenAt !== null && job.inputAt !== null ? job.firstTokenAt - job.inputAt : null;
    const durationMs = now - (job.inputAt ?? job.startedAt);
    const sent = this.send({
      type: 'done',
      jobId: offer.jobId,
      finishReason: r.finishReason,
      usage: r.usage,
      timings: { ttftMs, durationMs },
      outputSha256: r.outputSha256,
      receipt,
      ...(r.outputs ? { outputs: r.outputs } : {}),
    });
    if (!sent)
      this.away.add({
        jobId: offer.jobId,
        outcome: r.finishReason === 'cancelled' ? 'cancelled' : 'done',
        usage: r.usage,
        receipt,
      });
    const status = r.finishReason === 'cancelled' ? 'cancelled' : 'done';
    if (status === 'done') this.stats.served++;
    else this.stats.cancelled++;
    // Its end could not reach the gateway: the gateway pays the output that reached it (its
    // "failed after the first token" rule), so the record counts the tokens that left, not the
    // receipt's claim; nothing, when none did (the gateway then tries another provider). The
    // gateway's own figure replaces it when it answers the away report (settleAway).
    this.end(job, {
      status,
      reason: !sent
        ? 'The connection to the gateway was lost before the job ended; earned counts the tokens sent until then (until the gateway says what reached it)'
        : status === 'cancelled'
          ? 'Cancelled by the gateway'
          : null,
      tokensIn: r.usage.tokensIn,
      tokensOut: r.usage.tokensOut,
      ttftMs,
      durationMs,
      earned: sent ? earned : chargeFor(offer.price, { tokensIn: 0, tokensOut: r.sentTokens ?? 0 }),
      receipt,
    });
  }

  private fail(job: Job, err: unknown, _body: JobInputBody | null): void {
    const e =
      err instanceof IdlerigError
        ? err
        : new IdlerigError('INTERNAL', (err as Error)?.message ?? String(err));
    job.announce?.();
    const code: ErrorCode = e.code;
    const usage = { tokensIn: 0, tokensOut: job.tokensOut };
    const sent = this.send({
      type: 'error',
      jobId: job.offer.jobId,
      code,
      message: e.message.slice(0, 1024),
      tokensSent: job.tokensSent,
      usage,
    });
    if (!sent)
      this.away.add({
        jobId: job.offer.jobId,
        outcome: 'error',
        usage,
        error: { code, message: e.message.slice(0, 1024) },
      });
    this.stats.failed++;
    this.opts.log.warn('job failed', { job: job.offer.jobId, code, message: e.message });
    this.end(job, {
      status: 'failed',
      errorCode: code,
      reason: e.message,
      tokensOut: job.tokensOut,
      earned: 0n,
    });
  }

  /** A job accepted but never run (cancelled or past its deadline before its input came). */
  private endUnrun(job: Job, status: 'cancelled', reason: string): void {
    job.announce?.();
    const sent = this.send({
      type: 'error',
      jobId: job.offer.jobId,
      code: 'CANCELLED',
      message: `Cancelled before it ran (${reason})`,
      tokensSent: false,
      usage: { tokensIn: 0, tokensOut: 0 },
    });
    if (!sent)
      this.away.add({
        jobId: job.offer.jobId,
        outcome: 'cancelled',
        usage: { tokensIn: 0, tokensOut: 0 },
      });
    this.stats.cancelled++;
    this.end(job, { status, reason, tokensOut: 0, earned: 0n });
  }

  private end(job: Job, end: Parameters<JobRecorder['end']>[1]): void {
    const id = job.offer.jobId;
    if (!this.jobs.has(id)) return;
    this.jobs.delete(id);
    if (job.deadlineTimer) clearTimeout(job.deadlineTimer);
    const revenue = end.earned ? this.opts.revenueOf(end.earned) : 0;
    if (job.phase === 'running') this.opts.energy?.jobEnded(id, { revenue });
    this.opts.recorder?.end(id, { ...end, revenue });
    this.opts.log.info('job ended', {
      job: id,
      status: end.status,
      tokensOut: end.tokensOut ?? 0,
      earned: end.earned?.toString() ?? '0',
    });
    this.emit('changed');
  }

  /**
   * The gateway's answer to an away report (its away_ack's `settled`): each reported job's
   * record takes what the gateway charged for it, which is what the provider is paid, in place
   * of the node's count of the tokens it sent (some of which may have been lost on the way). Only
   * jobs this node reported to this gateway are changed; a failed job keeps its reason.
   */
  settleAway(settled: readonly AwaySettled[]): void {
    const recorder = this.opts.recorder;
    if (!recorder) return;
    for (const s of settled) {
      const reported = this.away.get(s.jobId);
      if (!reported) continue;
      const earned = BigInt(s.charge);
      try {
        recorder.settle(s.jobId, {
          gateway: this.opts.gatewayUrl,
          earned,
          revenue: this.opts.revenueOf(earned),
          reason:
            reported.outcome === 'error'
              ? null
              : `The connection to the gateway was lost before the job ended; the gateway counted the ${s.tokensOut} output tokens that reached it`,
        });
      } catch (err) {
        // An amount the record cannot hold (past ~9·10^24 units): that job keeps the node's own
        // count; the others are settled and the report is still acknowledged.
        this.opts.log.warn('a settlement from the gateway was not recorded', {
          job: s.jobId,
          charge: s.charge,
          error: (err as Error).message,
        });
      }
    }
  }

  /** The last hello's origin and chain, for receipts of jobs that end after the link dropped. */
  lastOrigin = '';
  lastChainId = 1;
  remember(origin: string, chainId: number): void {
    this.lastOrigin = origin;
    this.lastChainId = chainId;
  }
}

function jobPrice(p: Price): { amount: bigint; unit: string } {
  return p.per === 'request'
    ? { amount: BigInt(p.amount), unit: 'per-request' }
    : { amount: BigInt(p.output), unit: 'per-million-output-tokens' };
}

export function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}
