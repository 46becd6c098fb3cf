// The model catalog: resources/catalog.json (bundled), or a file or URL given by IDLERIG_CATALOG
// or --catalog. Every entry pins its urls, size and sha256; a catalog that breaks the schema, or
// names a file that would leave the models folder, is refused as a whole.
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { z } from 'zod';
import bundledCatalog from '../../../resources/catalog.json';
import { DemandHintSchema, ModelEngineSchema, Sha256Schema } from '../../../shared/api/models';
import { IdlerigError } from '../../../shared/errors';
import { checkDownloadUrl, checkModelFileName, redactUrl } from './policy';

const IdSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,99}$/, 'ids are lowercase letters, digits, . _ -');

const UNSAFE = 'UNSAFE_PATH';

const FileNameSchema = z.string().superRefine((name, ctx) => {
  try {
    checkModelFileName(name);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `${UNSAFE}: ${(err as Error).message}` });
  }
});

const UrlSchema = z.string().superRefine((raw, ctx) => {
  try {
    checkDownloadUrl(raw);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
  }
});

export const CatalogVariantSchema = z
  .object({
    id: IdSchema,
    quantization: z.string().min(1).max(40),
    file: FileNameSchema,
    /** The publisher's url first, then mirrors. */
    urls: z.array(UrlSchema).min(1).max(8),
    sizeBytes: z.number().int().positive(),
    sha256: Sha256Schema,
  })
  .strict();
export type CatalogVariant = z.infer<typeof CatalogVariantSchema>;

export const CatalogModelSchema = z
  .object({
    id: IdSchema,
    name: z.string().min(1).max(120),
    family: z.string().min(1).max(60),
    engine: ModelEngineSchema,
    publisher: z.string().min(1).max(120),
    licence: z.object({ name: z.string().min(1).max(120), url: z.string().nullable() }).strict(),
    description: z.string().max(2000),
    contextLength: z.number().int().positive().nullable(),
    parameters: z.string().max(40).nullable().default(null),
    homepage: z.string().nullable().default(null),
    demand: DemandHintSchema.default({ level: 'unknown', price: null }),
    /** Demo and test entries (loopback urls): hidden unless the node is told to show them. */
    demo: z.boolean().default(false),
    variants: z.array(CatalogVariantSchema).min(1).max(20),
  })
  .strict();
export type CatalogModel = z.infer<typeof CatalogModelSchema>;

export const CatalogFileSchema = z
  .object({
    $schema: z.string().optional(),
    version: z.literal(1),
    updatedAt: z.iso.datetime(),
    models: z.array(CatalogModelSchema).max(500),
  })
  .strict()
  .superRefine((cat, ctx) => {
    const seen = new Set<string>();
    const files = new Set<string>();
    cat.models.forEach((m, i) => {
      const ids = [m.id, ...m.variants.map((v) => v.id)];
      ids.forEach((id, j) => {
        // A model's single variant may share the model's id.
        if (j > 0 && id === m.id && m.variants.length === 1) return;
        if (seen.has(id))
          ctx.addIssue({ code: 'custom', path: ['models', i], message: `duplicate id ${id}` });
        seen.add(id);
      });
      m.variants.forEach((v, j) => {
        if (files.has(v.file))
          ctx.addIssue({
            code: 'custom',
            path: ['models', i, 'variants', j, 'file'],
            message: `two variants use the file ${v.file}`,
          });
        files.add(v.file);
      });
    });
  });
export type CatalogFile = z.infer<typeof CatalogFileSchema>;

export interface Catalog {
  file: CatalogFile;
  /** "bundled", a path, or a URL (without its query). */
  source: string;
}

/** Validates a catalog; an unsafe file name is UNSAFE_PATH, anything else INVALID_PARAMS. */
export function parseCatalog(json: unknown, source: string): Catalog {
  const parsed = CatalogFileSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues;
    const unsafe = issues.find((i) => i.message.startsWith(UNSAFE));
    const describe = (i: (typeof issues)[number]): string =>
      `${i.path.join('.') || '(root)'}: ${i.message.replace(`${UNSAFE}: `, '')}`;
    if (unsafe) {
      throw new IdlerigError(
        'UNSAFE_PATH',
        `The model catalog ${source} was refused: ${describe(unsafe)}`,
      );
    }
    throw new IdlerigError(
      'INVALID_PARAMS',
      `The model catalog ${source} is invalid: ${issues.slice(0, 5).map(describe).join('; ')}`,
    );
  }
  return { file: parsed.data, source };
}

/**
 * The catalog to use: an override (a path, or an http(s) URL: https, or http to loopback) or the
 * bundled resources/catalog.json.
 */
export async function loadCatalog(override?: string | null): Promise<Catalog> {
  if (!override) return parseCatalog(bundledCatalog, 'bundled');
  if (/^https?:\/\//i.test(override)) {
    const url = checkDownloadUrl(override);
    let res: Response;
    try {
      res = await fetch(url, { signal: AbortSignal.timeout(15_000), redirect: 'error' });
    } catch (err) {
      throw new IdlerigError(
        'UNAVAILABLE',
        `Could not fetch the model catalog ${redactUrl(url)}: ${(err as Error).message}`,
      );
    }
    if (!res.ok)
      throw new IdlerigError(
        'UNAVAILABLE',
        `Could not fetch the model catalog ${redactUrl(url)}: HTTP ${res.status}`,
      );
    return parseCatalog(await res.json(), redactUrl(url));
  }
  let text: string;
  try {
    text = await readFile(override, 'utf8');
  } catch (err) {
    throw new IdlerigError(
      'NOT_FOUND',
      `Could not read the model catalog ${override}: ${(err as Error).message}`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new IdlerigError('INVALID_PARAMS', `The model catalog ${override} is not valid JSON`);
  }
  return parseCatalog(json, override);
}

export interface ResolvedVariant {
  model: CatalogModel;
  variant: CatalogVariant;
}

/** A catalog model by its id (its first variant, or the one named) or a variant by its own id. */
export function resolveVariant(
  catalog: CatalogFile,
  id: string,
  variantId?: string,
): ResolvedVariant | null {
  const model = catalog.models.find((m) => m.id === id);
  if (model) {
    const variant = variantId
      ? model.variants.find((v) => v.id === variantId || v.quantization === variantId)
      : model.variants[0];
    return variant ? { model, variant } : null;
  }
  if (variantId) return null;
  for (const m of catalog.models) {
    const v = m.variants.find((x) => x.id === id);
    if (v) return { model: m, variant: v };
  }
  return null;
}

/**
 * Whether the local demo network that serves the catalog's demo entries (loopback URLs, marked
 * `demo`) is up: a TCP connection to the first demo entry's host and port is accepted within
 * `timeoutMs`. Until it is, demo entries are not offered ($IDLERIG_DEMO_MODELS=1 shows them
 * anyway).
 */
export async function demoNetworkUp(catalog: CatalogFile, timeoutMs = 300): Promise<boolean> {
  const url = catalog.models.find((m) => m.demo)?.variants[0]?.urls[0];
  if (!url) return false;
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return false;
  }
  const port = Number(target.port || (target.protocol === 'https:' ? 443 : 80));
  const host = target.hostname.replace(/^\[|\]$/g, '');
  return new Promise((resolvePromise) => {
    const socket = connect({ host, port });
    const done = (up: boolean): void => {
      socket.destroy();
      resolvePromise(up);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
