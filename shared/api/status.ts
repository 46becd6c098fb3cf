import { z } from 'zod';

/**
 * What the node is doing. `reasonCode` is stable for code (tray, tests); `reason` is the sentence
 * the dashboard and the tray show.
 */
export const NODE_STATES = ['starting', 'earning', 'idle', 'paused', 'offline', 'error'] as const;
export const NodeStateSchema = z.enum(NODE_STATES);
export type NodeState = z.infer<typeof NodeStateSchema>;

export const WarningSchema = z.object({
  code: z.string(),
  message: z.string(),
  at: z.iso.datetime(),
});
export type Warning = z.infer<typeof WarningSchema>;

export const StatusSchema = z.object({
  state: NodeStateSchema,
  reasonCode: z.string(),
  reason: z.string(),
  version: z.string(),
  startedAt: z.iso.datetime(),
  uptimeSeconds: z.number().nonnegative(),
  mode: z.enum(['electron', 'headless']),
  dataDir: z.string(),
  pausedUntil: z.iso.datetime().nullable(),
  /** Things the user should know about (a corrupt settings file that was replaced, ...). */
  warnings: z.array(WarningSchema),
  /** Earnings of today in the token's smallest unit (a decimal string of a bigint); null until a payment channel exists. */
  earningsToday: z
    .object({ amount: z.string().regex(/^\d+$/), symbol: z.string(), decimals: z.number().int() })
    .nullable(),
  /**
   * The first-run wizard is due: no network chosen yet on a node started as a user starts the
   * app (`npm start`, the demo network). Absent from older nodes.
   */
  firstRun: z.boolean().optional(),
  /** The node serves the local demo network (play money on this computer). */
  demoNetwork: z.boolean().optional(),
  /**
   * The dashboard's event WebSocket (headless): clients now, events dropped for clients that
   * stopped reading (their send buffer past its bound), clients cut off by the ping check.
   */
  eventSockets: z
    .object({
      clients: z.number().int().nonnegative(),
      droppedEvents: z.number().int().nonnegative(),
      terminated: z.number().int().nonnegative(),
    })
    .optional(),
  capabilities: z.object({
    /** Start at login is managed by the desktop shell only. */
    loginItem: z.boolean(),
    /** Diagnostics bundles can be downloaded over HTTP (headless dashboard). */
    diagnosticsDownload: z.boolean(),
  }),
});
export type Status = z.infer<typeof StatusSchema>;
