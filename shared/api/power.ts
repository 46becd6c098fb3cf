// GPUs, telemetry, energy and the earning policy, as the API carries them (issue 4).
// The settings part (PowerSettingsSchema) is a group of the versioned settings (settings.ts).
import { z } from 'zod';
import { isCurrencyCode } from '../currencies';

// ---------------------------------------------------------------------------------------------
// Settings: schedule, idle-only, battery, temperature, power cap, electricity price, margin.
// ---------------------------------------------------------------------------------------------

/** One day of the weekly schedule: 24 characters, '1' = may earn in that local hour. */
export const ScheduleDaySchema = z
  .string()
  .regex(/^[01]{24}$/, 'A schedule day is 24 characters of 0 or 1 (one per hour)');

/** Local wall-clock time, HH:MM (24:00 allowed as an end). */
export const ClockTimeSchema = z
  .string()
  .regex(/^(([01]\d|2[0-3]):[0-5]\d|24:00)$/, 'Use HH:MM (00:00 to 24:00)');

/** Day numbers used by the schedule and the tariff table: 0 = Monday … 6 = Sunday. */
export const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'] as const;

export const TariffPeriodSchema = z
  .object({
    /** Days the period starts on (0 = Monday). A period that ends at or before it starts runs past midnight. */
    days: z
      .array(z.number().int().min(0).max(6))
      .min(1, 'Pick at least one day')
      .max(7)
      .refine((d) => new Set(d).size === d.length, 'A day is listed twice'),
    from: ClockTimeSchema,
    to: ClockTimeSchema,
    pricePerKwh: z.number().min(0).max(100),
  })
  .strict();
export type TariffPeriod = z.infer<typeof TariffPeriodSchema>;

const CurrencySchema = z
  .string()
  .regex(/^[A-Z]{3}$/, 'Use a three-letter currency code (EUR, USD…)')
  .refine(isCurrencyCode, 'Not an ISO 4217 currency code (EUR, USD, GBP…)');

const IdleMinutesSchema = z
  .number()
  .int('Use whole minutes')
  .min(1, 'At least 1 minute')
  .max(24 * 60, 'At most 1440 minutes (a day)');
const MaxTempSchema = z
  .number()
  .int('Use whole degrees')
  .min(40, 'At least 40 °C')
  .max(105, 'At most 105 °C');
const HysteresisSchema = z
  .number()
  .int('Use whole degrees')
  .min(1, 'At least 1 °C')
  .max(30, 'At most 30 °C');
const PowerCapWattsSchema = z
  .number()
  .int('Use whole watts')
  .min(10, 'At least 10 W')
  .max(2000, 'At most 2000 W')
  .nullable();
const PricePerKwhSchema = z.number().min(0, 'Cannot be negative').max(100, 'At most 100 per kWh');
const MarginSchema = z.number().min(0, 'Cannot be negative').max(1000, 'At most 1000 %');

const CpuWattsSchema = z
  .number()
  .int('Use whole watts')
  .min(1, 'At least 1 W')
  .max(1000, 'At most 1000 W')
  .nullable();

/** Watts per logical CPU of the estimate: desktop CPUs draw about 4–8 W per thread at full load. */
export const CPU_WATTS_PER_THREAD = 6;

/**
 * The CPU power estimate when the user gave none: logical CPUs × CPU_WATTS_PER_THREAD, at least
 * 10 W and at most 400 W. A guess for the energy record, always marked as estimated.
 */
export function estimateCpuWatts(logicalCpus: number): number {
  const n = Number.isFinite(logicalCpus) && logicalCpus > 0 ? Math.round(logicalCpus) : 1;
  return Math.min(400, Math.max(10, n * CPU_WATTS_PER_THREAD));
}

export const PowerSettingsSchema = z
  .object({
    schedule: z.object({
      enabled: z.boolean(),
      /** Seven days, Monday first, in the computer's local time. */
      days: z.array(ScheduleDaySchema).length(7),
    }),
    idleOnly: z.object({
      enabled: z.boolean(),
      /** Earn only after the user has been inactive this long (headless counts as idle). */
      minutes: IdleMinutesSchema,
    }),
    pauseOnBattery: z.boolean(),
    temperature: z.object({
      /** Stop accepting jobs at this GPU temperature… */
      maxC: MaxTempSchema,
      /** …and accept again only once every GPU is this many degrees below it. */
      hysteresisC: HysteresisSchema,
    }),
    powerCap: z.object({
      /** Declared power cap per GPU in watts; null: none. */
      wattsPerGpu: PowerCapWattsSchema,
    }),
    electricity: z.object({
      /** Base price of a kWh in `currency`. */
      pricePerKwh: PricePerKwhSchema,
      currency: CurrencySchema,
      /** Time-of-use tariff: periods with their own price; the base price applies elsewhere. */
      tariff: z.object({
        enabled: z.boolean(),
        periods: z.array(TariffPeriodSchema).max(50),
      }),
    }),
    /** The minimum price of a job is its electricity cost plus this margin. */
    marginPercent: MarginSchema,
    /**
     * The CPU's power at full load in watts, for the energy of jobs run on the CPU (a CPU
     * provider); null: estimated from the CPU (estimateCpuWatts). Missing in older files: null.
     */
    cpuWatts: CpuWattsSchema.default(null),
  })
  .refine((p) => p.temperature.hysteresisC < p.temperature.maxC, {
    message: 'The hysteresis must be smaller than the temperature limit',
    path: ['temperature', 'hysteresisC'],
  });
export type PowerSettings = z.infer<typeof PowerSettingsSchema>;

/** What `settings.update` accepts for the power group: any subset of the fields above. */
export const PowerSettingsPatchSchema = z
  .object({
    schedule: z
      .object({ enabled: z.boolean(), days: z.array(ScheduleDaySchema).length(7) })
      .strict()
      .partial(),
    idleOnly: z
      .object({
        enabled: z.boolean(),
        minutes: IdleMinutesSchema,
      })
      .strict()
      .partial(),
    pauseOnBattery: z.boolean(),
    temperature: z
      .object({
        maxC: MaxTempSchema,
        hysteresisC: HysteresisSchema,
      })
      .strict()
      .partial(),
    powerCap: z.object({ wattsPerGpu: PowerCapWattsSchema }).strict().partial(),
    electricity: z
      .object({
        pricePerKwh: PricePerKwhSchema,
        currency: CurrencySchema,
        tariff: z
          .object({ enabled: z.boolean(), periods: z.array(TariffPeriodSchema).max(50) })
          .strict()
          .partial(),
      })
      .strict()
      .partial(),
    marginPercent: MarginSchema,
    cpuWatts: CpuWattsSchema,
  })
  .strict()
  .partial();
export type PowerSettingsPatch = z.input<typeof PowerSettingsPatchSchema>;

export function defaultPowerSettings(): PowerSettings {
  const allDay = '1'.repeat(24);
  return {
    schedule: { enabled: false, days: Array.from({ length: 7 }, () => allDay) },
    idleOnly: { enabled: false, minutes: 10 },
    pauseOnBattery: true,
    temperature: { maxC: 83, hysteresisC: 8 },
    powerCap: { wattsPerGpu: null },
    electricity: {
      pricePerKwh: 0.3,
      currency: 'EUR',
      tariff: { enabled: false, periods: [] },
    },
    marginPercent: 20,
    cpuWatts: null,
  };
}

// ---------------------------------------------------------------------------------------------
// GPUs
// ---------------------------------------------------------------------------------------------

export const GPU_VENDORS = ['nvidia', 'amd', 'intel', 'apple', 'other'] as const;
export const GpuVendorSchema = z.enum(GPU_VENDORS);
export type GpuVendor = z.infer<typeof GpuVendorSchema>;

/** The GPU backends of node-llama-cpp. */
export const GPU_BACKENDS = ['cuda', 'vulkan', 'metal'] as const;
export const GpuBackendSchema = z.enum(GPU_BACKENDS);
export type GpuBackend = z.infer<typeof GpuBackendSchema>;

export const GpuSourceSchema = z.enum([
  'nvidia-smi',
  'rocm-smi',
  'lspci',
  'systeminformation',
  'system_profiler',
]);
export type GpuSource = z.infer<typeof GpuSourceSchema>;

export const GpuRecordSchema = z.object({
  /** Stable id: the PCI bus id where there is one (0000:01:00.0), else vendor + index. */
  id: z.string(),
  /** The vendor tool's index (nvidia-smi -i, rocm-smi card N); null when no tool reports one. */
  index: z.number().int().nonnegative().nullable(),
  vendor: GpuVendorSchema,
  name: z.string(),
  vramTotalMiB: z.number().nonnegative().nullable(),
  vramFreeMiB: z.number().nonnegative().nullable(),
  driverVersion: z.string().nullable(),
  pciBusId: z.string().nullable(),
  /** CUDA compute capability (NVIDIA), e.g. "8.6". */
  computeCapability: z.string().nullable(),
  powerLimitW: z.number().nonnegative().nullable(),
  /** Shares system memory (integrated graphics, Apple Silicon). */
  integrated: z.boolean(),
  /** Backends node-llama-cpp can use on this GPU here, best first. */
  backends: z.array(GpuBackendSchema),
  usable: z.boolean(),
  /** In plain words: why the GPU cannot be used, or what limits it. Null when nothing to say. */
  reason: z.string().nullable(),
  /** Per-backend remarks ("CUDA: driver 470.256.02 is too old…"). */
  notes: z.array(z.string()),
  /** Which tools reported this GPU. */
  sources: z.array(GpuSourceSchema),
});
export type GpuRecord = z.infer<typeof GpuRecordSchema>;

export const GpuInventorySchema = z.object({
  detectedAt: z.iso.datetime(),
  gpus: z.array(GpuRecordSchema),
  /** 'gpu' when at least one GPU is usable; otherwise the node serves on the CPU. */
  provider: z.enum(['gpu', 'cpu']),
  /** One sentence for the dashboard and `idlerig gpus`. */
  summary: z.string(),
  /** Tools that were present but failed (missing tools are not errors). */
  toolErrors: z.array(z.object({ tool: z.string(), message: z.string() })),
});
export type GpuInventory = z.infer<typeof GpuInventorySchema>;

// ---------------------------------------------------------------------------------------------
// Telemetry
// ---------------------------------------------------------------------------------------------

export const TelemetrySampleSchema = z.object({
  gpuId: z.string(),
  /** Milliseconds since the epoch. */
  t: z.number(),
  utilizationPct: z.number().nullable(),
  vramUsedMiB: z.number().nullable(),
  vramTotalMiB: z.number().nullable(),
  temperatureC: z.number().nullable(),
  powerW: z.number().nullable(),
  /** True when the GPU has no power sensor and powerW is power limit × utilization. */
  powerEstimated: z.boolean(),
  powerLimitW: z.number().nullable(),
  clockSmMHz: z.number().nullable(),
  clockMemMHz: z.number().nullable(),
  fanPct: z.number().nullable(),
});
export type TelemetrySample = z.infer<typeof TelemetrySampleSchema>;

export const TelemetryStatusSchema = z.object({
  /** Which sampler runs: nvidia-smi's loop mode, amdgpu sysfs, the CPU estimate, or none. */
  source: z.enum(['nvidia-smi', 'sysfs', 'cpu', 'none']),
  running: z.boolean(),
  intervalMs: z.number().int().nonnegative(),
  /** Restarts of the sampler process since the node started. */
  restarts: z.number().int().nonnegative(),
  /** Plain words: what the sampler does, or why there is no telemetry. */
  message: z.string(),
  /** A CPU provider: the figure its power is estimated from (source 'cpu'). */
  cpu: z
    .object({
      /** Watts at full load: the user's figure, or the estimate. */
      watts: z.number().nonnegative(),
      /** True when the figure is the estimate (settings power.cpuWatts is null). */
      estimated: z.boolean(),
      logicalCpus: z.number().int().positive(),
      /** How the figure was found, in words. */
      basis: z.string(),
    })
    .optional(),
});
export type TelemetryStatus = z.infer<typeof TelemetryStatusSchema>;

export const TelemetryRecentSchema = z.object({
  status: TelemetryStatusSchema,
  /** Oldest first, every GPU interleaved. */
  samples: z.array(TelemetrySampleSchema),
});
export type TelemetryRecent = z.infer<typeof TelemetryRecentSchema>;

// ---------------------------------------------------------------------------------------------
// Energy
// ---------------------------------------------------------------------------------------------

export const EnergyDaySchema = z.object({
  /** Local date, YYYY-MM-DD. */
  date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
  currency: z.string(),
  jobKwh: z.number().nonnegative(),
  idleKwh: z.number().nonnegative(),
  jobCost: z.number().nonnegative(),
  idleCost: z.number().nonnegative(),
  /** Revenue of the jobs that ended this day, in `currency` (as reported by the market client). */
  revenue: z.number(),
  /** revenue − jobCost: what the jobs earned after their electricity. */
  net: z.number(),
  jobs: z.number().int().nonnegative(),
  /** True when part of the energy was estimated (no power sensor). */
  estimated: z.boolean(),
});
export type EnergyDay = z.infer<typeof EnergyDaySchema>;

export const JobEnergySchema = z.object({
  id: z.string(),
  startedAt: z.iso.datetime(),
  endedAt: z.iso.datetime(),
  kwh: z.number().nonnegative(),
  cost: z.number().nonnegative(),
  currency: z.string(),
  revenue: z.number().nullable(),
  net: z.number().nullable(),
  /** Average power attributed to the job. */
  avgW: z.number().nonnegative(),
  estimated: z.boolean(),
});
export type JobEnergy = z.infer<typeof JobEnergySchema>;

export const EnergySummarySchema = z.object({
  currency: z.string(),
  /** The electricity price now (time-of-use tariff applied). */
  pricePerKwhNow: z.number().nonnegative(),
  /** Total GPU power now (sum of the latest samples); null without telemetry. */
  powerNowW: z.number().nullable(),
  today: EnergyDaySchema,
  /** Earlier days, newest first. */
  days: z.array(EnergyDaySchema),
  /** Latest finished jobs, newest first. */
  jobs: z.array(JobEnergySchema),
  activeJobs: z.number().int().nonnegative(),
});
export type EnergySummary = z.infer<typeof EnergySummarySchema>;

// ---------------------------------------------------------------------------------------------
// Policy
// ---------------------------------------------------------------------------------------------

export const PolicyCheckSchema = z.object({
  /** pause, battery, temperature, schedule, idle, price, powerCap, market */
  rule: z.string(),
  ok: z.boolean(),
  /** Plain words. */
  detail: z.string(),
});
export type PolicyCheck = z.infer<typeof PolicyCheckSchema>;

export const PriceFloorSchema = z.object({
  currency: z.string(),
  /** Minimum price of one hour of work at the expected power. */
  perHour: z.number().nonnegative(),
  /** Electricity price now, before the margin. */
  pricePerKwh: z.number().nonnegative(),
  marginPercent: z.number().nonnegative(),
  /** The power the floor assumes, and where that figure comes from. */
  watts: z.number().nonnegative(),
  basis: z.string(),
});
export type PriceFloor = z.infer<typeof PriceFloorSchema>;

export const PolicyStateSchema = z.object({
  accepting: z.boolean(),
  reasonCode: z.string(),
  reason: z.string(),
  checks: z.array(PolicyCheckSchema),
  priceFloor: PriceFloorSchema,
  /** Jobs at once the power cap allows; null: no limit from the policy. */
  maxParallelJobs: z.number().int().positive().nullable(),
  powerCap: z.object({
    wattsPerGpu: z.number().nullable(),
    method: z.enum(['nvidia-smi', 'parallelism', 'none']),
    detail: z.string(),
  }),
  /** When a time-based rule will next change the answer (schedule boundary, end of a pause). */
  nextChangeAt: z.iso.datetime().nullable(),
  decidedAt: z.iso.datetime(),
});
export type PolicyState = z.infer<typeof PolicyStateSchema>;

// ---------------------------------------------------------------------------------------------
// API calls and events (spread into shared/api/contract.ts)
// ---------------------------------------------------------------------------------------------

export const powerContract = {
  /** The detected GPUs; `refresh` runs the detection again. */
  'gpus.list': {
    params: z.object({ refresh: z.boolean().default(false) }).strict(),
    result: GpuInventorySchema,
  },
  /** Recent telemetry for the charts (the `telemetry` event streams what follows). */
  'telemetry.recent': {
    params: z.object({ seconds: z.number().int().min(1).max(3600).default(600) }).strict(),
    result: TelemetryRecentSchema,
  },
  /** Energy and its cost: now, today, earlier days, recent jobs. */
  'energy.summary': {
    params: z.object({ days: z.number().int().min(0).max(400).default(30) }).strict(),
    result: EnergySummarySchema,
  },
  /** The earning policy's current answer with every rule's verdict. */
  'policy.get': { params: z.object({}).strict(), result: PolicyStateSchema },
} as const;

export const TelemetryEventSchema = z.object({
  type: z.literal('telemetry'),
  samples: z.array(TelemetrySampleSchema),
});

/** `node.pause`: for N minutes, until tomorrow morning (07:00 local), or until resumed (minutes: null). */
export const PauseParamsSchema = z
  .object({
    minutes: z
      .number()
      .int()
      .min(1)
      .max(60 * 24 * 30)
      .nullable()
      .optional(),
    until: z.literal('tomorrow').optional(),
  })
  .strict()
  .superRefine((p, ctx) => {
    if (p.until !== undefined && p.minutes !== undefined)
      ctx.addIssue({ code: 'custom', path: ['until'], message: 'Give minutes or until, not both' });
    if (p.until === undefined && p.minutes === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['minutes'],
        message: "Required: minutes (null: until resumed), or until: 'tomorrow'",
      });
  });
export type PauseParams = z.infer<typeof PauseParamsSchema>;
