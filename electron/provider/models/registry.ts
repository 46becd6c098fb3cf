// The installed models of a node: <data>/models/index.json, written only by this module (one
// writer, atomic writes). The engine loads a file only with the sha256 recorded here.
import { readFile } from 'node:fs/promises';
import { join, relative, resolve, sep, isAbsolute } from 'node:path';
import { IdlerigError } from '../../../shared/errors';
import { writeFileAtomic, SerialQueue } from '../util/atomic-write';

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
}

interface IndexFile {
  version: 1;
  models: InstalledModel[];
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

export class ModelRegistry {
  private models: InstalledModel[] = [];
  private readonly queue = new SerialQueue();
  readonly indexFile: string;
  /** Holders per model id (jobs running on it): set by the engine side through acquire(). */
  private readonly users = new Map<string, number>();
  private readonly loadedIds = new Set<string>();
  private inUseProbe: ((id: string) => boolean) | null = null;

  constructor(readonly dir: string) {
    this.indexFile = join(dir, 'index.json');
  }

  async load(): Promise<void> {
    try {
      const parsed = JSON.parse(await readFile(this.indexFile, 'utf8')) as IndexFile;
      this.models = Array.isArray(parsed.models) ? parsed.models : [];
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      this.models = [];
    }
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

  upsert(model: InstalledModel): Promise<void> {
    return this.queue.run(async () => {
      this.models = [...this.models.filter((m) => m.id !== model.id), { ...model }];
      await this.persist();
    });
  }

  remove(id: string): Promise<InstalledModel | undefined> {
    return this.queue.run(async () => {
      const found = this.models.find((m) => m.id === id);
      this.models = this.models.filter((m) => m.id !== id);
      if (found) await this.persist();
      return found;
    });
  }

  touch(id: string, at: Date = new Date()): Promise<void> {
    return this.queue.run(async () => {
      const m = this.models.find((x) => x.id === id);
      if (!m) return;
      m.lastUsedAt = at.toISOString();
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

  /** Records a fresh sha256 check of a model's file. */
  markVerified(id: string, at: Date = new Date()): Promise<void> {
    return this.queue.run(async () => {
      const m = this.models.find((x) => x.id === id);
      if (!m) return;
      m.verifiedAt = at.toISOString();
      await this.persist();
    });
  }

  private persist(): Promise<void> {
    const body: IndexFile = { version: 1, models: this.models };
    return writeFileAtomic(this.indexFile, `${JSON.stringify(body, null, 2)}\n`);
  }
}
