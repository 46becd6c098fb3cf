// LLM jobs (completions and chats) from a loaded model to the result: the limits, a sequence of
// the model's context, the sampling options for node-llama-cpp, the text streamed back in chunks
// (stream.ts), and the finish reason, usage and timings of the result.
import type {
  ChatHistoryItem,
  LlamaContextSequence,
  LlamaGrammar,
  LlamaModel,
  Token,
} from 'node-llama-cpp';
import { IdlerigError } from '../../shared/errors';
import type {
  EngineConfig,
  EngineParsedParams,
  FinishReason,
  LlmResult,
  ModelRef,
} from '../../shared/engine-protocol';
import { stopReason, stoppedError, whenAborted, type JobContext, type QueueGate } from './job';
import type { GrammarCache } from './llama-grammar';
import type { LlamaLibrary, NodeLlamaCpp } from './llama-library';
import type { LlamaModels, LoadedLlm } from './llama-models';
import { acquireSequence, releaseSequence } from './llama-sequences';
import { ChunkStream } from './stream';

type CompleteParams = EngineParsedParams<'llm.complete'>;
type ChatParams = EngineParsedParams<'llm.chat'>;
type SamplingParams = Omit<CompleteParams, 'model' | 'prompt'>;

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

/** What a kind of job (completion, chat) prepares once its model is there. */
interface Prepared {
  promptTokens: number;
  chatWrapper: string | null;
  generate: (
    seq: LlamaContextSequence,
    opts: GenerateOptions,
  ) => Promise<{ text: string; stopReason: string }>;
}

/** What the jobs use of the engine: its settings, models, library, grammars and queue. */
export interface LlamaJobDeps {
  config: () => EngineConfig;
  models: LlamaModels;
  library: LlamaLibrary;
  grammars: GrammarCache;
  gate: QueueGate;
}

const now = (): number => performance.now();

export function complete(
  deps: LlamaJobDeps,
  params: CompleteParams,
  job: JobContext,
): Promise<LlmResult> {
  return run(deps, params, job, async (m, lib) => {
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

export function chat(deps: LlamaJobDeps, params: ChatParams, job: JobContext): Promise<LlmResult> {
  return run(deps, params, job, async (m, lib) => {
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

async function run(
  deps: LlamaJobDeps,
  params: SamplingParams & { model: ModelRef },
  job: JobContext,
  prepare: (m: LoadedLlm, lib: NodeLlamaCpp) => Promise<Prepared>,
): Promise<LlmResult> {
  const { limits } = deps.config();
  if (params.max_tokens > limits.maxCompletionTokens) {
    throw new IdlerigError(
      'LIMIT_EXCEEDED',
      `max_tokens ${params.max_tokens} is over the limit of ${limits.maxCompletionTokens}`,
      { limit: 'maxCompletionTokens', max: limits.maxCompletionTokens, got: params.max_tokens },
    );
  }
  const loadStart = now();
  // A job's time limit covers loading too: stop waiting when it is up (the load goes on).
  const acquiring = deps.models.acquire(params.model);
  const first = await Promise.race([acquiring, whenAborted(job.signal).then(() => null)]);
  if (first === null) {
    acquiring.then(
      (late) => deps.models.unpin(late),
      () => undefined,
    );
    throw stoppedError(job.signal, limits.jobTimeoutMs);
  }
  const m = first;
  try {
    const loadMs = now() - loadStart;
    if (job.signal.aborted) throw stoppedError(job.signal, limits.jobTimeoutMs);
    const lib = await deps.library.module();
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
    const grammar = await deps.grammars.for(params);

    const queueStart = now();
    const seq = await acquireSequence(m, job, deps.gate, () => deps.config().limits.jobTimeoutMs);
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
      const stream = new ChunkStream(job, deps.config().stream);
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
        backend: deps.library.backendName(),
        threads: m.threads.threads,
        gpu_layers: m.model.gpuLayers,
        chat_wrapper: prepared.chatWrapper,
      };
    } finally {
      m.activeJobs--;
      releaseSequence(m, seq);
    }
  } finally {
    deps.models.unpin(m);
  }
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
