// The inference engine as the API shows it: the supervisor's state, the loaded models and the
// "Test a model" call. The engine's own protocol is in shared/engine-protocol.ts.
import { z } from 'zod';
import { ErrorBodySchema, LoadedModelSchema, UsageSchema } from '../engine-protocol';

export const ENGINE_STATES = ['stopped', 'starting', 'ready', 'crashed', 'stopping'] as const;
export const EngineStateSchema = z.enum(ENGINE_STATES);
export type EngineState = z.infer<typeof EngineStateSchema>;

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
});
export type EngineStatus = z.infer<typeof EngineStatusSchema>;

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
    maxTokens: z.number().int().min(1).max(1024).default(128),
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
