// The models service of the provider node: the catalog, downloads, the fit estimate, and the
// installed models (list, verify again, delete unless in use, import a local file). The API
// handlers and the `idlerig models` verbs both go through here.
import { EventEmitter } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type {
  ApiEvent,
  CatalogModelView,
  DownloadView,
  FitEstimate,
  InstalledList,
  InstalledModelView,
} from '../../../shared/api';
import { IdlerigError } from '../../../shared/errors';
import type { ScopedLogger } from '../logs/logger';
import { loadCatalog, resolveVariant, type Catalog, type CatalogModel } from './catalog';
import { formatBytes } from '../../../shared/format';
import { freeSpaceOf, resolveFinalUrl, sha256File } from './download';
import {
  closeHeaderReader,
  estimateFit,
  ggufNeeds,
  osOnlyFacts,
  readGgufHeader,
  type MachineFactsProvider,
} from './fit';
import { FitReadNotices } from './fit-offline';
import { DownloadManager, type DownloadManagerOptions, type DownloadRequest } from './manager';
import {
  checkDownloadUrl,
  checkModelFileName,
  engineFromFile,
  fileNameFrom,
  slugFromFile,
} from './policy';
import { resolveModelPath, type InstalledModel, type ModelRegistry } from './registry';

export interface ModelsServiceOptions {
  modelsDir: string;
  registry: ModelRegistry;
  log: ScopedLogger;
  /** A catalog file or URL instead of the bundled one (default: $IDLERIG_CATALOG). */
  catalog?: string | null;
  /** Fail start() when the override cannot be loaded (the CLI), instead of falling back to the bundled catalog (the node). */
  strictCatalog?: boolean;
  /** Show demo entries (loopback urls) of the catalog (default: $IDLERIG_DEMO_MODELS=1). */
  showDemo?: boolean;
  download?: Omit<DownloadManagerOptions, 'modelsDir' | 'registry' | 'log'>;
  machineFacts?: MachineFactsProvider;
}

type ServiceEvents = { event: [ApiEvent] };

export class ModelsService extends EventEmitter<ServiceEvents> {
  readonly downloads: DownloadManager;
  private catalog: Catalog = {
    file: { version: 1, updatedAt: new Date(0).toISOString(), models: [] },
    source: 'none',
  };
  private catalogError: string | null = null;
  private machineFacts: MachineFactsProvider;
  private readonly fitCache = new Map<string, Promise<FitEstimate>>();
  private readonly fitNotices: FitReadNotices;
  private readonly showDemo: boolean;
  private readonly freeSpace: (dir: string) => Promise<number>;
  /** File names and ids of imports under way: reserved until recorded, never shared. */
  private readonly importing = { files: new Set<string>(), ids: new Set<string>() };

  constructor(private readonly opts: ModelsServiceOptions) {
    super();
    this.machineFacts = opts.machineFacts ?? osOnlyFacts;
    this.fitNotices = new FitReadNotices(opts.log);
    this.showDemo = opts.showDemo ?? process.env.IDLERIG_DEMO_MODELS === '1';
    this.freeSpace = opts.download?.freeSpace ?? freeSpaceOf;
    this.downloads = new DownloadManager({
      ...opts.download,
      modelsDir: opts.modelsDir,
      registry: opts.registry,
      log: opts.log,
    });
    this.downloads.on('download', (download) =>
      this.emit('event', { type: 'model.download', download }),
    );
    this.downloads.on('installed', () => this.emitInstalled());
  }

  get registry(): ModelRegistry {
    return this.opts.registry;
  }

  async start(): Promise<void> {
    await mkdir(this.opts.modelsDir, { recursive: true });
    const override =
      this.opts.catalog !== undefined ? this.opts.catalog : (process.env.IDLERIG_CATALOG ?? null);
    try {
      this.catalog = await loadCatalog(override);
    } catch (err) {
      if (this.opts.strictCatalog) throw err;
      this.catalogError = (err as Error).message;
      this.opts.log.error('the model catalog could not be loaded; using the bundled one', {
        catalog: override,
        error: this.catalogError,
      });
      this.catalog = await loadCatalog(null);
    }
    this.opts.log.info('model catalog loaded', {
      source: this.catalog.source,
      models: this.catalog.file.models.length,
    });
    await this.downloads.start();
  }

  async stop(): Promise<void> {
    await this.downloads.stop();
    await closeHeaderReader();
  }

  /** The GPU module (or a test) tells the fit estimate what this machine has. */
  setMachineFacts(provider: MachineFactsProvider): void {
    this.machineFacts = provider;
    this.fitCache.clear();
  }

  // ---- catalog -------------------------------------------------------------------------------

  private visibleModels(): CatalogModel[] {
    return this.catalog.file.models.filter((m) => this.showDemo || !m.demo);
  }

  catalogView(): { models: CatalogModelView[]; source: string } {
    const downloads = new Map(this.downloads.list().map((d) => [d.id, d]));
    return {
      source: this.catalogError
        ? `${this.catalog.source} (override refused: ${this.catalogError})`
        : this.catalog.source,
      models: this.visibleModels().map((m) => ({
        id: m.id,
        name: m.name,
        family: m.family,
        engine: m.engine,
        publisher: m.publisher,
        licence: m.licence,
        description: m.description,
        contextLength: m.contextLength,
        parameters: m.parameters,
        homepage: m.homepage,
        demand: m.demand,
        demo: m.demo,
        variants: m.variants.map((v) => ({
          id: v.id,
          quantization: v.quantization,
          file: v.file,
          sizeBytes: v.sizeBytes,
          sha256: v.sha256,
          urls: v.urls,
          installed: this.opts.registry.get(v.id) !== undefined,
          download: downloads.get(v.id) ?? null,
        })),
      })),
    };
  }

  /** Fit of a catalog model (its GGUF header read remotely), or of an installed model (locally). */
  fit(modelId: string, variantId?: string): Promise<FitEstimate> {
    const key = `${modelId}\0${variantId ?? ''}`;
    let cached = this.fitCache.get(key);
    if (!cached) {
      cached = this.computeFit(modelId, variantId);
      this.fitCache.set(key, cached);
      // A failure is not cached; a fit is kept for 10 minutes (free memory changes), one made
      // offline for a minute (the network may be back).
      cached.catch(() => this.fitCache.delete(key));
      const entry = cached;
      void entry
        .then((fit) => (fit.offline ? 60_000 : 10 * 60_000))
        .catch(() => 0)
        .then((ms) => {
          setTimeout(() => {
            if (this.fitCache.get(key) === entry) this.fitCache.delete(key);
          }, ms).unref();
        });
    }
    return cached;
  }

  private async computeFit(modelId: string, variantId?: string): Promise<FitEstimate> {
    const facts = await this.machineFacts();
    const installed = this.opts.registry.get(variantId ?? modelId);
    const found = resolveVariant(this.catalog.file, modelId, variantId);
    if (!found && !installed)
      throw new IdlerigError('NOT_FOUND', `No model ${modelId} in the catalog or installed`);
    const engine = found?.model.engine ?? installed!.engine;
    const fileSize = found?.variant.sizeBytes ?? installed!.sizeBytes;
    const base = {
      modelId: found?.model.id ?? installed!.id,
      variantId: found?.variant.id ?? null,
      engine,
      fileSize,
      contextLength: found?.model.contextLength ?? null,
      facts,
    };
    if (engine !== 'llama') return estimateFit({ ...base, needs: null });
    const signal = AbortSignal.timeout(30_000);
    try {
      let source: string;
      if (installed) source = this.opts.registry.pathOf(installed);
      else source = await resolveFinalUrl(found!.variant.urls[0]!, signal);
      const info = await readGgufHeader(source, signal);
      this.fitNotices.succeeded(modelId);
      return estimateFit({ ...base, needs: ggufNeeds(info, fileSize) });
    } catch (err) {
      const { offline, message } = this.fitNotices.failed(modelId, err);
      return estimateFit({ ...base, needs: null, headerError: message, offline });
    }
  }

  // ---- downloads -----------------------------------------------------------------------------

  /** A download request for a catalog id (model or variant) or a URL. */
  requestFor(
    params:
      { modelId: string; variantId?: string } | { url: string; sha256?: string; name?: string },
  ): DownloadRequest {
    if ('modelId' in params) {
      const found = resolveVariant(this.catalog.file, params.modelId, params.variantId);
      if (!found) {
        throw new IdlerigError(
          'NOT_FOUND',
          `No model ${params.modelId}${params.variantId ? ` (${params.variantId})` : ''} in the catalog (${this.catalog.source})`,
        );
      }
      const { model, variant } = found;
      return {
        id: variant.id,
        name: model.variants.length > 1 ? `${model.name} ${variant.quantization}` : model.name,
        engine: model.engine,
        file: variant.file,
        urls: variant.urls,
        sha256: variant.sha256,
        sizeBytes: variant.sizeBytes,
        catalogId: model.id,
        variantId: variant.id,
      };
    }
    const url = checkDownloadUrl(params.url);
    // A URL the catalog pins is downloaded as that catalog entry (with its size and sha256).
    for (const m of this.catalog.file.models) {
      const v = m.variants.find((x) => x.urls.includes(url.href));
      if (v) {
        if (params.sha256 && params.sha256 !== v.sha256) {
          throw new IdlerigError(
            'HASH_MISMATCH',
            `The catalog pins ${v.sha256} for this URL, not ${params.sha256}`,
          );
        }
        return this.requestFor({ modelId: m.id, variantId: v.id });
      }
    }
    const file = checkModelFileName(fileNameFrom(url.pathname));
    const engine = engineFromFile(file);
    if (!engine) {
      throw new IdlerigError(
        'INVALID_PARAMS',
        `${file}: only .gguf (llama.cpp) and .onnx (ONNX Runtime) models are supported`,
      );
    }
    return {
      id: slugFromFile(file),
      name: params.name ?? file,
      engine,
      file,
      urls: [url.href],
      sha256: params.sha256?.toLowerCase() ?? null,
      sizeBytes: null,
      catalogId: null,
      variantId: null,
    };
  }

  download(
    params:
      { modelId: string; variantId?: string } | { url: string; sha256?: string; name?: string },
  ): Promise<DownloadView> {
    return this.downloads.enqueue(this.requestFor(params));
  }

  // ---- installed models ------------------------------------------------------------------------

  private viewOf(
    m: InstalledModel,
    fileState: InstalledModelView['fileState'] = 'ok',
  ): InstalledModelView {
    return installedModelView(
      m,
      { loaded: this.opts.registry.isLoaded(m.id), inUse: this.opts.registry.isInUse(m.id) },
      fileState,
    );
  }

  /** The installed models, each file checked (size and mtime, no hashing), and the free space. */
  async installedView(): Promise<InstalledList> {
    const list = this.opts.registry.list();
    const states = await Promise.all(list.map((m) => fileStateOf(m, this.opts.registry.pathOf(m))));
    const models = list.map((m, i) => this.viewOf(m, states[i]));
    const freeBytes = await this.freeSpace(this.opts.modelsDir).catch(() => null);
    return {
      models,
      totalBytes: models.reduce((s, m) => s + m.sizeBytes, 0),
      dir: this.opts.modelsDir,
      freeBytes,
    };
  }

  private emitInstalled(): void {
    void this.installedView().then(
      (installed) => this.emit('event', { type: 'models.installed', installed }),
      (err: unknown) =>
        this.opts.log.warn('could not list the installed models', {
          error: (err as Error).message,
        }),
    );
  }

  /** Hashes an installed model's file again and compares it with the recorded sha256. */
  async verify(id: string): Promise<{
    id: string;
    ok: boolean;
    sha256: string;
    expected: string;
    bytes: number;
    seconds: number;
  }> {
    const m = this.opts.registry.get(id);
    if (!m) throw new IdlerigError('NOT_FOUND', `No installed model ${id}`);
    const t0 = performance.now();
    let result: { sha256: string; bytes: number };
    try {
      result = await sha256File(this.opts.registry.pathOf(m));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT')
        return { id, ok: false, sha256: 'missing', expected: m.sha256, bytes: 0, seconds: 0 };
      throw err;
    }
    const ok = result.sha256 === m.sha256 && result.bytes === m.sizeBytes;
    if (ok) await this.opts.registry.markVerified(id);
    this.opts.log[ok ? 'info' : 'warn']('model verified', { id, ok, sha256: result.sha256 });
    if (ok) this.emitInstalled();
    return {
      id,
      ok,
      sha256: result.sha256,
      expected: m.sha256,
      bytes: result.bytes,
      seconds: (performance.now() - t0) / 1000,
    };
  }

  /** Deletes an installed model's file and entry; refused while a job uses it. */
  async delete(id: string): Promise<{ id: string; freedBytes: number }> {
    const m = this.opts.registry.get(id);
    if (!m) throw new IdlerigError('NOT_FOUND', `No installed model ${id}`);
    if (this.opts.registry.isInUse(id)) {
      throw new IdlerigError(
        'CONFLICT',
        `${m.name} is in use by a running job; try again when it ends`,
        { id },
      );
    }
    const path = this.opts.registry.pathOf(m);
    const size = (await stat(path).catch(() => null))?.size ?? 0;
    await this.opts.registry.remove(id);
    await rm(path, { force: true });
    this.downloads.forget(id);
    this.fitCache.clear();
    this.opts.log.info('model deleted', { id, file: m.file, bytes: size });
    this.emitInstalled();
    return { id, freedBytes: size };
  }

  /**
   * An import of a file that is installed already (same size and sha256) is refused with the
   * installed model's id, instead of making a second copy under another name. Only a file whose
   * size matches an installed model is hashed for this.
   */
  private async refuseDuplicate(src: string, size: number): Promise<void> {
    const sameSize = this.opts.registry.list().filter((m) => m.sizeBytes === size);
    if (sameSize.length === 0) return;
    const { sha256 } = await sha256File(src);
    const twin = sameSize.find((m) => m.sha256 === sha256);
    if (twin) {
      throw new IdlerigError(
        'CONFLICT',
        `${basename(src)} is installed already as ${twin.id} (${twin.name}); nothing was copied`,
        { id: twin.id },
      );
    }
  }

  /** Hashes a local model file while copying it into the models folder, and records it. */
  async import(params: { path: string; name?: string; id?: string }): Promise<InstalledModelView> {
    const src = resolve(params.path);
    const info = await stat(src).catch(() => null);
    if (!info?.isFile()) throw new IdlerigError('NOT_FOUND', `No such file: ${src}`);
    let file = checkModelFileName(fileNameFrom(basename(src)));
    const engine = engineFromFile(file);
    if (!engine) {
      throw new IdlerigError(
        'INVALID_PARAMS',
        `${basename(src)}: only .gguf (llama.cpp) and .onnx (ONNX Runtime) models can be imported`,
      );
    }
    if (engine === 'llama') await checkGgufMagic(src);
    await this.refuseDuplicate(src, info.size);
    const taken = (f: string): boolean =>
      this.importing.files.has(f) ||
      this.opts.registry.list().some((m) => m.file === f) ||
      this.downloads.list().some((d) => d.file === f && d.state !== 'done');
    if (taken(file)) {
      const dot = file.lastIndexOf('.');
      for (let i = 2; taken(file); i++) file = `${file.slice(0, dot)}-${i}${file.slice(dot)}`;
    }
    let id = params.id ?? slugFromFile(file);
    if (!/^[a-z0-9][a-z0-9._-]{0,99}$/.test(id))
      throw new IdlerigError('INVALID_PARAMS', `Invalid model id ${JSON.stringify(id)}`);
    const idTaken = (x: string): boolean =>
      this.opts.registry.get(x) !== undefined || this.importing.ids.has(x);
    if (idTaken(id)) {
      if (params.id)
        throw new IdlerigError('CONFLICT', `A model with the id ${id} is installed already`);
      const stem = id;
      for (let i = 2; idTaken(id); i++) id = `${stem}-${i}`;
    }
    // Reserved at once (no await since the checks): a concurrent import of the same name gets
    // the next free name, its own partial file and its own id.
    this.importing.files.add(file);
    this.importing.ids.add(id);
    try {
      return await this.copyIn(src, info.size, { file, id, engine, name: params.name ?? file });
    } finally {
      this.importing.files.delete(file);
      this.importing.ids.delete(id);
    }
  }

  /** Copies a checked, reserved import into the models folder (hashed on the way) and records it. */
  private async copyIn(
    src: string,
    size: number,
    as: { file: string; id: string; engine: InstalledModel['engine']; name: string },
  ): Promise<InstalledModelView> {
    const { file, id, engine } = as;
    const free = await this.freeSpace(this.opts.modelsDir);
    if (free < size + 16 * 1024 * 1024) {
      throw new IdlerigError(
        'INSUFFICIENT_SPACE',
        `Not enough free disk space to import ${basename(src)}: it needs ${formatBytes(size)}, ${formatBytes(free)} is free`,
      );
    }
    const target = resolveModelPath(this.opts.modelsDir, file);
    // Its own partial file: never one a download or another import of this name writes.
    const tmp = resolveModelPath(
      this.opts.modelsDir,
      `${file}.import-${randomBytes(4).toString('hex')}.partial`,
    );
    const hash = createHash('sha256');
    let bytes = 0;
    try {
      await pipeline(
        createReadStream(src, { highWaterMark: 1 << 20 }),
        new Transform({
          transform(chunk: Buffer, _e, cb) {
            hash.update(chunk);
            bytes += chunk.length;
            cb(null, chunk);
          },
        }),
        createWriteStream(tmp, { flags: 'w' }),
      );
      const fh = await open(tmp, 'r+');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, target);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    const now = new Date().toISOString();
    const model: InstalledModel = {
      id,
      name: as.name,
      engine,
      file,
      sha256: hash.digest('hex'),
      sizeBytes: bytes,
      source: { kind: 'import', originalPath: src },
      installedAt: now,
      lastUsedAt: null,
      verifiedAt: now,
    };
    await this.opts.registry.upsert(model);
    this.opts.log.info('model imported', { id, file, bytes, sha256: model.sha256, from: src });
    this.emitInstalled();
    return this.viewOf(model);
  }
}

async function checkGgufMagic(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(4);
    await fh.read(buf, 0, 4, 0);
    if (buf.toString('latin1') !== 'GGUF') {
      throw new IdlerigError(
        'INVALID_PARAMS',
        `${basename(path)} is not a GGUF file (it does not start with "GGUF")`,
      );
    }
  } finally {
    await fh.close();
  }
}

/**
 * Whether an installed model's file is still the one that was verified: missing, or changed when
 * its size differs from the recorded one, or its mtime from the one recorded at verification
 * (registry verifiedFile) — for entries without it, when it is newer than the verification.
 */
export async function fileStateOf(
  m: InstalledModel,
  path: string,
): Promise<InstalledModelView['fileState']> {
  // Gone, or unreadable by the node (EACCES): either way the engine cannot load it.
  const info = await stat(path).catch(() => null);
  if (!info?.isFile()) return 'missing';
  if (info.size !== m.sizeBytes) return 'changed';
  const stamp = (m as { verifiedFile?: { size: number; mtimeMs: number } | null }).verifiedFile;
  if (stamp) return stamp.size === info.size && stamp.mtimeMs === info.mtimeMs ? 'ok' : 'changed';
  const checkedAt = Date.parse(m.verifiedAt ?? m.installedAt);
  return Number.isFinite(checkedAt) && info.mtimeMs > checkedAt + 2000 ? 'changed' : 'ok';
}

/** How the API shows an installed model (also read from disk by `idlerig models list`). */
export function installedModelView(
  m: InstalledModel,
  live: { loaded: boolean; inUse: boolean },
  fileState: InstalledModelView['fileState'] = 'ok',
): InstalledModelView {
  return {
    id: m.id,
    name: m.name,
    engine: m.engine,
    file: m.file,
    sizeBytes: m.sizeBytes,
    sha256: m.sha256,
    source: m.source.kind,
    catalogId: m.source.kind === 'catalog' ? m.source.catalogId : null,
    installedAt: m.installedAt,
    lastUsedAt: m.lastUsedAt,
    verifiedAt: m.verifiedAt ?? null,
    ...live,
    fileState,
  };
}
