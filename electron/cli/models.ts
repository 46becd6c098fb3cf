// `idlerig models list|pull|import|rm|catalog`. On a data folder a running node owns, the verb
// asks that node through its API (so one process writes the models folder); with no owner it
// takes the data-dir lock and does the work itself. `pull` prints its progress on stderr and,
// interrupted, resumes from the partial file when run again.
import { open, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { DownloadView, InstalledList } from '../../shared/api';
import { IdlerigError } from '../../shared/errors';
import { DataDirLock } from '../provider/datadir-lock';
import { Logger } from '../provider/logs/logger';
import type { NodeApiClient } from '../provider/api/node-client';
import type { DataPaths } from '../provider/paths';
import { formatBytes } from '../../shared/format';
import { engineFromFile, redactUrl } from '../provider/models/policy';
import { ModelRegistry } from '../provider/models/registry';
import { demoNetworkUp, loadCatalog } from '../provider/models/catalog';
import { ModelsService, installedModelView } from '../provider/models/service';
import { findOwner, resolveDataDir, unreachableError } from './context';

export interface ModelsVerbOptions {
  dataDir?: string;
  json: boolean;
  catalog?: string;
  sha256?: string;
  name?: string;
  id?: string;
  /** Stall timeout of in-process downloads (tests); default 30 s. */
  stallTimeoutMs?: number;
}

export const MODELS_HELP = `  idlerig models list [--json] [--data-dir DIR]
      The installed models (size, sha256, engine) and unfinished downloads.
  idlerig models catalog [--json] [--catalog FILE|URL]
      The models the catalog offers.
  idlerig models pull <catalog id | URL> [--sha256 HEX] [--name NAME] [--catalog FILE|URL]
      Download and verify a model (progress on stderr). Interrupted, it resumes when run again.
  idlerig models import FILE [--name NAME] [--id ID]
      Hash a local .gguf or .onnx file and copy it into the models folder.
  idlerig models rm <id>
      Delete an installed model (refused while a job uses it), or an unfinished download.
`;

type Work = (ctx: {
  client: NodeApiClient | null;
  service: ModelsService | null;
}) => Promise<number>;

/** Runs a verb against the node that owns the folder, or in-process under the data-dir lock. */
async function withModels(paths: DataPaths, opts: ModelsVerbOptions, work: Work): Promise<number> {
  const owner = await findOwner(paths);
  if (owner.kind === 'unreachable') throw unreachableError(owner, paths.root);
  if (owner.kind === 'served') {
    if (opts.catalog)
      process.stderr.write(
        `Note: --catalog is ignored; the running node (pid ${owner.pid}) uses its own catalog.\n`,
      );
    return work({ client: owner.client, service: null });
  }
  // Demo entries (loopback urls of the local demo network) only once that network is up.
  const catalogSource = opts.catalog ?? process.env.IDLERIG_CATALOG ?? null;
  const showDemo =
    process.env.IDLERIG_DEMO_MODELS === '1' ||
    (await loadCatalog(catalogSource)
      .then((c) => demoNetworkUp(c.file))
      .catch(() => false));
  const lock = new DataDirLock(paths.lock, 'cli');
  await lock.acquire();
  const logger = new Logger({ dir: paths.logs, echo: false });
  const registry = new ModelRegistry(paths.models);
  const service = new ModelsService({
    modelsDir: paths.models,
    registry,
    log: logger.scope('models-cli'),
    catalog: catalogSource,
    showDemo,
    strictCatalog: true,
    download: {
      autoResume: false,
      ...(opts.stallTimeoutMs ? { stallTimeoutMs: opts.stallTimeoutMs } : {}),
    },
  });
  try {
    const { mkdir } = await import('node:fs/promises');
    await mkdir(paths.models, { recursive: true });
    const index = await registry.load();
    if (index.recovered)
      process.stderr.write(
        `Warning: the list of installed models could not be read (${index.recovered.problem}); it was kept as ${index.recovered.backup} and rebuilt from the model files (${index.recovered.rebuilt.length} found).\n`,
      );
    await service.start();
    return await work({ client: null, service });
  } finally {
    await service.stop().catch(() => undefined);
    await logger.close();
    await lock.release();
  }
}

export async function modelsVerb(args: string[], opts: ModelsVerbOptions): Promise<number> {
  const [sub, ...rest] = args;
  const paths = resolveDataDir(opts.dataDir);
  const one = (what: string): string => {
    if (rest.length !== 1)
      throw new IdlerigError('INVALID_PARAMS', `Usage: idlerig models ${sub} <${what}>`);
    return rest[0]!;
  };
  switch (sub) {
    case 'list':
    case 'ls':
      if (rest.length) throw new IdlerigError('INVALID_PARAMS', `Unexpected argument: ${rest[0]}`);
      return listVerb(paths, opts);
    case 'catalog':
      return withModels(paths, opts, async ({ client, service }) => {
        const view = client ? await client.call('models.catalog', {}) : service!.catalogView();
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(view)}\n`);
          return 0;
        }
        const lines = [`Catalog: ${view.source}`];
        for (const m of view.models)
          for (const v of m.variants)
            lines.push(
              `${v.installed ? '*' : ' '} ${v.id.padEnd(34)} ${formatBytes(v.sizeBytes).padStart(9)}  ${m.engine.padEnd(5)}  ${m.licence.name}`,
            );
        process.stdout.write(`${lines.join('\n')}\n`);
        return 0;
      });
    case 'pull':
      return pullVerb(paths, one('catalog id | URL'), opts);
    case 'import':
      return withModels(paths, opts, async ({ client, service }) => {
        const path = resolve(one('FILE'));
        const params = {
          path,
          ...(opts.name ? { name: opts.name } : {}),
          ...(opts.id ? { id: opts.id } : {}),
        };
        if (await willHash(path)) process.stderr.write(`Hashing and copying ${path} ...\n`);
        const m = client
          ? await client.call('models.import', params)
          : await service!.import(params);
        if (opts.json) process.stdout.write(`${JSON.stringify(m)}\n`);
        else
          process.stdout.write(
            `Imported ${m.id} (${m.file}, ${formatBytes(m.sizeBytes)}, sha256 ${m.sha256})\n`,
          );
        return 0;
      });
    case 'rm':
    case 'remove':
    case 'delete':
      return withModels(paths, opts, async ({ client, service }) => {
        const id = one('id');
        const installed = client
          ? (await client.call('models.installed', {})).models.some((m) => m.id === id)
          : service!.registry.get(id) !== undefined;
        if (!installed) {
          const pending = client
            ? (await client.call('models.downloads', {})).downloads.some((d) => d.id === id)
            : service!.downloads.get(id) !== null;
          if (!pending) throw new IdlerigError('NOT_FOUND', `No installed model or download ${id}`);
          if (client) await client.call('models.cancel', { id });
          else await service!.downloads.cancel(id);
          process.stdout.write(`Cancelled the download ${id} and deleted its partial file\n`);
          return 0;
        }
        const r = client ? await client.call('models.delete', { id }) : await service!.delete(id);
        process.stdout.write(`Deleted ${r.id} (${formatBytes(r.freedBytes)} freed)\n`);
        return 0;
      });
    case undefined:
      process.stderr.write(`Usage:\n${MODELS_HELP}`);
      return 2;
    default:
      throw new IdlerigError(
        'INVALID_PARAMS',
        `Unknown models command ${JSON.stringify(sub)}; the models commands are list, catalog, pull, import and rm (run \`idlerig models\` for their usage).`,
      );
  }
}

/**
 * Whether an import of PATH gets as far as hashing it: a folder is said here, in words; a missing
 * file, a name that is not .gguf or .onnx, or a .gguf without the GGUF signature is refused by
 * the import's own checks at once, so no "Hashing and copying" line comes before that refusal.
 */
async function willHash(path: string): Promise<boolean> {
  const st = await stat(path).catch(() => null);
  if (st?.isDirectory())
    throw new IdlerigError('INVALID_PARAMS', `${path} is a folder; give a .gguf or .onnx file`);
  const engine = st?.isFile() ? engineFromFile(path) : null;
  if (engine !== 'llama') return engine === 'onnx';
  const fh = await open(path, 'r').catch(() => null);
  if (!fh) return false;
  try {
    const { buffer, bytesRead } = await fh.read(Buffer.alloc(4), 0, 4, 0);
    return bytesRead === 4 && buffer.toString('latin1') === 'GGUF';
  } finally {
    await fh.close();
  }
}

async function listVerb(paths: DataPaths, opts: ModelsVerbOptions): Promise<number> {
  const owner = await findOwner(paths);
  if (owner.kind === 'unreachable') throw unreachableError(owner, paths.root);
  let installed: InstalledList;
  let downloads: PendingDownload[];
  if (owner.kind === 'served') {
    installed = await owner.client.call('models.installed', {});
    downloads = (await owner.client.call('models.downloads', {})).downloads;
  } else {
    // Read-only: index.json and downloads.json are written atomically, so no lock is needed.
    const registry = new ModelRegistry(paths.models);
    const index = await registry.load(undefined, { readOnly: true });
    if (index.unreadable)
      process.stderr.write(
        `Warning: the list of installed models cannot be read (${index.unreadable.problem}); the node rebuilds it at its next start (or run \`idlerig models catalog\`).\n`,
      );
    // No node runs: nothing is loaded or in use.
    const models = registry
      .list()
      .map((m) => installedModelView(m, { loaded: false, inUse: false }));
    installed = { models, totalBytes: registry.totalBytes(), dir: paths.models, freeBytes: null };
    downloads = await readPendingDownloads(paths.models);
  }
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ ...installed, downloads })}\n`);
    return 0;
  }
  const lines: string[] = [];
  if (installed.models.length === 0) lines.push(`No models installed in ${installed.dir}.`);
  else {
    lines.push(`${'ID'.padEnd(34)} ${'SIZE'.padStart(9)}  ENGINE  SHA256`);
    for (const m of installed.models)
      lines.push(
        `${m.id.padEnd(34)} ${formatBytes(m.sizeBytes).padStart(9)}  ${m.engine.padEnd(6)}  ${m.sha256.slice(0, 16)}…${m.inUse ? '  (in use)' : ''}`,
      );
    lines.push(
      `${installed.models.length} model(s), ${formatBytes(installed.totalBytes)} in ${installed.dir}`,
    );
  }
  const pending = downloads.filter((d) => d.state !== 'done');
  if (pending.length) {
    lines.push('', 'Unfinished downloads (resume each with the command under it):');
    for (const d of pending)
      lines.push(
        `  ${d.id.padEnd(32)} ${d.state.padEnd(10)} ${formatBytes(d.bytes)}${d.totalBytes ? ` of ${formatBytes(d.totalBytes)}` : ''}`,
        `    ${resumeCommand(d)}`,
      );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

type PendingDownload = Pick<
  DownloadView,
  'id' | 'state' | 'bytes' | 'totalBytes' | 'file' | 'url' | 'catalogId' | 'variantId'
>;

/**
 * The command that resumes a download: a catalog model by its id, a URL pull by its URL (the
 * slug id of a URL pull is not something `pull` can look up).
 */
export function resumeCommand(d: Pick<PendingDownload, 'id' | 'url' | 'catalogId'>): string {
  if (d.catalogId) return `idlerig models pull ${d.id}`;
  // A signed URL's query is not kept in the list (it may hold a secret).
  return d.url.endsWith('?…')
    ? `idlerig models pull '${d.url.slice(0, -2)}?<the query of the URL you pulled>'`
    : `idlerig models pull ${d.url}`;
}

async function readPendingDownloads(modelsDir: string): Promise<PendingDownload[]> {
  try {
    const body = JSON.parse(await readFile(join(modelsDir, 'downloads.json'), 'utf8')) as {
      jobs?: Array<{
        id: string;
        state: DownloadView['state'];
        file: string;
        urls: string[];
        sizeBytes: number | null;
        catalogId: string | null;
        variantId: string | null;
      }>;
    };
    const { partialBytes } = await import('../provider/models/download');
    return Promise.all(
      (body.jobs ?? []).map(async (j) => ({
        id: j.id,
        state: j.state,
        file: j.file,
        url: redactUrl(j.urls?.[0] ?? ''),
        catalogId: j.catalogId ?? null,
        variantId: j.variantId ?? null,
        bytes: await partialBytes(modelsDir, j.file).catch(() => 0),
        totalBytes: j.sizeBytes,
      })),
    );
  } catch {
    return [];
  }
}

function pullParams(
  target: string,
  opts: ModelsVerbOptions,
): { modelId: string } | { url: string; sha256?: string; name?: string } {
  if (/^https?:\/\//i.test(target)) {
    return {
      url: target,
      ...(opts.sha256 ? { sha256: opts.sha256.toLowerCase() } : {}),
      ...(opts.name ? { name: opts.name } : {}),
    };
  }
  if (opts.sha256)
    throw new IdlerigError(
      'INVALID_PARAMS',
      '--sha256 goes with a URL; catalog models pin their own',
    );
  return { modelId: target };
}

/** Progress on stderr: one rewritten line on a terminal, a line every few seconds otherwise. */
class ProgressPrinter {
  private lastLine = 0;
  private lastState = '';
  private lastNotice: string | null = null;
  private readonly tty = Boolean(process.stderr.isTTY);

  update(v: DownloadView): void {
    // A retry's reason (in words, from the downloader) is its notice: said once, on its line.
    const waiting = v.state === 'stalled' && v.retry?.at ? v.retry : null;
    if (v.notice && v.notice !== this.lastNotice && !waiting) {
      this.lastNotice = v.notice;
      this.line(`${v.file}: ${v.notice}`);
    }
    const state = waiting ? `retry ${waiting.attempt}` : v.state;
    if (state !== this.lastState) {
      this.lastState = state;
      if (waiting) {
        const s = Math.max(0, Math.round((Date.parse(waiting.at!) - Date.now()) / 1000));
        this.lastNotice = v.notice;
        this.line(
          `${v.file}: ${v.notice ?? 'the download failed'} – retrying in ${s} s (attempt ${waiting.attempt} of ${waiting.max})`,
        );
      } else if (v.state === 'verifying') this.line(`${v.file}: verifying`);
      else if (v.state === 'queued') this.line(`${v.file}: queued`);
    }
    if (v.state !== 'downloading') return;
    const now = Date.now();
    if (now - this.lastLine < (this.tty ? 200 : 2000)) return;
    this.lastLine = now;
    const pct = v.totalBytes ? ` ${((100 * v.bytes) / v.totalBytes).toFixed(1).padStart(5)}%` : '';
    const speed = v.bytesPerSecond ? `  ${formatBytes(Math.round(v.bytesPerSecond))}/s` : '';
    const eta = v.etaSeconds !== null ? `  ETA ${formatEta(v.etaSeconds)}` : '';
    const text = `${v.file}: ${formatBytes(v.bytes)}${v.totalBytes ? ` / ${formatBytes(v.totalBytes)}` : ''}${pct}${speed}${eta}`;
    if (this.tty) process.stderr.write(`\r\x1b[K${text}`);
    else process.stderr.write(`${text}\n`);
  }

  private line(text: string): void {
    process.stderr.write(`${this.tty ? '\r\x1b[K' : ''}${text}\n`);
  }

  end(): void {
    if (this.tty) process.stderr.write('\r\x1b[K');
  }
}

function formatEta(s: number): string {
  if (s < 90) return `${Math.ceil(s)} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

function finishPull(v: DownloadView, opts: ModelsVerbOptions): number {
  if (v.state === 'done') {
    if (opts.json) process.stdout.write(`${JSON.stringify(v)}\n`);
    else
      process.stdout.write(
        `Installed ${v.id} (${v.file}, ${formatBytes(v.bytes)}, sha256 ${v.sha256 ?? '?'})\n`,
      );
    return 0;
  }
  if (v.state === 'paused') {
    process.stderr.write(
      `${v.file}: paused at ${formatBytes(v.bytes)}; run the same command again to resume.\n`,
    );
    return 130;
  }
  const err = v.error ?? { code: 'DOWNLOAD_FAILED', message: `The download ended as ${v.state}` };
  throw new IdlerigError(
    (
      [
        'DOWNLOAD_FAILED',
        'INSUFFICIENT_SPACE',
        'HASH_MISMATCH',
        'UNSAFE_PATH',
        'INSECURE_URL',
        'STALLED',
      ] as const
    ).find((c) => c === err.code) ?? 'DOWNLOAD_FAILED',
    `${v.file}: ${err.message}`,
  );
}

async function pullVerb(
  paths: DataPaths,
  target: string,
  opts: ModelsVerbOptions,
): Promise<number> {
  const params = pullParams(target, opts);
  return withModels(paths, opts, async ({ client, service }) => {
    const printer = new ProgressPrinter();
    if (client) {
      let view: DownloadView;
      try {
        view = await client.call('models.download', params);
      } catch (err) {
        if (
          err instanceof IdlerigError &&
          err.code === 'CONFLICT' &&
          /already installed/.test(err.message)
        ) {
          process.stdout.write(`${err.message}\n`);
          return 0;
        }
        throw err;
      }
      process.stderr.write(
        `Downloading in the running node (Ctrl-C stops watching; the download continues).\n`,
      );
      for (;;) {
        printer.update(view);
        if (['done', 'failed', 'cancelled', 'paused'].includes(view.state)) break;
        await new Promise((r) => setTimeout(r, 500));
        const list = await client.call('models.downloads', {});
        view = list.downloads.find((d) => d.id === view.id) ?? view;
      }
      printer.end();
      return finishPull(view, opts);
    }

    const svc = service!;
    let view: DownloadView;
    try {
      view = await svc.download(params);
    } catch (err) {
      if (
        err instanceof IdlerigError &&
        err.code === 'CONFLICT' &&
        /already installed/.test(err.message)
      ) {
        process.stdout.write(`${err.message}\n`);
        return 0;
      }
      throw err;
    }
    if (view.bytes > 0)
      process.stderr.write(`${view.file}: resuming from ${formatBytes(view.bytes)}\n`);
    const onView = (v: DownloadView): void => {
      if (v.id === view.id) printer.update(v);
    };
    svc.downloads.on('download', onView);
    const onSignal = (): void => {
      process.stderr.write(`\nInterrupted: pausing (the partial file is kept) ...\n`);
      void svc.downloads.pause(view.id).catch(() => undefined);
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      const end = await svc.downloads.waitFor(view.id);
      printer.end();
      return finishPull(end, opts);
    } finally {
      svc.downloads.off('download', onView);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  });
}
