// The inference engine as the API shows it: the supervisor's state, the loaded models and the
// "Test a model" call. The engine's own protocol is in shared/engine-protocol.ts.
import { z } from 'zod';
import { ErrorBodySchema, LLM_BACKENDS, LoadedModelSchema, UsageSchema } from '../engine-protocol';

// ---------------------------------------------------------------------------------------------
// The engine's settings as the user sees them (settings.json version 4, the Settings page). The
// node turns them into the engine's configuration (shared/engine-protocol.ts) and applies them to
// the running engine at once; see electron/provider/engine/effective-config.ts.

/** llama.cpp backends a user may choose ('auto' picks the best one present). */
export const ENGINE_BACKENDS = LLM_BACKENDS;
export const MAX_ENGINE_THREADS = 256;
export const MAX_ENGINE_PARALLELISM = 16;
export const MIN_MEMORY_BUDGET_GIB = 0.5;
export const MAX_MEMORY_BUDGET_GIB = 4096;
/** The longest answer a "Test a model" job may ask for. */
export const MAX_TEST_TOKENS = 4096;

const EngineThreadsSchema = z
  .number({ error: 'Threads must be a number' })
  .int('Threads must be a whole number')
  .min(1, 'At least 1 thread')
  .max(MAX_ENGINE_THREADS, `At most ${MAX_ENGINE_THREADS} threads`);
const EngineParallelismSchema = z
  .number({ error: 'Parallel jobs must be a number' })
  .int('Parallel jobs must be a whole number')
  .min(1, 'At least 1 job at a time')
  .max(MAX_ENGINE_PARALLELISM, `At most ${MAX_ENGINE_PARALLELISM} jobs at a time`);
const MemoryBudgetGiBSchema = z
  .number({ error: 'The memory budget must be a number of GiB' })
  .min(MIN_MEMORY_BUDGET_GIB, `The memory budget is at least ${MIN_MEMORY_BUDGET_GIB} GiB`)
  .max(MAX_MEMORY_BUDGET_GIB, `The memory budget is at most ${MAX_MEMORY_BUDGET_GIB} GiB`);
const EngineBackendSchema = z.enum(LLM_BACKENDS, {
  error: `The backend is one of ${LLM_BACKENDS.join(', ')}`,
});

export const EngineSettingsSchema = z.object({
  /** llama.cpp's backend: auto picks the best one this machine has. */
  backend: EngineBackendSchema,
  /** CPU threads of LLM decoding; null: the engine's rule (electron/engine/threads.ts). */
  threads: EngineThreadsSchema.nullable(),
  /** Jobs one model decodes at once (sequences of its context); more jobs queue. */
  parallelism: EngineParallelismSchema,
  /** RAM + VRAM the loaded models may use before the least recently used is evicted; null: automatic. */
  memoryBudgetGiB: MemoryBudgetGiBSchema.nullable(),
});
export type EngineSettings = z.infer<typeof EngineSettingsSchema>;

export const EngineSettingsPatchSchema = EngineSettingsSchema.strict().partial();
export type EngineSettingsPatch = z.input<typeof EngineSettingsPatchSchema>;

export function defaultEngineSettings(): EngineSettings {
  return { backend: 'auto', threads: null, parallelism: 4, memoryBudgetGiB: null };
}

/** Engine settings fields a host (command line, tests) may fix over the user's settings. */
export const ENGINE_CONFIG_FIELDS = [
  'backend',
  'threads',
  'parallelism',
  'memoryBudgetBytes',
] as const;

/** The configuration the engine runs with now, after the settings, the host and the policy. */
export const EngineEffectiveConfigSchema = z.object({
  /** The backend asked for ('auto' included); `backend` of the status is the one in use. */
  backend: z.enum(LLM_BACKENDS),
  /** null: the engine's rule chooses per model (the loaded model reports its choice). */
  threads: z.number().int().positive().nullable(),
  /** Jobs one model decodes at once, as applied. */
  parallelism: z.number().int().positive(),
  /** What the settings (or the host) ask for, before the earning policy's limit. */
  parallelismSetting: z.number().int().positive(),
  /** Why `parallelism` is below `parallelismSetting`: a power cap nvidia-smi could not apply. */
  parallelismCappedBy: z.enum(['power-cap']).nullable(),
  /** null: half the RAM plus the VRAM. */
  memoryBudgetBytes: z.number().int().positive().nullable(),
  /** Fields the host that started the node fixed over the settings (they ignore the settings). */
  fixedByHost: z.array(z.enum(ENGINE_CONFIG_FIELDS)),
});
export type EngineEffectiveConfig = z.infer<typeof EngineEffectiveConfigSchema>;

export const ENGINE_STATES = ['stopped', 'starting', 'ready', 'crashed', 'stopping'] as const;
export const EngineStateSchema = z.enum(ENGINE_STATES);
export type EngineState = z.infer<typeof EngineStateSchema>;

/** A job the engine runs now (the Dashboard lists them). */
export const EngineRunningJobSchema = z.object({
  /** The caller's id: the market's job id, or `test-<testId>` for a "Test a model" job. */
  id: z.string(),
  source: z.enum(['market', 'test']),
  modelId: z.string(),
  kind: z.enum(['completion', 'chat', 'tensor']),
  /** When the caller asked for it. */
  requestedAt: z.iso.datetime(),
  /** When the engine took it (a sequence was free, the input checked); null while it waits. */
  startedAt: z.iso.datetime().nullable(),
});
export type EngineRunningJob = z.infer<typeof EngineRunningJobSchema>;

export const EngineStatusSchema = z.object({
  state: EngineStateSchema,
  /** One line for the Dashboard: "Ready", "Crashed 2 times in the last hour; restarting in 4 s", ... */
  summary: z.string(),
  pid: z.number().int().nullable(),
  /** Since when the current process is ready. */
  readySince: z.iso.datetime().nullable(),
  crashesLastHour: z.number().int().nonnegative(),
  restarts: z.number().int().nonnegative(),
  lastCrash: z.object({ at: z.iso.datetime(), reason: z.string() }).nullable(),
  nextRestartAt: z.iso.datetime().nullable(),
  /** Requests sent to the engine and not answered yet. */
  inFlight: z.number().int().nonnegative(),
  /** The llama.cpp backend in use, once the engine has loaded it ('cpu', 'cuda', ...). */
  backend: z.string().nullable(),
  /** The settings the engine runs with (applied at once when they change). */
  config: EngineEffectiveConfigSchema,
  /** Jobs running or waiting now, oldest first. */
  jobs: z.array(EngineRunningJobSchema),
  /** CPU threads this machine offers (more engine threads than this only slow decoding down). */
  cpuCores: z.number().int().positive(),
});
export type EngineStatus = z.infer<typeof EngineStatusSchema>;
/** The engine process as the supervisor knows it (the node adds the configuration and the jobs). */
export type EngineProcessStatus = Omit<EngineStatus, 'config' | 'jobs' | 'cpuCores'>;

export const EngineModelsResultSchema = z.object({ models: z.array(LoadedModelSchema) });

export const EngineTestParamsSchema = z
  .object({
    /** An installed model's id (models/index.json). */
    modelId: z.string().min(1).max(200),
    /** Chosen by the caller to match the streamed events; made up when absent. */
    testId: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/)
      .optional(),
    prompt: z.string().min(1).max(4000).default('Once upon a time'),
    /** Answer as a chat (the model's template) or continue the prompt as text. */
    mode: z.enum(['chat', 'completion']).default('chat'),
    maxTokens: z.number().int().min(1).max(MAX_TEST_TOKENS).default(128),
    temperature: z.number().min(0).max(2).default(0.7),
  })
  .strict();

export const EngineTestResultSchema = z.object({
  testId: z.string(),
  modelId: z.string(),
  kind: z.enum(['llm', 'onnx']),
  /** LLM: the answer; ONNX: a one-line summary of the outputs. */
  text: z.string(),
  finishReason: z.string(),
  usage: UsageSchema.nullable(),
  ttftMs: z.number().nullable(),
  tokensPerSecond: z.number().nullable(),
  totalMs: z.number(),
  backend: z.string(),
  threads: z.number().int().nullable(),
  outputs: z
    .array(
      z.object({
        name: z.string(),
        datatype: z.string(),
        shape: z.array(z.number().int()),
        /** The first values, for a glance. */
        head: z.array(z.union([z.number(), z.string(), z.boolean()])),
      }),
    )
    .nullable(),
});
export type EngineTestResult = z.infer<typeof EngineTestResultSchema>;

/** Streamed while a "Test a model" call runs. */
export const EngineTestEventSchema = z.object({
  type: z.literal('engine.test'),
  testId: z.string(),
  phase: z.enum(['started', 'chunk', 'done', 'error']),
  text: z.string().optional(),
  tokens: z.number().int().nonnegative().optional(),
  error: ErrorBodySchema.optional(),
});
export type EngineTestEvent = z.infer<typeof EngineTestEventSchema>;

export const EngineStatusEventSchema = z.object({
  type: z.literal('engine.status'),
  engine: EngineStatusSchema,
});

const NoParams = z.object({}).strict();

/** The engine's calls, spread into the API contract (shared/api/contract.ts). */
export const engineContract = {
  'engine.status': { params: NoParams, result: EngineStatusSchema },
  /** Models loaded in the engine now (empty while it is not running). */
  'engine.models': { params: NoParams, result: EngineModelsResultSchema },
  /** Runs a short job on an installed model; streams `engine.test` events while it runs. */
  'engine.test': { params: EngineTestParamsSchema, result: EngineTestResultSchema },
  'engine.testCancel': {
    params: z.object({ testId: z.string().min(1).max(64) }).strict(),
    result: z.object({ cancelled: z.boolean() }),
  },
} as const;

/**
 * The warning for a thread count above the machine's CPU threads (Settings → Engine and
 * `idlerig run` show it), or null. ggml's workers wait for each other after every operation, so
 * threads that do not each get a core make decoding slower, not faster (electron/engine/threads.ts).
 */
export function threadsWarning(threads: number | null | undefined, cores: number): string | null {
  if (threads == null || !Number.isFinite(threads) || threads <= cores) return null;
  return `${threads} threads is more than the ${cores} CPU thread${cores === 1 ? '' : 's'} this machine has: decoding gets slower, not faster. Automatic (or at most ${cores}) is better.`;
}
