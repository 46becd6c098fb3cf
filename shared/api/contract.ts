// The one API of the provider node. Every call has a schema for its parameters and its result;
// both transports (Electron IPC through the preload, HTTP + WebSocket when headless) carry exactly
// these calls and these events, and the router validates both directions.
import { z } from 'zod';
import '../zod-words';
import { SettingsPatchSchema, SettingsSchema, LogLevelSchema } from './settings';
import { StatusSchema } from './status';
import { LogEntrySchema } from './logs';
import type { MethodName } from './methods';
import { modelsContract, ModelDownloadEventSchema, ModelsInstalledEventSchema } from './models';
import { powerContract, PauseParamsSchema, TelemetryEventSchema } from './power';
import { engineContract, EngineStatusEventSchema, EngineTestEventSchema } from './engine';
import { marketContract, MarketEventSchema } from './market';
import { jobsContract } from './jobs';
import { walletContract } from './wallet';

const NoParams = z.object({}).strict();

export const contract = {
  'status.get': { params: NoParams, result: StatusSchema },
  'settings.get': { params: NoParams, result: SettingsSchema },
  'settings.update': { params: SettingsPatchSchema, result: SettingsSchema },
  'logs.tail': {
    params: z
      .object({
        limit: z.number().int().min(1).max(2000).default(200),
        minLevel: LogLevelSchema.default('debug'),
      })
      .strict(),
    result: z.object({ entries: z.array(LogEntrySchema), file: z.string() }),
  },
  'diagnostics.export': {
    params: NoParams,
    result: z.object({
      fileName: z.string(),
      path: z.string(),
      bytes: z.number().int().nonnegative(),
    }),
  },
  'node.pause': {
    /** { minutes } (null: until resumed) or { until: 'tomorrow' } (07:00 local time). */
    params: PauseParamsSchema,
    result: StatusSchema,
  },
  'node.resume': { params: NoParams, result: StatusSchema },
  ...modelsContract,
  ...powerContract,
  ...engineContract,
  ...marketContract,
  ...jobsContract,
  ...walletContract,
} as const satisfies Record<MethodName, { params: z.ZodType; result: z.ZodType }>;

export type Contract = typeof contract;
export type Params<M extends MethodName> = z.input<Contract[M]['params']>;
export type ParsedParams<M extends MethodName> = z.output<Contract[M]['params']>;
export type Result<M extends MethodName> = z.output<Contract[M]['result']>;

/** Events pushed by the node, a discriminated union on `type`. */
export const ApiEventSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('status'), status: StatusSchema }),
  z.object({ type: z.literal('settings'), settings: SettingsSchema }),
  z.object({ type: z.literal('log'), entry: LogEntrySchema }),
  ModelDownloadEventSchema,
  ModelsInstalledEventSchema,
  TelemetryEventSchema,
  EngineStatusEventSchema,
  EngineTestEventSchema,
  MarketEventSchema,
]);
export type ApiEvent = z.infer<typeof ApiEventSchema>;

/** Messages the node sends on the event WebSocket. */
export const ServerMessageSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('hello'), version: z.string(), protocol: z.literal(1) }),
  z.object({ kind: z.literal('event'), event: ApiEventSchema }),
]);
export type ServerMessage = z.infer<typeof ServerMessageSchema>;
