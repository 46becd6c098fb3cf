// The protocol between the provider node (its engine supervisor) and the engine process
// (electron/engine). Both ends validate what they receive with these schemas.
//
//   parent -> engine   { kind: 'request', id, method, params }   numbered requests
//                      { kind: 'cancel', id }                     stops request `id`
//   engine -> parent   { kind: 'ready', ... }                     once, when the engine listens
//                      { kind: 'result', id, result }             the typed reply of request `id`
//                      { kind: 'error', id, error }               or its typed error
//                      { kind: 'event', id, event }               streamed while request `id` runs
//                      { kind: 'log', level, msg, data? }         the engine's logs
//                      { kind: 'verified', file }                 a model file whose hash matched
//
// Every request gets exactly one `result` or `error`. Messages travel as structured clones
// (utilityProcess, or child_process.fork with serialization 'advanced'), so tensor data may be
// typed arrays. The engine knows nothing of markets or money: only models, prompts and tensors.
import { z } from 'zod';
import { ERROR_CODES } from './errors';

export const ENGINE_PROTOCOL_VERSION = 1;

// ---------------------------------------------------------------------------------------------
// Configuration (sent with `configure` right after the engine is ready, and after each restart)

export const LLM_BACKENDS = ['auto', 'cuda', 'vulkan', 'metal', 'cpu'] as const;
export type LlmBackendChoice = (typeof LLM_BACKENDS)[number];
export const ONNX_PROVIDERS = ['cuda', 'dml', 'coreml', 'cpu'] as const;
export type OnnxProvider = (typeof ONNX_PROVIDERS)[number];

const Sha256Schema = z.string().regex(/^[0-9a-f]{64}$/, 'a lowercase hex sha256');

export const EngineLimitsSchema = z.object({
  /** Tokens of the prompt (after the chat template) a job may have. */
  maxPromptTokens: z.number().int().min(1).default(8192),
  /** The largest max_tokens a job may ask for. */
  maxCompletionTokens: z.number().int().min(1).default(4096),
  /** Bytes of one request as it would travel in JSON (prompt, messages, tensors). */
  maxRequestBytes: z
    .number()
    .int()
    .min(1024)
    .default(16 * 1024 * 1024),
  /** Wall-clock limit of one job, from its arrival (queueing and loading included). */
  jobTimeoutMs: z.number().int().min(50).default(600_000),
  /** Jobs that may wait for a free sequence; one more is refused with QUEUE_FULL. */
  maxQueuedJobs: z.number().int().min(0).default(64),
});
export type EngineLimits = z.output<typeof EngineLimitsSchema>;

/** A file whose sha256 was computed, valid while its size and mtime stay the same. */
export const VerifiedFileSchema = z.object({
  path: z.string(),
  size: z.number().int().nonnegative(),
  mtimeMs: z.number(),
  sha256: Sha256Schema,
});
export type VerifiedFile = z.infer<typeof VerifiedFileSchema>;

export const EngineConfigSchema = z.object({
  /** The only folder model files are loaded from (symlinks leaving it are refused too). */
  modelsDir: z.string().min(1),
  llm: z
    .object({
      backend: z.enum(LLM_BACKENDS).default('auto'),
      /** null: the engine's rule (electron/engine/threads.ts); a number overrides it. */
      threads: z.number().int().min(1).max(512).nullable().default(null),
      /** 'auto' fits the layers to free VRAM; a number asks for that many. */
      gpuLayers: z
        .union([z.literal('auto'), z.literal('max'), z.number().int().min(0)])
        .default('auto'),
      /** Tokens per sequence (capped by the model's trained context). */
      contextSize: z.number().int().min(128).max(1_048_576).default(4096),
      /** Sequences of one model's context: jobs decoded together; more jobs queue. */
      parallelism: z.number().int().min(1).max(64).default(4),
      /** Estimated RAM + VRAM the loaded models may use; null: half the RAM plus the VRAM. */
      memoryBudgetBytes: z.number().int().positive().nullable().default(null),
    })
    .prefault({}),
  onnx: z
    .object({
      /** Tried in order, CPU last; null: the platform's list (cuda, dml or coreml, then cpu). */
      executionProviders: z.array(z.enum(ONNX_PROVIDERS)).min(1).nullable().default(null),
      /** Intra-op threads; null: the same rule as the LLM engine. */
      threads: z.number().int().min(1).max(512).nullable().default(null),
    })
    .prefault({}),
  limits: EngineLimitsSchema.prefault({}),
  stream: z
    .object({
      /** A chunk is sent at least this often while tokens come (the first token at once). */
      flushMs: z.number().min(0).max(5000).default(30),
      /** ... or as soon as it holds this many tokens. */
      flushTokens: z.number().int().min(1).max(4096).default(32),
    })
    .prefault({}),
  /** Hashes the supervisor learned from earlier engine processes (cache across restarts). */
  verified: z.array(VerifiedFileSchema).max(10_000).default([]),
});
export type EngineConfig = z.output<typeof EngineConfigSchema>;
export type EngineConfigInput = z.input<typeof EngineConfigSchema>;

// ---------------------------------------------------------------------------------------------
// Models

/** A model file: a path relative to the models folder and the sha256 it must have. */
export const ModelRefSchema = z.object({
  file: z.string().min(1).max(4096),
  sha256: Sha256Schema,
});
export type ModelRef = z.infer<typeof ModelRefSchema>;

export const TensorInfoSchema = z.object({
  name: z.string(),
  datatype: z.string(),
  /** -1 where the model leaves a dimension free. */
  shape: z.array(z.number().int()),
});
export type TensorInfo = z.infer<typeof TensorInfoSchema>;

export const LoadedModelSchema = z.object({
  kind: z.enum(['llm', 'onnx']),
  file: z.string(),
  sha256: Sha256Schema,
  sizeBytes: z.number().int().nonnegative(),
  /** Estimated RAM + VRAM it holds (weights and context). */
  memoryBytes: z.number().int().nonnegative(),
  loadMs: z.number().nonnegative(),
  loadedAt: z.iso.datetime(),
  lastUsedAt: z.iso.datetime(),
  activeJobs: z.number().int().nonnegative(),
  queuedJobs: z.number().int().nonnegative(),
  llm: z
    .object({
      backend: z.string(),
      gpuLayers: z.number().int().nonnegative(),
      totalLayers: z.number().int().nonnegative(),
      threads: z.number().int().positive(),
      threadsRule: z.string(),
      contextSize: z.number().int().positive(),
      parallelism: z.number().int().positive(),
      chatWrapper: z.string(),
      trainContextSize: z.number().int().nonnegative(),
    })
    .optional(),
  onnx: z
    .object({
      executionProviders: z.array(z.string()),
      threads: z.number().int().positive(),
      inputs: z.array(TensorInfoSchema),
      outputs: z.array(TensorInfoSchema),
    })
    .optional(),
});
export type LoadedModel = z.infer<typeof LoadedModelSchema>;

// ---------------------------------------------------------------------------------------------
// LLM jobs. Sampling parameters use the OpenAI names so the gateway maps them one to one.

const StopSchema = z
  .union([z.string().min(1), z.array(z.string().min(1)).max(16)])
  .optional()
  .transform((v) => (v === undefined ? [] : typeof v === 'string' ? [v] : v));

export const ResponseFormatSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text') }),
  z.object({ type: z.literal('json_object') }),
  z.object({
    type: z.literal('json_schema'),
    json_schema: z.object({
      name: z.string().optional(),
      schema: z.record(z.string(), z.unknown()),
    }),
  }),
]);

export const SamplingSchema = z.object({
  max_tokens: z.number().int().min(1).default(256),
  /** 0 is greedy decoding. */
  temperature: z.number().min(0).max(5).default(0.8),
  top_p: z.number().gt(0).max(1).default(1),
  /** 0 keeps the whole vocabulary. */
  top_k: z.number().int().min(0).max(1_000_000).default(0),
  min_p: z.number().min(0).max(1).default(0),
  seed: z.number().int().min(0).max(0xffffffff).optional(),
  stop: StopSchema,
  /** 1 is off. */
  repeat_penalty: z.number().min(0.1).max(5).default(1),
  frequency_penalty: z.number().min(-2).max(2).default(0),
  presence_penalty: z.number().min(-2).max(2).default(0),
  /** How many recent tokens the three penalties look at. */
  repeat_last_n: z.number().int().min(1).max(65_536).default(64),
  response_format: ResponseFormatSchema.optional(),
  /** A GBNF grammar the output must follow (instead of response_format). */
  grammar: z.string().min(1).max(262_144).optional(),
});
export type Sampling = z.output<typeof SamplingSchema>;
export type SamplingInput = z.input<typeof SamplingSchema>;

const TextPartSchema = z.object({ type: z.literal('text'), text: z.string() });
export const ChatMessageSchema = z.object({
  role: z.enum(['system', 'user', 'assistant']),
  /** A string, or OpenAI-style text parts (joined). */
  content: z.union([z.string(), z.array(TextPartSchema)]),
});
export type ChatMessage = z.input<typeof ChatMessageSchema>;

export const LlmCompleteParamsSchema = SamplingSchema.extend({
  model: ModelRefSchema,
  prompt: z.string(),
});
export const LlmChatParamsSchema = SamplingSchema.extend({
  model: ModelRefSchema,
  messages: z.array(ChatMessageSchema).min(1).max(10_000),
});
export type LlmCompleteParams = z.input<typeof LlmCompleteParamsSchema>;
export type LlmChatParams = z.input<typeof LlmChatParamsSchema>;

export const FINISH_REASONS = ['stop', 'length', 'cancelled', 'error'] as const;
export type FinishReason = (typeof FINISH_REASONS)[number];

export const UsageSchema = z.object({
  prompt_tokens: z.number().int().nonnegative(),
  completion_tokens: z.number().int().nonnegative(),
  total_tokens: z.number().int().nonnegative(),
});
export type Usage = z.infer<typeof UsageSchema>;

export const LlmTimingsSchema = z.object({
  /** Waiting for a free sequence of the model's context. */
  queue_ms: z.number().nonnegative(),
  /** Hash check and load, when this job had to load the model. */
  load_ms: z.number().nonnegative(),
  /** From the job's arrival in the engine to its first token. */
  ttft_ms: z.number().nonnegative().nullable(),
  /** Tokens after the first, per second of decoding. */
  decode_tokens_per_s: z.number().nonnegative().nullable(),
  total_ms: z.number().nonnegative(),
});
export type LlmTimings = z.infer<typeof LlmTimingsSchema>;

export const LlmResultSchema = z.object({
  text: z.string(),
  finish_reason: z.enum(FINISH_REASONS),
  usage: UsageSchema,
  timings: LlmTimingsSchema,
  backend: z.string(),
  threads: z.number().int().positive(),
  gpu_layers: z.number().int().nonnegative(),
  chat_wrapper: z.string().nullable(),
});
export type LlmResult = z.infer<typeof LlmResultSchema>;

// ---------------------------------------------------------------------------------------------
// ONNX jobs: the Open Inference Protocol (KServe v2) tensor form.

export const OIP_DATATYPES = [
  'BOOL',
  'UINT8',
  'UINT16',
  'UINT32',
  'UINT64',
  'INT8',
  'INT16',
  'INT32',
  'INT64',
  'FP16',
  'FP32',
  'FP64',
  'BYTES',
] as const;
export type OipDatatype = (typeof OIP_DATATYPES)[number];

/** Row-major data: a flat or nested JSON array, or (inside the app) a typed array. */
export const TensorDataSchema = z.union([
  z.custom<ArrayBufferView>((v) => ArrayBuffer.isView(v) && !(v instanceof DataView), {
    message: 'a typed array',
  }),
  z.array(z.unknown()),
]);

export const OipTensorSchema = z.object({
  name: z.string().min(1).max(256),
  shape: z.array(z.number().int().min(0)).max(16),
  datatype: z.enum(OIP_DATATYPES),
  data: TensorDataSchema,
  parameters: z.record(z.string(), z.unknown()).optional(),
});
export type OipTensor = z.infer<typeof OipTensorSchema>;

export const OipInferRequestSchema = z.object({
  id: z.string().max(256).optional(),
  inputs: z.array(OipTensorSchema).min(1).max(256),
  /** Only these outputs (by name); all of them when absent. */
  outputs: z
    .array(z.object({ name: z.string(), parameters: z.record(z.string(), z.unknown()).optional() }))
    .max(256)
    .optional(),
  parameters: z.record(z.string(), z.unknown()).optional(),
});
export type OipInferRequest = z.infer<typeof OipInferRequestSchema>;

export const OipInferResponseSchema = z.object({
  model_name: z.string(),
  model_version: z.string().optional(),
  id: z.string().optional(),
  outputs: z.array(OipTensorSchema),
});
export type OipInferResponse = z.infer<typeof OipInferResponseSchema>;

export const ErrorBodySchema = z.object({
  code: z.enum(ERROR_CODES),
  message: z.string(),
  details: z.unknown().optional(),
});

const TypedArraySchema = z.custom<ArrayBufferView>(
  (v) => ArrayBuffer.isView(v) && !(v instanceof DataView),
  { message: 'a typed array' },
);

/**
 * Many requests with the same tensor names, datatypes and shapes, their data laid end to end in
 * one typed array per tensor: request i's part is data.subarray(i * n, (i + 1) * n) where n is
 * the product of `shape`. The supervisor sends batches this way when it can (a model serving
 * fixed-shape inputs): one copy per batch instead of per-tensor objects to serialize and check.
 */
export const PackedTensorsSchema = z.object({
  name: z.string().min(1).max(256),
  datatype: z.enum(OIP_DATATYPES),
  /** The shape of one request's tensor. */
  shape: z.array(z.number().int().min(0)).max(16),
  data: TypedArraySchema,
});
export type PackedTensors = z.infer<typeof PackedTensorsSchema>;

export const PackedBatchSchema = z.object({
  count: z.number().int().min(1).max(4096),
  ids: z.array(z.string().max(256).nullable()).optional(),
  inputs: z.array(PackedTensorsSchema).min(1).max(256),
  /** Only these outputs (by name); all of them when absent. */
  outputs: z.array(z.string()).max(256).optional(),
});
export type PackedBatch = z.infer<typeof PackedBatchSchema>;

export const OnnxInferParamsSchema = z
  .object({
    model: ModelRefSchema,
    /** The name responses carry as model_name (defaults to the file name). */
    modelName: z.string().max(256).optional(),
    /** Several inference requests in one message (the supervisor coalesces them)... */
    requests: z.array(OipInferRequestSchema).max(1024).default([]),
    /** ... or, when they all look alike, packed. */
    packed: PackedBatchSchema.optional(),
  })
  .refine((p) => p.requests.length > 0 !== (p.packed !== undefined), {
    message: 'Give either requests or packed',
  });

export const OnnxInferResultSchema = z.object({
  /** One per request, in order (empty when the answer is packed). */
  results: z.array(
    z.union([
      z.object({ ok: z.literal(true), response: OipInferResponseSchema }),
      z.object({ ok: z.literal(false), error: ErrorBodySchema }),
    ]),
  ),
  /** A packed batch whose requests all succeeded with equally shaped outputs. */
  packed: z
    .object({ count: z.number().int().min(1), outputs: z.array(PackedTensorsSchema) })
    .optional(),
  executionProviders: z.array(z.string()),
});
export type OnnxInferResult = z.infer<typeof OnnxInferResultSchema>;

// ---------------------------------------------------------------------------------------------
// Methods

export const EngineInfoSchema = z.object({
  pid: z.number().int(),
  node: z.string(),
  platform: z.string(),
  arch: z.string(),
  cpuCores: z.number().int().positive(),
  llm: z
    .object({
      backend: z.string(),
      gpuDevices: z.array(z.string()),
      supportsGpuOffloading: z.boolean(),
      vram: z.object({ total: z.number(), free: z.number() }).nullable(),
      cpuMathCores: z.number().int().nonnegative(),
      llamaCppRelease: z.string().nullable(),
    })
    .nullable(),
  onnx: z.object({ availableProviders: z.array(z.string()) }).nullable(),
});
export type EngineInfo = z.infer<typeof EngineInfoSchema>;

const NoParams = z.object({}).strict();

export const ENGINE_METHODS = {
  ping: {
    params: NoParams,
    result: z.object({
      pid: z.number().int(),
      uptimeMs: z.number().nonnegative(),
      rssBytes: z.number().nonnegative(),
      activeJobs: z.number().int().nonnegative(),
      queuedJobs: z.number().int().nonnegative(),
    }),
  },
  configure: { params: EngineConfigSchema, result: z.object({ pid: z.number().int() }) },
  /** Loads the native libraries (the LLM one when `llm`, ONNX Runtime when `onnx`) and describes them. */
  info: {
    params: z.object({ llm: z.boolean().default(true), onnx: z.boolean().default(true) }).strict(),
    result: EngineInfoSchema,
  },
  'models.load': {
    params: z.object({ kind: z.enum(['llm', 'onnx']), model: ModelRefSchema }).strict(),
    result: LoadedModelSchema,
  },
  'models.list': { params: NoParams, result: z.object({ models: z.array(LoadedModelSchema) }) },
  'models.unload': {
    params: z.object({ sha256: Sha256Schema.optional() }).strict(),
    result: z.object({ unloaded: z.number().int().nonnegative() }),
  },
  'llm.complete': { params: LlmCompleteParamsSchema, result: LlmResultSchema },
  'llm.chat': { params: LlmChatParamsSchema, result: LlmResultSchema },
  'onnx.infer': { params: OnnxInferParamsSchema, result: OnnxInferResultSchema },
  /** Replies, then the process exits (after aborting its jobs and freeing the models). */
  shutdown: { params: NoParams, result: z.object({}) },
} as const satisfies Record<string, { params: z.ZodType; result: z.ZodType }>;

export type EngineMethods = typeof ENGINE_METHODS;
export type EngineMethod = keyof EngineMethods;
export const ENGINE_METHOD_NAMES = Object.keys(ENGINE_METHODS) as EngineMethod[];
export type EngineParams<M extends EngineMethod> = z.input<EngineMethods[M]['params']>;
export type EngineParsedParams<M extends EngineMethod> = z.output<EngineMethods[M]['params']>;
export type EngineResult<M extends EngineMethod> = z.output<EngineMethods[M]['result']>;

// ---------------------------------------------------------------------------------------------
// Streamed events (engine -> parent, tagged with the request id)

export const EngineEventSchema = z.discriminatedUnion('type', [
  /** The job got a sequence and its model: decoding starts. */
  z.object({
    type: z.literal('llm.started'),
    prompt_tokens: z.number().int().nonnegative(),
    queue_ms: z.number().nonnegative(),
    load_ms: z.number().nonnegative(),
  }),
  /** Generated text since the previous chunk and how many tokens it holds. */
  z.object({
    type: z.literal('llm.chunk'),
    text: z.string(),
    tokens: z.number().int().nonnegative(),
    completion_tokens: z.number().int().nonnegative(),
  }),
]);
export type EngineEvent = z.infer<typeof EngineEventSchema>;

// ---------------------------------------------------------------------------------------------
// Envelopes

const IdSchema = z.number().int().nonnegative();

export const ParentToEngineSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('request'),
    id: IdSchema,
    method: z.enum(Object.keys(ENGINE_METHODS) as [EngineMethod, ...EngineMethod[]]),
    params: z.unknown(),
  }),
  z.object({ kind: z.literal('cancel'), id: IdSchema }),
]);
export type ParentToEngine = z.infer<typeof ParentToEngineSchema>;

export const LOG_LEVELS_ENGINE = ['debug', 'info', 'warn', 'error'] as const;

export const EngineToParentSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('ready'),
    protocol: z.literal(ENGINE_PROTOCOL_VERSION),
    pid: z.number().int(),
  }),
  z.object({ kind: z.literal('result'), id: IdSchema, result: z.unknown() }),
  z.object({ kind: z.literal('error'), id: IdSchema, error: ErrorBodySchema }),
  z.object({ kind: z.literal('event'), id: IdSchema, event: EngineEventSchema }),
  z.object({
    kind: z.literal('log'),
    level: z.enum(LOG_LEVELS_ENGINE),
    msg: z.string(),
    data: z.record(z.string(), z.unknown()).optional(),
  }),
  z.object({ kind: z.literal('verified'), file: VerifiedFileSchema }),
]);
export type EngineToParent = z.infer<typeof EngineToParentSchema>;

/** Approximate size of a request as JSON, typed arrays counted by their bytes. */
export function requestBytes(value: unknown): number {
  let typed = 0;
  const json = JSON.stringify(value, (_key, v: unknown) => {
    if (ArrayBuffer.isView(v)) {
      typed += v.byteLength;
      return 0;
    }
    return typeof v === 'bigint' ? v.toString() : v;
  });
  return (json === undefined ? 0 : utf8Length(json)) + typed;
}

function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // 2 bytes below 0x800, 3 in the rest of the BMP, 4 per surrogate pair (2 units).
    if (c >= 0x80) n += c < 0x800 || (c >= 0xd800 && c <= 0xdfff) ? 1 : 2;
  }
  return n;
}

/** A tensor's data as plain JSON (typed arrays become arrays; 64-bit integers numbers, or strings past 2^53). */
export function tensorDataToJson(data: unknown, datatype?: OipDatatype): unknown[] {
  if (!ArrayBuffer.isView(data)) return data as unknown[];
  const out: unknown[] = [];
  for (const v of data as unknown as Iterable<number | bigint>) {
    out.push(
      datatype === 'BOOL'
        ? v !== 0
        : typeof v === 'bigint'
          ? v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER)
            ? Number(v)
            : v.toString()
          : v,
    );
  }
  return out;
}

/** An inference response ready for JSON.stringify. */
export function oipResponseToJson(r: OipInferResponse): OipInferResponse {
  return {
    ...r,
    outputs: r.outputs.map((t) => ({ ...t, data: tensorDataToJson(t.data, t.datatype) })),
  };
}

/** Bytes of an inference request's tensors: typed arrays by size, JSON elements at 8 bytes. */
export function oipRequestBytes(request: OipInferRequest): number {
  const count = (v: unknown): number =>
    Array.isArray(v)
      ? v.reduce((n: number, x) => n + count(x), 0)
      : typeof v === 'string'
        ? v.length + 8
        : 8;
  let bytes = 0;
  for (const t of request.inputs)
    bytes += 64 + (ArrayBuffer.isView(t.data) ? t.data.byteLength : count(t.data));
  return bytes;
}
