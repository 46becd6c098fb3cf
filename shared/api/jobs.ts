// The job record as the provider's API shows it: the local database of every job, its energy and
// its pay (settings.json `jobs`, version 5: how long rows are kept).
import { z } from 'zod';

export const JobsSettingsSchema = z.object({
  /** Days a job row is kept; null: forever. */
  retentionDays: z
    .number({ error: 'Retention must be a number of days' })
    .int('Retention is a whole number of days')
    .min(1, 'Keep rows at least 1 day')
    .max(36500, 'At most 36500 days')
    .nullable(),
});
export type JobsSettings = z.infer<typeof JobsSettingsSchema>;

export const JobsSettingsPatchSchema = JobsSettingsSchema.strict().partial();

export function defaultJobsSettings(): JobsSettings {
  return { retentionDays: null };
}

/** The job-record calls of the provider API (filled by the job-history issue). */
export const jobsContract = {} as const;
