// The job record as the provider's API shows it: the local database of every job, its energy and
// its pay (settings.json `jobs`, version 5: how long rows are kept). Amounts of the token are
// decimal strings of its smallest unit; electricity amounts are numbers in the row's currency.
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

export const JOB_STATUS_VALUES = ['running', 'done', 'failed', 'cancelled', 'declined'] as const;
export const JOB_KIND_VALUES = ['chat', 'completion', 'tensor'] as const;
export const JobStatusSchema = z.enum(JOB_STATUS_VALUES);
export const JobKindSchema = z.enum(JOB_KIND_VALUES);

const Amount = z.string().regex(/^\d+$/, 'An amount is a decimal string of whole smallest units');

export const JobTokenSchema = z.object({
  symbol: z.string(),
  decimals: z.number().int().nonnegative(),
  address: z.string().nullable(),
});

export const JobRowSchema = z.object({
  id: z.string(),
  startedAt: z.string(),
  endedAt: z.string().nullable(),
  gateway: z.string().nullable(),
  modelId: z.string().nullable(),
  modelSha256: z.string().nullable(),
  kind: JobKindSchema.nullable(),
  /** A test job (Models page, `idlerig run`): never counted as earnings. */
  test: z.boolean(),
  status: JobStatusSchema,
  reason: z.string().nullable(),
  errorCode: z.string().nullable(),
  tokensIn: z.number().int().nullable(),
  tokensOut: z.number().int().nullable(),
  durationMs: z.number().nullable(),
  ttftMs: z.number().nullable(),
  /** Output tokens per second of generation (after the first token). */
  tokensPerSecond: z.number().nullable(),
  /** Price in the token's smallest unit, per `priceUnit`. */
  price: Amount.nullable(),
  priceUnit: z.string().nullable(),
  token: JobTokenSchema.nullable(),
  earned: Amount.nullable(),
  /** What it earned in the electricity currency, where the market client converted it. */
  revenue: z.number().nullable(),
  energyWh: z.number().nullable(),
  energyCost: z.number().nullable(),
  /** The electricity currency when the job ran (kept per row: a later change relabels nothing). */
  currency: z.string().nullable(),
  /** revenue − energy cost; null without revenue. */
  net: z.number().nullable(),
  energyEstimated: z.boolean(),
  voucherId: z.string().nullable(),
});
export type JobRow = z.infer<typeof JobRowSchema>;

export const JobDetailSchema = JobRowSchema.extend({
  /** The signed receipt as the market client stored it. */
  receipt: z.unknown().nullable(),
});
export type JobDetail = z.infer<typeof JobDetailSchema>;

export const JOB_SORT_FIELDS = [
  'startedAt',
  'endedAt',
  'modelId',
  'status',
  'tokensOut',
  'durationMs',
  'energyWh',
  'earned',
] as const;

const Instant = z
  .string()
  .refine((s) => !Number.isNaN(Date.parse(s)), 'A date or time like 2026-01-31 or an ISO time');

/** Filters shared by the page query, the CLI and the CSV export. */
export const JobFilterSchema = z
  .object({
    /** Jobs started at or after (ISO time, or a date: its local midnight). */
    since: Instant.optional(),
    /** Jobs started before (ISO time, or a date: the end of that local day). */
    until: Instant.optional(),
    model: z.string().max(300).optional(),
    gateway: z.string().max(2000).optional(),
    status: z.array(JobStatusSchema).max(5).optional(),
    /** true: test jobs only; false: none; absent: both. */
    test: z.boolean().optional(),
  })
  .strict();
export type JobFilter = z.infer<typeof JobFilterSchema>;

export const JobsListParamsSchema = JobFilterSchema.extend({
  sort: z.enum(JOB_SORT_FIELDS).default('startedAt'),
  dir: z.enum(['asc', 'desc']).default('desc'),
  offset: z.number().int().min(0).default(0),
  limit: z.number().int().min(1).max(1000).default(50),
}).strict();
export type JobsListParams = z.input<typeof JobsListParamsSchema>;

export const TokenAmountSchema = z.object({
  symbol: z.string(),
  address: z.string().nullable(),
  decimals: z.number().int().nonnegative(),
  amount: Amount,
});
export type TokenAmount = z.infer<typeof TokenAmountSchema>;

export const JobBucketSchema = z.object({
  /** Local date (YYYY-MM-DD) or local hour (YYYY-MM-DDTHH). */
  period: z.string(),
  currency: z.string(),
  /** Jobs that ran (done, failed or cancelled), test jobs not counted. */
  jobs: z.number().int(),
  failed: z.number().int(),
  declined: z.number().int(),
  testJobs: z.number().int(),
  tokensIn: z.number().int(),
  tokensOut: z.number().int(),
  /** Earnings per token (test jobs never earn). */
  earnings: z.array(TokenAmountSchema),
  /**
   * Per token, the earnings of the jobs a verified voucher covers (what the payer signed for;
   * a subset of `earnings`); tokens with nothing paid are left out.
   */
  paid: z.array(TokenAmountSchema),
  revenue: z.number(),
  jobKwh: z.number(),
  jobCost: z.number(),
  idleKwh: z.number(),
  idleCost: z.number(),
  /** revenue − job electricity cost. */
  net: z.number(),
});
export type JobBucket = z.infer<typeof JobBucketSchema>;

export const JobsAggregatesParamsSchema = z
  .object({
    bucket: z.enum(['day', 'hour']).default('day'),
    /** Local date YYYY-MM-DD, first bucket (default: `days` days ago). */
    from: z.iso.date().optional(),
    /** Local date YYYY-MM-DD, last bucket included (default today). */
    to: z.iso.date().optional(),
    days: z.number().int().min(1).max(3660).default(30),
  })
  .strict();

export const JobsAggregatesSchema = z.object({
  bucket: z.enum(['day', 'hour']),
  from: z.string(),
  to: z.string(),
  /** Oldest first; a bucket per period and currency that had anything. */
  buckets: z.array(JobBucketSchema),
});
export type JobsAggregates = z.infer<typeof JobsAggregatesSchema>;

export const JobsStorageSchema = z.object({
  path: z.string(),
  /** The database file with its write-ahead log. */
  bytes: z.number().int().nonnegative(),
  rows: z.number().int().nonnegative(),
  oldestStartedAt: z.string().nullable(),
  schemaVersion: z.number().int(),
  retentionDays: z.number().int().nullable(),
});
export type JobsStorage = z.infer<typeof JobsStorageSchema>;

/** The job-record calls of the provider API. */
export const jobsContract = {
  /** A page of jobs, filtered and sorted, with the total that matches. */
  'jobs.list': {
    params: JobsListParamsSchema,
    result: z.object({ rows: z.array(JobRowSchema), total: z.number().int().nonnegative() }),
  },
  /** One job with its receipt. */
  'jobs.get': {
    params: z.object({ id: z.string().min(1).max(200) }).strict(),
    result: JobDetailSchema,
  },
  /** Totals per local day or hour: jobs, tokens, earnings, energy, cost, net. */
  'jobs.aggregates': { params: JobsAggregatesParamsSchema, result: JobsAggregatesSchema },
  /** Writes the matching jobs as CSV into the data folder's exports (streamed). */
  'jobs.export': {
    params: JobFilterSchema,
    result: z.object({
      fileName: z.string(),
      path: z.string(),
      rows: z.number().int().nonnegative(),
      bytes: z.number().int().nonnegative(),
    }),
  },
  /** The database's size and what it keeps. */
  'jobs.storage': { params: z.object({}).strict(), result: JobsStorageSchema },
} as const;
