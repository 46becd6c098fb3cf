// The installed models of a node: <data>/models/index.json, written only by this module (one
// writer, atomic writes). The engine loads a file only with the sha256 recorded here. An index
// that is empty, half-written or invalid is kept aside and rebuilt from the model files in the
// folder, each hashed again (hasher.ts).
import { realpath, stat } from 'node:fs/promises';
import { join, relative, resolve, sep, isAbsolute } from 'node:path';
import { z } from 'zod';
import { IdlerigError } from '../../../shared/errors';
import type { VerifiedFile } from '../../../shared/engine-protocol';
import { writeFileAtomic, SerialQueue } from '../util/atomic-write';
import { readJsonFile } from '../util/json-file';
import { rebuildIndex } from './hasher';

export type ModelEngineKind = 'llama' | 'onnx';

export interface InstalledModel {
  /** Stable id: the catalog id for catalog models, a slug of the file name for imports. */
  id: string;
  name: string;
  engine: ModelEngineKind;
  /** File name relative to the models folder (no folders, no "..": see resolveModelPath). */
  file: string;
  sha256: string;
  sizeBytes: number;
  source:
    | { kind: 'catalog'; catalogId: string; url: string }
    | { kind: 'import'; originalPath: string }
    | { kind: 'url'; url: string };
  installedAt: string;
  lastUsedAt: string | null;
  /** When the file's sha256 was last checked against `sha256` (install, import, verify). */
  verifiedAt?: string | null;
  /**
   * The file's size and mtime when its sha256 was last checked: while both are unchanged the
   * engine trusts the recorded hash instead of reading a many-GB file again at every start.
   */
  verifiedFile?: { size: number; mtimeMs: number } | null;
}

const InstalledModelSchema = z.looseObject({
  id: z.string().min(1),
  name: z.string(),
  engine: z.enum(['llama', 'onnx']),
  file: z.string().min(1),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  sizeBytes: z.number().int().nonnegative(),
  source: z.looseObject({ kind: z.enum(['catalog', 'import', 'url']) }),
  installedAt: z.string(),
  lastUsedAt: z.string().nullable(),
  verifiedAt: z.string().nullable().optional(),
  verifiedFile: z
    .object({ size: z.number().int().nonnegative(), mtimeMs: z.number() })
    .nullable()
    .optional(),
});

const IndexFileSchema = z.object({
  version: z.literal(1),
  models: z.array(InstalledModelSchema),
});

interface IndexFile {
  version: 1;
  models: InstalledModel[];
}

export interface RegistryLoadReport {
  /** The index was unusable: kept at `backup`, rebuilt from the files in the folder. */
  recovered?: { backup: string; problem: string; rebuilt: string[] };
  /** A read-only load found the index unusable (and left it for the owner to rebuild). */
  unreadable?: { problem: string };
}

/** A path inside the models folder, or a typed error. Used by everything that touches model files. */
export function resolveModelPath(modelsDir: string, file: string): string {
  const root = resolve(modelsDir);
  if (isAbsolute(file) || file.includes('\0')) {
    throw new IdlerigError(
      'UNSAFE_PATH',
      `Model file names are relative to the models folder: ${JSON.stringify(file)}`,
    );
  }
  const full = resolve(root, file);
  const rel = relative(root, full);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel) || rel.split(sep).includes('..')) {
    throw new IdlerigError(
      'UNSAFE_PATH',
      `The path ${JSON.stringify(file)} is outside the models folder`,
    );
  }
  return full;
}

/** touch() writes a model's lastUsedAt to disk at most this often. */
export const TOUCH_WRITE_MS = 60_000;

export class ModelRegistry {
  private models: InstalledModel[] = [];
  private readonly queue = new SerialQueue();
  readonly indexFile: string;
  /** Holders per model id (jobs running on it): set by the engine side through acquire(). */
  private readonly users = new Map<string, number>();
  private readonly loadedIds = new Set<string>();
  private inUseProbe: ((id: string) => boolean) | null = null;
  /** When touch() last wrote the index for a model (see touch). */
  private readonly touchWrittenAt = new Map<string, number>();

  constructor(readonly dir: string) {
    this.indexFile = join(dir, 'index.json');
  }

  /**
   * Reads index.json. An unusable one is kept aside and rebuilt from the model files, unless
   * `readOnly` (a look without the data-folder lock): then it is left alone and reported.
   */
  async load(
    now: () => Date = () => new Date(),
    opts: { readOnly?: boolean } = {},
  ): Promise<RegistryLoadReport> {
    const read = await readJsonFile(this.indexFile, (raw) => IndexFileSchema.parse(raw), now, opts);
    if (read.kind === 'ok') {
      this.models = read.value.models as unknown as InstalledModel[];
      return {};
    }
    this.models = [];
    if (read.kind === 'missing') return {};
    if (read.kind === 'invalid') return { unreadable: { problem: read.problem } };
    this.models = await rebuildIndex(this.dir, now());
    await this.queue.run(() => this.persist());
    return {
      recovered: {
        backup: read.backup,
        problem: read.problem,
        rebuilt: this.models.map((m) => m.id),
      },
    };
  }

  list(): InstalledModel[] {
    return this.models.map((m) => ({ ...m }));
  }

  get(id: string): InstalledModel | undefined {
    const m = this.models.find((x) => x.id === id);
    return m ? { ...m } : undefined;
  }

  pathOf(model: Pick<InstalledModel, 'file'>): string {
    return resolveModelPath(this.dir, model.file);
  }

  /**
   * Adds or replaces a model. A model just verified (verifiedAt set) gets its file's size and
   * mtime recorded with it, unless the caller gave them.
   */
  upsert(model: InstalledModel): Promise<void> {
    return this.queue.run(async () => {
      const entry = { ...model };
      if (entry.verifiedAt && entry.verifiedFile === undefined)
        entry.verifiedFile = await this.fileStamp(entry);
      const next = [...this.models.filter((m) => m.id !== model.id), entry];
      await this.persist(next);
      this.models = next;
    });
  }

  remove(id: string): Promise<InstalledModel | undefined> {
    return this.queue.run(async () => {
      const found = this.models.find((m) => m.id === id);
      const next = this.models.filter((m) => m.id !== id);
      if (found) await this.persist(next);
      this.models = next;
      return found;
    });
  }

  /**
   * Notes that a job used the model. Every job calls this (thousands a second on a busy market
   * node), so the index is written for it at most once per TOUCH_WRITE_MS per model; in between,
   * lastUsedAt changes in memory and reaches the disk with the next write of the index (a crash
   * loses at most that much of "last used", nothing else).
   */
  touch(id: string, at: Date = new Date()): Promise<void> {
    return this.queue.run(async () => {
      const m = this.models.find((x) => x.id === id);
      if (!m) return;
      m.lastUsedAt = at.toISOString();
      const written = this.touchWrittenAt.get(id);
      if (written !== undefined && at.getTime() - written < TOUCH_WRITE_MS) return;
      this.touchWrittenAt.set(id, at.getTime());
      await this.persist();
    });
  }

  /**
   * Marks a model as in use (a job runs on it) until the returned release() is called. A model in
   * use cannot be deleted. The engine supervisor calls this around every job.
   */
  acquire(id: string): () => void {
    this.users.set(id, (this.users.get(id) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = (this.users.get(id) ?? 1) - 1;
      if (n <= 0) this.users.delete(id);
      else this.users.set(id, n);
    };
  }

  /** Another way for the engine to answer "is this model busy?" (e.g. from its own job table). */
  setInUseProbe(probe: ((id: string) => boolean) | null): void {
    this.inUseProbe = probe;
  }

  isInUse(id: string): boolean {
    return (this.users.get(id) ?? 0) > 0 || (this.inUseProbe?.(id) ?? false);
  }

  /** The engine reports which models it holds in memory (shown as "loaded"). */
  setLoaded(id: string, loaded: boolean): void {
    if (loaded) this.loadedIds.add(id);
    else this.loadedIds.delete(id);
  }

  isLoaded(id: string): boolean {
    return this.loadedIds.has(id);
  }

  /** Bytes of all installed model files (from the index). */
  totalBytes(): number {
    return this.models.reduce((sum, m) => sum + m.sizeBytes, 0);
  }

  /** Resolves when every write queued so far is on disk (shutdown). */
  flush(): Promise<void> {
    return this.queue.idle();
  }

  /** Records a fresh sha256 check of a model's file (with its size and mtime now). */
  markVerified(id: string, at: Date = new Date()): Promise<void> {
    return this.queue.run(async () => {
      const m = this.models.find((x) => x.id === id);
      if (!m) return;
      m.verifiedAt = at.toISOString();
      m.verifiedFile = await this.fileStamp(m);
      await this.persist();
    });
  }

  /**
   * The engine hashed a file (its real path, size, mtime and sha256): recorded on the installed
   * model it belongs to when the hash is the expected one, so the next start need not hash it.
   */
  recordVerified(file: VerifiedFile, at: Date = new Date()): Promise<void> {
    return this.queue.run(async () => {
      for (const m of this.models) {
        if (m.sha256 !== file.sha256 || m.sizeBytes !== file.size) continue;
        const real = await realpath(this.pathOf(m)).catch(() => null);
        if (real !== file.path) continue;
        m.verifiedAt = at.toISOString();
        m.verifiedFile = { size: file.size, mtimeMs: file.mtimeMs };
        await this.persist();
        return;
      }
    });
  }

  /**
   * The hashes recorded with size and mtime, by real path, as the engine's verifier takes them.
   * The engine still compares size and mtime before it trusts one.
   */
  async verifiedFiles(): Promise<VerifiedFile[]> {
    const out: VerifiedFile[] = [];
    for (const m of this.models) {
      if (!m.verifiedFile) continue;
      const real = await realpath(this.pathOf(m)).catch(() => null);
      if (real)
        out.push({
          path: real,
          size: m.verifiedFile.size,
          mtimeMs: m.verifiedFile.mtimeMs,
          sha256: m.sha256,
        });
    }
    return out;
  }

  /** Size and mtime of a model's file when it has the recorded size, else null. */
  private async fileStamp(m: InstalledModel): Promise<{ size: number; mtimeMs: number } | null> {
    const st = await stat(this.pathOf(m)).catch(() => null);
    return st?.isFile() && st.size === m.sizeBytes ? { size: st.size, mtimeMs: st.mtimeMs } : null;
  }

  private persist(models: InstalledModel[] = this.models): Promise<void> {
    const body: IndexFile = { version: 1, models };
    return writeFileAtomic(this.indexFile, `${JSON.stringify(body, null, 2)}\n`);
  }
}
