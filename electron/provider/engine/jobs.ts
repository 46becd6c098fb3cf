// Jobs on installed models, as the market client and the "Test a model" call run them: the
// model resolved by id and pinned (it cannot be deleted meanwhile), the job listed as running,
// its energy reported to the ledger once the engine took it (never for a refused job), its
// text streamed with backpressure, and an outcome that carries what a receipt needs.
// The API is described at the top of service.ts.
import { EventEmitter } from 'node:events';
import type { z } from 'zod';
import { IdlerigError } from '../../../shared/errors';
import type { EngineRunningJob } from '../../../shared/api/engine';
import {
  LlmChatParamsSchema,
  LlmCompleteParamsSchema,
  type ChatMessage,
  type EngineEvent,
  type EngineParsedParams,
  type FinishReason,
  type LlmResult,
  type ModelRef,
  type OipInferRequest,
  type OipInferResponse,
  type SamplingInput,
  type TensorInfo,
  type Usage,
} from '../../../shared/engine-protocol';
import type { ScopedLogger } from '../logs/logger';
import type { InstalledModel, ModelRegistry } from '../models/registry';
import type { EngineSupervisor } from './supervisor';
import { checkTensorInputs } from './tensor-check';

export type EngineJobInput =
  | { kind: 'completion'; prompt: string; sampling?: SamplingInput }
  | { kind: 'chat'; messages: ChatMessage[]; sampling?: SamplingInput }
  | { kind: 'tensor'; request: OipInferRequest };

export interface EngineJobSpec {
  /** Unique among the jobs running now (the market's job id); cancelJob(id) stops it. */
  id: string;
  /** An installed model's id (models/index.json). */
  modelId: string;
  input: EngineJobInput;
  /** Shown on the Dashboard; default 'market'. */
  source?: EngineRunningJob['source'];
}

/** Text generated since the previous chunk. */
export interface EngineJobChunk {
  text: string;
  /** Tokens in this chunk, and in the whole answer so far. */
  tokens: number;
  completionTokens: number;
}

export interface EngineJobOptions {
  /**
   * Called with each chunk of an LLM job's text. Backpressure: while a promise it returned is
   * pending, later chunks are merged into one (nothing is lost, nothing piles up) and delivered
   * when it settles; the outcome comes after the last chunk was delivered. A throw or a
   * rejection cancels the job (the consumer is gone).
   */
  onChunk?: (chunk: EngineJobChunk) => void | Promise<void>;
  /** Aborting it is the same as cancelJob(id). */
  signal?: AbortSignal;
}

/** What ran, exactly as the engine got it (the model by file and sha256, every sampling field). */
export type EngineJobRan =
  | { method: 'llm.complete'; params: EngineParsedParams<'llm.complete'> }
  | { method: 'llm.chat'; params: EngineParsedParams<'llm.chat'> }
  | { method: 'onnx.infer'; model: ModelRef; request: OipInferRequest };

export interface EngineJobOutcome {
  id: string;
  modelId: string;
  model: ModelRef;
  kind: EngineJobInput['kind'];
  input: EngineJobRan;
  /** LLM: the whole text (a cancelled job: what was generated until then); tensor: the response. */
  output: { text: string } | { response: OipInferResponse };
  finishReason: FinishReason;
  /** LLM jobs; null for tensor jobs. */
  usage: Usage | null;
  timings: {
    /** From the request's arrival in the engine to the first token (LLM); null otherwise. */
    ttftMs: number | null;
    queueMs: number;
    loadMs: number;
    decodeTokensPerSecond: number | null;
    /** As the caller saw it: from runJob() to the outcome. */
    totalMs: number;
  };
  backend: string;
  threads: number | null;
  /** The LLM result as the engine gave it (null for tensor jobs). */
  llm: LlmResult | null;
}

export interface EnergyReporter {
  started(id: string): void;
  ended(id: string): void;
}

interface Running {
  view: EngineRunningJob;
  controller: AbortController;
}

export class EngineJobs extends EventEmitter<{ changed: [] }> {
  private readonly running = new Map<string, Running>();
  /** Tensor models as loaded, by sha256 (a file's metadata never changes for a given hash). */
  private readonly tensorModels = new Map<
    string,
    { inputs: TensorInfo[]; backend: string; threads: number | null }
  >();

  constructor(
    private readonly supervisor: EngineSupervisor,
    private readonly registry: ModelRegistry,
    private readonly log: ScopedLogger,
    private readonly energy?: EnergyReporter,
  ) {
    super();
  }

  /** Jobs running or waiting now, oldest first. */
  list(): EngineRunningJob[] {
    return [...this.running.values()].map((r) => ({ ...r.view }));
  }

  cancel(id: string): boolean {
    const r = this.running.get(id);
    if (!r) return false;
    r.controller.abort();
    return true;
  }

  cancelAll(): void {
    for (const r of this.running.values()) r.controller.abort();
  }

  /** The installed model `id` as the engine names it, marked in use until release(). */
  useModel(id: string): { model: InstalledModel; ref: ModelRef; release(): void } {
    const model = this.registry.get(id);
    if (!model) throw new IdlerigError('NOT_FOUND', `No installed model ${JSON.stringify(id)}`);
    const release = this.registry.acquire(id);
    void this.registry.touch(id).catch(() => undefined);
    return { model, ref: { file: model.file, sha256: model.sha256 }, release };
  }

  async run(spec: EngineJobSpec, options: EngineJobOptions = {}): Promise<EngineJobOutcome> {
    if (this.running.has(spec.id))
      throw new IdlerigError('CONFLICT', `A job with id ${spec.id} is already running`);
    const { model, ref, release } = this.useModel(spec.modelId);
    const wantsTensor = spec.input.kind === 'tensor';
    if (wantsTensor !== (model.engine === 'onnx')) {
      release();
      throw new IdlerigError(
        'INVALID_PARAMS',
        `${model.id} is ${model.engine === 'onnx' ? 'a tensor (ONNX) model' : 'a language model'}: it takes ${model.engine === 'onnx' ? 'tensor' : 'completion or chat'} jobs`,
      );
    }
    const controller = new AbortController();
    const outer = options.signal;
    const onOuterAbort = (): void => controller.abort();
    if (outer?.aborted) controller.abort();
    outer?.addEventListener('abort', onOuterAbort, { once: true });
    const view: EngineRunningJob = {
      id: spec.id,
      source: spec.source ?? 'market',
      modelId: model.id,
      kind: spec.input.kind,
      requestedAt: new Date().toISOString(),
      startedAt: null,
    };
    this.running.set(spec.id, { view, controller });
    this.emit('changed');
    let accepted = false;
    const accept = (): void => {
      if (accepted) return;
      accepted = true;
      view.startedAt = new Date().toISOString();
      this.energy?.started(spec.id);
      this.emit('changed');
    };
    const t0 = performance.now();
    try {
      const input = spec.input;
      if (input.kind === 'tensor') {
        return await this.runTensor(spec, model, ref, input.request, controller.signal, accept, t0);
      }
      return await this.runLlm(spec, model, ref, input, controller, options, accept, t0);
    } finally {
      outer?.removeEventListener('abort', onOuterAbort);
      if (accepted) this.energy?.ended(spec.id);
      this.running.delete(spec.id);
      release();
      this.emit('changed');
    }
  }

  private async runLlm(
    spec: EngineJobSpec,
    model: InstalledModel,
    ref: ModelRef,
    input: Exclude<EngineJobInput, { kind: 'tensor' }>,
    controller: AbortController,
    options: EngineJobOptions,
    accept: () => void,
    t0: number,
  ): Promise<EngineJobOutcome> {
    const stream = new ChunkDelivery(options.onChunk, (err) => {
      this.log.warn('a job consumer failed; cancelling the job', {
        jobId: spec.id,
        error: (err as Error)?.message ?? String(err),
      });
      controller.abort();
    });
    const onEvent = (e: EngineEvent): void => {
      if (e.type === 'llm.started') accept();
      else if (e.type === 'llm.chunk')
        stream.push({ text: e.text, tokens: e.tokens, completionTokens: e.completion_tokens });
    };
    const ran: EngineJobRan =
      input.kind === 'chat'
        ? {
            method: 'llm.chat',
            params: parseParams(LlmChatParamsSchema, {
              ...input.sampling,
              model: ref,
              messages: input.messages,
            }),
          }
        : {
            method: 'llm.complete',
            params: parseParams(LlmCompleteParamsSchema, {
              ...input.sampling,
              model: ref,
              prompt: input.prompt,
            }),
          };
    const requestOptions = { signal: controller.signal, onEvent };
    const r =
      ran.method === 'llm.chat'
        ? await this.supervisor.chat(ran.params, requestOptions)
        : await this.supervisor.complete(ran.params, requestOptions);
    await stream.drained();
    return {
      id: spec.id,
      modelId: model.id,
      model: ref,
      kind: input.kind,
      input: ran,
      output: { text: r.text },
      finishReason: r.finish_reason,
      usage: r.usage,
      timings: {
        ttftMs: r.timings.ttft_ms,
        queueMs: r.timings.queue_ms,
        loadMs: r.timings.load_ms,
        decodeTokensPerSecond: r.timings.decode_tokens_per_s,
        totalMs: round1(performance.now() - t0),
      },
      backend: r.backend,
      threads: r.threads,
      llm: r,
    };
  }

  private async runTensor(
    spec: EngineJobSpec,
    model: InstalledModel,
    ref: ModelRef,
    request: OipInferRequest,
    signal: AbortSignal,
    accept: () => void,
    t0: number,
  ): Promise<EngineJobOutcome> {
    let loadMs = 0;
    let described = this.tensorModels.get(ref.sha256);
    if (!described) {
      const t = performance.now();
      const loaded = await this.supervisor.request(
        'models.load',
        { kind: 'onnx', model: ref },
        { signal },
      );
      loadMs = round1(performance.now() - t);
      described = {
        inputs: loaded.onnx?.inputs ?? [],
        backend: loaded.onnx?.executionProviders[0] ?? 'cpu',
        threads: loaded.onnx?.threads ?? null,
      };
      this.tensorModels.set(ref.sha256, described);
    }
    checkTensorInputs(request, described.inputs);
    accept();
    const response = await this.supervisor.infer(ref, request, { signal, modelName: model.id });
    return {
      id: spec.id,
      modelId: model.id,
      model: ref,
      kind: 'tensor',
      input: { method: 'onnx.infer', model: ref, request },
      output: { response },
      finishReason: 'stop',
      usage: null,
      timings: {
        ttftMs: null,
        queueMs: 0,
        loadMs,
        decodeTokensPerSecond: null,
        totalMs: round1(performance.now() - t0),
      },
      backend: described.backend,
      threads: described.threads,
      llm: null,
    };
  }
}

/**
 * Chunks to a consumer that may be slow: one delivery at a time; chunks arriving meanwhile are
 * merged into the next one.
 */
class ChunkDelivery {
  private waiting: EngineJobChunk | null = null;
  private busy: Promise<void> | null = null;
  private failed = false;

  constructor(
    private readonly consumer: EngineJobOptions['onChunk'],
    private readonly onFail: (err: unknown) => void,
  ) {}

  push(chunk: EngineJobChunk): void {
    if (!this.consumer || this.failed) return;
    if (this.busy) {
      const w = this.waiting;
      this.waiting = w
        ? {
            text: w.text + chunk.text,
            tokens: w.tokens + chunk.tokens,
            completionTokens: chunk.completionTokens,
          }
        : chunk;
      return;
    }
    let r: void | Promise<void>;
    try {
      r = this.consumer(chunk);
    } catch (err) {
      this.fail(err);
      return;
    }
    if (r && typeof (r as Promise<void>).then === 'function') {
      this.busy = (r as Promise<void>).then(
        () => this.next(),
        (err: unknown) => {
          this.busy = null;
          this.fail(err);
        },
      );
    }
  }

  private next(): void {
    this.busy = null;
    const w = this.waiting;
    this.waiting = null;
    if (w) this.push(w);
  }

  private fail(err: unknown): void {
    this.failed = true;
    this.waiting = null;
    this.onFail(err);
  }

  /** Resolves once every chunk pushed so far was delivered (or the consumer failed). */
  async drained(): Promise<void> {
    while (this.busy) await this.busy;
  }
}

/** The job's parameters with their defaults, or INVALID_PARAMS naming what is wrong. */
function parseParams<T extends z.ZodType>(schema: T, value: unknown): z.output<T> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new IdlerigError(
    'INVALID_PARAMS',
    `Invalid job: ${parsed.error.issues
      .slice(0, 5)
      .map((i) => `${i.path.join('.') || '(input)'}: ${i.message}`)
      .join('; ')}`,
    parsed.error.issues.map((i) => ({ path: i.path, message: i.message })),
  );
}

function round1(ms: number): number {
  return Math.round(ms * 10) / 10;
}
