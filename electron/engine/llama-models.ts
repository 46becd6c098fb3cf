// The LLMs loaded in the engine process, keyed by sha256: verified before the first load and
// before every job (a stat while the cached hash is valid), loaded with one context of
// `parallelism` sequences, kept between jobs, and unloaded least recently used first when the
// memory budget would be exceeded. Jobs pin a model while they use it: a pinned model is never
// evicted, and one whose settings changed retires and is disposed when its last job ends.
// Threads are chosen by threads.ts and reported with the rule that chose them.
import os from 'node:os';
import type {
  ChatWrapper,
  Llama,
  LlamaContext,
  LlamaContextSequence,
  LlamaModel,
} from 'node-llama-cpp';
import { IdlerigError } from '../../shared/errors';
import type { EngineConfig, LoadedModel, ModelRef } from '../../shared/engine-protocol';
import type { EngineLog } from './job';
import type { LlamaLibrary } from './llama-library';
import { acquirePinned } from './pinned';
import { chooseThreads, type ThreadChoice } from './threads';
import type { ModelVerifier } from './verify';
import { formatBytes } from '../../shared/format';

/** A job waiting for a free sequence of the model's context (llama-sequences.ts). */
export interface SequenceWaiter {
  resolve(seq: LlamaContextSequence): void;
  reject(err: unknown): void;
}

export interface LoadedLlm {
  ref: ModelRef;
  path: string;
  sizeBytes: number;
  /** The library instance it was loaded with (a backend change retires it). */
  llama: Llama;
  model: LlamaModel;
  context: LlamaContext;
  free: LlamaContextSequence[];
  waiters: SequenceWaiter[];
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

export class LlamaModels {
  private readonly models = new Map<string, LoadedLlm>();
  private readonly loading = new Map<string, Promise<LoadedLlm>>();
  private readonly retired = new Set<LoadedLlm>();
  /** Bumped by every settings change: a load that began before it must not serve later jobs. */
  private generation = 0;
  private vramTotal = 0;

  constructor(
    private readonly config: () => EngineConfig,
    private readonly library: LlamaLibrary,
    private readonly verifier: ModelVerifier,
    private readonly log: EngineLog,
    /** A retired model was disposed (its Llama instance may be free to go). */
    private readonly onRetiredDisposed: () => Promise<void>,
  ) {}

  list(): LoadedModel[] {
    return [...this.models.values()].map((m) => this.describe(m));
  }

  /** Whether a retired model still holds `llama`. */
  retiredUse(llama: Llama): boolean {
    return [...this.retired].some((m) => m.llama === llama);
  }

  /** The settings changed: idle models go now, running ones when their last job ends. */
  async retireAll(): Promise<void> {
    // Loads still under way keep the settings they began with: they serve the jobs already
    // waiting for them and then retire; a job asked for from now on starts a load of its own.
    this.generation++;
    this.loading.clear();
    for (const m of [...this.models.values()]) {
      this.models.delete(m.ref.sha256);
      if (m.pins === 0) await this.disposeModel(m, 'settings changed');
      else this.retired.add(m);
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

  /** Shutdown: every model goes, and jobs waiting for a sequence get CANCELLED. */
  async dispose(): Promise<void> {
    for (const m of this.retired) await this.disposeModel(m, 'shutdown');
    this.retired.clear();
    for (const m of [...this.models.values()]) {
      for (const w of m.waiters.splice(0))
        w.reject(new IdlerigError('CANCELLED', 'The engine is shutting down'));
      await this.evict(m, 'shutdown');
    }
  }

  describe(m: LoadedLlm): LoadedModel {
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
        backend: this.library.backendName(),
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

  /** Ends a pin taken by acquire(). */
  unpin(m: LoadedLlm): void {
    m.pins--;
    m.lastUsed = Date.now();
    if (m.pins === 0 && this.retired.delete(m)) {
      void this.disposeModel(m, 'settings changed').then(() => this.onRetiredDisposed());
    }
  }

  /** The loaded (or now loaded) model, pinned: call unpin() when done. */
  async acquire(ref: ModelRef): Promise<LoadedLlm> {
    const verified = await this.verifier.verify(ref);
    return acquirePinned(ref.sha256, this.models, this.loading, () =>
      this.loadModel(ref, verified.path, verified.size, verified.hashMs),
    );
  }

  private budget(llama: Llama): number {
    const { llm } = this.config();
    if (llm.memoryBudgetBytes != null) return llm.memoryBudgetBytes;
    // 80 % of the RAM plus the VRAM: the estimates count both.
    return os.totalmem() * 0.8 + (llama.gpu === false ? 0 : this.vramTotal);
  }

  private async loadModel(
    ref: ModelRef,
    path: string,
    sizeBytes: number,
    hashMs: number,
  ): Promise<LoadedLlm> {
    const started = performance.now();
    // The settings it began with, throughout (a change meanwhile retires it when loaded).
    const generation = this.generation;
    const { llm } = this.config();
    const llama = await this.library.ensure();
    const lib = await this.library.module();
    if (llama.gpu !== false && this.vramTotal === 0)
      this.vramTotal = (await llama.getVramState().catch(() => ({ total: 0 }))).total;

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
    const loadMs = performance.now() - started + hashMs;
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
    if (generation === this.generation) this.models.set(ref.sha256, m);
    // The settings changed while it loaded: it goes when the jobs that waited for it are done.
    else this.retired.add(m);
    this.log('info', 'model loaded', {
      file: ref.file,
      backend: this.library.backendName(),
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
        `The model needs about ${formatBytes(need)}, more than the memory budget of ${formatBytes(budget)}`,
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
        `The memory budget (${formatBytes(budget)}) is held by models with running jobs; the model needs about ${formatBytes(need)}`,
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
}
