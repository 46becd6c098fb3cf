// The settings the user can see and change, as the API carries them. The provider node keeps
// the on-disk form (versioned, migrated) in electron/provider/settings; this is the current shape.
import { z } from 'zod';
import { PowerSettingsPatchSchema, PowerSettingsSchema } from './power';
import { EngineSettingsPatchSchema, EngineSettingsSchema } from './engine';
import { NetworkSettingsPatchSchema, NetworkSettingsSchema } from './market';
import { JobsSettingsPatchSchema, JobsSettingsSchema } from './jobs';
import { WalletSettingsPatchSchema, WalletSettingsSchema } from './wallet';

export const THEMES = ['system', 'light', 'dark'] as const;
export const START_AT_LOGIN = ['off', 'on', 'hidden'] as const;
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;

export const ThemeSchema = z.enum(THEMES);
export const StartAtLoginSchema = z.enum(START_AT_LOGIN);
export const LogLevelSchema = z.enum(LOG_LEVELS);

export type Theme = z.infer<typeof ThemeSchema>;
export type StartAtLogin = z.infer<typeof StartAtLoginSchema>;
export type LogLevel = z.infer<typeof LogLevelSchema>;

const NodeNameSchema = z
  .string()
  .trim()
  .min(1, 'The node name cannot be empty')
  .max(64, 'The node name is at most 64 characters')
  .regex(/^[\p{L}\p{N} ._-]+$/u, 'Use letters, digits, spaces, dots, dashes or underscores');

export const SettingsSchema = z.object({
  version: z.literal(5),
  appearance: z.object({ theme: ThemeSchema }),
  /** off / on / on and hidden (the app starts in the tray). */
  startAtLogin: StartAtLoginSchema,
  node: z.object({ name: NodeNameSchema }),
  /** A manual pause. `until: null` means until resumed. */
  pause: z.object({ since: z.iso.datetime(), until: z.iso.datetime().nullable() }).nullable(),
  logs: z.object({ level: LogLevelSchema }),
  ui: z.object({ closeToTrayNoticeShown: z.boolean() }),
  /** Schedule, idle-only, battery, temperature, power cap, electricity price (version 3). */
  power: PowerSettingsSchema,
  /** The inference engine: backend, threads, parallel jobs, memory budget (version 4). */
  engine: EngineSettingsSchema,
  /** The gateways the node connects to (version 5). */
  network: NetworkSettingsSchema,
  /** The job record: how long rows are kept (version 5). */
  jobs: JobsSettingsSchema,
  /** The payout address and payment settings (version 5). */
  wallet: WalletSettingsSchema,
});
export type Settings = z.infer<typeof SettingsSchema>;

/** What `settings.update` accepts: only fields a user edits; unknown keys are refused. */
export const SettingsPatchSchema = z
  .object({
    appearance: z.object({ theme: ThemeSchema }).strict().partial(),
    startAtLogin: StartAtLoginSchema,
    node: z.object({ name: NodeNameSchema }).strict().partial(),
    logs: z.object({ level: LogLevelSchema }).strict().partial(),
    ui: z.object({ closeToTrayNoticeShown: z.boolean() }).strict().partial(),
    power: PowerSettingsPatchSchema,
    engine: EngineSettingsPatchSchema,
    network: NetworkSettingsPatchSchema,
    jobs: JobsSettingsPatchSchema,
    wallet: WalletSettingsPatchSchema,
  })
  .strict()
  .partial();
export type SettingsPatch = z.input<typeof SettingsPatchSchema>;
