// The LLM engine: node-llama-cpp (llama.cpp) in the engine process, as the server sees it. The
// parts, one job each:
// - llama-library.ts: the native library, one Llama instance per backend choice, loaded lazily;
// - llama-models.ts: the loaded models (verified, kept between jobs, evicted least recently used
//   past the memory budget, retired when the settings change), one context of `parallelism`
//   sequences each;
// - llama-sequences.ts: a sequence per running job (concurrent jobs decode together in one
//   batch), a FIFO queue when all are busy;
// - llama-jobs.ts: completions and chats, from the limits to the result;
// - llama-grammar.ts: grammars for constrained output; stream.ts: the text streamed in chunks.
import type {
  EngineConfig,
  EngineInfo,
  EngineParsedParams,
  LlmResult,
  LoadedModel,
  ModelRef,
} from '../../shared/engine-protocol';
import type { EngineLog, JobContext, QueueGate } from './job';
import { GrammarCache } from './llama-grammar';
import { chat, complete, type LlamaJobDeps } from './llama-jobs';
import { LlamaLibrary } from './llama-library';
import { LlamaModels } from './llama-models';
import type { ModelVerifier } from './verify';

export class LlamaEngine {
  private readonly library: LlamaLibrary;
  private readonly models: LlamaModels;
  private readonly grammars: GrammarCache;
  private readonly deps: LlamaJobDeps;

  constructor(
    private config: EngineConfig,
    verifier: ModelVerifier,
    log: EngineLog,
    gate: QueueGate,
  ) {
    this.library = new LlamaLibrary(() => this.config.llm.backend, log);
    this.models = new LlamaModels(
      () => this.config,
      this.library,
      verifier,
      log,
      () => this.disposeRetiredLlama(),
    );
    this.grammars = new GrammarCache(() => this.library.ensure());
    this.deps = {
      config: () => this.config,
      models: this.models,
      library: this.library,
      grammars: this.grammars,
      gate,
    };
  }

  /** New settings: models load again with them on their next job (the library too if the backend changed). */
  async reconfigure(config: EngineConfig): Promise<void> {
    const prev = this.config.llm;
    this.config = config;
    const next = config.llm;
    if (JSON.stringify(prev) === JSON.stringify(next)) return;
    // Loaded models retire: idle ones now, running ones when their last job ends.
    await this.models.retireAll();
    if (prev.backend !== next.backend && this.library.retire()) {
      this.grammars.clear();
      await this.disposeRetiredLlama();
    }
  }

  private disposeRetiredLlama(): Promise<void> {
    return this.library.disposeRetired((llama) => this.models.retiredUse(llama));
  }

  info(): Promise<NonNullable<EngineInfo['llm']>> {
    return this.library.info();
  }

  list(): LoadedModel[] {
    return this.models.list();
  }

  async load(ref: ModelRef): Promise<LoadedModel> {
    const m = await this.models.acquire(ref);
    try {
      return this.models.describe(m);
    } finally {
      this.models.unpin(m);
    }
  }

  /** Unloads idle models (all, or the one with that sha256). */
  unload(sha256?: string): Promise<number> {
    return this.models.unload(sha256);
  }

  async dispose(): Promise<void> {
    await this.models.dispose();
    await this.library.dispose();
  }

  complete(params: EngineParsedParams<'llm.complete'>, job: JobContext): Promise<LlmResult> {
    return complete(this.deps, params, job);
  }

  chat(params: EngineParsedParams<'llm.chat'>, job: JobContext): Promise<LlmResult> {
    return chat(this.deps, params, job);
  }
}
