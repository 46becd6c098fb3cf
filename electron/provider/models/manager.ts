// The download manager: a queue of model downloads, a few at a time, each with its state,
// progress, speed and ETA, persisted in <models>/downloads.json so that downloads resume after a
// restart (the partial files and sidecars carry the bytes). Pause keeps the partial file; cancel
// deletes it. Finished downloads are recorded in the model registry.
import { EventEmitter } from 'node:events';
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { DownloadLimits, DownloadState, DownloadView, ModelEngine } from '../../../shared/api';
import { IdlerigError } from '../../../shared/errors';
import type { ScopedLogger } from '../logs/logger';
import { writeFileAtomic, SerialQueue } from '../util/atomic-write';
import { readJsonFile } from '../util/json-file';
import {
  downloadModel,
  freeSpaceOf,
  partialBytes,
  RateLimiter,
  removePartial,
  type DownloadResult,
  type RetryInfo,
} from './download';
import { checkDownloadUrl, checkModelFileName, redactUrl } from './policy';
import type { ModelRegistry } from './registry';

export interface DownloadRequest {
  /** Installed id once done (catalog variant id, or a slug for URL pulls). */
  id: string;
  name: string;
  engine: ModelEngine;
  file: string;
  urls: string[];
  sha256: string | null;
  sizeBytes: number | null;
  catalogId: string | null;
  variantId: string | null;
}

interface PersistedJob extends DownloadRequest {
  state: DownloadState;
  error: { code: string; message: string } | null;
  notice: string | null;
  createdAt: string;
}

interface PersistedFile {
  version: 1;
  limits: DownloadLimits;
  jobs: PersistedJob[];
}

interface Job extends PersistedJob {
  bytes: number;
  totalBytes: number | null;
  retry: { attempt: number; max: number; at: string | null } | null;
  updatedAt: string;
  samples: Array<[number, number]>;
  controller: AbortController | null;
  running: Promise<void> | null;
  stopReason: 'pause' | 'cancel' | 'shutdown' | null;
  lastEmit: number;
  /** Loaded from disk but not to be started by this process (autoResume false). */
  held: boolean;
}

export interface DownloadManagerOptions {
  modelsDir: string;
  registry: ModelRegistry;
  log?: ScopedLogger;
  stallTimeoutMs?: number;
  maxRetries?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  freeSpace?: (dir: string) => Promise<number>;
  spaceMarginBytes?: number;
  /** Downloads at least this big are hashed in a worker thread (default 64 MiB). */
  hashInWorkerFromBytes?: number;
  /** Defaults for a first start (later ones come from downloads.json). */
  limits?: Partial<DownloadLimits>;
  /**
   * Resume the downloads of downloads.json at start (the node: true). The `idlerig models pull`
   * verb sets false: it resumes only the download it was asked for.
   */
  autoResume?: boolean;
}

type ManagerEvents = { download: [DownloadView]; installed: [string] };

const FINAL: DownloadState[] = ['done', 'failed', 'cancelled'];
const ACTIVE: DownloadState[] = ['downloading', 'stalled', 'verifying'];

export class DownloadManager extends EventEmitter<ManagerEvents> {
  readonly file: string;
  private readonly jobs = new Map<string, Job>();
  private readonly queue = new SerialQueue();
  private readonly limiter = new RateLimiter(null);
  private limits: DownloadLimits;
  private started = false;
  private stopping = false;
  /** Set when downloads.json was unusable at start (kept aside at `backup`). */
  recovered: { backup: string; problem: string } | null = null;

  constructor(private readonly opts: DownloadManagerOptions) {
    super();
    this.file = join(opts.modelsDir, 'downloads.json');
    this.limits = {
      maxBytesPerSecond: opts.limits?.maxBytesPerSecond ?? null,
      concurrency: opts.limits?.concurrency ?? 2,
    };
    this.limiter.bytesPerSecond = this.limits.maxBytesPerSecond;
  }

  /** Loads downloads.json and resumes every download that was under way. */
  async start(): Promise<void> {
    let persisted: PersistedFile | null = null;
    const read = await readJsonFile(this.file, checkPersisted);
    if (read.kind === 'ok') persisted = read.value;
    else if (read.kind === 'recovered') {
      // The partial files stay: pulling the same model again resumes from them.
      this.recovered = { backup: read.backup, problem: read.problem };
      this.opts.log?.warn('downloads.json unreadable; kept aside, starting with no downloads', {
        backup: read.backup,
        problem: read.problem,
      });
    }
    if (persisted?.limits) {
      this.limits = {
        maxBytesPerSecond: persisted.limits.maxBytesPerSecond ?? null,
        concurrency: Math.min(8, Math.max(1, persisted.limits.concurrency ?? 2)),
      };
      this.limiter.bytesPerSecond = this.limits.maxBytesPerSecond;
    }
    const now = new Date().toISOString();
    for (const p of persisted?.jobs ?? []) {
      try {
        checkModelFileName(p.file);
        p.urls.forEach((u) => checkDownloadUrl(u));
      } catch (err) {
        this.opts.log?.warn('dropped an unsafe download from downloads.json', {
          file: p.file,
          error: (err as Error).message,
        });
        continue;
      }
      const state: DownloadState = ACTIVE.includes(p.state) ? 'queued' : p.state;
      if (FINAL.includes(state) && state !== 'failed') continue;
      this.jobs.set(p.id, {
        ...p,
        state,
        bytes: await partialBytes(this.opts.modelsDir, p.file),
        totalBytes: p.sizeBytes,
        retry: null,
        updatedAt: now,
        samples: [],
        controller: null,
        running: null,
        stopReason: null,
        lastEmit: 0,
        held: this.opts.autoResume === false,
      });
    }
    this.started = true;
    const resumed = [...this.jobs.values()].filter((j) => j.state === 'queued' && !j.held).length;
    if (resumed > 0) this.opts.log?.info('resuming downloads after a restart', { count: resumed });
    this.pump();
  }

  /** Stops every running download, keeping its partial file, so the next start resumes it. */
  async stop(): Promise<void> {
    if (!this.started || this.stopping) return;
    this.stopping = true;
    const running = [...this.jobs.values()].filter((j) => j.running);
    for (const j of running) {
      j.stopReason = 'shutdown';
      j.controller?.abort();
    }
    await Promise.allSettled(running.map((j) => j.running));
    await this.persist();
    await this.queue.idle();
  }

  getLimits(): DownloadLimits {
    return { ...this.limits };
  }

  async setLimits(patch: Partial<DownloadLimits>): Promise<DownloadLimits> {
    if (patch.maxBytesPerSecond !== undefined)
      this.limits.maxBytesPerSecond = patch.maxBytesPerSecond;
    if (patch.concurrency !== undefined) this.limits.concurrency = patch.concurrency;
    this.limiter.bytesPerSecond = this.limits.maxBytesPerSecond;
    await this.persist();
    this.pump();
    return this.getLimits();
  }

  list(): DownloadView[] {
    return [...this.jobs.values()].map((j) => this.view(j));
  }

  get(id: string): DownloadView | null {
    const j = this.jobs.get(id);
    return j ? this.view(j) : null;
  }

  /** Queues a download (or returns the one already queued for that id). */
  async enqueue(req: DownloadRequest): Promise<DownloadView> {
    checkModelFileName(req.file);
    req.urls.forEach((u) => checkDownloadUrl(u));
    const installed = this.opts.registry.get(req.id);
    if (installed) {
      throw new IdlerigError('CONFLICT', `${req.name} is already installed (${installed.file})`, {
        id: req.id,
      });
    }
    const sameFile = this.opts.registry.list().find((m) => m.file === req.file);
    if (sameFile) {
      throw new IdlerigError(
        'CONFLICT',
        `The file ${req.file} already belongs to the installed model ${sameFile.id}`,
      );
    }
    for (const other of this.jobs.values()) {
      if (other.id !== req.id && other.file === req.file && !FINAL.includes(other.state)) {
        throw new IdlerigError('CONFLICT', `The download ${other.id} already writes ${req.file}`);
      }
    }
    const existing = this.jobs.get(req.id);
    if (existing && !FINAL.includes(existing.state) && existing.state !== 'paused') {
      if (existing.held) {
        existing.held = false;
        this.pump();
      }
      return this.view(existing);
    }
    const now = new Date().toISOString();
    const job: Job = {
      ...req,
      state: 'queued',
      error: null,
      notice: null,
      createdAt: existing?.createdAt ?? now,
      bytes: await partialBytes(this.opts.modelsDir, req.file),
      totalBytes: req.sizeBytes,
      retry: null,
      updatedAt: now,
      samples: [],
      controller: null,
      running: null,
      stopReason: null,
      lastEmit: 0,
      held: false,
    };
    this.jobs.set(req.id, job);
    this.opts.log?.info('download queued', { id: req.id, url: redactUrl(req.urls[0] ?? '') });
    await this.persist();
    this.emitView(job, true);
    this.pump();
    return this.view(job);
  }

  async pause(id: string): Promise<DownloadView> {
    const j = this.must(id);
    if (j.running) {
      j.stopReason = 'pause';
      j.controller?.abort();
      await j.running.catch(() => undefined);
    } else if (j.state === 'queued') {
      await this.settle(j, 'paused');
    }
    return this.view(j);
  }

  async resume(id: string): Promise<DownloadView> {
    const j = this.must(id);
    j.held = false;
    if (j.state === 'paused' || j.state === 'failed') {
      j.error = null;
      j.retry = null;
      await this.settle(j, 'queued');
      this.pump();
    }
    return this.view(j);
  }

  /** Stops a download and deletes its partial file. */
  async cancel(id: string): Promise<DownloadView> {
    const j = this.must(id);
    if (j.running) {
      j.stopReason = 'cancel';
      j.controller?.abort();
      await j.running.catch(() => undefined);
    }
    await removePartial(this.opts.modelsDir, j.file);
    j.bytes = 0;
    j.retry = null;
    this.setState(j, 'cancelled');
    const view = this.view(j);
    this.jobs.delete(id);
    await this.persist();
    this.pump();
    return view;
  }

  /** Drops a finished download from the list (its model was deleted). */
  forget(id: string): void {
    const j = this.jobs.get(id);
    if (j && !j.running && (j.state === 'done' || j.state === 'failed')) this.jobs.delete(id);
  }

  /** Resolves when the download ends (done, failed, cancelled) or is paused. */
  waitFor(id: string): Promise<DownloadView> {
    const settled = (v: DownloadView): boolean => FINAL.includes(v.state) || v.state === 'paused';
    const now = this.get(id);
    if (!now) return Promise.reject(new IdlerigError('NOT_FOUND', `No download ${id}`));
    if (settled(now)) return Promise.resolve(now);
    return new Promise((resolvePromise) => {
      const listener = (v: DownloadView): void => {
        if (v.id === id && settled(v)) {
          this.off('download', listener);
          resolvePromise(v);
        }
      };
      this.on('download', listener);
    });
  }

  private must(id: string): Job {
    const j = this.jobs.get(id);
    if (!j) throw new IdlerigError('NOT_FOUND', `No download ${id}`);
    return j;
  }

  private pump(): void {
    if (!this.started || this.stopping) return;
    const running = [...this.jobs.values()].filter((j) => j.running).length;
    let slots = this.limits.concurrency - running;
    const waiting = [...this.jobs.values()]
      .filter((j) => j.state === 'queued' && !j.running && !j.held)
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
    for (const j of waiting) {
      if (slots <= 0) break;
      slots--;
      j.running = this.run(j)
        .catch((err: unknown) => {
          // run() settles its own failures; what is left (a write that failed on the way) is
          // logged here, never left to end the process as an unhandled rejection.
          this.opts.log?.error('download ended with an error', {
            id: j.id,
            error: err instanceof Error ? err.message : String(err),
          });
        })
        .finally(() => {
          j.running = null;
          j.controller = null;
          j.stopReason = null;
          this.pump();
        });
    }
  }

  private reservedExcept(id: string): number {
    let sum = 0;
    for (const j of this.jobs.values()) {
      if (j.id !== id && j.running && j.totalBytes !== null)
        sum += Math.max(0, j.totalBytes - j.bytes);
    }
    return sum;
  }

  private async run(j: Job): Promise<void> {
    const controller = new AbortController();
    j.controller = controller;
    j.error = null;
    j.notice = null;
    j.retry = null;
    j.samples = [];
    this.setState(j, 'downloading');
    const log = this.opts.log;
    let result: DownloadResult;
    try {
      result = await downloadModel(
        {
          file: j.file,
          urls: j.urls,
          sha256: j.sha256,
          sizeBytes: j.sizeBytes,
          typedUrl: j.catalogId === null,
        },
        {
          modelsDir: this.opts.modelsDir,
          stallTimeoutMs: this.opts.stallTimeoutMs ?? 30_000,
          maxRetries: this.opts.maxRetries ?? 5,
          retryBaseMs: this.opts.retryBaseMs ?? 2_000,
          retryMaxMs: this.opts.retryMaxMs ?? 60_000,
          freeSpace: this.opts.freeSpace ?? freeSpaceOf,
          reservedBytes: () => this.reservedExcept(j.id),
          ...(this.opts.spaceMarginBytes !== undefined
            ? { spaceMarginBytes: this.opts.spaceMarginBytes }
            : {}),
          limiter: this.limiter,
          ...(this.opts.hashInWorkerFromBytes !== undefined
            ? { hashInWorkerFromBytes: this.opts.hashInWorkerFromBytes }
            : {}),
          signal: controller.signal,
          ...(log ? { log } : {}),
          events: {
            state: (state, retry?: RetryInfo) => {
              j.retry = retry
                ? { attempt: retry.attempt, max: retry.max, at: retry.at.toISOString() }
                : state === 'downloading'
                  ? null
                  : j.retry;
              if (retry) j.notice = retry.reason;
              if (state !== 'downloading') j.samples = [];
              this.setState(j, state);
            },
            progress: (bytes, total) => {
              j.bytes = bytes;
              j.totalBytes = total;
              const t = performance.now();
              j.samples.push([t, bytes]);
              while (j.samples.length > 2 && t - j.samples[0]![0] > 3000) j.samples.shift();
              this.emitView(j, false);
            },
            notice: (text) => {
              j.notice = text;
              log?.warn('download notice', { id: j.id, notice: text });
              this.emitView(j, true);
            },
          },
        },
      );
    } catch (err) {
      const reason = j.stopReason;
      if (controller.signal.aborted && reason) {
        j.retry = null;
        j.samples = [];
        j.bytes = await partialBytes(this.opts.modelsDir, j.file);
        if (reason === 'pause') {
          await this.settle(j, 'paused');
          log?.info('download paused', { id: j.id, bytes: j.bytes });
          return;
        } else if (reason === 'shutdown') {
          // Stays queued in downloads.json: the next start resumes it.
          j.state = 'queued';
        }
        // 'cancel' is finished by cancel() itself.
        await this.persist();
        return;
      }
      const body =
        err instanceof IdlerigError
          ? { code: err.code, message: err.message }
          : { code: 'DOWNLOAD_FAILED', message: (err as Error).message || String(err) };
      j.error = body;
      j.retry = null;
      j.samples = [];
      j.bytes = await partialBytes(this.opts.modelsDir, j.file);
      log?.warn('download failed', { id: j.id, code: body.code, error: body.message });
      await this.settle(j, 'failed');
      return;
    }

    this.setState(j, 'verifying');
    const now = new Date().toISOString();
    try {
      await this.recordInstalled(j, result, now);
    } catch (err) {
      // The file is whole and verified, but the models index could not be written (disk full,
      // permissions): the download fails in words and keeps nothing half-recorded.
      j.error = {
        code: 'DOWNLOAD_FAILED',
        message: `Downloaded and verified, but the models index could not be written: ${(err as Error).message}`,
      };
      j.retry = null;
      j.samples = [];
      log?.error('download verified but not recorded', { id: j.id, error: j.error.message });
      await this.settle(j, 'failed').catch(() => this.emitView(j, true));
      return;
    }
    if (j.stopReason === 'cancel') {
      // Cancelled while the verified model was being recorded: the user asked for nothing to be
      // installed, so the record and the file go again (cancel() ends the rest).
      await this.opts.registry.remove(j.id).catch(() => undefined);
      await rm(this.opts.registry.pathOf({ file: j.file }), { force: true });
      log?.info('download cancelled while it was being recorded; nothing installed', { id: j.id });
      return;
    }
    j.bytes = result.sizeBytes;
    j.totalBytes = result.sizeBytes;
    j.retry = null;
    j.samples = [];
    if (j.sha256 === null) j.sha256 = result.sha256;
    log?.info('download finished and verified', {
      id: j.id,
      bytes: result.sizeBytes,
      sha256: result.sha256,
      resumedFrom: result.resumedFrom,
    });
    await this.settle(j, 'done');
    this.emit('installed', j.id);
  }

  private recordInstalled(j: Job, result: DownloadResult, now: string): Promise<void> {
    return this.opts.registry.upsert({
      id: j.id,
      name: j.name,
      engine: j.engine,
      file: j.file,
      sha256: result.sha256,
      sizeBytes: result.sizeBytes,
      source: j.catalogId
        ? { kind: 'catalog', catalogId: j.catalogId, url: result.url }
        : { kind: 'url', url: result.url },
      installedAt: now,
      lastUsedAt: null,
      verifiedAt: now,
    });
  }

  /**
   * A state that outlives the current run (done, failed, paused, queued again): written to
   * downloads.json first, announced after, so whoever reacts to the event (or a crash right
   * after it) finds the same state on disk.
   */
  private async settle(j: Job, state: DownloadState): Promise<void> {
    j.state = state;
    j.updatedAt = new Date().toISOString();
    await this.persist();
    this.emitView(j, true);
  }

  private setState(j: Job, state: DownloadState): void {
    j.state = state;
    j.updatedAt = new Date().toISOString();
    this.emitView(j, true);
  }

  private emitView(j: Job, force: boolean): void {
    const t = performance.now();
    if (!force && t - j.lastEmit < 250) return;
    j.lastEmit = t;
    j.updatedAt = new Date().toISOString();
    this.emit('download', this.view(j));
  }

  private view(j: Job): DownloadView {
    let speed: number | null = null;
    if (j.state === 'downloading' && j.samples.length >= 2) {
      const [t0, b0] = j.samples[0]!;
      const [t1, b1] = j.samples[j.samples.length - 1]!;
      if (t1 - t0 >= 200) speed = Math.max(0, ((b1 - b0) * 1000) / (t1 - t0));
    }
    const eta =
      speed && speed > 0 && j.totalBytes !== null
        ? Math.max(0, (j.totalBytes - j.bytes) / speed)
        : null;
    return {
      id: j.id,
      name: j.name,
      engine: j.engine,
      file: j.file,
      catalogId: j.catalogId,
      variantId: j.variantId,
      url: redactUrl(j.urls[0] ?? ''),
      sha256: j.sha256,
      state: j.state,
      bytes: j.bytes,
      totalBytes: j.totalBytes,
      bytesPerSecond: speed,
      etaSeconds: eta,
      retry: j.state === 'stalled' || j.state === 'failed' ? j.retry : null,
      notice: j.notice,
      error: j.error,
      createdAt: j.createdAt,
      updatedAt: j.updatedAt,
    };
  }

  private persist(): Promise<void> {
    return this.queue.run(async () => {
      const jobs: PersistedJob[] = [...this.jobs.values()]
        .filter((j) => j.state !== 'done' && j.state !== 'cancelled')
        .map((j) => ({
          id: j.id,
          name: j.name,
          engine: j.engine,
          file: j.file,
          urls: j.urls,
          sha256: j.sha256,
          sizeBytes: j.sizeBytes,
          catalogId: j.catalogId,
          variantId: j.variantId,
          state: j.state,
          error: j.error,
          notice: j.notice,
          createdAt: j.createdAt,
        }));
      const body: PersistedFile = { version: 1, limits: this.limits, jobs };
      await writeFileAtomic(this.file, `${JSON.stringify(body, null, 2)}\n`);
    });
  }
}

/** downloads.json's shape, checked enough that start() can trust it. */
function checkPersisted(raw: unknown): PersistedFile {
  const body = raw as Partial<PersistedFile> | null;
  if (!body || typeof body !== 'object' || !Array.isArray(body.jobs))
    throw new Error('not a downloads list');
  for (const j of body.jobs) {
    if (
      !j ||
      typeof j.id !== 'string' ||
      typeof j.file !== 'string' ||
      !Array.isArray(j.urls) ||
      typeof j.state !== 'string'
    )
      throw new Error('a download entry is incomplete');
  }
  return body as PersistedFile;
}

/** Whether a file exists (for "installed but missing" checks). */
export async function fileExists(path: string): Promise<boolean> {
  return (await stat(path).catch(() => null))?.isFile() ?? false;
}
