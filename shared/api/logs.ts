import { z } from 'zod';
import { LogLevelSchema } from './settings';

export const LogEntrySchema = z.object({
  seq: z.number().int().nonnegative(),
  time: z.iso.datetime(),
  level: LogLevelSchema,
  /** Which part wrote it: node, api, http, settings, engine, ... */
  scope: z.string(),
  msg: z.string(),
  data: z.record(z.string(), z.unknown()).optional(),
});
export type LogEntry = z.infer<typeof LogEntrySchema>;
