// The LLM engine: node-llama-cpp (llama.cpp) in the engine process.
//
// - One Llama instance per backend choice (auto / cuda / vulkan / metal / cpu), loaded lazily so
//   the engine process is ready in milliseconds and pays for the native library on first use.
// - Models are keyed by sha256, verified before the first load and before every job (a stat
//   while the cached hash is valid), and stay loaded between jobs; the least recently used idle
//   model is unloaded when the memory budget would be exceeded.
// - Each model has one context with `parallelism` sequences: concurrent jobs decode together in
//   one batch; more jobs wait in a FIFO queue (bounded by maxQueuedJobs).
// - Threads are chosen by electron/engine/threads.ts and reported with the rule that chose them.
import { acquirePinned } from './pinned';
import os from 'node:os';
import type {
  ChatHistoryItem,
  ChatWrapper,
  GbnfJsonSchema,
  Llama,
  LlamaContext,
  LlamaContextSequence,
  LlamaGrammar,
  LlamaModel,
  Token,
} from 'node-llama-cpp';
import type * as NodeLlamaCppModule from 'node-llama-cpp';
import { IdlerigError } from '../../shared/errors';
import type {
  EngineConfig,
  EngineInfo,
  EngineParsedParams,
  FinishReason,
  LlmResult,
  LoadedModel,
  ModelRef,
} from '../../shared/engine-protocol';
import { chooseThreads, type ThreadChoice } from './threads';
import { stopReason, stoppedError, whenAborted, type EngineLog, type JobContext } from './job';
import { ChunkStream } from './stream';
import type { ModelVerifier } from './verify';

type NodeLlamaCpp = typeof NodeLlamaCppModule;
type CompleteParams = EngineParsedParams<'llm.complete'>;
type ChatParams = EngineParsedParams<'llm.chat'>;
type SamplingParams = Omit<CompleteParams, 'model' | 'prompt'>;

/** How many jobs wait, across every model and engine: the server owns it. */
export interface QueueGate {
  queued: number;
  max: number;
}

interface Waiter {
  resolve(seq: LlamaContextSequence): void;
  reject(err: unknown): void;
}

interface LoadedLlm {
  ref: ModelRef;
  path: string;
  sizeBytes: number;
  /** The library instance it was loaded with (a backend change retires it). */
  llama: Llama;
  model: LlamaModel;
  context: LlamaContext;
  free: LlamaContextSequence[];
  waiters: Waiter[];
  /** Jobs holding the model (loading it, waiting for a sequence or decoding): never evicted. */
  pins: number;
  activeJobs: number;
  lastUsed: number;
  loadedAt: number;
  loadMs: number;
  memoryBytes: number;
  threads: ThreadChoice;
  chatWrapper: ChatWrapper;
  contextSize: number;
  parallelism: number;
  trainContextSize: number;
}

const now = (): number => performance.now();

export class LlamaEngine {
  private lib: NodeLlamaCpp | null = null;
  private llamaPromise: Promise<Llama> | null = null;
  private llama: Llama | null = null;
  private readonly models = new Map<string, LoadedLlm>();
  private readonly loading = new Map<string, Promise<LoadedLlm>>();
  private readonly grammars = new Map<string, Promise<LlamaGrammar>>();

  constructor(
    private config: EngineConfig,
    private readonly verifier: ModelVerifier,
    private readonly log: EngineLog,
    private readonly gate: QueueGate,
  ) {}

  /** New settings: models load again with them on their next job (the library too if the backend changed). */
  async reconfigure(config: EngineConfig): Promise<void> {
    const prev = this.config.llm;
    this.config = config;
    const next = config.llm;
    if (JSON.stringify(prev) === JSON.stringify(next)) return;
    // Loaded models retire: idle ones now, running ones when their last job ends.
    for (const m of [...this.models.values()]) {
      this.models.delete(m.ref.sha256);
      if (m.pins === 0) await this.disposeModel(m, 'settings changed');
      else this.retired.add(m);
    }
    if (prev.backend !== next.backend && this.llama) {
      this.retiredLlama = this.llama;
      this.llama = null;
      this.llamaPromise = null;
      this.grammars.clear();
      await this.disposeRetiredLlama();
    }
  }

  private readonly retired = new Set<LoadedLlm>();
  private retiredLlama: Llama | null = null;

  private async disposeRetiredLlama(): Promise<void> {
    const old = this.retiredLlama;
    if (!old || [...this.retired].some((m) => m.llama === old)) return;
    this.retiredLlama = null;
    await old.dispose().catch(() => {});
  }

  private async library(): Promise<NodeLlamaCpp> {
    this.lib ??= await import('node-llama-cpp');
    return this.lib;
  }

  private ensureLlama(): Promise<Llama> {
    this.llamaPromise ??= (async () => {
      const lib = await this.library();
      const backend = this.config.llm.backend;
      const started = now();
      try {
        const llama = await lib.getLlama({
          gpu: backend === 'auto' ? 'auto' : backend === 'cpu' ? false : backend,
          build: 'never',
          skipDownload: true,
          progressLogs: false,
          logLevel: lib.LlamaLogLevel.warn,
          logger: (level, message) => {
            const text = message.trimEnd();
            if (!text) return;
            const l =
              level === 'fatal' || level === 'error'
                ? 'error'
                : level === 'warn'
                  ? 'warn'
                  : 'debug';
            this.log(l, `llama.cpp: ${text}`);
          },
          // Threads are set per context (threads.ts), not shared from a global pool.
          maxThreads: 0,
        });
        this.llama = llama;
        this.log('info', 'llama.cpp loaded', {
          backend: llama.gpu === false ? 'cpu' : llama.gpu,
          requested: backend,
          cpuMathCores: llama.cpuMathCores,
          ms: Math.round(now() - started),
        });
        return llama;
      } catch (err) {
        throw new IdlerigError(
          'UNAVAILABLE',
          `The ${backend} backend of llama.cpp is not available on this machine: ${(err as Error).message || (err as Error).name}`,
        );
      }
    })();
    this.llamaPromise.catch(() => {
      this.llamaPromise = null;
    });
    return this.llamaPromise;
  }

  private backendName(): string {
    const gpu = this.llama?.gpu;
    return gpu === undefined ? 'unloaded' : gpu === false ? 'cpu' : gpu;
  }

  async info(): Promise<NonNullable<EngineInfo['llm']>> {
    const llama = await this.ensureLlama();
    const vram = llama.gpu === false ? null : await llama.getVramState().catch(() => null);
    return {
      backend: this.backendName(),
      gpuDevices: llama.gpu === false ? [] : await llama.getGpuDeviceNames().catch(() => []),
      supportsGpuOffloading: llama.supportsGpuOffloading,
      vram: vram ? { total: vram.total, free: vram.free } : null,
      cpuMathCores: llama.cpuMathCores,
      llamaCppRelease: llama.llamaCppRelease?.release ?? null,
    };
  }

  // -------------------------------------------------------------------------------------------
  // Models

  list(): LoadedModel[] {
    return [...this.models.values()].map((m) => this.describe(m));
  }

  async load(ref: ModelRef): Promise<LoadedModel> {
    const m = await this.acquireModel(ref);
    try {
      return this.describe(m);
    } finally {
      this.unpin(m);
    }
  }

  /** Unloads idle models (all, or the one with that sha256). */
  async unload(sha256?: string): Promise<number> {
    let n = 0;
    for (const m of [...this.models.values()]) {
      if (sha256 && m.ref.sha256 !== sha256) continue;
      if (m.pins > 0) continue;
      await this.evict(m, 'unload requested');
      n++;
    }
    return n;
  }

  async dispose(): Promise<void> {
    for (const m of this.retired) await this.disposeModel(m, 'shutdown');
    this.retired.clear();
    for (const m of [...this.models.values()]) {
      for (const w of m.waiters.splice(0))
        w.reject(new IdlerigError('CANCELLED', 'The engine is shutting down'));
      await this.evict(m, 'shutdown');
    }
    if (this.llama) await this.llama.dispose().catch(() => {});
    this.llama = null;
    this.llamaPromise = null;
  }

  private describe(m: LoadedLlm): LoadedModel {
    return {
      kind: 'llm',
      file: m.ref.file,
      sha256: m.ref.sha256,
      sizeBytes: m.sizeBytes,
      memoryBytes: Math.round(m.memoryBytes),
      loadMs: Math.round(m.loadMs * 10) / 10,
      loadedAt: new Date(m.loadedAt).toISOString(),
      lastUsedAt: new Date(m.lastUsed).toISOString(),
      activeJobs: m.activeJobs,
      queuedJobs: m.waiters.length,
      llm: {
        backend: this.backendName(),
        gpuLayers: m.model.gpuLayers,
        totalLayers: m.model.fileInsights.totalLayers,
        threads: m.threads.threads,
        threadsRule: m.threads.rule,
        contextSize: m.contextSize,
        parallelism: m.parallelism,
        chatWrapper: m.chatWrapper.wrapperName,
        trainContextSize: m.trainContextSize,
      },
    };
  }

  private unpin(m: LoadedLlm): void {
    m.pins--;
    m.lastUsed = Date.now();
    if (m.pins === 0 && this.retired.delete(m)) {
      void this.disposeModel(m, 'settings changed').then(() => this.disposeRetiredLlama());
    }
  }

  /** The loaded (or now loaded) model, pinned: call unpin() when done. */
  private async acquireModel(ref: ModelRef): Promise<LoadedLlm> {
    const verified = await this.verifier.verify(ref);
    return acquirePinned(ref.sha256, this.models, this.loading, () =>
      this.loadModel(ref, verified.path, verified.size, verified.hashMs),
    );
  }

  private budget(llama: Llama): number {
    if (this.config.llm.memoryBudgetBytes != null) return this.config.llm.memoryBudgetBytes;
    // 80 % of the RAM plus the VRAM: the estimates count both.
    return os.totalmem() * 0.8 + (llama.gpu === false ? 0 : this.vramTotal);
  }

  private vramTotal = 0;

  private async loadModel(
    ref: ModelRef,
    path: string,
    sizeBytes: number,
    hashMs: number,
  ): Promise<LoadedLlm> {
    const started = now();
    const llama = await this.ensureLlama();
    const lib = await this.library();
    if (llama.gpu !== false && this.vramTotal === 0)
      this.vramTotal = (await llama.getVramState().catch(() => ({ total: 0 }))).total;
    const { llm } = this.config;

    // What it will hold: the weights and a context of `parallelism` sequences.
    const insights = await lib.GgufInsights.from(await lib.readGgufFileInfo(path), llama);
    const trainContextSize = insights.trainContextSize ?? llm.contextSize;
    const contextSize = Math.min(llm.contextSize, trainContextSize);
    const sum = (r: { cpuRam: number; gpuVram: number }): number => r.cpuRam + r.gpuVram;
    const estimate =
      sum(insights.estimateModelResourceRequirements({ gpuLayers: 0 })) +
      sum(
        insights.estimateContextResourceRequirements({
          contextSize,
          modelGpuLayers: 0,
          sequences: llm.parallelism,
          isEmbeddingContext: false,
        }),
      );
    await this.makeRoom(estimate, this.budget(llama));

    let model: LlamaModel;
    try {
      model = await llama.loadModel({
        modelPath: path,
        gpuLayers: llm.gpuLayers,
      });
    } catch (err) {
      throw new IdlerigError(
        'INVALID_INPUT',
        `llama.cpp could not load ${JSON.stringify(ref.file)}: ${(err as Error).message}`,
      );
    }
    const threads = chooseThreads({
      cores: llama.cpuMathCores || os.availableParallelism(),
      modelBytes: sizeBytes,
      override: llm.threads,
    });
    let context: LlamaContext;
    try {
      context = await model.createContext({
        contextSize,
        sequences: llm.parallelism,
        threads: threads.threads,
      });
    } catch (err) {
      await model.dispose().catch(() => {});
      throw new IdlerigError(
        'LIMIT_EXCEEDED',
        `Not enough memory for a context of ${contextSize} tokens x ${llm.parallelism} sequences: ${(err as Error).message}`,
      );
    }
    const chatWrapper: ChatWrapper = lib.resolveChatWrapper(model) ?? new lib.GeneralChatWrapper();
    const loadMs = now() - started + hashMs;
    const m: LoadedLlm = {
      ref,
      path,
      sizeBytes,
      llama,
      model,
      context,
      free: [],
      waiters: [],
      pins: 0,
      activeJobs: 0,
      lastUsed: Date.now(),
      loadedAt: Date.now(),
      loadMs,
      memoryBytes:
        sum(model.fileInsights.estimateModelResourceRequirements({ gpuLayers: model.gpuLayers })) +
        sum(
          model.fileInsights.estimateContextResourceRequirements({
            contextSize: context.contextSize,
            modelGpuLayers: model.gpuLayers,
            sequences: llm.parallelism,
            isEmbeddingContext: false,
          }),
        ),
      threads,
      chatWrapper,
      contextSize: context.contextSize,
      parallelism: llm.parallelism,
      trainContextSize,
    };
    this.models.set(ref.sha256, m);
    this.log('info', 'model loaded', {
      file: ref.file,
      backend: this.backendName(),
      gpuLayers: model.gpuLayers,
      totalLayers: model.fileInsights.totalLayers,
      threads: threads.threads,
      threadsRule: threads.rule,
      contextSize: context.contextSize,
      sequences: llm.parallelism,
      chatWrapper: chatWrapper.wrapperName,
      memoryBytes: Math.round(m.memoryBytes),
      ms: Math.round(loadMs),
    });
    return m;
  }

  /** Unloads least-recently-used idle models until `need` more bytes fit in the budget. */
  private async makeRoom(need: number, budget: number): Promise<void> {
    if (need > budget) {
      throw new IdlerigError(
        'LIMIT_EXCEEDED',
        `The model needs about ${fmtBytes(need)}, more than the memory budget of ${fmtBytes(budget)}`,
      );
    }
    let used = [...this.models.values()].reduce((s, m) => s + m.memoryBytes, 0);
    const idle = [...this.models.values()]
      .filter((m) => m.pins === 0)
      .sort((a, b) => a.lastUsed - b.lastUsed);
    while (used + need > budget && idle.length > 0) {
      const victim = idle.shift()!;
      used -= victim.memoryBytes;
      await this.evict(victim, 'memory budget');
    }
    if (used + need > budget) {
      throw new IdlerigError(
        'LIMIT_EXCEEDED',
        `The memory budget (${fmtBytes(budget)}) is held by models with running jobs; the model needs about ${fmtBytes(need)}`,
      );
    }
  }

  private async evict(m: LoadedLlm, why: string): Promise<void> {
    if (this.models.get(m.ref.sha256) !== m) return;
    this.models.delete(m.ref.sha256);
    await this.disposeModel(m, why);
  }

  private async disposeModel(m: LoadedLlm, why: string): Promise<void> {
    this.log('info', 'model unloaded', { file: m.ref.file, why });
    await m.context.dispose().catch(() => {});
    await m.model.dispose().catch(() => {});
  }

  // -------------------------------------------------------------------------------------------
  // Sequences: one per running job, FIFO queue when all are busy.

  private acquireSequence(m: LoadedLlm, job: JobContext): Promise<LlamaContextSequence> {
    const free = m.free.pop();
    if (free) return Promise.resolve(free);
    if (m.context.sequencesLeft > 0) return Promise.resolve(m.context.getSequence());
    if (this.gate.queued >= this.gate.max) {
      return Promise.reject(
        new IdlerigError(
          'QUEUE_FULL',
          `${this.gate.queued} jobs are already waiting for the engine (the limit is ${this.gate.max})`,
        ),
      );
    }
    this.gate.queued++;
    return new Promise<LlamaContextSequence>((resolve, reject) => {
      const onAbort = (): void => {
        const i = m.waiters.indexOf(waiter);
        if (i >= 0) m.waiters.splice(i, 1);
        this.gate.queued--;
        reject(stoppedError(job.signal, this.config.limits.jobTimeoutMs));
      };
      const waiter: Waiter = {
        resolve: (seq) => {
          job.signal.removeEventListener('abort', onAbort);
          this.gate.queued--;
          resolve(seq);
        },
        reject: (err) => {
          job.signal.removeEventListener('abort', onAbort);
          this.gate.queued--;
          reject(err);
        },
      };
      m.waiters.push(waiter);
      job.signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  private releaseSequence(m: LoadedLlm, seq: LlamaContextSequence): void {
    const next = m.waiters.shift();
    if (next) next.resolve(seq);
    else m.free.push(seq);
  }

  // -------------------------------------------------------------------------------------------
  // Jobs

  complete(params: CompleteParams, job: JobContext): Promise<LlmResult> {
    return this.run(params, job, async (m, lib) => {
      const bos = resolveBos(m.model);
      const tokens = m.model.tokenize(
        params.prompt,
        false,
        bos != null ? 'trimLeadingSpace' : undefined,
      );
      const input: Token[] = bos != null ? [bos, ...tokens] : tokens;
      return {
        promptTokens: input.length,
        chatWrapper: null,
        generate: async (seq, opts) => {
          const completion = new lib.LlamaCompletion({ contextSequence: seq });
          try {
            // LlamaCompletion prepends the BOS token itself.
            const r = await completion.generateCompletionWithMeta(tokens, {
              ...opts,
              disableContextShift: true,
              // The whole context is the prompt's (no room reserved for shifting).
              contextShiftSize: 0,
            });
            return { text: r.response, stopReason: r.metadata.stopReason };
          } finally {
            completion.dispose({ disposeSequence: false });
          }
        },
      };
    });
  }

  chat(params: ChatParams, job: JobContext): Promise<LlmResult> {
    return this.run(params, job, async (m, lib) => {
      const history: ChatHistoryItem[] = params.messages.map((msg) => {
        const text =
          typeof msg.content === 'string' ? msg.content : msg.content.map((p) => p.text).join('');
        if (msg.role === 'system') return { type: 'system', text };
        if (msg.role === 'user') return { type: 'user', text };
        return { type: 'model', response: [text] };
      });
      // A trailing assistant message is a prefix the model continues; otherwise it answers.
      if (history.at(-1)?.type !== 'model') history.push({ type: 'model', response: [] });
      const { contextText } = m.chatWrapper.generateContextState({ chatHistory: history });
      const promptTokens = contextText.tokenize(m.model.tokenizer).length;
      return {
        promptTokens,
        chatWrapper: m.chatWrapper.wrapperName,
        generate: async (seq, opts) => {
          const chat = new lib.LlamaChat({ contextSequence: seq, chatWrapper: m.chatWrapper });
          try {
            const r = await chat.generateResponse(history, opts);
            return { text: r.response, stopReason: r.metadata.stopReason };
          } finally {
            chat.dispose({ disposeSequence: false });
          }
        },
      };
    });
  }

  private async run(
    params: SamplingParams & { model: ModelRef },
    job: JobContext,
    prepare: (
      m: LoadedLlm,
      lib: NodeLlamaCpp,
    ) => Promise<{
      promptTokens: number;
      chatWrapper: string | null;
      generate: (
        seq: LlamaContextSequence,
        opts: GenerateOptions,
      ) => Promise<{ text: string; stopReason: string }>;
    }>,
  ): Promise<LlmResult> {
    const { limits } = this.config;
    if (params.max_tokens > limits.maxCompletionTokens) {
      throw new IdlerigError(
        'LIMIT_EXCEEDED',
        `max_tokens ${params.max_tokens} is over the limit of ${limits.maxCompletionTokens}`,
        { limit: 'maxCompletionTokens', max: limits.maxCompletionTokens, got: params.max_tokens },
      );
    }
    const loadStart = now();
    // A job's time limit covers loading too: stop waiting when it is up (the load goes on).
    const acquiring = this.acquireModel(params.model);
    const first = await Promise.race([acquiring, whenAborted(job.signal).then(() => null)]);
    if (first === null) {
      acquiring.then(
        (late) => this.unpin(late),
        () => undefined,
      );
      throw stoppedError(job.signal, limits.jobTimeoutMs);
    }
    const m = first;
    try {
      const loadMs = now() - loadStart;
      if (job.signal.aborted) throw stoppedError(job.signal, limits.jobTimeoutMs);
      const lib = await this.library();
      const prepared = await prepare(m, lib);
      const promptTokens = prepared.promptTokens;
      if (promptTokens > limits.maxPromptTokens) {
        throw new IdlerigError(
          'LIMIT_EXCEEDED',
          `The prompt has ${promptTokens} tokens, over the limit of ${limits.maxPromptTokens}`,
          { limit: 'maxPromptTokens', max: limits.maxPromptTokens, got: promptTokens },
        );
      }
      if (promptTokens >= m.contextSize) {
        throw new IdlerigError(
          'LIMIT_EXCEEDED',
          `The prompt has ${promptTokens} tokens; the model's context holds ${m.contextSize}`,
          { limit: 'contextSize', max: m.contextSize, got: promptTokens },
        );
      }
      const grammar = await this.grammarFor(params);

      const queueStart = now();
      const seq = await this.acquireSequence(m, job);
      const queueMs = now() - queueStart;
      m.activeJobs++;
      try {
        if (job.signal.aborted) throw stoppedError(job.signal, limits.jobTimeoutMs);
        job.emit({
          type: 'llm.started',
          prompt_tokens: promptTokens,
          queue_ms: round1(queueMs),
          load_ms: round1(loadMs),
        });
        const stream = new ChunkStream(job, this.config.stream);
        const meterBefore = seq.tokenMeter.usedOutputTokens;
        // Never shift the context: a job that fills it ends with finish_reason 'length'.
        const maxTokens = Math.min(params.max_tokens, m.contextSize - promptTokens);
        const penalties =
          params.repeat_penalty !== 1 ||
          params.frequency_penalty !== 0 ||
          params.presence_penalty !== 0;
        const opts: GenerateOptions = {
          maxTokens,
          temperature: params.temperature,
          // top_k 0 keeps the whole vocabulary. Passing 0 would make node-llama-cpp build a top-k
          // sampler over the whole vocabulary, which sorts every logit at every token (measured:
          // ~2.8 ms instead of ~0.5 ms a token with a 32,000-token vocabulary at temperature 0.8);
          // null leaves the sampler out (node-llama-cpp drops null fields), same distribution.
          topK: params.top_k > 0 ? params.top_k : (null as unknown as number),
          topP: params.top_p,
          minP: params.min_p,
          ...(params.seed !== undefined ? { seed: params.seed } : {}),
          repeatPenalty: penalties
            ? {
                penalty: params.repeat_penalty,
                frequencyPenalty: params.frequency_penalty,
                presencePenalty: params.presence_penalty,
                lastTokens: params.repeat_last_n,
              }
            : false,
          ...(params.stop.length > 0 ? { customStopTriggers: params.stop } : {}),
          ...(grammar ? { grammar } : {}),
          signal: job.signal,
          stopOnAbortSignal: true,
          onToken: (tokens) => stream.onTokens(tokens.length),
          onTextChunk: (text) => stream.onText(text),
        };
        let out: { text: string; stopReason: string };
        try {
          out = await prepared.generate(seq, opts);
        } catch (err) {
          stream.dispose();
          if (job.signal.aborted) throw stoppedError(job.signal, limits.jobTimeoutMs);
          throw err;
        }
        stream.flush();
        const completionTokens = Math.max(
          seq.tokenMeter.usedOutputTokens - meterBefore,
          stream.completionTokens,
        );
        const reason = stopReason(job.signal);
        let finish: FinishReason;
        if (out.stopReason === 'abort' || reason) {
          if (reason?.kind === 'timeout') {
            throw new IdlerigError(
              'TIMEOUT',
              `The job ran past its time limit of ${limits.jobTimeoutMs} ms`,
              {
                partial_text: out.text,
                usage: usage(promptTokens, completionTokens),
              },
            );
          }
          finish = 'cancelled';
        } else if (out.stopReason === 'maxTokens') finish = 'length';
        else finish = 'stop';
        const end = now();
        const decodeMs =
          stream.firstTokenAt !== null && stream.lastTokenAt !== null
            ? stream.lastTokenAt - stream.firstTokenAt
            : 0;
        return {
          text: out.text,
          finish_reason: finish,
          usage: usage(promptTokens, completionTokens),
          timings: {
            queue_ms: round1(queueMs),
            load_ms: round1(loadMs),
            ttft_ms:
              stream.firstTokenAt === null ? null : round1(stream.firstTokenAt - job.receivedAt),
            decode_tokens_per_s:
              completionTokens > 1 && decodeMs > 0
                ? Math.round(((completionTokens - 1) / decodeMs) * 1000 * 10) / 10
                : null,
            total_ms: round1(end - job.receivedAt),
          },
          backend: this.backendName(),
          threads: m.threads.threads,
          gpu_layers: m.model.gpuLayers,
          chat_wrapper: prepared.chatWrapper,
        };
      } finally {
        m.activeJobs--;
        this.releaseSequence(m, seq);
      }
    } finally {
      this.unpin(m);
    }
  }

  private async grammarFor(params: SamplingParams): Promise<LlamaGrammar | null> {
    const fmt = params.response_format;
    let key: string;
    let make: (llama: Llama) => Promise<LlamaGrammar>;
    if (params.grammar !== undefined) {
      if (fmt && fmt.type !== 'text')
        throw new IdlerigError('INVALID_INPUT', 'Give either grammar or response_format, not both');
      const gbnf = params.grammar;
      key = `gbnf:${gbnf}`;
      make = (llama) => llama.createGrammar({ grammar: gbnf });
    } else if (fmt?.type === 'json_object') {
      key = 'json';
      make = (llama) => llama.getGrammarFor('json');
    } else if (fmt?.type === 'json_schema') {
      const schema = fmt.json_schema.schema;
      key = `schema:${JSON.stringify(schema)}`;
      // The schema is checked by llama.cpp's converter; unsupported keywords become INVALID_INPUT.
      make = (llama) =>
        (llama.createGrammarForJsonSchema as (s: GbnfJsonSchema) => Promise<LlamaGrammar>).call(
          llama,
          schema as unknown as GbnfJsonSchema,
        );
    } else return null;
    let p = this.grammars.get(key);
    if (!p) {
      p = this.ensureLlama().then(make);
      this.grammars.set(key, p);
      p.catch(() => this.grammars.delete(key));
      if (this.grammars.size > 64) this.grammars.delete(this.grammars.keys().next().value!);
    }
    try {
      return await p;
    } catch (err) {
      if (err instanceof IdlerigError) throw err;
      throw new IdlerigError(
        'INVALID_INPUT',
        `The ${params.grammar !== undefined ? 'grammar' : 'JSON schema'} is not usable: ${(err as Error).message}`,
      );
    }
  }
}

interface GenerateOptions {
  maxTokens: number;
  temperature: number;
  /** At run time also null: no top-k sampler (the whole vocabulary; not in node-llama-cpp's types). */
  topK: number;
  topP: number;
  minP: number;
  seed?: number;
  repeatPenalty:
    | false
    | { penalty: number; frequencyPenalty: number; presencePenalty: number; lastTokens: number };
  customStopTriggers?: string[];
  grammar?: LlamaGrammar;
  signal: AbortSignal;
  stopOnAbortSignal: true;
  onToken: (tokens: Token[]) => void;
  onTextChunk: (text: string) => void;
}

/** The BOS token LlamaCompletion prepends (same rule as node-llama-cpp's tokenizerUtils). */
function resolveBos(model: LlamaModel): Token | null {
  const type = String(model.vocabularyType);
  if (type === 'rwkv' || type === 'ugm') return null;
  if (type === 'wpm') return model.tokens.bos;
  return model.tokens.shouldPrependBosToken ? model.tokens.bos : null;
}

function usage(prompt: number, completion: number): LlmResult['usage'] {
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
  };
}

function round1(ms: number): number {
  return Math.round(ms * 10) / 10;
}

function fmtBytes(n: number): string {
  return n >= 1 << 30 ? `${(n / (1 << 30)).toFixed(1)} GiB` : `${Math.round(n / (1 << 20))} MiB`;
}
