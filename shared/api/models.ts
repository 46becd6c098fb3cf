// The models part of the API: the catalog as the page sees it, downloads and their progress,
// the fit estimate, and the installed models. Sizes are byte counts (plain numbers: not money).
import { z } from 'zod';

export const ModelEngineSchema = z.enum(['llama', 'onnx']);
export type ModelEngine = z.infer<typeof ModelEngineSchema>;

export const Sha256Schema = z
  .string()
  .regex(/^[0-9a-f]{64}$/, 'a sha256 is 64 lowercase hex digits');

/** What the network asks for: bundled as a hint, a gateway may update it later. */
export const DemandHintSchema = z.object({
  level: z.enum(['high', 'medium', 'low', 'unknown']),
  /** A short sentence for the card ("Requested often by the demo gateway"). */
  note: z.string().max(200).optional(),
  /** Price per unit in the token's smallest unit (a decimal string of a bigint). */
  price: z
    .object({
      amount: z.string().regex(/^\d+$/),
      symbol: z.string().max(16),
      decimals: z.number().int().min(0).max(36),
      per: z.enum(['1M tokens', '1k requests']),
    })
    .nullable()
    .default(null),
  updatedAt: z.iso.datetime().optional(),
});
export type DemandHint = z.infer<typeof DemandHintSchema>;

export const DOWNLOAD_STATES = [
  'queued',
  'downloading',
  'stalled', // no bytes for a while: waiting to retry (see retry.at)
  'verifying', // re-hashing the partial file before a resume, or the final check
  'paused',
  'done',
  'failed',
  'cancelled',
] as const;
export const DownloadStateSchema = z.enum(DOWNLOAD_STATES);
export type DownloadState = z.infer<typeof DownloadStateSchema>;

export const DownloadViewSchema = z.object({
  /** The id of the model once installed (catalog variant id, or a slug for URL pulls). */
  id: z.string(),
  name: z.string(),
  engine: ModelEngineSchema,
  file: z.string(),
  catalogId: z.string().nullable(),
  variantId: z.string().nullable(),
  url: z.string(),
  sha256: Sha256Schema.nullable(),
  state: DownloadStateSchema,
  bytes: z.number().nonnegative(),
  totalBytes: z.number().nonnegative().nullable(),
  bytesPerSecond: z.number().nonnegative().nullable(),
  etaSeconds: z.number().nonnegative().nullable(),
  /** Set while stalled or after a failed attempt: which retry comes next and when. */
  retry: z
    .object({ attempt: z.number().int(), max: z.number().int(), at: z.iso.datetime().nullable() })
    .nullable(),
  /** Something the user should know that is not an error ("restarted from zero: ..."). */
  notice: z.string().nullable(),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
});
export type DownloadView = z.infer<typeof DownloadViewSchema>;

export const CatalogVariantViewSchema = z.object({
  id: z.string(),
  quantization: z.string(),
  file: z.string(),
  sizeBytes: z.number().int().positive(),
  sha256: Sha256Schema,
  urls: z.array(z.string()),
  installed: z.boolean(),
  download: DownloadViewSchema.nullable(),
});

export const CatalogModelViewSchema = z.object({
  id: z.string(),
  name: z.string(),
  family: z.string(),
  engine: ModelEngineSchema,
  publisher: z.string(),
  licence: z.object({ name: z.string(), url: z.string().nullable() }),
  description: z.string(),
  contextLength: z.number().int().positive().nullable(),
  parameters: z.string().nullable(),
  homepage: z.string().nullable(),
  demand: DemandHintSchema,
  demo: z.boolean(),
  variants: z.array(CatalogVariantViewSchema),
});
export type CatalogModelView = z.infer<typeof CatalogModelViewSchema>;

export const FIT_VERDICTS = ['full-gpu', 'partial-offload', 'cpu-only', 'will-not-fit'] as const;
export const FitVerdictSchema = z.enum(FIT_VERDICTS);
export type FitVerdict = z.infer<typeof FitVerdictSchema>;

export const FitEstimateSchema = z.object({
  modelId: z.string(),
  variantId: z.string().nullable(),
  verdict: FitVerdictSchema,
  confidence: z.enum(['high', 'medium', 'low']),
  /** The context size the estimate is for (the model's default, capped). */
  contextSize: z.number().int().positive().nullable(),
  gpuLayers: z.number().int().nonnegative().nullable(),
  totalLayers: z.number().int().nonnegative().nullable(),
  need: z.object({
    weightsBytes: z.number().nonnegative(),
    kvCacheBytes: z.number().nonnegative(),
    overheadBytes: z.number().nonnegative(),
    totalBytes: z.number().nonnegative(),
  }),
  machine: z.object({
    gpus: z.array(
      z.object({
        name: z.string(),
        vramTotalBytes: z.number().nonnegative(),
        vramFreeBytes: z.number().nonnegative(),
      }),
    ),
    ramTotalBytes: z.number().nonnegative(),
    ramFreeBytes: z.number().nonnegative(),
    /** Where the GPU facts came from: the GPU module, or none known (RAM from the OS). */
    source: z.enum(['gpu-module', 'os-only']),
  }),
  /** Where the model's facts came from. */
  basis: z.enum(['gguf-header', 'file-size']),
  /** The header could not be fetched because the network could not be reached (basis file-size). */
  offline: z.boolean().default(false),
  /** The sentence for the card. */
  summary: z.string(),
  reasons: z.array(z.string()),
});
export type FitEstimate = z.infer<typeof FitEstimateSchema>;

export const InstalledModelViewSchema = z.object({
  id: z.string(),
  name: z.string(),
  engine: ModelEngineSchema,
  file: z.string(),
  sizeBytes: z.number().nonnegative(),
  sha256: Sha256Schema,
  source: z.enum(['catalog', 'import', 'url']),
  catalogId: z.string().nullable(),
  installedAt: z.iso.datetime(),
  lastUsedAt: z.iso.datetime().nullable(),
  verifiedAt: z.iso.datetime().nullable(),
  loaded: z.boolean(),
  inUse: z.boolean(),
  /**
   * The file on disk as last seen: ok, missing (deleted behind the node's back), or changed (its
   * size or modification time differ from when its sha256 was checked: Verify hashes it again).
   */
  fileState: z.enum(['ok', 'missing', 'changed']).default('ok'),
});
export type InstalledModelView = z.infer<typeof InstalledModelViewSchema>;

export const InstalledListSchema = z.object({
  models: z.array(InstalledModelViewSchema),
  totalBytes: z.number().nonnegative(),
  dir: z.string(),
  /** Free space on the models folder's disk; null when the system cannot tell. */
  freeBytes: z.number().nonnegative().nullable().default(null),
});
export type InstalledList = z.infer<typeof InstalledListSchema>;

export const DownloadLimitsSchema = z.object({
  /** null: no cap. */
  maxBytesPerSecond: z
    .number()
    .int()
    .min(16 * 1024)
    .nullable(),
  concurrency: z.number().int().min(1).max(8),
});
export type DownloadLimits = z.infer<typeof DownloadLimitsSchema>;

const IdParams = z.object({ id: z.string().min(1).max(200) }).strict();

/** The API calls of the models part; merged into the contract in contract.ts. */
export const modelsContract = {
  'models.catalog': {
    params: z.object({}).strict(),
    result: z.object({ models: z.array(CatalogModelViewSchema), source: z.string() }),
  },
  'models.fit': {
    params: z
      .object({ modelId: z.string().min(1).max(200), variantId: z.string().max(200).optional() })
      .strict(),
    result: FitEstimateSchema,
  },
  'models.installed': { params: z.object({}).strict(), result: InstalledListSchema },
  'models.download': {
    params: z.union([
      z
        .object({
          modelId: z.string().min(1).max(200),
          variantId: z.string().max(200).optional(),
        })
        .strict(),
      z
        .object({
          url: z.string().min(1).max(4000),
          sha256: Sha256Schema.optional(),
          name: z.string().min(1).max(200).optional(),
        })
        .strict(),
    ]),
    result: DownloadViewSchema,
  },
  'models.downloads': {
    params: z.object({}).strict(),
    result: z.object({ downloads: z.array(DownloadViewSchema), limits: DownloadLimitsSchema }),
  },
  'models.pause': { params: IdParams, result: DownloadViewSchema },
  'models.resume': { params: IdParams, result: DownloadViewSchema },
  'models.cancel': { params: IdParams, result: DownloadViewSchema },
  'models.setLimits': {
    params: DownloadLimitsSchema.partial().strict(),
    result: DownloadLimitsSchema,
  },
  'models.verify': {
    params: IdParams,
    result: z.object({
      id: z.string(),
      ok: z.boolean(),
      sha256: z.string(),
      expected: z.string(),
      bytes: z.number().nonnegative(),
      seconds: z.number().nonnegative(),
    }),
  },
  'models.delete': {
    params: IdParams,
    result: z.object({ id: z.string(), freedBytes: z.number().nonnegative() }),
  },
  'models.import': {
    params: z
      .object({
        path: z.string().min(1).max(4000),
        name: z.string().min(1).max(200).optional(),
        id: z.string().min(1).max(100).optional(),
      })
      .strict(),
    result: InstalledModelViewSchema,
  },
} as const;

/** Events of the models part (members of ApiEventSchema's union). */
export const ModelDownloadEventSchema = z.object({
  type: z.literal('model.download'),
  download: DownloadViewSchema,
});
export const ModelsInstalledEventSchema = z.object({
  type: z.literal('models.installed'),
  installed: InstalledListSchema,
});
